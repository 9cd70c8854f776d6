"""Prompting shared by training and evaluation: system prompt, chat messages, options, tags.

Training (GRPO rows) and evaluation (VeroEval generation) both build their inputs with
`build_messages`, so the model is graded on exactly the format it was trained on. Scoring of
the output lives in `vero.rewards`; the helpers here only split text apart.
"""

from __future__ import annotations

import re
import string

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
