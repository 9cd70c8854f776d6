"""Chart and document metrics of VeroEval as the Vero release computes them: ChartQA's relaxed
correctness, ChartQA-Pro's official per-slot score, EvoChart's accuracy and InfoVQA's ANLS.

Numbers are read with math-verify's `parse` (LaTeX and plain expressions, also inside a sentence:
"about 12 cm" reads as 12), as the release does; every function takes the extracted answer
(`vero.eval.answers.final_answer`) and never raises on model output.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

RELAXED_TOLERANCE = 0.05
ANLS_THRESHOLD = 0.5

_RATIO_RE = re.compile(r"^\s*([^:]+?)\s*:\s*([^:]+?)\s*$")


def mv_parse(text: str, extraction_config: Sequence[Any] | None = None, timeout_s: int = 5) -> list:
    """math-verify's `parse` of `text` ([] on any failure). Its timeout uses SIGALRM, which only
    works in the main thread; elsewhere it runs without one."""
    from math_verify import parse

    if threading.current_thread() is not threading.main_thread():
        timeout_s = None  # type: ignore[assignment]
    try:
        if extraction_config is None:
            return list(parse(text, parsing_timeout=timeout_s))
        return list(parse(text, extraction_config=list(extraction_config), parsing_timeout=timeout_s))
    except Exception:
        return []


def mv_number(text: str) -> float | None:
    """The first value math-verify reads in `text` as a float, or None.

    >>> mv_number("The total was 3,280.")
    3280.0
    >>> mv_number("\\\\frac{1}{4}")
    0.25
    >>> mv_number("blue") is None
    True
    """
    parsed = mv_parse(text)
    if not parsed:
        return None
    try:
        return float(parsed[0])
    except (TypeError, ValueError):
        return None


def _number_with_percent(text: str) -> float | None:
    """math-verify's number of the text, else of the text without a trailing `%` / `\\%`."""
    raw = text.strip()
    if not raw:
        return None
    candidates = [raw]
    if raw.endswith("\\%") and raw[:-2].strip():
        candidates.append(raw[:-2].strip())
    if raw.endswith("%") and raw[:-1].strip():
        candidates.append(raw[:-1].strip())
    for c in candidates:
        v = mv_number(c)
        if v is not None:
            return v
    return None


def chart_number(text: Any) -> float | None:
    """A chart answer as a number: math-verify's reading (with `%` tolerated), else a standalone
    ratio `a:b` read as a/b (math-verify reads most ratios as their first number already).

    >>> chart_number("23%"), chart_number("3:4"), chart_number("12 cm")
    (23.0, 3.0, 12.0)
    """
    if isinstance(text, bool):
        text = str(text)
    if isinstance(text, (int, float)):
        return float(text)
    if text is None:
        return None
    raw = str(text)
    v = _number_with_percent(raw)
    if v is not None:
        return v
    m = _RATIO_RE.fullmatch(raw)
    if m:
        left, right = _number_with_percent(m.group(1)), _number_with_percent(m.group(2))
        if left is not None and right not in (None, 0.0):
            return left / right
    return None


def _close(value: float, reference: float, tol: float) -> bool:
    if reference == 0.0:
        return abs(value) <= tol
    return abs(value - reference) / abs(reference) <= tol


def _as_texts(value: Any) -> list[str]:
    if value is None:
        return []
    values = list(value) if isinstance(value, (list, tuple, set)) else [value]
    return [v.strip() if isinstance(v, str) else str(v).strip() for v in values if v is not None]


