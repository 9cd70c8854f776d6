"""The model-facing prompt of a benchmark sample, built the way the release's harness builds it.

A registry entry names a `builder` and its texts (`prompt:` in config/veroeval.yaml); each builder
below mirrors one `doc_to_text` / `doc_to_messages` of the release's lmms-eval tasks
(zlab-princeton/vero at 8c81e37, vero-eval/lmms_eval/tasks/<task>/utils.py), named in its
docstring. The texts themselves live in the registry: what the model reads is a fact of the
harness that produced the paper's numbers, so it is carried over unchanged (docs/evaluation.md,
"Prompts"). Images always come before the text in the user turn, as the release's chat path
(api/task.py `auto_doc_to_messages`) lays them out.

The conversation handed to a backend is `sample_messages(sample, system_prompt)`: an optional
system turn, then the sample's turns (`EvalSample.messages`, or one user turn of image parts and
the prompt text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vero.eval.rows import row_value
from vero.prompts import OPTION_LETTERS as LETTERS

# What the release's vLLM wrapper sends as the system turn when no `system_prompt` model argument
# is given (vero-eval/lmms_eval/models/simple/vllm.py, __init__ default, inherited by
# models/chat/vllm.py); examples/eval_domain.sh passes none. `eval.system_prompt: release_harness`.
RELEASE_HARNESS_SYSTEM_PROMPT = "You are a helpful assistant."
SYSTEM_PROMPT_MODES = ("model", "project", "release_harness", "custom")


class PromptSpecError(ValueError):
    """A malformed `prompt:` entry; `key` is the sub-key path (".templates") or ""."""

    def __init__(self, msg: str, key: str = ""):
        super().__init__(msg)
        self.key = key


class PromptDrop(Exception):
    """This row cannot be prompted (the release would fail on it); dropped with `reason`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Prompt:
    """The text of the (last) user turn, and the whole conversation when it has several turns."""

    text: str
    turns: list[dict] | None = None


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, **values: Any) -> str:
    """Replace `{name}` placeholders in one pass; other braces (JSON examples) stay as they are.

    >>> fill('{q} as [{"bbox_2d": [x, y]}] {missing}', q="Where?")
    'Where? as [{"bbox_2d": [x, y]}] {missing}'
    """
    return _PLACEHOLDER.sub(
        lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template
    )


def _first_text(row: Mapping, names: Sequence[str]) -> str:
    for name in names:
        value = row_value(row, name)
        if isinstance(value, str) and value.strip():
            return value
    raise PromptDrop("missing_question")


def _remove(text: str, phrases: Sequence[str]) -> str:
    for phrase in phrases:
        text = text.replace(phrase, "")
    return text


def _question_names(spec: Mapping, question_field: str | None) -> list[str]:
    return list(spec.get("source_fields") or ([question_field] if question_field else []))


# ---- builders ------------------------------------------------------------------------------


def _plain(spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]) -> Prompt:
    """The question as published, with instructions removed: chartqa/infovqa/chartmuseum/evochart/
    blink/cv_bench/game_qa/simplevqa/fvqa/mmvetv2/countbenchqa/countqa/visual_probe/mia_bench/
    mmifeval `doc_to_text` (pre/post prompts are empty in the reasoning tasks)."""
    question = _first_text(row, _question_names(spec, question_field))
    text = _remove(fill(spec.get("template", "{question}"), question=question), spec.get("remove", ()))
    return Prompt(text.strip() if spec.get("strip", True) else text)


def _options(spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]) -> Prompt:
    """Question plus lettered options: mmmu_pro `construct_prompt`, mathvision
    `mathvision_doc_to_text_custom`, mathvista `create_one_query` (direct), embspatial and
    mme_realworld `doc_to_text`."""
    question = _first_text(row, _question_names(spec, question_field))
    fmt, joiner = spec.get("option_format", "{letter}. {option}"), spec.get("joiner", "\n")
    rendered = joiner.join(fill(fmt, letter=LETTERS[i], option=o) for i, o in enumerate(options))
    parts = {}
    for name, part in (spec.get("optional") or {}).items():
        value = row_value(row, part["field"])
        parts[name] = fill(part["format"], value=value) if value else ""
    template = spec["template"] if options else spec.get("no_options_template", spec["template"])
    text = _remove(fill(template, question=question, options=rendered, **parts), spec.get("remove", ()))
    return Prompt(text.strip() if spec.get("strip", True) else text)


def _fixed(spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]) -> Prompt:
    """One instruction for every row (mmmu_pro vision: the question is inside the image)."""
    return Prompt(spec["text"])


