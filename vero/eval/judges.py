"""Judge-graded VeroEval benchmarks: each benchmark's decision rule and scale, as in the Vero
release, with prompts in this project's own words.

Per method — what the judge decides → the sample score (release source under
`vero-eval/lmms_eval/tasks/`):

- charxiv: an extracted answer and 0/1 by the answer type's rules → 0 or 1
  (charxiv/reasoning_utils.py, constant.py)
- chartmuseum: "is_equivalent" yes/no → 0 or 1 (chartmuseum/prompts/compare_answer_prompt.txt)
- simplevqa: correct / incorrect / not attempted → 1 if correct (simplevqa/utils.py)
- fvqa: yes/no against the answer and its candidates → 0 or 1
  (fvqa/prompts/system_prompt_text_only.txt)
- mmvet_v2: correctness 0.0–1.0 in 0.1 steps with `<AND>`/`<OR>` rules → that value
  (mmvetv2/prompts/judge_score_prompt.txt)
- visualprobe: true/false → 0 or 1 (visual_probe/prompts/judge_prompt.txt)
- mm_mt_bench: "[[rating]]" 1–10 given the conversation → rating / 10 (mm_mt_bench/utils.py)
- mia_bench: per-component scores and a total out of 10 → total / 10 (mia_bench/utils.py)
- mmifeval: P-level right/wrong; C-level constraints by rule, by the judge, or by comparison with
  the answer given without the constraint → the mean over constraints (mmifeval/utils.py)

A reply that cannot be read is `judge_unparsed`, a value outside the scale `judge_out_of_range`:
both leave the sample unscored and are counted per benchmark, never read as 0 and never clamped
(`vero.eval.aggregate` refuses to publish a benchmark with too many). The release's judge is
Qwen3-32B with thinking off (its docs/EVALUATION.md), text-only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vero.eval.answers import final_answer
from vero.eval.scorers import Context, Scored

UNPARSED = "judge_unparsed"
OUT_OF_RANGE = "judge_out_of_range"
JUDGE_ERRORS = (UNPARSED, OUT_OF_RANGE)
MAX_RESPONSE_CHARS = 32_000  # the release keeps the last 8096 tokens of a graded response

Messages = list[dict[str, Any]]


class JudgeReplyError(ValueError):
    """A judge reply that does not give the verdict the prompt asked for."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _tail(text: str) -> str:
    return text[-MAX_RESPONSE_CHARS:]


def _user(prompt: str) -> Messages:
    return [{"role": "user", "content": prompt}]


def json_object(text: str) -> dict | None:
    """The reply as a JSON object, or the span from its first "{" to its last "}" as one."""
    text = (text or "").strip()
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    candidates = [text]
    if "{" in text and "}" in text:
        candidates.append(text[text.find("{") : text.rfind("}") + 1])
    for c in candidates:
        try:
            obj = json.loads(c)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(obj, dict):
            return obj
    return None


def parse_yes_no(reply: str, keys: Sequence[str] = ("is_equivalent", "equivalent", "correct")) -> bool:
    """A yes/no (or true/false) verdict: the JSON value of one of `keys`, else a reply that is
    only "yes"/"no"/"true"/"false". Raises JudgeReplyError otherwise.

    >>> parse_yes_no('{"is_equivalent": "Yes"}'), parse_yes_no("false")
    (True, False)
    """
    obj = json_object(reply)
    if obj is not None:
        for k in keys:
            if k in obj:
                v = obj[k]
                if isinstance(v, bool):
                    return v
                if isinstance(v, str) and v.strip().lower() in ("yes", "true", "no", "false"):
                    return v.strip().lower() in ("yes", "true")
                raise JudgeReplyError(UNPARSED, f"{k}={v!r}")
    word = re.sub(r"[^a-z]", "", (reply or "").lower())
    if word in ("yes", "true"):
        return True
    if word in ("no", "false"):
        return False
    raise JudgeReplyError(UNPARSED, (reply or "")[:200])


@dataclass(frozen=True)
class Grader:
    """A judge-graded benchmark: `requests` builds the chats to send for one sample (by tag),
    `combine` turns the replies into the sample's `Scored` (raising JudgeReplyError)."""

    name: str
    requests: Callable[[Mapping, str, Context], dict[str, Messages]]
    combine: Callable[[Mapping, str, dict[str, str], Context], Scored]
    max_tokens: int | None = None