def chartqa_relaxed(prediction: Any, target: Any, tolerance: float = RELAXED_TOLERANCE) -> float:
    """ChartQA's relaxed correctness, 1.0 or 0.0.

    With p = the prediction (one trailing period dropped) and t = a target, both read by
    `chart_number`: correct when |p − t| ≤ tol·|t| (|p| ≤ tol when t = 0); when only one side ends
    in `%`, also p·100 or p/100 (prediction with %) or t·100 or t/100 (target with %); when neither
    has `%`, also p·100 for 0 < p < 1 and t·100 for 0 < t < 1; otherwise (or for text) equal
    ignoring case. Source: `relaxed_correctness` in `vero-eval/lmms_eval/tasks/chartqa/utils.py`.

    >>> chartqa_relaxed("0.45", "45")
    1.0
    >>> chartqa_relaxed("It is about 43.9 million.", "42")
    1.0
    >>> chartqa_relaxed("Yes", "yes"), chartqa_relaxed("44.5", "42")
    (1.0, 0.0)
    """
    for pred in filter(None, _as_texts(prediction)):
        if pred.endswith("."):
            pred = pred[:-1]
        pred = pred.strip()
        p_pct = pred.endswith("%")
        p = chart_number(pred)
        for tgt in filter(None, _as_texts(target)):
            t_pct = tgt.endswith("%")
            t = chart_number(tgt)
            if p is not None and t is not None:
                tries = [(p, t)]
                if p_pct and not t_pct:
                    tries += [(p * 100.0, t), (p / 100.0, t)]
                if t_pct and not p_pct:
                    tries += [(p, t * 100.0), (p, t / 100.0)]
                if not p_pct and not t_pct:
                    if t != 0.0 and 0 < p < 1:
                        tries.append((p * 100.0, t))
                    if p != 0.0 and 0 < t < 1:
                        tries.append((p, t * 100.0))
                if any(_close(a, b, tolerance) for a, b in tries):
                    return 1.0
            if pred.lower() == tgt.lower():
                return 1.0
    return 0.0