# An option marker inside a question: "A. ", "(B) ", "[C]: " (ERQA and RealWorldQA write their
# options into the question text); the same markers the release's _MCQ_OPTION_PATTERN finds.
_INLINE_OPTION = re.compile(r"(?:^|\s)[\(\[]?([A-D])[\)\]]?\s*[.:)]\s*", re.IGNORECASE)
_CHOICES_TAIL = re.compile(r"\bChoices:?\s*$", re.IGNORECASE)


def reformat_inline_options(question: str, *, drop_choices_label: bool = True) -> str:
    """Options found in the question text laid out one per line under "Choices:" (erqa and
    realworldqa `_format_*mcq_question`); the question unchanged when fewer than two are found.

    >>> reformat_inline_options("Which? A. red B. blue")
    'Which?\\nChoices:\\nA. red\\nB. blue'
    """
    marks = list(_INLINE_OPTION.finditer(question))
    first_a = next((i for i, m in enumerate(marks) if m.group(1).upper() == "A"), None)
    if first_a is None:
        return question
    marks = marks[first_a:]
    found = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(question)
        body = question[m.end() : end].strip()
        if body:
            found.append(f"{m.group(1).upper()}. {body}")
    if len(found) < 2:
        return question
    stem = question[: marks[0].start()].strip()
    if drop_choices_label:  # ERQA drops a "Choices:" the question ends with; RealWorldQA keeps it
        stem = _CHOICES_TAIL.sub("", stem).strip()
    return (f"{stem}\n" if stem else "") + "Choices:\n" + "\n".join(found)


def _inline_options(
    spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]
) -> Prompt:
    """erqa `erqa_doc_to_text_removepost`, realworldqa `realworldqa_doc_to_text_removepost`."""
    text = _first_text(row, _question_names(spec, question_field)).strip()
    for phrase in spec.get("remove", ()):
        if phrase in text:
            text = text.replace(phrase, "").strip()
    text = reformat_inline_options(text, drop_choices_label=spec.get("drop_choices_label", True))
    text += spec.get("suffix", "")
    return Prompt(text.strip() if spec.get("strip", True) else text)


_PAREN_OPTION = re.compile(r"\([A-D]\)\s*([^()]+?)(?=\s*\([A-D]\)|$)")


def _paren_options(spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]) -> Prompt:
    """vstar_bench `vstar_doc_to_text` with strip_answer_instruction: "(A) x (B) y" → "A. x"."""
    text = _remove(_first_text(row, _question_names(spec, question_field)), spec.get("remove", ())).strip()
    found = _PAREN_OPTION.findall(text)
    if found:
        lines = [f"{LETTERS[i]}. {o.strip()}" for i, o in enumerate(found[:4])]
        text = text.split("(A)")[0].strip() + "\n" + "\n".join(lines)
    return Prompt(text)


def decimal_places_instruction(spec: Mapping, answer: str) -> str:
    """CharXiv's instruction for numeric answers: an integer, or the gold's number of decimal
    places (digits after its first ".")."""
    parts = str(answer).split(".")
    if len(parts) == 1:
        return spec["integer_instruction"]
    return fill(spec["decimal_instruction"], places=len(parts[1]))


def _charxiv(spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]) -> Prompt:
    """charxiv `charxiv_reasoning_doc_to_messages_cot`: REASONING_RESP_INST by question source."""
    try:
        source = int(row_value(row, spec["source_field"]))
        template = {int(k): v for k, v in spec["templates"].items()}[source]
    except (KeyError, TypeError, ValueError) as e:
        raise PromptDrop("bad_prompt") from e
    question = _first_text(row, _question_names(spec, question_field))
    answer = row_value(row, spec.get("answer_field", "reasoning_a"))
    number = decimal_places_instruction(spec, answer) if "{number_instruction}" in template else ""
    return Prompt(fill(template, question=question, number_instruction=number).strip())


def _chartqa_pro(spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]) -> Prompt:
    """chartqa_pro `chartqa_pro_doc_to_text_alt`: a template per Question Type; a Conversational
    row's earlier turns (question and gold answer) become the conversation history."""
    template = spec["templates"].get(row_value(row, spec["type_field"]))
    question = row_value(row, question_field)
    if template is None or not question:
        raise PromptDrop("bad_prompt")
    history = ""
    if "{conversation}" in template:
        questions = question if isinstance(question, list) else [question]
        answers = row_value(row, spec.get("answer_field", "Answer"))
        past = answers[:-1] if isinstance(answers, list) else []
        history = "".join(
            fill(spec["history_turn"], question=q, answer=a)
            for q, a in zip(questions[:-1], past, strict=False)
        )
        question = questions[-1]
    elif isinstance(question, list):
        question = question[0]
    return Prompt(fill(template, question=question, conversation=history))