# ---- CharXiv (reasoning) ---------------------------------------------------------------------------

_CHARXIV_RULES = {
    1: (
        "The question asks for text written in the chart. Score 1 only when the final answer names "
        'the same term(s) as the ground truth; differences of form are fine ("alpha" and "α", '
        "LaTeX or plain sub/superscripts), and so is a different order when several terms are asked "
        'for. Score 0 when any term differs, even by one character or symbol ("P-101" vs "P=101").'
    ),
    2: (
        "The question asks for a general text answer. If it lists options, score 1 only for the "
        "option given by the ground truth. Otherwise score 1 when the final answer means the same "
        'as the ground truth ("rises then falls" and "increases then decreases"), 0 when it '
        'means something else ("converge" vs "diverge").'
    ),
    3: (
        "The question asks for a number read from the chart. Score 1 only when the final answer "
        "has exactly the ground truth's value; other notations of the same value are fine (0.01 "
        "and 10^-2, 1500 and 1.5e3). Score 0 for any other value."
    ),
    4: (
        "The question asks for a number. Score 1 only when the final answer has exactly the "
        "ground truth's value; other notations of the same value are fine (0.01 and 10^-2, 1500 "
        "and 1.5e3). Score 0 for any other value."
    ),
}


def _charxiv_requests(doc: Mapping, output: str, ctx: Context) -> dict[str, Messages]:
    category = int(doc.get("reasoning_q_source", 4) or 4)
    response = _tail(final_answer(output, parse_boxed=False))
    prompt = (
        "You grade a model's answer to a question about a scientific chart.\n"
        "Find the model's final answer in its response, compare it with the ground truth, and "
        "give a binary score. Do not explain. An empty response gets an empty extracted answer "
        "and score 0.\n\n"
        f"Rule: {_CHARXIV_RULES.get(category, _CHARXIV_RULES[4])}\n\n"
        f"Question: {doc.get('reasoning_q', doc.get('question', ''))}\n"
        f"Ground truth: {doc.get('reasoning_a', doc.get('answer', ''))}\n"
        f"Response: {response}\n\n"
        'Reply with JSON only: {"extracted_answer": "<the final answer>", "score": <0 or 1>}'
    )
    return {"grade": _user(prompt)}


def parse_binary_score(reply: str) -> tuple[int, str]:
    """(score, extracted answer) of a CharXiv reply: JSON with an integer `score` that is 0 or 1.

    >>> parse_binary_score('{"extracted_answer": "b", "score": 1}')
    (1, 'b')
    """
    obj = json_object(reply)
    if obj is None or "score" not in obj:
        raise JudgeReplyError(UNPARSED, (reply or "")[:200])
    try:
        value = float(obj["score"])
    except (TypeError, ValueError):
        raise JudgeReplyError(UNPARSED, f"score={obj['score']!r}") from None
    if value not in (0.0, 1.0):
        raise JudgeReplyError(OUT_OF_RANGE, f"score={obj['score']!r}")
    return int(value), str(obj.get("extracted_answer", ""))


def _charxiv_combine(doc: Mapping, output: str, replies: dict[str, str], ctx: Context) -> Scored:
    score, extracted = parse_binary_score(replies["grade"])
    return Scored(float(score), extracted)


# ---- ChartMuseum -----------------------------------------------------------------------------------


def _chartmuseum_requests(doc: Mapping, output: str, ctx: Context) -> dict[str, Messages]:
    prompt = (
        "Decide whether two answers to a chart question are equivalent.\n"
        "- Numbers: equivalent when their relative difference is small (32.35 and 32.34, 90.05 and "
        "90.00, 83.3% and 83.2%, 31 and 31%), not when it is large (32.35 and 35.25, 83.3% and "
        "45.2%). Years and dates must match exactly.\n"
        "- Units: when only one answer carries a unit or sign ($, %, million, square meters), "
        "compare the numbers alone (0.6 and 60%, $80 and 80, 305 million and 305 million square "
        "meters are equivalent; 0.75 and 0.90% are not).\n"
        '- Text: ignore capitalisation; equal mathematical expressions are equal ("2+3" and "5").\n\n'
        f"Question: {doc.get('question', '')}\n"
        f"Answer 1: {str(doc.get('answer', '')).strip()}\n"
        f"Answer 2: {_tail(final_answer(output))}\n\n"
        'Reply with JSON only: {"is_equivalent": "Yes"} or {"is_equivalent": "No"}'
    )
    return {"grade": _user(prompt)}


