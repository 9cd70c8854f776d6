"""Answer extraction and the format reward as the release reads an output (RECIPE.md §3).

Source: the release's `vero_reward/math_verify_reward_type_boxed.py` (`format_reward`, `acc_reward` and
their helpers), zlab-princeton/vero @ 8c81e37. Facts it fixes, which decide many edge cases:
- the graded answer is the first `<answer>…</answer>` block, stripped; without one, the whole output;
- a `\\boxed{…}` content is its braces balanced (an escaped `\\{` counts as a brace), stripped, with a
  `\\text{…}` covering it all unwrapped; an unbalanced `\\boxed{` ends the scan;
- boxed types grade the last box only when it is non-empty, else a malformed `\\boxed[…]`, else the text;
- grounding/clicking grade the last non-empty box (else the answer) when it is a strict JSON array.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from vero.rewards.types import BOXED_REWARD_TYPES, SPATIAL_REWARD_TYPES

_BOXED = "\\boxed"
_TEXT = "\\text"
_BRACES = re.compile(r"[{}]")
_SQUARE = re.compile(r"[\[\]]")
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_NON_SPACE = re.compile(r"\S")  # what str.strip() would keep


def answer_text(output: str) -> str:
    """The first answer block's content, stripped; the whole output stripped when there is none."""
    m = _ANSWER_BLOCK.search(output)
    return (m.group(1) if m else output).strip()


def _close(text: str, start: int, pattern: re.Pattern, opener: str) -> int:
    """Index just past the bracket closing the one opened before `start`, or -1 when unbalanced."""
    depth = 1
    for m in pattern.finditer(text, start):
        depth += 1 if m.group() == opener else -1
        if depth == 0:
            return m.end()
    return -1


def unwrap_text_command(content: str) -> str:
    """`\\text{…}` that is the whole (left-stripped) content → its inside, stripped; else unchanged."""
    s = content.lstrip()
    if not s.startswith(_TEXT):
        return content
    i = len(_TEXT)
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s) or s[i] != "{":
        return content
    end = _close(s, i + 1, _BRACES, "{")
    if end < 0 or s[end:].strip():
        return content
    return s[i + 1 : end - 1].strip()


@lru_cache(maxsize=16384)
def _boxes(text: str) -> tuple[str, ...]:
    out = []
    pos = 0
    while True:
        start = text.find(_BOXED, pos)
        if start < 0:
            break
        i = start + len(_BOXED)
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text) or text[i] != "{":
            pos = i
            continue
        end = _close(text, i + 1, _BRACES, "{")
        if end < 0:
            break
        out.append(unwrap_text_command(text[i + 1 : end - 1].strip()))
        pos = end
    return tuple(out)


def boxes(text: str) -> tuple[str, ...]:
    """Contents of the `\\boxed{…}` commands of `text`, in order (see the module docstring)."""
    return _boxes(text) if len(text) <= 4096 else _boxes.__wrapped__(text)


def last_square_box(text: str) -> str | None:
    """The content of the last balanced malformed `\\boxed[…]`, stripped, or None."""
    last = None
    pos = 0
    while True:
        start = text.find(_BOXED, pos)
        if start < 0:
            return last
        i = start + len(_BOXED)
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return last
        if text[i] != "[":
            pos = i + 1
            continue
        end = _close(text, i + 1, _SQUARE, "[")
        if end < 0:
            return last
        last = text[i + 1 : end - 1].strip()
        pos = end


def format_score(output: str, reward_type: str, answer: str | None = None) -> float:
    """R_fmt ∈ {0, 0.5, 1}: 0 unless the output is exactly one non-empty think block, whitespace and one
    answer block with non-empty content; boxed types then need exactly one non-empty box for 1 (else 0.5),
    grounding/clicking get 0.5 when `\\boxed` is written more than once."""
    if not output or not output.startswith("<think>"):
        return 0.0
    for tag in ("<think>", "</think>", "<answer>", "</answer>"):
        if output.count(tag) != 1:
            return 0.0
    # With each tag present once, the release's full-match pattern (one think block without nested tags,
    # whitespace, one answer block, whitespace to the end) reduces to these positions.
    think_end = output.find("</think>")
    after = _NON_SPACE.search(output, think_end + len("</think>"))
    if after is None or not output.startswith("<answer>", after.start()):
        return 0.0
    close = output.find("</answer>", after.start())
    if close < 0 or _NON_SPACE.search(output, close + len("</answer>")):
        return 0.0
    if not _NON_SPACE.search(output, len("<think>"), think_end):
        return 0.0
    answer = answer_text(output) if answer is None else answer
    if not answer:
        return 0.0
    if reward_type in BOXED_REWARD_TYPES:
        found = boxes(answer)
        return 1.0 if len(found) == 1 and found[0] else 0.5
    if reward_type in SPATIAL_REWARD_TYPES and answer.count(_BOXED) > 1:
        return 0.5
    return 1.0


NOT_JSON = object()


@lru_cache(maxsize=4096)
def cached_json(text: str) -> object:
    """`json.loads(text)`, or NOT_JSON when it does not parse; memoized (callers must not mutate)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return NOT_JSON


def _is_json_list(text: str) -> bool:
    return isinstance(cached_json(text), list)


def graded_answer(output: str, reward_type: str, answer: str | None = None) -> str | None:
    """The text the accuracy route grades, or None when it grades nothing (accuracy 0). `answer` may
    pass `answer_text(output)` when the caller has it."""
    text = answer_text(output) if answer is None else answer
    if reward_type in BOXED_REWARD_TYPES:
        found = boxes(text)
        if found and found[-1]:
            text = found[-1].strip()
        elif _BOXED in text:
            square = last_square_box(text)
            if square:
                text = square
    elif reward_type in SPATIAL_REWARD_TYPES:
        if not text:
            return None
        found = boxes(text)
        source = (found[-1] if found and found[-1] else text).strip()
        if not source:
            return None
        if not _is_json_list(source):
            return None
        text = source
    return text or None
