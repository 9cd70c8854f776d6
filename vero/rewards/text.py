"""Text helpers: the think/answer layout and `\\boxed{}` helpers of the math-verify-only ablation and of
evaluation's answer reading, and the release's normalization for exact-match routes."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
# The whole output: <think>…</think> whitespace <answer>…</answer> trailing whitespace, nothing else.
_LAYOUT_RE = re.compile(r"<think>(.*)</think>\s*<answer>(.*)</answer>\s*", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_BOXED_RE = re.compile(r"\\boxed\s*\{")
_TEXT_WRAP_RE = re.compile(r"\A\\text\s*\{")


@dataclass(frozen=True)
class Layout:
    """The think/answer structure of a completion. `ok` is True only for the exact recipe layout."""

    ok: bool
    think: str | None
    answer: str | None


def parse_layout(completion: str) -> Layout:
    """Split a completion into think and answer blocks, checking the strict layout of RECIPE.md §3."""
    if not completion.startswith(_THINK_OPEN):
        return Layout(False, None, _loose_answer(completion))
    counts_ok = (
        completion.count(_THINK_OPEN) == 1
        and completion.count(_THINK_CLOSE) == 1
        and completion.count(_ANSWER_OPEN) == 1
        and completion.count(_ANSWER_CLOSE) == 1
    )
    if counts_ok:
        m = _LAYOUT_RE.fullmatch(completion)
        if m and m.group(1).strip() and m.group(2).strip():
            return Layout(True, m.group(1), m.group(2))
    return Layout(False, None, _loose_answer(completion))


def _loose_answer(completion: str) -> str | None:
    """What a malformed output answers, for logging and the ungated accuracy evaluation reports: its last
    <answer>…</answer> block, else the text after the last </think>, else the whole output."""
    blocks = _ANSWER_RE.findall(completion)
    if blocks:
        return blocks[-1]
    tail = completion.rpartition(_THINK_CLOSE)[2]
    return tail if tail.strip() else None


def boxed_contents(text: str) -> list[str]:
    """Contents of every `\\boxed{…}` with balanced braces, in order (escaped `\\{` `\\}` do not count)."""
    out: list[str] = []
    pos = 0
    n = len(text)
    while True:
        m = _BOXED_RE.search(text, pos)
        if m is None:
            return out
        start = i = m.end()
        depth = 1
        while i < n:
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if depth != 0:
            return out  # unbalanced: no box here nor after (the rest is inside this open brace)
        out.append(text[start:i])
        pos = i + 1


def unwrap_text(content: str) -> str:
    """`\\text{…}` covering the whole content → its inside; anything else unchanged."""
    s = content.strip()
    m = _TEXT_WRAP_RE.match(s)
    if m and s.endswith("}"):
        inner = s[m.end() : -1]
        # Only unwrap when the \text brace is the one that closes at the end.
        depth = 0
        for c in inner:
            depth += c == "{"
            depth -= c == "}"
            if depth < 0:
                return s
        if depth == 0:
            return inner.strip()
    return s


def last_boxed(text: str) -> str | None:
    """The last non-empty `\\boxed{…}` content, with a whole-content `\\text{…}` unwrapped."""
    for content in reversed(boxed_contents(text)):
        if content.strip():
            return unwrap_text(content)
    return None


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- the release's normalization for exact-match routes --------------------------------------------------
# Source: vero_reward/text_normalization.py (zlab-princeton/vero @ 8c81e37). Order matters: NFKC, then
# NFD with every nonspacing mark (category Mn) dropped and nothing recomposed, eight punctuation marks
# unified, thousands separators and trailing ".0" dropped (before case folding), lower case, runs of
# non-alphanumerics to one space, and the articles a/an/the dropped only when a word longer than one
# letter remains.

_RELEASE_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
    }
)
_ARTICLES = frozenset({"a", "an", "the"})
_NON_ALNUM_RE = re.compile(r"[\W_]+")
_RELEASE_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_RELEASE_TRAILING_ZERO = re.compile(r"\b(\d+)\.0+\b(?!\.)")


def normalize_text(text: str, *, casefold: bool = False) -> str:
    """The canonical form exact-match routes compare (an alias of `normalize_release`)."""
    return normalize_release(text, casefold=casefold)


def normalize_release(text: str, *, casefold: bool = False) -> str:
    """The release's canonical form for string matching; `casefold=True` folds case the Unicode way
    (the `casefold` correction: "Straße" = "STRASSE") instead of `str.lower`."""
    if len(text) <= 256:
        return _normalize_release_cached(text, casefold)
    return _normalize_release(text, casefold)


@lru_cache(maxsize=65536)
def _normalize_release_cached(text: str, casefold: bool) -> str:
    return _normalize_release(text, casefold)


def _normalize_release(text: str, casefold: bool) -> str:
    s = unicodedata.normalize("NFKC", text)
    if not s.isascii():
        s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
        s = s.translate(_RELEASE_PUNCT)
    s = _RELEASE_THOUSANDS.sub("", s)
    s = _RELEASE_TRAILING_ZERO.sub(r"\1", s)
    s = s.casefold() if casefold else s.lower()
    words = _NON_ALNUM_RE.sub(" ", s).split()
    kept = [w for w in words if w not in _ARTICLES]
    if kept and any(len(w) > 1 for w in kept):
        return " ".join(kept)
    return " ".join(words)