def _yes_no_combine(keys: Sequence[str]) -> Callable[[Mapping, str, dict[str, str], Context], Scored]:
    def combine(doc: Mapping, output: str, replies: dict[str, str], ctx: Context) -> Scored:
        return Scored(1.0 if parse_yes_no(replies["grade"], keys) else 0.0, None)

    return combine


# ---- SimpleVQA -------------------------------------------------------------------------------------

SIMPLEVQA_LABELS = {"correct": 1.0, "incorrect": 0.0, "not_attempted": 0.0}


def _simplevqa_requests(doc: Mapping, output: str, ctx: Context) -> dict[str, Messages]:
    prompt = (
        "Grade a model's answer to a factual question about an image against the reference "
        "answer, with one of three labels.\n"
        "- correct: the answer contains the reference's key information and nothing that "
        'contradicts it. Language, case, punctuation, word order and hedging ("I think") do not '
        "matter; other names or translations of the same thing count as the same; information "
        "the question itself makes obvious may be left out.\n"
        "- incorrect: the answer states something that contradicts the reference, even with "
        "hedging, or offers several candidates of which some are wrong.\n"
        "- not_attempted: the answer lacks the reference's key information but contradicts "
        'nothing ("I don\'t know", "I cannot identify the person", a partial answer).\n'
        "For a numeric reference the number must agree to the precision given: for 3518.17, "
        '"3518" and "3518.1" are correct, "3520" is incorrect, "about 3500" is '
        "not_attempted.\n\n"
        f"Question: {doc.get('question', '')}\n"
        f"Reference answer: {str(doc.get('answer', '')).strip()}\n"
        f"Model answer: {_tail(final_answer(output))}\n\n"
        'Reply with JSON only: {"verdict": "correct" | "incorrect" | "not_attempted"}'
    )
    return {"grade": _user(prompt)}


def parse_simplevqa(reply: str) -> str:
    """The label of a SimpleVQA reply: the JSON `verdict`, or a reply that is only the label.

    >>> parse_simplevqa('{"verdict": "not attempted"}')
    'not_attempted'
    """
    obj = json_object(reply)
    value = obj.get("verdict") if obj is not None else reply
    label = re.sub(r"[\s\-]+", "_", str(value or "").strip().strip("\"'.").lower())
    if label not in SIMPLEVQA_LABELS:
        raise JudgeReplyError(UNPARSED, (reply or "")[:200])
    return label


def _simplevqa_combine(doc: Mapping, output: str, replies: dict[str, str], ctx: Context) -> Scored:
    label = parse_simplevqa(replies["grade"])
    return Scored(SIMPLEVQA_LABELS[label], None, detail={"verdict": label})


# ---- FVQA ------------------------------------------------------------------------------------------


def fvqa_fields(doc: Mapping) -> tuple[str, str, list]:
    """(question, ground truth, candidate answers) of an FVQA row in the release's layout
    (`prompt[0].content`, `reward_model.ground_truth` / `candidate_answers`), or plain fields."""
    question = ""
    prompt = doc.get("prompt")
    if isinstance(prompt, list) and prompt:
        first = prompt[0]
        question = str(first.get("content", "") or "") if isinstance(first, Mapping) else str(first or "")
    question = (question or str(doc.get("question", ""))).replace("<image>", "").strip()
    rm = doc.get("reward_model")
    if isinstance(rm, Mapping):
        truth = str(rm.get("ground_truth", "") or "").strip()
        cands = rm.get("candidate_answers") or []
        cands = list(cands) if isinstance(cands, (list, tuple)) else [cands]
    else:
        truth = str(doc.get("answer", "")).strip()
        cands = doc.get("candidate_answers")
        if hasattr(cands, "tolist"):
            cands = cands.tolist()
        cands = list(cands) if isinstance(cands, (list, tuple)) else ([] if cands is None else [cands])
    return question, truth, cands


