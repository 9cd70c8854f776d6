"""Multiple-choice answers read as the Vero release's VeroEval tasks read them.

Each benchmark family has its own reader (sources are the release's task files under
`vero-eval/lmms_eval/tasks/`):

- `answer_letter` — BLINK, CV-Bench, EmbSpatial, ERQA, RealWorldQA: math-verify's string
  extraction of the option letters, else the MMMU-style search (`mmmu_style_letter`), which ends
  in a random guess when nothing matches;
- `parse_mcq` — MMMU-Pro (standard and vision): letters in `\\boxed{}`, math-verify, then thirteen
  patterns ranked by kind, then the option texts;
- `mme_letter` — MME-RealWorld's `extract_characters_regex`;
- `vstar_letter` — V*Bench's regex chain;
- `gameqa_correct` — GameQA-Lite's option-token rule, otherwise an exact, case-sensitive match.

Every reader takes the extracted answer (`vero.eval.answers.final_answer`) unless its docstring
says otherwise, and never raises on model output.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from vero.eval.answers import final_answer
from vero.eval.chart_metrics import mv_parse

LETTERS = string.ascii_uppercase


def mv_choice(text: str, labels: Sequence[str], *, check_member: bool = True) -> str | None:
    """The option math-verify's string extraction finds in `text` (upper-cased), or None.

    >>> mv_choice("the answer is B", ["A", "B", "C"]), mv_choice("(B)", ["A", "B"])
    ('B', None)
    """
    from math_verify.parser import StringExtractionConfig

    parsed = mv_parse(text, [StringExtractionConfig(strings=tuple(labels))])
    if not parsed:
        return None
    choice = str(parsed[0]).strip().upper()
    if not choice:
        return None
    if check_member and choice not in labels:
        return None
    return choice


# ---- option labels and texts ---------------------------------------------------------------------

_PREFIX_RE = re.compile(r"^\s*[\(\[]?(?:[A-Z][\)\].:\-]?\s+|\d+[\)\].:\-]\s*)", re.IGNORECASE)
_LABEL_RE = re.compile(r"\s*[\(\[]?([A-Z])[\)\].:\s]", re.IGNORECASE)


def strip_option_prefix(text: Any) -> str:
    """An option text without a leading "A.", "(b)", "3)" or single-letter word.

    >>> strip_option_prefix("(A) left of the car")
    'left of the car'
    """
    return _PREFIX_RE.sub("", text if isinstance(text, str) else str(text))


def option_labels(choices: Any) -> list[str]:
    """The letter of each option: its own leading letter label, else its position (A, B, ...).

    >>> option_labels(["(B) yes", "no"])
    ['B', 'B']
    """
    if not isinstance(choices, (list, tuple)) or not choices:
        return []
    labels = []
    for i, item in enumerate(choices):
        m = _LABEL_RE.match(item) if isinstance(item, str) else None
        labels.append(m.group(1).upper() if m else chr(65 + i))
    return labels


def index_to_answer(labels: Sequence[str], choices: Any) -> dict[str, str]:
    if not labels or not isinstance(choices, (list, tuple)):
        return {}
    return {label: strip_option_prefix(item) for label, item in zip(labels, choices, strict=False)}


_MCQ_OPTION_RE = re.compile(r"(?:^|\s)[\(\[]?([A-D])[\)\]]?\s*[\.:\)]\s*", re.IGNORECASE)


def options_in_question(question: Any) -> list[tuple[str, str]]:
    """Options A–D written inside a question text ("... A. cat B. dog"), from the first "A"; fewer
    than two is no options (RealWorldQA, ERQA)."""
    if not isinstance(question, str):
        return []
    matches = list(_MCQ_OPTION_RE.finditer(question))
    start = next((i for i, m in enumerate(matches) if m.group(1).upper() == "A"), None)
    if start is None:
        return []
    matches = matches[start:]
    options = []
    for i, m in enumerate(matches):
        letter = m.group(1).upper()
        end = matches[i + 1].start() if i + 1 < len(matches) else len(question)
        text = question[m.end() : end].strip()
        if text:
            options.append((letter, text))
    return options if len(options) >= 2 else []


def is_mcq_question(question: Any) -> bool:
    """At least two distinct option letters A–D are written in the question (ERQA)."""
    if not isinstance(question, str):
        return False
    return len({m.group(1).upper() for m in _MCQ_OPTION_RE.finditer(question)}) >= 2


# ---- the MMMU-style search shared by the spatial MC benchmarks ------------------------------------


def mmmu_style_letter(
    response: str,
    choices: Sequence[str],
    index2ans: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
) -> tuple[str, str]:
    """(letter, how) by MMMU's search; `how` is "pattern", "text" or "random".

    Candidates, in this order of preference: "(X)"; else "X " (the response padded with spaces,
    upper-cased); else "X."; else, for responses of more than five words, options whose text
    appears. Several candidates: the one whose marker occurs last. None: a random option (as the
    release does; `rng` seeds it). Source: `_parse_multi_choice_response` in e.g.
    `vero-eval/lmms_eval/tasks/blink/utils.py`.

    >>> mmmu_style_letter("I pick (C) because", ["A", "B", "C"])
    ('C', 'pattern')
    """
    for ch in [",", ".", "!", "?", ";", ":", "'"]:
        response = response.strip(ch)
    response = f" {response} "
    upper = response.upper()
    candidates = [c for c in choices if f"({c})" in response]
    bracketed = bool(candidates)
    by_text = False
    if not candidates:
        candidates = [c for c in choices if f"{c} " in upper]
    if not candidates:
        candidates = [c for c in choices if f"{c}." in upper]
    if not candidates and index2ans and len(response.split()) > 5:
        lower = response.lower()
        candidates = [k for k, v in index2ans.items() if v.lower() in lower]
        by_text = bool(candidates)
    if not candidates:
        if not choices:
            return "", "none"
        return (rng or random).choice(list(choices)), "random"
    if len(candidates) == 1:
        return candidates[0], "text" if by_text else "pattern"
    if by_text:
        lower = response.lower()
        positions = [lower.rfind(index2ans[c].lower()) for c in candidates]  # type: ignore[index]
    elif bracketed:
        positions = [response.rfind(f"({c})") for c in candidates]
    else:
        positions = [response.rfind(f" {c} ") for c in candidates]
    best = max(range(len(positions)), key=positions.__getitem__)
    return candidates[best], "text" if by_text else "pattern"


def answer_letter(
    text: Any,
    labels: Sequence[str] | None,
    index2ans: Mapping[str, str] | None = None,
    *,
    rng: random.Random | None = None,
    check_member: bool = True,
) -> tuple[str, str]:
    """(letter, how) of an extracted answer for BLINK, CV-Bench, EmbSpatial, ERQA and RealWorldQA.

    math-verify's string extraction of the labels first (`how` = "math_verify"; EmbSpatial's
    variant keeps whatever it returns, `check_member=False`), then `mmmu_style_letter`; without
    labels, the first standalone letter (`how` = "letter"). Empty text: ("", "none"). Source:
    `_extract_answer_letter` in e.g. `vero-eval/lmms_eval/tasks/cv_bench/utils.py`.

    >>> answer_letter("C. Ribosome", ["A", "B", "C", "D"])
    ('C', 'math_verify')
    """
    if not isinstance(text, str):
        return "", "none"
    text = text.strip()
    if not text:
        return "", "none"
    if labels:
        got = mv_choice(text, labels, check_member=check_member)
        if got:
            return got, "math_verify"
        return mmmu_style_letter(text, labels, index2ans=index2ans, rng=rng)
    m = re.search(r"\b([A-Z])\b", text, flags=re.IGNORECASE)
    return (m.group(1).upper(), "letter") if m else ("", "none")


# ---- MMMU-Pro ------------------------------------------------------------------------------------

# The release writes these patterns in raw strings with doubled backslashes, so they match a
# literal backslash before "s*", "{" and "b": "\\boxed\\{" rather than "\\boxed{", and a letter only
# between literal "\\b" pairs. In practice the boxed step of `parse_mcq` never fires; mirrored as is.
_BOX_OPEN_RE = re.compile(r"\\boxed\\s*\\{|\\fbox\\s*\\{")
_ANSWER_PHRASES = (
    "the answer is",
    "answer is",
    "the correct answer is",
    "correct answer is",
    "the answer",
    "answer",
    "correct answer",
    "the correct answer",
    "the best answer is",
    "best answer is",
    "the best answer",
    "best answer",
    "the option is",
    "option is",
    "the correct option is",
    "correct option is",
    "the choice is",
    "choice is",
    "the correct choice is",
    "correct choice is",
    "i choose",
    "i select",
    "i pick",
    "my answer is",
    "my choice is",
)
_PRIORITY = {
    "start": 10,
    "end": 9,
    "numbered": 8,
    "phrase": 7,
    "parentheses": 6,
    "period": 5,
    "colon": 4,
    "right_paren": 3,
    "space": 2,
    "dash": 1,
    "underscore": 1,
    "equals": 1,
    "content": 1,
    "fallback": 0,
}


def _boxed_letter(response: str, choices: Sequence[str]) -> str:
    """The last option letter inside a box, with the release's patterns (see `_BOX_OPEN_RE`)."""
    if not response or not choices:
        return ""
    pattern = re.compile(r"\\b(" + "|".join(re.escape(c) for c in choices) + r")\\b", re.IGNORECASE)
    found = []
    for m in _BOX_OPEN_RE.finditer(response):
        depth, i = 1, m.end()
        while i < len(response) and depth > 0:
            depth += {"{": 1, "}": -1}.get(response[i], 0)
            i += 1
        if depth != 0:
            continue
        for c in pattern.finditer(response[m.end() : i - 1]):
            found.append((c.group(1).upper(), m.start() + c.start()))
    if not found:
        return ""
    found.sort(key=lambda x: x[1], reverse=True)
    return found[0][0]