_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.IGNORECASE)


def _grounding_caption(
    spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]
) -> Prompt:
    """aerialvg `aerialvg_doc_to_text`: caption, then where the region's phrase (article dropped)
    is, its relation when given, then the output-format instruction."""
    caption = str(row_value(row, question_field) or "").strip()
    phrase = _ARTICLE.sub("", str(row_value(row, spec["phrase_field"]) or "").strip())
    relation = row_value(row, spec["relation_field"]) if spec.get("relation_field") else None
    suffix = spec.get("suffix", "")
    if suffix and not suffix[0].isspace():
        suffix = " " + suffix
    rel = fill(spec["relation_format"], value=relation) if relation else ""
    return Prompt(fill(spec["template"], caption=caption, phrase=phrase, relation=rel, suffix=suffix))


def _instruction_point(
    spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]
) -> Prompt:
    """screenspot(pro) `screenspot_point_doc_to_text_abs`: command, terminal punctuation added."""
    instruction = str(row_value(row, question_field) or row_value(row, "instruction_cn") or "").strip()
    if instruction and not instruction.endswith((".", "?", "!")):
        instruction += "."
    prefix, suffix = spec.get("prefix", ""), spec.get("suffix", "")
    if prefix and not prefix[-1].isspace():
        prefix += " "
    if suffix and not suffix[0].isspace():
        suffix = " " + suffix
    return Prompt(f"{prefix}{instruction}{suffix}")


def _content_parts(content: Any) -> list[dict]:
    """A published message's content as chat parts; image items become image placeholders."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts: list[dict] = []
    for item in content if isinstance(content, list) else ([] if content is None else [str(content)]):
        if isinstance(item, str):
            parts.append({"type": "text", "text": item})
        elif isinstance(item, Mapping) and item.get("type") in ("image", "image_url"):
            parts.append({"type": "image"})
        elif isinstance(item, Mapping) and "text" in item:
            parts.append({"type": "text", "text": str(item.get("text", ""))})
    return parts or [{"type": "text", "text": ""}]


def parse_conversation(value: Any) -> list[dict]:
    """A conversation published as a list of messages or as its JSON text; [] when unreadable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return []
    return [m for m in value if isinstance(m, Mapping)] if isinstance(value, list) else []


def _conversation(spec: Mapping, row: Mapping, question_field: str | None, options: Sequence[str]) -> Prompt:
    """mm_mt_bench `mm_mt_bench_doc_to_messages`: the conversation up to this sample's user turn,
    the dataset's reference answers standing in for the earlier assistant turns."""
    messages = parse_conversation(row_value(row, question_field))
    index = row_value(row, spec.get("index_field", "message_index"))
    if isinstance(index, int) and messages:
        messages = messages[: index + 1]
    turns = [
        {"role": str(m.get("role", "user")), "content": _content_parts(m.get("content"))} for m in messages
    ]
    users = [t for t in turns if t["role"] == "user"]
    if not users:
        raise PromptDrop("missing_question")
    last = "".join(p.get("text", "") for p in users[-1]["content"] if p["type"] == "text").strip()
    return Prompt(last, turns)


BUILDERS: dict[str, Callable[..., Prompt]] = {
    "plain": _plain,
    "options": _options,
    "fixed": _fixed,
    "inline_options": _inline_options,
    "paren_options": _paren_options,
    "charxiv": _charxiv,
    "chartqa_pro": _chartqa_pro,
    "grounding_caption": _grounding_caption,
    "instruction_point": _instruction_point,
    "conversation": _conversation,
}
# keys each builder requires (beyond `builder`), and the ones it accepts
_REQUIRED = {
    "options": {"template"},
    "fixed": {"text"},
    "charxiv": {"source_field", "templates", "integer_instruction", "decimal_instruction"},
    "chartqa_pro": {"type_field", "templates", "history_turn"},
    "grounding_caption": {"template", "phrase_field", "relation_format"},
}
_COMMON = {"builder", "source_fields", "remove", "strip", "template"}
_ACCEPTED = {
    "plain": _COMMON,
    "options": _COMMON | {"no_options_template", "option_format", "joiner", "optional"},
    "fixed": {"builder", "text"},
    "inline_options": _COMMON | {"suffix", "drop_choices_label"},
    "paren_options": _COMMON,
    "charxiv": {
        "builder",
        "source_field",
        "templates",
        "integer_instruction",
        "decimal_instruction",
        "answer_field",
    },
    "chartqa_pro": {"builder", "type_field", "templates", "history_turn", "answer_field"},
    "grounding_caption": {
        "builder",
        "template",
        "phrase_field",
        "relation_field",
        "relation_format",
        "suffix",
    },
    "instruction_point": {"builder", "prefix", "suffix"},
    "conversation": {"builder", "index_field"},
}