def _fvqa_requests(doc: Mapping, output: str, ctx: Context) -> dict[str, Messages]:
    question, truth, cands = fvqa_fields(doc)
    prediction = _tail(final_answer(output, parse_boxed=False, strip_latex_wrappers=True))
    prompt = (
        "Judge whether a model's response to a question is correct, given the ground-truth answer "
        "and further acceptable candidate answers. The question may refer to an image you cannot "
        "see: take the ground truth as authoritative and do not penalise visual details you cannot "
        "check.\n"
        "- Answer strictly Yes or No: is the response factually right and in agreement with the "
        "ground truth (or with at least one candidate)?\n"
        "- A more specific form of the answer is correct; so is one that adds minor details, as "
        "long as they are true.\n"
        "- Contradicting, changing or leaving out a critical part of the answer is incorrect.\n"
        "- Numbers are correct in any unit as long as the value is right.\n"
        "- Names need the right first and last name; an extra, correct middle name is fine.\n"
        "- For yes/no questions the response must say exactly Yes or No.\n\n"
        f"Question: {question}\n"
        f"Ground truth answer: {truth}\n"
        f"Candidate answers: {json.dumps(cands, ensure_ascii=False, default=str)}\n"
        f"Model response: {prediction}\n\n"
        'Reply with JSON only: {"is_equivalent": "Yes"} or {"is_equivalent": "No"}'
    )
    return {"grade": _user(prompt)}


# ---- MM-Vet v2 -------------------------------------------------------------------------------------


def _mmvet_requests(doc: Mapping, output: str, ctx: Context) -> dict[str, Messages]:
    truth = str(doc.get("answer", "")).replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    prompt = (
        "Rate how correct a model's prediction is against the ground truth, from 0.0 to 1.0 in "
        "steps of 0.1 (0.0, 0.1, ..., 1.0).\n"
        "- In the ground truth, `<AND>` joins parts that must all be present for full credit "
        '(for "-1 <AND> -5", giving only -1 earns 0.5); `<OR>` joins alternatives, any one of '
        "which earns full credit.\n"
        "- Open-ended answers earn partial credit by how much of the ground truth they cover; a "
        "wrong answer earns 0.0.\n\n"
        f"Question: {doc.get('question', '')}\n"
        f"Ground truth: {truth}\n"
        f"Prediction: {_tail(final_answer(output, parse_boxed=False, strip_latex_wrappers=True))}\n\n"
        'Reply with JSON only, e.g. {"score": 0.7}'
    )
    return {"grade": _user(prompt)}


_NUMBER = r"[-+]?\d+(?:\.\d+)?"


def parse_unit_score(reply: str) -> float:
    """An MM-Vet v2 correctness in [0, 1]: the JSON `score`, else "score: x", else a reply that
    starts with a number. Outside [0, 1] is out of range (never clamped).

    >>> parse_unit_score('{"score": 0.7}'), parse_unit_score("Score: 1.0 because ...")
    (0.7, 1.0)
    """
    obj = json_object(reply)
    value: Any = None
    if obj is not None and "score" in obj:
        value = obj["score"]
    else:
        m = re.search(r"score\W{0,3}\s*(" + _NUMBER + ")", reply or "", re.IGNORECASE) or re.match(
            r"\s*(" + _NUMBER + r")\b", reply or ""
        )
        value = m.group(1) if m else None
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise JudgeReplyError(UNPARSED, (reply or "")[:200]) from None
    if not 0.0 <= score <= 1.0:
        raise JudgeReplyError(OUT_OF_RANGE, f"score={value!r}")
    return score


def _mmvet_combine(doc: Mapping, output: str, replies: dict[str, str], ctx: Context) -> Scored:
    return Scored(parse_unit_score(replies["grade"]), None)


# ---- VisualProbe -----------------------------------------------------------------------------------


def visualprobe_fields(doc: Mapping) -> tuple[str, str]:
    extra = doc.get("extra_info") if isinstance(doc.get("extra_info"), Mapping) else {}
    question = (
        doc.get("problem")
        or extra.get("question")
        or doc.get("prompt")
        or doc.get("instruction")
        or doc.get("question")
        or ""
    )
    reference = doc.get("solution") or doc.get("answer") or ""
    return str(question).replace("<image>", "").strip(), str(reference).strip()


def _visualprobe_requests(doc: Mapping, output: str, ctx: Context) -> dict[str, Messages]:
    question, reference = visualprobe_fields(doc)
    prompt = (
        "Decide whether a model's answer to a visual-search question is correct given the "
        "reference answer. Capitalisation, punctuation and articles do not matter, and close "
        'paraphrases or synonyms are fine ("reddish" for "red", "the car" for "car"). The '
        "answer is wrong when it names the wrong object or attribute, does not address the "
        "question, or lacks a detail the question requires.\n\n"
        f"Question: {question}\n"
        f"Reference answer: {reference}\n"
        f"Model answer: {_tail(final_answer(output))}\n\n"
        'Reply with JSON only: {"is_equivalent": true} or {"is_equivalent": false}'
    )
    return {"grade": _user(prompt)}