def parse_mcq(predict: Any, choices: Sequence[str], index2ans: Mapping[str, str] | None = None) -> str:
    """MMMU-Pro's option letter of an extracted answer ("" when none).

    Order: the release's boxed-letter step (inert: see `_BOX_OPEN_RE`); math-verify's string
    extraction; then candidates of
    thirteen kinds — "(X)", "X.", "X:", "X)", "X ", "X-", "X_", "X=", a letter after an answer
    phrase ("the answer is", "i choose", ...), the first or last character, "N. X", and (with no
    other candidate, over five words) an option's text; with none, any letter occurring. The
    winner has the highest kind priority (start > end > numbered > phrase > parentheses > period >
    colon > right paren > space > dash/underscore/equals/text > anything), ties going to the
    earliest position. Source: `parse_mcq` in `vero-eval/lmms_eval/tasks/mmmu_pro/utils.py`.

    >>> parse_mcq("C. Ribosome", list("ABCDEFGHIJ"))
    'C'
    >>> parse_mcq("Considering all the evidence, the organelle is the ribosome", ["A", "B"],
    ...           {"A": "nucleus", "B": "ribosome"})
    'B'
    """
    if not isinstance(predict, str) or not predict.strip():
        return ""
    boxed = _boxed_letter(predict, choices)
    if boxed:
        return boxed
    got = mv_choice(predict, choices)
    if got:
        return got
    response = predict.strip()
    for ch in [",", ".", "!", "?", ";", ":", "'", '"']:
        response = response.strip(ch)
    response = " " + response + " "
    upper, lower = response.upper(), response.lower()
    cands: list[tuple[str, int, str]] = []
    for fmt, kind in (
        ("({})", "parentheses"),
        ("{}.", "period"),
        ("{}:", "colon"),
        ("{})", "right_paren"),
        ("{} ", "space"),
        ("{}-", "dash"),
        ("{}_", "underscore"),
        ("{}=", "equals"),
    ):
        for c in choices:
            marker = fmt.format(c)
            if marker in upper:
                cands.append((c, upper.rfind(marker), kind))
    for phrase in _ANSWER_PHRASES:
        if phrase in lower:
            start = lower.find(phrase)
            for c in choices:
                pos = upper.find(c, start)
                if pos != -1:
                    cands.append((c, pos, "phrase"))
    stripped_upper = upper.strip()
    for c in choices:
        if stripped_upper.startswith(c):
            cands.append((c, 0, "start"))
    for c in choices:
        if stripped_upper.endswith(c):
            cands.append((c, len(response) - 1, "end"))
    for i, c in enumerate(choices):
        marker = f"{i + 1}. {c}"
        if marker in upper:
            cands.append((c, upper.rfind(marker), "numbered"))
    if not cands and index2ans and len(response.split()) > 5:
        for c, ans in index2ans.items():
            if ans.lower() in lower:
                cands.append((c, lower.rfind(ans.lower()), "content"))
    if not cands:
        for c in choices:
            if c in upper:
                cands.append((c, upper.rfind(c), "fallback"))
    if not cands:
        return ""
    cands.sort(key=lambda x: (_PRIORITY[x[2]], -x[1]), reverse=True)
    return cands[0][0]


