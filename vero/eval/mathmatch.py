"""Math answers of VeroEval's STEM benchmarks, matched as the Vero release matches them (no judge):

- MathVision: the release's rule-based `is_equal` (latex2sympy values rounded to 2 decimals,
  tuples element-wise), also accepting the value of the gold option
  (`vero-eval/lmms_eval/tasks/mathvision/utils.py` and `eval_utils.py`);
- MathVista: the nearest option by edit distance for multiple choice, math-verify numbers
  rounded to the row's `precision` for free-form answers
  (`vero-eval/lmms_eval/tasks/mathvista/mathvista_evals.py`).

The release evaluates the printed form of a latex2sympy expression with Python's `eval` in a
namespace holding the `math` module. `math_value` does the same with a restricted evaluator of
that printed form: arithmetic, number literals, and the names and functions of `math` (and a few
builtins); any other name fails, exactly where the release's `eval` fails with a NameError.
"""

from __future__ import annotations

import ast
import builtins
import math
import operator
import re
from collections.abc import Sequence
from typing import Any

from vero.eval.chart_metrics import levenshtein, mv_parse

# ---- a restricted evaluator of sympy's printed form ----------------------------------------------

_NAMESPACE: dict[str, Any] = {n: getattr(math, n) for n in dir(math) if not n.startswith("_")}
for _n in ("abs", "round", "min", "max", "sum", "pow", "int", "float", "complex", "bool", "len", "divmod"):
    _NAMESPACE.setdefault(_n, getattr(builtins, _n))
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


class _Unevaluable(Exception):
    pass