# ---- MM-MT-Bench -----------------------------------------------------------------------------------

MM_MT_SYSTEM = (
    "You are an impartial judge of an AI assistant's reply to the latest user turn of a "
    "conversation, the earlier turns serving as context. Judge correctness and helpfulness by "
    "comparing the assistant's answer with the reference answer: point out and correct its "
    "mistakes, and stay objective. Explain briefly, then give a rating from 1 to 10 written "
    'exactly as "[[rating]]", for example "Rating: [[6]]".'
)


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, Mapping) and ("text" in item) and item.get("type", "text") == "text":
                parts.append(str(item.get("text", "")))
            elif isinstance(item, str):
                parts.append(item)
        return "".join(parts)
    if isinstance(content, Mapping) and "text" in content:
        return str(content["text"])
    return str(content)


def mm_mt_turns(doc: Mapping) -> tuple[list[str], list[str]]:
    """(user questions, reference answers) up to the graded turn of an MM-MT-Bench sample (one
    sample per turn, as the release expands `conversation`); plain question/answer rows give one."""
    conv = doc.get("conversation")
    if isinstance(conv, str):
        try:
            conv = json.loads(conv)
        except (json.JSONDecodeError, ValueError):
            conv = None
    if isinstance(conv, list) and conv:
        idx = doc.get("message_index")
        if isinstance(idx, int):
            conv = conv[: idx + 1]
        questions = [_content_text(m.get("content")) for m in conv if m.get("role") == "user"]
        refs = [_content_text(m.get("content")) for m in conv if m.get("role") == "assistant"]
        refs.append(str(doc.get("reference_answer", doc.get("answer", ""))).strip())
        return questions, refs
    return [str(doc.get("question", ""))], [str(doc.get("reference_answer", doc.get("answer", ""))).strip()]


def _mm_mt_requests(doc: Mapping, output: str, ctx: Context) -> dict[str, Messages]:
    questions, refs = mm_mt_turns(doc)
    answer = _tail(final_answer(output, parse_boxed=False, strip_latex_wrappers=True))
    transcript = "<|The Start of Conversation with User|>\n\n"
    for q, r in zip(questions, refs, strict=False):
        transcript += f"### User:\n{q}\n\n### Reference answer:\n{r}\n\n"
    transcript += f"\n\n### Assistant's answer:\n{answer}\n\n<|The End of Conversation with User|>\n\n\n"
    return {"grade": [{"role": "system", "content": MM_MT_SYSTEM}, {"role": "user", "content": transcript}]}


def parse_bracket_rating(reply: str, low: float = 1.0, high: float = 10.0) -> float:
    """The first "[[rating]]" of a reply, in [low, high] (SCORE 11 is out of range, not 10).

    >>> parse_bracket_rating("Mostly right. Rating: [[7]]")
    7.0
    """
    m = re.search(r"\[\[\s*(" + _NUMBER + r")\s*\]\]", reply or "")
    if not m:
        raise JudgeReplyError(UNPARSED, (reply or "")[-200:])
    value = float(m.group(1))
    if not low <= value <= high:
        raise JudgeReplyError(OUT_OF_RANGE, f"rating={m.group(1)}")
    return value


def _mm_mt_combine(doc: Mapping, output: str, replies: dict[str, str], ctx: Context) -> Scored:
    rating = parse_bracket_rating(replies["grade"])
    detail = {"category": doc.get("category"), "turn": doc.get("turn")}
    return Scored(rating / 10.0, None, metrics={"rating": rating}, detail=detail)


# ---- MIA-Bench -------------------------------------------------------------------------------------