def mmmu_options(options: Any) -> tuple[dict[str, str], list[str]]:
    """MMMU-Pro's options (a list, or its Python literal text) as ({letter: text}, letters)."""
    import ast

    if isinstance(options, str):
        try:
            options = ast.literal_eval(options)
        except Exception:
            options = []
    if hasattr(options, "tolist"):
        options = options.tolist()
    if not isinstance(options, (list, tuple)):
        options = []
    letters = [chr(ord("A") + i) for i in range(len(options))]
    return {letter: str(o) for letter, o in zip(letters, options, strict=True)}, letters


# ---- MME-RealWorld -------------------------------------------------------------------------------

_MME_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is",
    "The correct option is",
    "Best answer:",
    "Best option:",
)
_MME_PATTERNS = (
    r"(?i)the best answer is\s*[:：]?\s*([A-E])",
    r"(?i)the correct answer is\s*[:：]?\s*([A-E])",
    r"(?i)the answer is\s*[:：]?\s*([A-E])",
    r"(?i)answer\s*[:：]?\s*([A-E])",
)
MME_CHOICES = ("(A)", "(B)", "(C)", "(D)", "(E)")


def mme_letter(output: Any, choices: Sequence[str] = MME_CHOICES) -> str:
    """MME-RealWorld's letter of a raw output (it extracts the final answer itself).

    math-verify's string extraction of A–E; else, with the answer phrases removed: "" for over ten
    words without a standalone letter; the last letter after an answer phrase; the last standalone
    A–E; the last "(X)"; the last capital A–E anywhere; finally the first choice whose text
    contains the answer (an empty answer is contained in "(A)", so reads as "A", as in the release).
    Source: `extract_characters_regex` in `vero-eval/lmms_eval/tasks/mme_realworld/utils.py`.

    >>> mme_letter("<think>...</think>The best answer is: (C) red")
    'C'
    >>> mme_letter("")
    'A'
    """
    if isinstance(output, dict):
        output = ""
    s = final_answer("" if output is None else str(output)).strip()
    letters = []
    for c in choices:
        m = re.search(r"[A-Z]", c, re.IGNORECASE)
        if m:
            letters.append(m.group(0).upper())
    if letters:
        got = mv_choice(s, letters)
        if got:
            return got
    for prefix in _MME_PREFIXES:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not re.search(r"\b([A-E])\b|\(([A-E])\)", s, flags=re.IGNORECASE):
        return ""
    for pattern in _MME_PATTERNS:
        found = re.findall(pattern, s)
        if found:
            return found[-1].upper()
    for pattern, flags in ((r"\b([A-E])\b", re.IGNORECASE), (r"\(([A-E])\)", re.IGNORECASE), (r"[ABCDE]", 0)):
        found = re.findall(pattern, s, flags=flags)
        if found:
            return found[-1].upper()
    for c in choices:
        if s.lower() in c.lower():
            return c[1]
    return ""


