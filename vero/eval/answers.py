"""The final answer of a model output, read as the Vero release's evaluation harness reads it.

Every rule-scored VeroEval benchmark first cuts the reasoning away, then scores what is left
(`extract_final_answer` in the release's `vero-eval/lmms_eval/tasks/_task_utils/answer_extraction.py`):

1. a `</think>` without an opening `<think>` is read as if the output began with `<think>` (the
   released checkpoints' chat template writes the opening tag into the prompt, so their outputs
   never start with it);
2. with both `<answer>` and `</answer>` present, the text between the first `<answer>` and the next
   `</answer>` is the answer; then whatever follows the first `</think>` is kept;
3. for most benchmarks, the content of the last balanced `\\boxed{...}` replaces the answer, and a
   whole-answer `\\text{...}` wrapper is removed.

There is no format gate: an output is scored whatever its layout. `answer_layout` names the layout
so it can be reported beside the score.
"""

from __future__ import annotations

from typing import Any

_BOXED = "\\boxed{"
_TEXT = "\\text{"


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the brace that closes the one opened before `start`, or None."""
    depth, pos = 1, start
    while pos < len(text) and depth > 0:
        ch = text[pos]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        pos += 1
    return pos if depth == 0 else None


def last_boxed(text: str) -> str | None:
    """Content of the last balanced `\\boxed{...}`; the scan stops at the first unbalanced one.

    Boxes nested inside a box are part of its content, not candidates of their own.

    >>> last_boxed(r"first \\boxed{1}, then \\boxed{\\frac{1}{2}}")
    '\\\\frac{1}{2}'
    >>> last_boxed(r"\\boxed{7} and an unclosed \\boxed{8")
    '7'
    >>> last_boxed("no box") is None
    True
    """
    found: str | None = None
    pos = 0
    while True:
        i = text.find(_BOXED, pos)
        if i == -1:
            return found
        start = i + len(_BOXED)
        end = _balanced_end(text, start)
        if end is None:
            return found
        found = text[start : end - 1]
        pos = end


def strip_boxed(text: str) -> str:
    """The text with every balanced `\\boxed{...}` wrapper replaced by its content (left to right,
    stopping at the first unbalanced one).

    >>> strip_boxed(r"so \\boxed{42} it is")
    'so 42 it is'
    """
    result = text
    while True:
        i = result.find(_BOXED)
        if i == -1:
            return result
        start = i + len(_BOXED)
        end = _balanced_end(result, start)
        if end is None:
            return result
        result = result[:i] + result[start : end - 1] + result[end:]


def strip_text_wrapper(text: str) -> str:
    """Remove `\\text{...}` while it wraps the whole (stripped) text.

    >>> strip_text_wrapper(r" \\text{\\text{Paris}} ")
    'Paris'
    >>> strip_text_wrapper(r"\\text{a} and \\text{b}")
    '\\\\text{a} and \\\\text{b}'
    """
    result = text.strip()
    while result.startswith(_TEXT) and result.endswith("}"):
        end = _balanced_end(result, len(_TEXT))
        if end is None or end != len(result):
            break
        result = result[len(_TEXT) : end - 1].strip()
    return result


def final_answer(output: Any, *, parse_boxed: bool = True, strip_latex_wrappers: bool = False) -> str:
    """The answer part of a model output (formula: see the module docstring).

    `parse_boxed=False` keeps the whole answer text (judge-graded benchmarks); with it,
    `strip_latex_wrappers=True` still unwraps `\\boxed{}`/`\\text{}` in place (instruction-following
    benchmarks, where the wrappers are noise). Source: `extract_final_answer` in
    `vero-eval/lmms_eval/tasks/_task_utils/answer_extraction.py` of the release.

    >>> final_answer("counting the bars</think>The answer is \\\\boxed{7}.")
    '7'
    >>> final_answer("<think>hm</think><answer>C. Ribosome</answer>")
    'C. Ribosome'
    >>> final_answer("<think>a</think> \\\\boxed{x} then", parse_boxed=False, strip_latex_wrappers=True)
    'x then'
    >>> final_answer(None)
    ''
    """
    if not isinstance(output, str):
        return "" if output is None else str(output)
    text = output.strip()
    if not text:
        return ""
    if "</think>" in text and "<think>" not in text:
        text = f"<think>\n{text}"
    if "<answer>" in text and "</answer>" in text:
        text = text.split("<answer>", 1)[1].split("</answer>", 1)[0].strip()
    if "</think>" in text:
        text = text.split("</think>", 1)[-1].strip()
    if parse_boxed:
        boxed = last_boxed(text)
        if boxed is not None:
            text = boxed.strip()
        else:
            stripped = strip_boxed(text)
            if stripped != text:
                text = stripped.strip()
        text = strip_text_wrapper(text)
    elif strip_latex_wrappers:
        text = strip_text_wrapper(strip_boxed(text))
    return text.strip()


def answer_layout(output: Any) -> str:
    """The layout of an output, reported beside its score (never a gate):

    `think_answer` (reasoning closed by `</think>`, then an `<answer>` block), `think_only`
    (`</think>` without an answer block), `answer_only` (an `<answer>` block without reasoning
    tags), `unclosed_think` (`<think>` never closed: the output was cut or never finished
    reasoning), `plain` (none of these tags) or `empty`.

    >>> answer_layout("reasoning</think><answer>4</answer>")
    'think_answer'
    >>> answer_layout("<think>still going")
    'unclosed_think'
    """
    if not isinstance(output, str) or not output.strip():
        return "empty"
    has_answer = "<answer>" in output and "</answer>" in output
    if "</think>" in output:
        return "think_answer" if has_answer else "think_only"
    if "<think>" in output:
        return "unclosed_think"
    return "answer_only" if has_answer else "plain"