_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def _mia_requests(doc: Mapping, output: str, ctx: Context) -> dict[str, Messages]:
    components = [str(c) for c in (doc.get("components") or [])]
    weights = [str(w) for w in (doc.get("component_weight") or [])]
    if not components or len(weights) != len(components):
        raise ValueError("MIA-Bench row needs `components` and one `component_weight` per component")
    response = _tail(final_answer(output, parse_boxed=False, strip_latex_wrappers=True))
    parts = "\n".join(
        f"- component {i + 1} ({_ORDINALS[i] if i < len(_ORDINALS) else i + 1}, worth {w}): {c}"
        for i, (c, w) in enumerate(zip(components, weights, strict=True))
    )
    fmt = ", ".join(f"score of component {i + 1}: ?/{w}" for i, w in enumerate(weights))
    prompt = (
        "Grade strictly how well a multimodal model's response follows each component of an "
        "instruction. The components' scores add up to a total out of 10.\n\n"
        f"Instruction: {doc.get('instruction', '')}\n"
        f"Components:\n{parts}\n\n"
        f"Response: {response}\n\n"
        "First write every score and the total in one sentence, exactly in this form with each ? "
        f"replaced by a number (no markdown): {fmt}, total score: ?/10. Then give your reasons."
    )
    return {"grade": _user(prompt)}


def parse_mia(reply: str, n_components: int) -> tuple[float, list[float | None]]:
    """(total in [0, 1], component fractions) of a MIA-Bench reply, read from its first sentence:
    "score of component i: a/b" and "total score: t/d" → t/d (the mean of the components when no
    total is given). A score above its maximum, or negative, is out of range.

    >>> parse_mia("score of component 1: 3/5, score of component 2: 5/5, total score: 8/10. Fine.", 2)
    (0.8, [0.6, 1.0])
    """
    text = (reply or "").replace("*", "")
    m = re.search(r"\.(\s|$)", text)
    line = text[: m.start() + 1] if m else text
    comps: list[float | None] = [None] * n_components
    for i, a, b in re.findall(
        r"(?:score\s+of\s+)?(?:component|constraint)[_\s]*(\d+)\s*[:=]\s*("
        + _NUMBER
        + r")\s*/\s*("
        + _NUMBER
        + r")",
        line,
        re.IGNORECASE,
    ):
        k = int(i) - 1
        if 0 <= k < n_components and float(b) > 0:
            frac = float(a) / float(b)
            if not 0.0 <= frac <= 1.0:
                raise JudgeReplyError(OUT_OF_RANGE, f"component {i}: {a}/{b}")
            comps[k] = frac
    t = re.search(r"total\s+score\s*[:=]\s*(" + _NUMBER + r")\s*/\s*(" + _NUMBER + r")", line, re.IGNORECASE)
    if t and float(t.group(2)) > 0:
        total = float(t.group(1)) / float(t.group(2))
        if not 0.0 <= total <= 1.0:
            raise JudgeReplyError(OUT_OF_RANGE, f"total {t.group(1)}/{t.group(2)}")
        return total, comps
    known = [c for c in comps if c is not None]
    if not known:
        raise JudgeReplyError(UNPARSED, line[:200])
    return sum(known) / len(known), comps


def _mia_combine(doc: Mapping, output: str, replies: dict[str, str], ctx: Context) -> Scored:
    total, comps = parse_mia(replies["grade"], len(doc.get("components") or []))
    return Scored(total, None, detail={"components": comps})


# ---- MMIFEval --------------------------------------------------------------------------------------


def _loads(value: Any, default: Any) -> Any:
    if isinstance(value, (list, dict)):
        return value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, ValueError):
            return default
    return default


def _mmif_prediction(output: str) -> str:
    return _tail(final_answer(output.strip(), parse_boxed=False, strip_latex_wrappers=True))


def mmif_aux_key(item_id: Any, constraint_key: Any) -> str:
    return f"{item_id}::{constraint_key}"


def _mmif_constraints(doc: Mapping) -> list[dict]:
    return [c for c in _loads(doc.get("constraints"), []) if isinstance(c, Mapping)]


def _method(c: Mapping) -> str | None:
    judge = c.get("judge") or {}
    return judge.get("method") if isinstance(judge, Mapping) else None