def check_prompt_spec(spec: Mapping, *, has_question: bool) -> None:
    """Validate a registry `prompt:` mapping; PromptSpecError names the offending sub-key."""
    builder = spec.get("builder", "plain")
    if builder not in BUILDERS:
        raise PromptSpecError(f"unknown builder {builder!r}; expected one of {list(BUILDERS)}", ".builder")
    unknown = sorted(set(spec) - _ACCEPTED[builder])
    if unknown:
        raise PromptSpecError(
            f"unknown key for builder {builder!r}; allowed: {sorted(_ACCEPTED[builder])}", f".{unknown[0]}"
        )
    missing = sorted(_REQUIRED.get(builder, set()) - set(spec))
    if missing:
        raise PromptSpecError(f"required by builder {builder!r}", f".{missing[0]}")
    if builder != "fixed" and not has_question and not spec.get("source_fields"):
        raise PromptSpecError(f"builder {builder!r} needs fields.question (or prompt.source_fields)")
    for key in ("template", "no_options_template"):
        if key in spec and builder in ("plain", "options") and "{question}" not in str(spec[key]):
            raise PromptSpecError("must contain '{question}'", f".{key}")
    for key in ("remove", "source_fields"):
        if key in spec and not (isinstance(spec[key], list) and all(isinstance(x, str) for x in spec[key])):
            raise PromptSpecError("expected a list of strings", f".{key}")


def build_prompt(
    spec: Mapping, row: Mapping, *, question_field: str | None, options: Sequence[str]
) -> Prompt:
    """The prompt of one (expanded) row; raises PromptDrop when the row cannot be prompted."""
    return BUILDERS[spec.get("builder", "plain")](spec, row, question_field, options)


# ---- the conversation a backend sends --------------------------------------------------------


def sample_messages(sample: Any, system_prompt: str | None = None) -> list[dict]:
    """Chat messages of one sample: the system turn when `system_prompt` is non-empty, then the
    sample's turns, or one user turn with its images (placeholders, in order) before the text.

    Image placeholders are `{"type": "image"}`; backends bind them to `sample.images` in order.
    """
    messages: list[dict] = []
    if system_prompt:
        messages.append({"role": "system", "content": [{"type": "text", "text": system_prompt}]})
    turns = getattr(sample, "messages", None)
    if turns:
        messages.extend({"role": t["role"], "content": [dict(p) for p in t["content"]]} for t in turns)
    else:
        content = [{"type": "image"} for _ in sample.images]
        content.append({"type": "text", "text": sample.question})
        messages.append({"role": "user", "content": content})
    return messages


def resolve_system_prompt(cfg: Mapping, mode: str | None = None) -> str | None:
    """The system turn evaluation sends (`eval.system_prompt`), None for none.

    model: none, so the model's chat template decides (the released Vero checkpoints carry the Vero
    system prompt there); project: the prompt training used (`train.system_prompt`, null =
    vero.prompts.SYSTEM_PROMPT); release_harness: what the release's lmms-eval vLLM wrapper sends by
    default; custom: `eval.system_prompt_text`.
    """
    ev = cfg.get("eval") or {}
    mode = mode or ev.get("system_prompt", "model")
    if mode == "model":
        return None
    if mode == "release_harness":
        return RELEASE_HARNESS_SYSTEM_PROMPT
    if mode == "custom":
        text = ev.get("system_prompt_text")
        if not text:
            raise ValueError(
                "config key 'eval.system_prompt_text': required when eval.system_prompt is 'custom'"
            )
        return str(text)
    if mode == "project":
        from vero.prompts import SYSTEM_PROMPT

        train_prompt = (cfg.get("train") or {}).get("system_prompt")
        text = SYSTEM_PROMPT if train_prompt is None else train_prompt
        return text or None
    raise ValueError(f"config key 'eval.system_prompt': {mode!r} is not one of {list(SYSTEM_PROMPT_MODES)}")
