"""Prompting shared by training and evaluation: system prompt, chat messages, options, tags.

Evaluation (VeroEval generation) builds its inputs with `build_messages`. Training builds them
with `TrainingPrompt.messages`, whose system turn is a config choice (`data.prompt`): the
project's prompt (`SYSTEM_PROMPT`, or `train.system_prompt` when set; what evaluation uses), the
dataset's own system message (the published Vero-600K rows open with one), none, or the text of a
file. The Vero release trains with its own prompt file (`data.system_prompt` in
`vero-rl/examples/model_runs/config/gspo_llmjudge_shared.yaml`, i.e.
`vero-rl/examples/prompts/system_prompt_chatting.txt`), prepended before each row's own messages
(`vero-rl/verl/utils/dataset/rl_dataset.py`, `_normalize_messages`): `system: file`,
`placement: prepend` does the same with a copy of that file. Scoring of the output lives in
`vero.rewards`; the helpers here only split text apart.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYSTEM_PROMPT = (
    "You are a careful visual reasoning assistant. Look at the image(s) and reason about the "
    "question step by step before you reply. Write your reasoning inside <think> and </think>, "
    "then write your final answer inside <answer> and </answer>, with nothing before, between "
    "or after the two blocks. When the question has one short, definite answer (a number, a "
    "word, a phrase or an option letter), put it inside exactly one \\boxed{} in the answer, "
    "e.g. <answer>\\boxed{B}</answer>. When you locate objects, answer with JSON boxes in the "
    'form [{"bbox_2d": [x1, y1, x2, y2], "label": "name"}]; when you point at a place, answer '
    'with [{"point_2d": [x, y]}]. For open-ended requests (descriptions, captions, writing), '
    "answer in plain prose inside the answer block and follow every instruction given."
)

OPTION_LETTERS = string.ascii_uppercase

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"

_THINK_RE = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def build_messages(question: str, n_images: int, system_prompt: str | None = None) -> list[dict]:
    """Conversational messages for a VLM chat template: system turn, then one user turn.

    The user content holds `n_images` `{"type": "image"}` parts followed by the question text,
    the layout TRL's GRPOTrainer and the Qwen-VL processors expect (the images themselves travel
    in a separate `images` column / argument). `system_prompt=None` uses `SYSTEM_PROMPT`; an
    empty string leaves the system turn out.
    """
    if not isinstance(question, str):
        raise TypeError(f"question must be a string, got {type(question).__name__}")
    if not isinstance(n_images, int) or isinstance(n_images, bool) or n_images < 0:
        raise ValueError(f"n_images must be a non-negative integer, got {n_images!r}")
    system = SYSTEM_PROMPT if system_prompt is None else system_prompt
    messages: list[dict] = []
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    content: list[dict] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": question})
    messages.append({"role": "user", "content": content})
    return messages


PROMPT_SYSTEMS = ("project", "dataset", "none", "file")
PLACEMENTS = ("replace", "prepend")
_PLACEHOLDER_SPLIT = re.compile(r"(<image>)")


class PromptError(ValueError):
    """A training prompt setting that cannot be used; the message names the config key."""


def read_prompt_file(path: str | Path) -> str:
    """The text of a system prompt file, unchanged (UTF-8); raises `PromptError` naming the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PromptError(f"config key 'data.prompt.file': cannot read {path}: {e}") from e
    if not text.strip():
        raise PromptError(f"config key 'data.prompt.file': {path} is empty")
    return text


def training_system_prompt(cfg: Mapping[str, Any]) -> str | None:
    """The system text training prepends or substitutes (None for `dataset` and `none`)."""
    return TrainingPrompt.from_config(
        (cfg.get("data") or {}).get("prompt"), (cfg.get("train") or {}).get("system_prompt")
    ).text