def _mmif_requests(doc: Mapping, output: str, ctx: Context) -> dict[str, Messages]:
    if doc.get("infer_type", "main") != "main":
        return {}  # an auxiliary answer: input of a comparison, not scored itself
    prediction = _mmif_prediction(output)
    if doc.get("tag") == "P-Level":
        truth = _loads(doc.get("answer"), [])
        prompt = (
            "Extract the answer from a model's output and check whether it covers every item of "
            "the ground-truth list (each item must appear in the answer; a substring match is "
            "enough; order does not matter).\n\n"
            f"Question: {doc.get('question', '')}\n"
            f"Model output: {prediction}\n"
            f"Ground-truth list: {json.dumps(truth, ensure_ascii=False)}\n\n"
            "Reply with one word only: right (every item is covered) or wrong."
        )
        return {"p_level": _user(prompt)}
    requests: dict[str, Messages] = {}
    direct = [c for c in _mmif_constraints(doc) if _method(c) == "direct_gpt"]
    if direct:
        listing = "\n".join(f"Constraint_{i + 1}: {c.get('value', '')}" for i, c in enumerate(direct))
        summary = ", ".join(f"Score of constraint_{i + 1}: x/1" for i in range(len(direct)))
        prompt = (
            "Check strictly whether an AI assistant's response meets each of the constraints "
            "below, from the text alone (ignore what the image may show). A constraint that is "
            "not fully met scores 0, otherwise 1. Explain each constraint briefly, none left "
            "out, then end with the summary line.\n\n"
            f"<response>\n{prediction}\n</response>\n\n<constraints>\n{listing}\n</constraints>\n\n"
            f"Format:\nJudgement: ...\nSummary: {summary}."
        )
        requests["direct"] = _user(prompt)
    for c in _mmif_constraints(doc):
        if _method(c) != "cmp_gpt":
            continue
        aux = ctx.aux.get(mmif_aux_key(doc.get("id"), c.get("key")))
        if aux is None:
            continue  # reported as missing by combine
        prompt = (
            "Decide whether a model's response satisfies a constraint. You also get the model's "
            "response to the same question asked without the constraint. First, if the two "
            "responses are very much alike, the model ignored the constraint: False. Second, if "
            "the constrained response does not do what the constraint asks: False. Otherwise "
            "True.\n\n"
            f"<constraint>\n{c.get('value', '')}\n</constraint>\n\n"
            f"<response with the constraint>\n{prediction}\n</response with the constraint>\n\n"
            f"<response without the constraint>\n{aux}\n</response without the constraint>\n\n"
            'Reason briefly, then end with one line: Summary: "True" or Summary: "False".'
        )
        requests[f"cmp:{c.get('key')}"] = _user(prompt)
    return requests


def parse_right_wrong(reply: str) -> int:
    """1 for "right", 0 for "wrong" (the reply, or the only one of the two words it contains).

    >>> parse_right_wrong("right"), parse_right_wrong("The answer is wrong.")
    (1, 0)
    """
    words = set(re.findall(r"\b(right|wrong)\b", (reply or "").lower()))
    if len(words) != 1:
        raise JudgeReplyError(UNPARSED, (reply or "")[:200])
    return 1 if words == {"right"} else 0


def parse_constraint_scores(reply: str, n: int) -> list[float]:
    """The n "Score of constraint_i: a/b" values of a reply (each in [0, 1]).

    >>> parse_constraint_scores("Summary: Score of constraint_1: 1/1, Score of constraint_2: 0/1.", 2)
    [1.0, 0.0]
    """
    text = re.sub(r"\s+", " ", (reply or "").replace("*", ""))
    found: dict[int, float] = {}
    for i, a, b in re.findall(
        r"score\s+of\s+constraint[_\s]*(\d+)\s*:\s*(\d+)\s*/\s*(\d+)", text, re.IGNORECASE
    ):
        if int(b) == 0:
            raise JudgeReplyError(OUT_OF_RANGE, f"constraint_{i}: {a}/{b}")
        value = int(a) / int(b)
        if not 0.0 <= value <= 1.0:
            raise JudgeReplyError(OUT_OF_RANGE, f"constraint_{i}: {a}/{b}")
        found[int(i)] = value
    missing = [i for i in range(1, n + 1) if i not in found]
    if missing:
        raise JudgeReplyError(UNPARSED, f"no score for constraint_{missing[0]}")
    return [found[i] for i in range(1, n + 1)]


def parse_summary_bool(reply: str) -> int:
    """1/0 for the first True/False after the reply's last "summary".

    >>> parse_summary_bool('Reasoning: ok. Summary: "True".')
    1
    """
    text = reply or ""
    i = text.lower().rfind("summary")
    if i == -1:
        raise JudgeReplyError(UNPARSED, "no summary")
    m = re.search(r"\b(true|false)\b", text[i + len("summary") :], re.IGNORECASE)
    if not m:
        raise JudgeReplyError(UNPARSED, text[i : i + 200])
    return 1 if m.group(1).lower() == "true" else 0