# ---- V*Bench -------------------------------------------------------------------------------------

_VSTAR_PATTERNS = (
    r"^([A-D])\s*[\.)\]]*",
    r"(?:THE\s+)?(?:ANSWER|CHOICE|OPTION)(?:\s+IS)?[\s:]+([A-D])",
    r"\(([A-D])\)",
    r"([A-D])\s*(?:\.|\)|])",
    r"(?:^|\s)([A-D])(?:\s|$)",
)


def vstar_letter(output: Any) -> str | None:
    """V*Bench's letter of a raw output (it extracts the final answer itself), upper-cased first.

    math-verify's string extraction of A–D; then, in order: a leading letter; "ANSWER/CHOICE/OPTION
    (IS) X"; "(X)"; "X." / "X)" / "X]"; a standalone letter; the only A–D letter; a first character
    A–D; else None. Source: `extract_answer_letter` in
    `vero-eval/lmms_eval/tasks/vstar_bench/utils.py`.

    >>> vstar_letter("</think>The dog is on the left, so (B).")
    'B'
    """
    text = final_answer("" if output is None else str(output)).strip().upper()
    got = mv_choice(text, ["A", "B", "C", "D"])
    if got:
        return got
    for pattern in _VSTAR_PATTERNS:
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            return m.group(1).upper()
    found = re.findall(r"[A-D]", text)
    if len(found) == 1:
        return found[0]
    if text and text[0] in "ABCD":
        return text[0]
    return None