def _eval_node(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval_node(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex, str, bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _NAMESPACE:
            return _NAMESPACE[node.id]
        raise _Unevaluable(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval_node(node.left), _eval_node(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(right, int) and abs(right) > 10_000:
            raise _Unevaluable("huge power")
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval_node(node.operand))
    if isinstance(node, ast.Call) and not node.keywords:
        func = _eval_node(node.func)
        if not callable(func):
            raise _Unevaluable("not callable")
        return func(*[_eval_node(a) for a in node.args])
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval_node(e) for e in node.elts)
    if isinstance(node, ast.Set):
        return frozenset(_eval_node(e) for e in node.elts)
    raise _Unevaluable(type(node).__name__)


def math_value(latex: str) -> Any:
    """The value of a LaTeX answer: latex2sympy, printed, evaluated over `math` (raises when the
    printed form names anything else, e.g. a symbol `x`).

    >>> math_value("\\\\frac{1}{2}"), math_value("2^{10}"), round(math_value("\\\\sqrt{2}"), 4)
    (0.5, 1024, 1.4142)
    """
    from latex2sympy2_extended import latex2sympy

    printed = str(latex2sympy(latex))
    return _eval_node(ast.parse(printed, mode="eval"))


def _rounded(latex: str) -> Any:
    return round(math_value(latex), 2)


# ---- MathVision ------------------------------------------------------------------------------------


def is_float_text(s: str) -> bool:
    """Python's `float()` accepts the text ("1e3", " 7 ", "nan" included)."""
    try:
        float(s)
        return True
    except (ValueError, TypeError):
        return False


def _eval_tuple(s: str) -> str:
    """ "(a,b,...)" / "[a,b,...]" with each element's value rounded to 2 decimals ("infty", "a",
    "-a" kept); the text unchanged when it is not such a tuple or an element has no value."""
    parts = s[1:-1].split(",")
    try:
        if s[0] == "(" and s[-1] == ")" and len(parts) > 1:
            inner = ",".join(
                str(_rounded(p)) if "infty" not in p and p not in ("a", "-a") else p for p in parts
            )
            return f"({inner})"
        if s[0] == "[" and s[-1] == "]" and len(parts) > 1:
            inner = ",".join(
                str(_rounded(p)) if "infty" not in p and p not in ("a", "-a") else p for p in parts
            )
            return f"[{inner}]"
    except Exception:
        return s
    return s


def mathvision_is_equal(a: str, b: str) -> bool:
    """MathVision's `is_equal`: case-insensitive; equal texts; equal after `_eval_tuple`; else
    latex2sympy values equal after rounding to 2 decimals. Empty texts never match.

    >>> mathvision_is_equal("0.5", "\\\\frac{1}{2}"), mathvision_is_equal("3.14", "\\\\pi")
    (True, True)
    >>> mathvision_is_equal("x+1", "1+x")
    False
    """
    a, b = str(a).lower(), str(b).lower()
    if not a.replace(" ", "") or not b.replace(" ", ""):
        return False
    if b.strip() == a.strip():
        return True
    a, b = _eval_tuple(a), _eval_tuple(b)
    if a == b:
        return True
    try:
        return _rounded(b) == _rounded(a)
    except Exception:
        return False


def _fix_fracs(s: str) -> str:
    subs = s.split("\\frac")
    out = subs[0]
    for sub in subs[1:]:
        out += "\\frac"
        if sub and sub[0] == "{":
            out += sub
            continue
        if len(sub) < 2:
            return s
        a, b = sub[0], sub[1]
        if b != "{":
            out += "{" + a + "}{" + b + "}" + sub[2:]
        else:
            out += "{" + a + "}" + b + sub[2:]
    return out


def _fix_a_slash_b(s: str) -> str:
    if len(s.split("/")) != 2:
        return s
    a, b = s.split("/")
    try:
        ai, bi = int(a), int(b)
    except ValueError:
        return s
    return f"\\frac{{{ai}}}{{{bi}}}" if s == f"{ai}/{bi}" else s


def _fix_sqrt(s: str) -> str:
    if "\\sqrt" not in s:
        return s
    splits = s.split("\\sqrt")
    out = splits[0]
    for part in splits[1:]:
        out += "\\sqrt{" + part[0] + "}" + part[1:] if part and part[0] != "{" else "\\sqrt" + part
    return out


# The MATH-dataset answer clean-up as MathVision applies it, as data: each stage is an ordered
# list of (old, new) replacements, with the structural steps between them in `_strip_string`.
_STRIP_BEFORE_UNITS = (
    ("\n", ""),
    ("\\!", ""),
    ("\\\\", "\\"),
    ("tfrac", "frac"),
    ("dfrac", "frac"),
    ("\\left", ""),
    ("\\right", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("\\$", ""),
    ("$", ""),
)
# a plain "%" stays: the release removes the escaped form only
_STRIP_AFTER_UNITS = (("\\%", ""), (" .", " 0."), ("{.", "{0."))
# find_math_answer's LaTeX and unit clean-up before `_strip_string`
_ANSWER_CLEANUP = (
    (" ", ""),
    ("\\,", ""),
    ("∞", "\\infty"),
    ("+\\infty", "\\infty"),
    ("\\\\", "\\"),
    ("\n", ""),
    ("\\text", ""),
    ("\\mbox", ""),
    ("bmatrix", "pmatrix"),
    ("\\left", ""),
    ("\\right", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("{m}^3", ""),
    ("m^3", ""),
    ("{units}", ""),
    ("units", ""),
    ("{km}", ""),
    ("km", ""),
)


def _replace_all(s: str, table: Sequence[tuple[str, str]]) -> str:
    for old, new in table:
        s = s.replace(old, new)
    return s


def _after_single(s: str, sep: str) -> str:
    """The part after `sep` when it occurs exactly once (an "=" or "\\approx" answer)."""
    parts = s.split(sep)
    return parts[-1] if len(parts) == 2 else s


def _strip_string(s: str) -> str:
    """The MATH-dataset answer clean-up MathVision applies (line breaks, `\\left`, degrees, `$`,
    units after `\\text{ `, `%`, leading ".", one "=" or "\\approx", `\\sqrt`/`\\frac` braces, "a/b")."""
    s = _replace_all(s, _STRIP_BEFORE_UNITS).split("\\text{ ")[0]
    s = _replace_all(s, _STRIP_AFTER_UNITS)
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    s = _after_single(_after_single(s, "="), "\\approx")
    if "sqrt" in s:
        s = _fix_sqrt(s)
    s = s.replace(" ", "")
    if "sqrt" in s:
        s = _fix_fracs(s)
    return _fix_a_slash_b("\\frac{1}{2}" if s == "0.5" else s)


def find_math_answer(s: str) -> str:
    """MathVision's answer of a text: the last (greedy) `oxed{...}` content, cut at an unopened
    `}`, after the last "=" / "\\approx", without spaces, `\\text`, units (m^3, km, "units") and
    `\\left`/`\\right`, then `_strip_string`.

    >>> find_math_answer("so \\\\boxed{x = 12\\\\text{ km}}")
    '12'
    """
    s = s.lower()
    if "{}" in s:
        s = s.replace("{}", "")
    found = re.findall(r"oxed{(.*)}", s, flags=re.S)
    ans = found[-1] if found else s
    if ans.find("}") != -1 and (ans.find("{") == -1 or ans.find("}") < ans.find("{")):
        ans = ans.split("}")[0]
    ans = ans.split("=")[-1].split("\\approx")[-1]
    ans = _replace_all(ans, _ANSWER_CLEANUP)
    return _strip_string(ans)


_MV_FLAGS = ("the final answer is", "the answer is", "the correct answer is", "the answer should be")


def mathvision_answer(extracted: str, options: Sequence[str]) -> str:
    """MathVision's final answer text of an extracted answer (before `is_equal`).

    With options, math-verify's string extraction of their letters may replace it by the letter;
    " X." / "(X)" endings and "X\\n" starts read as letter X; "... is N" as N; without a box, the
    text after "the answer is" (and similar) up to the line/sentence end; several boxes keep the
    last; then `find_math_answer`, with "(a)"/"{a}" option marks unwrapped."""
    from vero.eval.choices import mv_choice

    answer = extracted
    if options:
        letters = [chr(ord("A") + i) for i in range(len(options))]
        got = mv_choice(answer, letters)
        if got:
            answer = got
    for c in "ABCDE":
        if (
            answer.endswith(f" {c}.")
            or answer.endswith(f" ({c}).")
            or answer.startswith(f"{c}\n")
            or answer.startswith(f"({c})\n")
            or answer.startswith(f"({c}) {c}\n")
        ):
            answer = c
    tail = answer.split("is ")[-1].rstrip(".")
    if is_float_text(tail):
        answer = tail
    if "oxed{" not in answer:
        for flag in _MV_FLAGS:
            for f in (flag, flag.replace("the", "The")):
                before = answer
                answer = answer.split(f)[-1].strip()
                if f in before:
                    answer = answer.split("\n")[0].split(". ")[0]
    elif answer.count("oxed{") > 1:
        answer = "\\boxed{" + answer.split("oxed{")[-1]
    answer = find_math_answer(answer)
    for x in "abcde":
        answer = answer.replace(f"({x})", x)
    for x in "abcde":
        answer = answer.replace(f"{{{x}}}", x)
    return answer.rstrip(".").lstrip(":").strip()


def mathvision_correct(extracted: str, answer: str, options: Sequence[str]) -> tuple[bool, str]:
    """(correct, final answer) of MathVision: `is_equal` against the gold, or against the gold
    option's value (so "12" is right for option C = 12 and gold C).

    >>> mathvision_correct("The answer is \\\\boxed{C}", "C", ["3", "7", "12"])[0]
    True
    >>> mathvision_correct("\\\\boxed{12}", "C", ["3", "7", "12"])[0]
    True
    """
    gold = str(answer)
    value = ""
    if options:
        idx = ord(gold) - ord("A") if len(gold) == 1 else -1
        if 0 <= idx < len(options):
            value = str(options[idx])
        else:  # the release indexes the options with the gold letter and fails otherwise
            raise ValueError(f"gold {gold!r} is not an option letter of {len(options)} options")
    final = mathvision_answer(extracted, options)
    return mathvision_is_equal(gold, final) or mathvision_is_equal(value, final), final


# ---- MathVista -----------------------------------------------------------------------------------

_PARSE_TIMEOUT_S = 3
_VERIFY_TIMEOUT_S = 3


def _numeric_targets() -> list:
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    return [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]


_SYMPIFY_NAMES = frozenset({"pi", "E", "e", "I", "oo", "sqrt", "exp", "log", "ln", "sin", "cos", "tan"})
_SYMPIFY_TEXT = re.compile(r"^[\w\s.,+\-*/^()]*$")


def _sympifiable(text: str) -> bool:
    """Text that sympy may read safely: arithmetic over numbers and a few math names (sympify
    evaluates its input, so model output with any other identifier is never passed to it)."""
    if len(text) > 200 or not _SYMPIFY_TEXT.match(text):
        return False
    return set(re.findall(r"[A-Za-z_]\w*", text)) <= _SYMPIFY_NAMES


def _finite_float(value: Any) -> float | None:
    """A finite float of a value: `float()`, else sympy's numeric value (the release's
    `_mathvista_coerce_float`)."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        pass
    else:
        return v if math.isfinite(v) else None
    if isinstance(value, str) and not _sympifiable(value):
        return None
    try:
        import sympy

        expr = sympy.sympify(value)
        if expr.is_real or expr.is_number:
            v = float(expr.evalf())
            return v if math.isfinite(v) else None
    except Exception:
        pass
    return None


def mathvista_numbers(text: str) -> list[float]:
    """Distinct numbers of a text: `float(text)`, then math-verify's readings of it."""
    out: list[float] = []
    direct = _finite_float(text)
    if direct is not None:
        out.append(direct)
    for value in mv_parse(text, _numeric_targets(), timeout_s=_PARSE_TIMEOUT_S):
        v = _finite_float(value)
        if v is not None:
            out.append(v)
    unique: list[float] = []
    for v in out:
        if not any(abs(v - u) <= 1e-12 for u in unique):
            unique.append(v)
    return unique


def _ndigits(precision: Any, default: int) -> int:
    try:
        return int(float(precision)) if precision is not None else default
    except Exception:
        return default


def mathvista_prediction(
    extracted: Any, choices: Sequence[str] | None, question_type: str, answer_type: str, precision: Any
) -> Any:
    """MathVista's normalised prediction.

    Multiple choice: the option named by its letter (math-verify, "(x)", or the bare letter), else
    the option nearest by edit distance. Integer / float: the first number (`mathvista_numbers`),
    an integer when within 1e-9 of one, else rounded to `precision` decimals. Source:
    `normalize_extracted_answer_with_math_verify` in
    `vero-eval/lmms_eval/tasks/mathvista/mathvista_evals.py`.

    >>> mathvista_prediction("(B) 12", ["10", "12"], "multi_choice", "text", None)
    '12'
    >>> mathvista_prediction("1.5 cm", None, "free_form", "float", 1)
    '1.5'
    """
    from vero.eval.choices import mv_choice

    choices = list(choices or [])
    if question_type == "multi_choice":
        text = (extracted if isinstance(extracted, str) else str(extracted)).strip()
        if not text:
            return ""
        options = [chr(ord("A") + i) for i in range(len(choices))]
        letter = (mv_choice(text, options) if options else None) or ""
        if not letter:
            found = re.findall(r"\(([a-zA-Z])\)", text)
            if found:
                letter = found[0].upper()
        if letter in options:
            return choices[options.index(letter)]
        if text.upper() in options:
            return choices[options.index(text.upper())]
        if not choices:
            return text
        distances = [levenshtein(text, c) for c in choices]
        return choices[distances.index(min(distances))]
    if answer_type in ("integer", "float"):
        if extracted is None:
            return None
        text = str(extracted).strip()
        if not text:
            return None
        numbers = mathvista_numbers(text)
        if numbers:
            value = numbers[0]
            if answer_type == "integer":
                r = round(value)
                return str(int(r)) if abs(value - r) <= 1e-9 else str(value)
            return str(round(value, _ndigits(precision, 0)))
        try:
            if answer_type == "integer":
                return str(int(float(text)))
            return str(round(float(text), int(float(precision)) if precision is not None else 0))
        except Exception:
            return text
    if answer_type == "list":
        return str(extracted)
    return extracted


def mathvista_correct(prediction: Any, answer: Any, answer_type: str | None, precision: Any) -> bool:
    """MathVista's check: for integer/float answers, math-verify `verify` of gold and prediction
    rounded to `precision` decimals (6 when unreadable); an error there, or any other answer type,
    compares the texts stripped and lower-cased. Source: `safe_equal_with_math_verify` in
    `vero-eval/lmms_eval/tasks/mathvista/mathvista_evals.py`.

    >>> mathvista_correct("3.14", "3.14", "float", 2), mathvista_correct("tokyo", "Tokyo", "text", None)
    (True, True)
    """
    if answer is None:
        return False
    if answer_type in ("integer", "float"):
        result = _mv_grade(str(answer), str(prediction), _ndigits(precision, 6))
        if result is not None:
            return result
    try:
        return str(prediction).strip().lower() == str(answer).strip().lower()
    except Exception:
        return False


def _mv_grade(gold: str, pred: str, precision: int) -> bool | None:
    """math-verify's verdict on gold vs prediction, or None when it errors."""
    import threading

    from math_verify import parse, verify

    timeout: int | None = _PARSE_TIMEOUT_S
    if threading.current_thread() is not threading.main_thread():
        timeout = None
    try:
        g = parse(gold, _numeric_targets(), parsing_timeout=timeout)
        p = parse(pred, _numeric_targets(), parsing_timeout=timeout)
    except Exception:
        return None
    if g is None or p is None:
        return None
    try:
        return bool(
            verify(
                g,
                p,
                float_rounding=precision,
                strict=True,
                allow_set_relation_comp=False,
                timeout_seconds=_VERIFY_TIMEOUT_S if timeout else None,
            )
        )
    except Exception:
        return None