def _mmif_combine(doc: Mapping, output: str, replies: dict[str, str], ctx: Context) -> Scored:
    from vero.eval import mmif_checks

    if doc.get("infer_type", "main") != "main":
        return Scored(None, None, unscored_reason="auxiliary")
    if doc.get("tag") == "P-Level":
        return Scored(float(parse_right_wrong(replies["p_level"])), None, detail={"level": "P"})
    prediction = _mmif_prediction(output)
    scores: dict[str, float] = {}
    constraints = _mmif_constraints(doc)
    direct = [c for c in constraints if _method(c) == "direct_gpt"]
    if direct:
        for c, v in zip(direct, parse_constraint_scores(replies["direct"], len(direct)), strict=True):
            scores[str(c.get("key"))] = v
    for c in constraints:
        if _method(c) == "rule_based":
            funcs = (c.get("judge") or {}).get("verify_funcs") or []
            scores[str(c.get("key"))] = 1.0 if mmif_checks.check_all(prediction, funcs) else 0.0
    for c in constraints:
        if _method(c) == "cmp_gpt":
            tag = f"cmp:{c.get('key')}"
            if tag not in replies:
                return Scored(None, None, unscored_reason="missing_aux_answer")
            scores[str(c.get("key"))] = float(parse_summary_bool(replies[tag]))
    total = sum(scores.values()) / len(scores) if scores else 0.0
    return Scored(total, None, detail={"level": "C", "constraints": scores})


GRADERS: dict[str, Grader] = {
    "charxiv": Grader("charxiv", _charxiv_requests, _charxiv_combine),
    "chartmuseum": Grader("chartmuseum", _chartmuseum_requests, _yes_no_combine(("is_equivalent",))),
    "simplevqa": Grader("simplevqa", _simplevqa_requests, _simplevqa_combine),
    "fvqa": Grader("fvqa", _fvqa_requests, _yes_no_combine(("is_equivalent",))),
    "mmvet_v2": Grader("mmvet_v2", _mmvet_requests, _mmvet_combine, max_tokens=128),
    "visualprobe": Grader("visualprobe", _visualprobe_requests, _yes_no_combine(("is_equivalent",))),
    "mm_mt_bench": Grader("mm_mt_bench", _mm_mt_requests, _mm_mt_combine, max_tokens=4096),
    "mia_bench": Grader("mia_bench", _mia_requests, _mia_combine, max_tokens=4096),
    "mmifeval": Grader("mmifeval", _mmif_requests, _mmif_combine),
}


def grade(
    method: str,
    doc: Mapping,
    output: Any,
    judge: Any,
    ctx: Context | None = None,
    *,
    retries: int = 2,
) -> Scored:
    """Grade one output with the benchmark's judge. An unreadable or out-of-range reply is sent
    again up to `retries` times (the judge samples, so a retry may read); if it still fails, the
    sample is unscored with the reason `judge_unparsed` / `judge_out_of_range`."""
    from vero.eval.answers import answer_layout

    ctx = ctx or Context()
    text = output if isinstance(output, str) else ("" if output is None else str(output))
    grader = GRADERS[method]
    requests = grader.requests(doc, text, ctx)
    replies: dict[str, str] = {}
    pending = dict(requests)
    error: JudgeReplyError | None = None
    for _ in range(retries + 1):
        if pending:
            tags = list(pending)
            answers = judge.complete_many_sync([pending[t] for t in tags], max_tokens=grader.max_tokens)
            replies.update(zip(tags, answers, strict=True))
        try:
            scored = grader.combine(doc, text, replies, ctx)
        except JudgeReplyError as e:
            error = e
            pending = dict(requests)  # ask again: the failing part is not always identifiable
            continue
        scored.detail.setdefault("format", answer_layout(text))
        scored.detail["judge_replies"] = {k: v[-2000:] for k, v in replies.items()}
        return scored
    assert error is not None
    return Scored(
        None,
        None,
        unscored_reason=error.reason,
        detail={"format": answer_layout(text), "judge_error": str(error)[:300], "judge_replies": replies},
    )


def eval_judge_config(cfg: Mapping) -> dict[str, Any]:
    """The judge settings of evaluation: `reward.judge` (endpoint, key, concurrency, timeout,
    retries, serving) with `eval.judge`'s model, temperature and reply length."""
    judge = dict((cfg.get("reward") or {}).get("judge") or {})
    ev = (cfg.get("eval") or {}).get("judge") or {}
    for key in ("model", "temperature", "max_tokens"):
        if ev.get(key) is not None:
            judge[key] = ev[key]
    return judge