@dataclass(frozen=True)
class TrainingPrompt:
    """How a training row's chat messages are built (`data.prompt`, config/schema/data.yaml).

    - `system`: "project" (the project's prompt), "dataset" (the row's own system message(s), as
      published), "none" (no system turn), "file" (the text of `data.prompt.file`).
    - `text`: the system text for "project" and "file" ("" = no system turn).
    - `placement`: with "project" or "file", "replace" drops the row's own system message;
      "prepend" keeps it after the configured one (the release's order).

    The user turn is the row's own (its `<image>` placeholders become image parts where they
    stand, as the release splits them) when the row has chat messages whose placeholders match its
    images; otherwise one image part per image, then the question (`build_messages`' layout).
    """

    system: str = "project"
    text: str | None = SYSTEM_PROMPT
    placement: str = "replace"

    @classmethod
    def from_config(
        cls, prompt: Mapping[str, Any] | None, project_prompt: str | None = None
    ) -> TrainingPrompt:
        prompt = prompt or {}
        system = prompt.get("system", "project")
        placement = prompt.get("placement", "replace")
        if system not in PROMPT_SYSTEMS:
            raise PromptError(
                f"config key 'data.prompt.system': {system!r} is not one of {list(PROMPT_SYSTEMS)}"
            )
        if placement not in PLACEMENTS:
            raise PromptError(
                f"config key 'data.prompt.placement': {placement!r} is not one of {list(PLACEMENTS)}"
            )
        text = None
        if system == "project":
            text = SYSTEM_PROMPT if project_prompt is None else project_prompt
        elif system == "file":
            if not prompt.get("file"):
                raise PromptError("config key 'data.prompt.file': required when data.prompt.system is 'file'")
            text = read_prompt_file(prompt["file"])
        return cls(system=system, text=text, placement=placement)

    def messages(
        self, question: str, n_images: int, source_messages: str | Sequence | None = ""
    ) -> list[dict]:
        """The conversational prompt of one training row (TRL's layout: content parts)."""
        turns = _parse_messages(source_messages)
        own_system = [m for m in turns if m["role"] == "system"]
        rest = [m for m in turns if m["role"] != "system"]
        out: list[dict] = []
        if self.system == "dataset":
            out += [_text_turn("system", m["content"]) for m in own_system]
        elif self.system in ("project", "file"):
            if self.text:
                out.append(_text_turn("system", self.text))
            if self.placement == "prepend":
                out += [_text_turn("system", m["content"]) for m in own_system]
        placeholders = sum(m["content"].count("<image>") for m in rest)
        if rest and placeholders == n_images:
            out += [{"role": m["role"], "content": _split_placeholders(m["content"])} for m in rest]
        else:
            out += build_messages(question, n_images, system_prompt="")
        return out


def _parse_messages(source: str | Sequence | None) -> list[dict[str, str]]:
    if isinstance(source, str):
        if not source.strip():
            return []
        try:
            source = json.loads(source)
        except json.JSONDecodeError:
            return []
    if not isinstance(source, Sequence):
        return []
    return [
        {"role": str(m.get("role") or "user"), "content": m["content"]}
        for m in source
        if isinstance(m, Mapping) and isinstance(m.get("content"), str)
    ]


def _text_turn(role: str, text: str) -> dict:
    return {"role": role, "content": [{"type": "text", "text": text}]}


def _split_placeholders(text: str) -> list[dict]:
    """A turn's text as content parts: each "<image>" an image part where it stands."""
    parts: list[dict] = []
    for piece in _PLACEHOLDER_SPLIT.split(text):
        if piece == "<image>":
            parts.append({"type": "image"})
        elif piece:
            parts.append({"type": "text", "text": piece})
    return parts


def render_options(options: list[str]) -> str:
    """Render multiple-choice options one per line as "A. first\\nB. second"."""
    if len(options) > len(OPTION_LETTERS):
        raise ValueError(f"at most {len(OPTION_LETTERS)} options can be lettered, got {len(options)}")
    return "\n".join(
        f"{letter}. {str(opt).strip()}" for letter, opt in zip(OPTION_LETTERS, options, strict=False)
    )


def question_with_options(question: str, options: list[str]) -> str:
    """The question followed by its rendered options, the way every multiple-choice row reads."""
    return f"{question.rstrip()}\n{render_options(options)}" if options else question


def split_think_answer(text: str) -> tuple[str | None, str | None]:
    """Return the (think, answer) block contents of a completion, stripped; None where absent.

    Lenient on purpose (first think block, last answer block): it serves analysis and display,
    while the strict format check that decides rewards is `vero.rewards`'. An answer block that
    is opened but never closed (a truncated completion) yields None.
    """
    if not isinstance(text, str):
        return None, None
    think_match = _THINK_RE.search(text)
    think = think_match.group(1).strip() if think_match else None
    answers = _ANSWER_RE.findall(text)
    answer = answers[-1].strip() if answers else None
    return think, answer


def think_text(text: str) -> str:
    """The reasoning of a completion: the think block, or everything before <answer> when the
    think tags are missing (used to measure reasoning length)."""
    think, _ = split_think_answer(text)
    if think is not None:
        return think
    if not isinstance(text, str):
        return ""
    head = text.split(ANSWER_OPEN, 1)[0]
    return head.replace(THINK_OPEN, "").replace(THINK_CLOSE, "").strip()