# ---- GameQA-Lite ---------------------------------------------------------------------------------

_GAME_CHOICES = tuple(list("ABCDEFGHIJKLM") + [str(i) for i in range(1, 10)])


def _simple_choice_answer(answer: Any) -> bool:
    """Whether a GameQA gold is an option token: one letter A–M or an integer 1–9."""
    if isinstance(answer, (list, tuple, dict, bool, float)):
        return False
    if isinstance(answer, int):
        return 1 <= answer <= 9
    if not isinstance(answer, str):
        return False
    text = answer.strip()
    if not text or text.lower() in {"yes", "no"}:
        return False
    cleaned = re.sub(r"^[\s\(\[\{]+", "", text)
    cleaned = re.sub(r"[\s\)\]\}\.\,\:\;]+$", "", cleaned)
    if re.fullmatch(r"[A-Ma-m]", cleaned):
        return True
    if re.fullmatch(r"[+-]?\d+", cleaned):
        return 1 <= int(cleaned) <= 9
    return False


def _choice_token(text: Any, allow_choice_parsing: bool) -> str:
    if not isinstance(text, str):
        return ""
    text = re.sub(r"^(answer|option|choice)\s*[:\-]?\s*", "", text.strip(), flags=re.IGNORECASE)
    if allow_choice_parsing:
        got = mv_choice(text, _GAME_CHOICES)
        if got:
            return got
    m = re.search(r"\b([A-Z])\b", text, flags=re.IGNORECASE)
    if m:
        return m.group(1).upper()
    m = re.search(r"\b([0-9]+)\b", text)
    return m.group(1) if m else ""


def _after_last_answer_word(text: str) -> str:
    matches = list(re.finditer(r"\banswer\b", text, flags=re.IGNORECASE))
    if not matches:
        return text.strip()
    tail = text[matches[-1].end() :].lstrip(" :-\t\r\n")
    return tail if tail else text.strip()


def gameqa_correct(extracted: Any, answer: Any, choices: Any = None) -> tuple[bool, str, str]:
    """(correct, prediction, gold) for GameQA-Lite.

    The answer is cut after its last word "answer"; both sides are read as option tokens (a
    standalone letter, else a number; math-verify's extraction of A–M/1–9 first when the gold is
    such a token). Two tokens that name options compare by option index; otherwise the token (or
    the whole stripped text when there is none) must equal the gold's exactly — case-sensitive.
    Source: `game_qa_process_results` in `vero-eval/lmms_eval/tasks/game_qa/utils.py`.

    >>> gameqa_correct("The answer is B", "B")[0], gameqa_correct("red", "Red")[0]
    (True, False)
    """
    response = _after_last_answer_word("" if extracted is None else str(extracted))
    labels = option_labels(choices)
    gold_text = str(answer)
    allow = _simple_choice_answer(answer)

    def normalise(token: str) -> str:
        if labels and token.isdigit() and 1 <= int(token) <= len(labels):
            return labels[int(token) - 1]
        return token

    def index(token: str) -> int | None:
        if not token or not labels:
            return None
        if token.isdigit():
            n = int(token)
            return n if 1 <= n <= len(labels) else None
        if len(token) == 1 and token.isalpha():
            return labels.index(token.upper()) + 1 if token.upper() in labels else None
        return None

    p_tok, g_tok = _choice_token(response, allow), _choice_token(gold_text, allow)
    pred = normalise(p_tok) or response.strip()
    gold = normalise(g_tok) or gold_text.strip()
    pi, gi = index(p_tok), index(g_tok)
    correct = pi == gi if pi is not None and gi is not None else pred == gold
    return correct, pred, gold