# ---- ChartQA-Pro ---------------------------------------------------------------------------------


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions, each cost 1).

    >>> levenshtein("kitten", "sitting")
    3
    """
    from nltk.metrics.distance import edit_distance

    return int(edit_distance(a, b))


def _pro_text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip().strip(".").strip("\n").strip()


def _safe_literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except Exception:  # SyntaxError, ValueError, but also MemoryError/RecursionError on odd text
        raise ValueError("not a literal") from None


def _fix_list(item: str) -> Any:
    """A `[...]` text as a Python list: a literal if it is one, else its top-level comma-separated
    pieces, each quoted unless already quoted; the text itself when neither works."""
    stripped = item.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")):
        return item
    try:
        return _safe_literal(stripped)
    except ValueError:
        pass
    content = stripped[1:-1].strip()
    if not content:
        return []
    parts, current, depth = [], [], 0
    for ch in content:
        if ch == "," and depth == 0:
            piece = "".join(current).strip()
            if piece:
                parts.append(piece)
            current = []
            continue
        current.append(ch)
        if ch == "[":
            depth += 1
        elif ch == "]" and depth > 0:
            depth -= 1
    piece = "".join(current).strip()
    if piece:
        parts.append(piece)
    quoted = [
        p if (p.startswith("'") and p.endswith("'")) or (p.startswith('"') and p.endswith('"')) else f"'{p}'"
        for p in parts
    ]
    try:
        return _safe_literal(f"[{', '.join(quoted)}]")
    except ValueError:
        return item


def pro_slots(value: Any) -> list[str]:
    """The answer slots of a ChartQA-Pro answer: a list stays a list, a list-looking text is read
    as one, anything else is one slot; each slot stripped of spaces and periods.

    >>> pro_slots("[2019, 2020]")
    ['2019', '2020']
    >>> pro_slots("[red, blue]")
    ['red', 'blue']
    >>> pro_slots("12.")
    ['12']
    """
    if isinstance(value, list):
        return [_pro_text(v) for v in value]
    if isinstance(value, str):
        fixed = _fix_list(value)
        if isinstance(fixed, list):
            return [_pro_text(v) for v in fixed]
        text = str(fixed).strip()
        if text:
            try:
                parsed = _safe_literal(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                return [_pro_text(v) for v in parsed]
        return [_pro_text(value)]
    return [_pro_text(value)]


def anls_pair(prediction: str, gold: str, threshold: float = ANLS_THRESHOLD) -> float:
    """ChartQA-Pro's ANLS of one pair: s = 1 − lev(p, g)/max(|p|, |g|) on lower-cased,
    whitespace-collapsed texts (1 when both are empty), 0 when s < threshold.

    >>> round(anls_pair("New York", "new york city"), 3)
    0.615
    >>> anls_pair("Paris", "London")
    0.0
    """
    p = " ".join(_pro_text(prediction).lower().split())
    g = " ".join(_pro_text(gold).lower().split())
    longest = max(len(p), len(g))
    s = 1.0 if longest == 0 else 1.0 - levenshtein(g, p) / longest
    return s if s >= threshold else 0.0


def _pro_number(text: str) -> float | None:
    return chart_number(text) if text.strip() else None


def chartqa_pro_slot(target: str, prediction: str, tolerance: float = RELAXED_TOLERANCE) -> float:
    """Score of one ChartQA-Pro slot: numbers within `tolerance` relative (exact when the target
    is 0; `%` on one side also tries ×100 and ÷100), else ANLS partial credit."""
    t, p = _pro_text(target), _pro_text(prediction)
    tv, pv = _pro_number(t), _pro_number(p)
    if tv is not None and pv is not None:

        def close(a: float, b: float) -> bool:
            return a == 0.0 if b == 0.0 else abs(a - b) / abs(b) <= tolerance

        p_pct = p.endswith("%") or p.endswith("\\%")
        t_pct = t.endswith("%") or t.endswith("\\%")
        if close(pv, tv):
            return 1.0
        if p_pct and not t_pct and (close(pv * 100.0, tv) or close(pv / 100.0, tv)):
            return 1.0
        if t_pct and not p_pct and (close(pv, tv * 100.0) or close(pv, tv / 100.0)):
            return 1.0
        return 0.0
    return anls_pair(p, t)


def _year_flags(year: Any, n: int, question_type: str | None) -> list[str]:
    if isinstance(year, str):
        flags = [year]
    elif isinstance(year, list):
        flags = []
        for f in year:
            flags.extend(f if isinstance(f, list) else [f])
    else:
        flags = []
    flags = [str(f).strip().upper() for f in flags if f is not None]
    if question_type == "Conversational" and flags:
        flags = flags[-1:]
    if n == 0:
        return flags
    if not flags:
        return ["NO"] * n
    if len(flags) < n:
        flags = (flags * ((n + len(flags) - 1) // len(flags)))[:n]
    return flags[:n]


def chartqa_pro_score(
    prediction: Any,
    answer: Any,
    *,
    question_type: str | None = None,
    year: Any = None,
    tolerance: float = RELAXED_TOLERANCE,
) -> float:
    """ChartQA-Pro's official score in [0, 1].

    The target is the last entry of `answer` when it is a list (the last turn of a conversation).
    Target and prediction are split into slots (`pro_slots`); the score is the mean over
    max(#target, #prediction) slots, a missing slot scoring 0. A slot is exact (case-insensitive)
    when the question type is Fact Checking or Multi Choice or its `Year` flag is YES, else
    `chartqa_pro_slot` (relaxed numbers, ANLS for text). Source: `relaxed_correctness` in
    `vero-eval/lmms_eval/tasks/chartqa_pro/utils.py`.

    >>> chartqa_pro_score("[12, 30]", ["[12, 31]"])
    1.0
    >>> chartqa_pro_score("['Asia', 'Africa']", ["['Asia', 'Europe']"])
    0.5
    >>> chartqa_pro_score("2019", ["2020"], year=["YES"])
    0.0
    """
    target = answer[-1] if isinstance(answer, list) and answer else answer
    exact = question_type in ("Fact Checking", "Multi Choice")
    try:
        t_slots, p_slots = pro_slots(target), pro_slots(prediction)
    except Exception:
        return 0.0
    flags = _year_flags(year, len(t_slots), question_type)
    total = max(len(t_slots), len(p_slots))
    scores = []
    for i in range(total):
        if i >= len(t_slots) or i >= len(p_slots):
            scores.append(0.0)
            continue
        is_year = i < len(flags) and flags[i] == "YES"
        if is_year or exact:
            scores.append(1.0 if t_slots[i].lower() == p_slots[i].lower() else 0.0)
        else:
            scores.append(chartqa_pro_slot(t_slots[i], p_slots[i], tolerance))
    return sum(scores) / len(scores) if scores else 0.0


# ---- EvoChart ------------------------------------------------------------------------------------

_EVO_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\d*\.\d+")


def _evo_numeric(value: Any) -> float | None:
    """EvoChart's number of an answer: math-verify's reading (×100 for a trailing `%`), else the
    first number in the text (thousands commas allowed)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    if text.endswith("."):
        text = text[:-1].strip()
    pct = text.endswith("%") and not text.endswith("\\%")
    v = mv_number(text)
    if v is not None:
        return v * 100.0 if pct else v
    m = _EVO_NUMBER.search(text)
    if not m:
        return None
    try:
        return float(m.group(0).replace(",", ""))
    except ValueError:
        return None


def _evo_float(text: str) -> float | None:
    v = mv_number(text)
    if v is not None:
        return v
    try:
        return float(text.rstrip("%")) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        return None


def _evo_relaxed(prediction: str, target: str, tolerance: float) -> bool:
    p, t = prediction.strip(), target.strip()
    if not p or not t:
        return False
    p = p[:-1].strip() if p.endswith(".") else p
    t = t[:-1].strip() if t.endswith(".") else t
    p_pct, t_pct = p.endswith("%"), t.endswith("%")
    pv, tv = _evo_float(p), _evo_float(t)
    if pv is not None and tv is not None:
        tries = [(pv, tv)]
        if p_pct and not t_pct:
            tries.append((pv * 100.0, tv))
        if t_pct and not p_pct:
            tries.append((pv, tv * 100.0))
        if not p_pct and not t_pct:
            if tv != 0.0 and 0 < pv < 1:
                tries.append((pv * 100.0, tv))
            if pv != 0.0 and 0 < tv < 1:
                tries.append((pv, tv * 100.0))
        if any(_close(a, b, tolerance) for a, b in tries):
            return True
    return p.lower() == t.lower()


def evochart_accuracy(
    prediction: Any, answer: Any, *, is_clear: Any = True, tolerance: float = 0.05
) -> float:
    """EvoChart's accuracy, 1.0 or 0.0.

    Rows with `is_clear` true: equal after strip/lower-case, or numbers (`_evo_numeric`) within
    1e-6. Other rows: ChartQA-style relaxed tolerance (5 %, `%` and 0–1 rescaling) or the numbers
    of both within 5 %. Source: `evochart_process_results` in
    `vero-eval/lmms_eval/tasks/evochart/utils.py`.

    >>> evochart_accuracy("The value is 1,200", "1200")
    1.0
    >>> evochart_accuracy("1210", "1200"), evochart_accuracy("1210", "1200", is_clear=False)
    (0.0, 1.0)
    """
    pred = "" if prediction is None else str(prediction)
    gold = "" if answer is None else str(answer)
    if bool(is_clear):
        if pred.strip().lower() == gold.strip().lower():
            return 1.0
        gv = _evo_numeric(answer)
        pv = _evo_numeric(prediction) if gv is not None else None
        return float(gv is not None and pv is not None and abs(pv - gv) <= 1e-6)
    if _evo_relaxed(pred, gold, tolerance):
        return 1.0
    gv = _evo_numeric(answer)
    pv = _evo_numeric(prediction) if gv is not None else None
    return float(gv is not None and pv is not None and _close(pv, gv, tolerance))


# ---- InfoVQA ---------------------------------------------------------------------------------------


def _anls_release(references: Iterable[str], prediction: str, threshold: float = ANLS_THRESHOLD) -> float:
    """lmms-eval's ANLS of one sample: the prediction is cut to its `<answer>` block and after
    `</think>`; NL = lev(g', p')/max(|g|, |p|) on lower-cased, whitespace-collapsed g', p' (lengths
    of the raw texts); score 1 − min NL, 0 below `threshold`."""
    pred = prediction
    if "<answer>" in pred:
        pred = pred.split("<answer>")[1].split("</answer>")[0]
    if "</think>" in pred:
        pred = pred.split("</think>", 1)[-1].strip()
    values = []
    det = " ".join(pred.strip().lower().split())
    for answer in references:
        gt = " ".join(answer.strip().lower().split())
        length = max(len(answer.upper()), len(pred.upper()))
        values.append(0.0 if length == 0 else levenshtein(gt, det) / length)
    if not values:
        return 0.0
    s = 1 - min(values)
    return 0.0 if s < threshold else s


def _strip_percent(value: str) -> str:
    value = value.strip()
    return value[:-1].strip() if value.endswith("%") else value


def _canon_number(m: re.Match) -> str:
    n = float(m.group(0))
    return str(int(n)) if n.is_integer() else f"{n:.15g}"


def format_normalized(text: Any) -> str:
    """InfoVQA's format-only normalisation: lower case, currency and `%` signs dropped, thousands
    commas and leading `+` removed, "&"/"and" lists as commas, standalone numbers canonical.

    >>> format_normalized("$1,200.50"), format_normalized("Paris & Rome")
    ('1200.5', 'paris,rome')
    """
    t = "" if text is None else str(text)
    t = re.sub(r"\s+", " ", t.lower().strip())
    for sign in ("$", "€", "£", "%"):
        t = t.replace(sign, "")
    t = re.sub(r"(?<=\d),(?=\d)", "", t)
    t = t.replace(" & ", ", ").replace(" and ", ", ")
    t = re.sub(r"\s*,\s*", ",", t)
    t = re.sub(r"(?<!\S)\+(\d)", r"\1", t)
    t = re.sub(r"(?<!\S)[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?!\S)", _canon_number, t)
    return re.sub(r"\s+", " ", t).strip()


def infovqa_score(output: Any, extracted: Any, answers: Sequence[Any]) -> float:
    """InfoVQA's score: max(ANLS of the raw output, ANLS of the extracted answer with trailing `%`
    removed on both sides — 1.0 when the format-normalised texts match).

    Source: `_compute_infovqa_score` in `vero-eval/lmms_eval/tasks/infovqa/utils.py`.

    >>> infovqa_score("<think>x</think><answer>\\\\boxed{1,200}</answer>", "1,200", ["1200"])
    1.0
    >>> round(infovqa_score("United State", "United State", ["united states"]), 3)
    0.923
    """
    refs = ["" if a is None else str(a) for a in answers]
    raw = "" if output is None else str(output)
    legacy = _anls_release(refs, raw)
    # the release strips a trailing % twice (once when extracting, once when scoring)
    parsed = _strip_percent(_strip_percent("" if extracted is None else str(extracted)))
    stripped_refs = [_strip_percent(r) for r in refs]
    enhanced = _anls_release(stripped_refs, parsed)
    if enhanced != 1.0:
        norm = format_normalized(parsed)
        if any(format_normalized(r) == norm for r in stripped_refs):
            enhanced = 1.0
    return max(legacy, enhanced)


def as_answer_list(value: Any) -> list[str]:
    """A gold field that may be a list, a JSON/Python list literal or one text, as texts."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if hasattr(value, "tolist"):
        return [str(v) for v in value.tolist()]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = ast.literal_eval(text)
            except Exception:
                parsed = None
            if isinstance(parsed, (list, tuple)):
                return [str(v) for v in parsed]
        return [value]
    if isinstance(value, Mapping):
        return [str(v) for v in value.values()]
    return [] if value is None else [str(value)]
