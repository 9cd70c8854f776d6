"""Per-benchmark scoring of VeroEval as the Vero release scores it (the entry of each benchmark
in the `scoring:` section of config/veroeval.yaml).

A benchmark's `scoring.method` names one scorer below. A rule scorer maps (model output, doc) to a
`Scored`; `doc` is the benchmark row as the release's `process_results` sees it (its own field
names: `Answer`/`Question Type`/`Year` for ChartQA-Pro, `choices`/`precision`/`question_type` for
MathVista, `bbox`/`width`/`height` for AerialVG, ...), with `image_size: [w, h]` standing for the
image. Judge-graded methods are in `vero.eval.judges`.

A benchmark's entry:

    scoring:
      aerialvg:
        method: aerialvg         # a key of RULE_SCORERS or vero.eval.judges.GRADERS
        source: <release file>   # where the rule comes from (documentation, required)
        aggregation: mean        # mean | subtask_macro | mm_mt_bench
        coords:                  # grounding/clicking only: how predicted coordinates are read
          reasoning: absolute    #   the release's reasoning tasks (every model family)
          zero_shot: {qwen3_vl: qwen1000, qwen2_5_vl: absolute}
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vero.eval import chart_metrics as cm
from vero.eval import choices as ch
from vero.eval import geometry as geo
from vero.eval import mathmatch as mm
from vero.eval.answers import answer_layout, final_answer

AGGREGATIONS = ("mean", "subtask_macro", "mm_mt_bench")
COORD_VARIANTS = ("reasoning", "zero_shot")


@dataclass
class Scored:
    """One sample's score in [0, 1] (None: not scored), what was read from the output, and any
    further per-sample figures (AerialVG's IoU, MM-MT-Bench's 1–10 rating, ...)."""

    score: float | None
    extracted: Any = None
    metrics: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    unscored_reason: str | None = None


@dataclass(frozen=True)
class Context:
    """What a scorer may need beyond the output and the row."""

    key: str = ""  # benchmark:sample id, seeds the release's random guesses
    coords: str = "absolute"
    aux: Mapping[str, Any] = field(default_factory=dict)  # MMIFEval's auxiliary predictions

    def rng(self) -> random.Random:
        return random.Random(f"veroeval:{self.key}")


def _size(doc: Mapping) -> tuple[float, float] | None:
    """The image size of a row: `image_size` [w, h], `width`/`height`, or an `image` given as its
    size ([w, h], {"width", "height"} or an object with `.size`, as the release reads a PIL image)."""
    size = doc.get("image_size")
    image = doc.get("image")
    if size is None and isinstance(image, (list, tuple)):
        size = image
    if size is None and isinstance(image, Mapping):
        size = image.get("size") or (
            (image["width"], image["height"]) if "width" in image and "height" in image else None
        )
    if size is None and hasattr(image, "size"):
        size = image.size
    if size is not None and len(size) == 2:
        return float(size[0]), float(size[1])
    if doc.get("width") and doc.get("height"):
        return float(doc["width"]), float(doc["height"])
    return None


# ---- rule scorers -----------------------------------------------------------------------------------


def score_chartqa(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    return Scored(cm.chartqa_relaxed(pred, doc.get("answer")), pred)


def score_chartqa_pro(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    s = cm.chartqa_pro_score(
        pred, doc.get("Answer"), question_type=doc.get("Question Type"), year=doc.get("Year")
    )
    return Scored(s, pred)


def score_infovqa(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    return Scored(cm.infovqa_score(output, pred, cm.as_answer_list(doc.get("answers"))), pred)


def score_evochart(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    return Scored(cm.evochart_accuracy(pred, doc.get("answer", ""), is_clear=doc.get("is_clear", True)), pred)


def score_mmmu_pro(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    index2ans, letters = ch.mmmu_options(doc.get("options"))
    letter = ch.parse_mcq(pred, letters, index2ans=index2ans)
    return Scored(1.0 if letter.lower() == str(doc.get("answer", "")).lower() else 0.0, letter)


def score_mathvision(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    options = [str(o) for o in (doc.get("options") or [])]
    correct, final = mm.mathvision_correct(pred, str(doc.get("answer")), options)
    return Scored(1.0 if correct else 0.0, final)


def score_mathvista(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output.strip())
    prediction = mm.mathvista_prediction(
        pred, doc.get("choices"), doc.get("question_type"), doc.get("answer_type"), doc.get("precision", 0)
    )
    ok = mm.mathvista_correct(prediction, doc.get("answer"), doc.get("answer_type"), doc.get("precision", 0))
    return Scored(1.0 if ok else 0.0, prediction)


def _letter_scored(letter: str, how: str, gold: str) -> Scored:
    detail = {"read_by": how}
    if how == "random":
        detail["random_guess"] = True
    return Scored(1.0 if letter == gold else 0.0, letter, detail=detail)


def score_blink(output: str, doc: Mapping, ctx: Context) -> Scored:
    """BLINK and CV-Bench: option labels from the choices, gold "(X)" → X."""
    pred = final_answer(output)
    labels = ch.option_labels(doc.get("choices"))
    index2ans = ch.index_to_answer(labels, doc.get("choices"))
    letter, how = ch.answer_letter(pred, labels or None, index2ans or None, rng=ctx.rng())
    return _letter_scored(letter, how, str(doc.get("answer", "")).strip("()"))


def score_embspatial(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    labels = ["A", "B", "C", "D"]
    gold = labels[int(doc["answer"])]
    index2ans = ch.index_to_answer(labels, doc.get("answer_options"))
    letter, how = ch.answer_letter(pred, labels, index2ans or None, rng=ctx.rng(), check_member=False)
    return _letter_scored(letter, how, gold)


def score_erqa(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    labels = ["A", "B", "C", "D"] if ch.is_mcq_question(doc.get("question", "")) else None
    letter, how = ch.answer_letter(pred, labels, None, rng=ctx.rng())
    return _letter_scored(letter, how, doc.get("answer"))


def score_realworldqa(output: str, doc: Mapping, ctx: Context) -> Scored:
    gold = str(doc.get("answer", "")).lower().strip()
    pred = final_answer(output)
    options = ch.options_in_question(doc.get("question", ""))
    detail: dict[str, Any] = {}
    if options:
        letter, how = ch.answer_letter(pred, ["A", "B", "C", "D"], dict(options) or None, rng=ctx.rng())
        detail["read_by"] = how
        if how == "random":
            detail["random_guess"] = True
        text = letter.lower().strip() if letter else pred.lower().strip().rstrip(".")
    else:
        text = pred.lower().strip().rstrip(".")
    return Scored(1.0 if text == gold else 0.0, text, detail=detail)


def score_gameqa(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    correct, read, _ = ch.gameqa_correct(pred, doc.get("answer"), doc.get("choices") or doc.get("options"))
    return Scored(1.0 if correct else 0.0, read)


_NUM_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


def count_value(value: Any, *, last: bool) -> int | None:
    """CountBenchQA / CountQA's integer of an answer: the first (gold) or last (prediction) signed
    integer written in digits; else a number word 0–20 the text contains, by substring ("often"
    holds "ten", as in the release): for the gold the first of the list zero … twenty that
    occurs, for the prediction the last. A non-text value is `int()` of it. Source:
    `_extract_int_from_text` / `_extract_last_int_from_text` in
    `vero-eval/lmms_eval/tasks/countbenchqa/utils.py`.

    >>> count_value("I count 3 dogs and 7 apples", last=True), count_value("seven", last=True)
    (7, 7)
    >>> count_value("7.0", last=True), count_value("1,200", last=True)
    (0, 200)
    """
    import re

    if not isinstance(value, str):
        try:
            return int(value)  # type: ignore[arg-type]
        except Exception:
            return None
    text = value.strip().lower()
    found = re.findall(r"[-+]?\d+", text)
    if found:
        return int(found[-1] if last else found[0])
    word = None
    for n, w in enumerate(_NUM_WORDS):
        if w in text:
            if not last:
                return n
            word = n
    return word


def _count_gold(doc: Mapping, keys: tuple[str, ...]) -> int | None:
    for k in keys:
        if k in doc:
            return count_value(doc[k], last=False)
    return None


def score_countbench(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = count_value(final_answer(output), last=True)
    gold = _count_gold(doc, ("number", "answer", "count", "label", "gt", "target"))
    return Scored(1.0 if pred is not None and gold is not None and pred == gold else 0.0, pred)


def score_countqa(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = count_value(final_answer(output), last=True)
    if doc.get("answer") is not None:
        gold = count_value(doc["answer"], last=False)
    elif doc.get("answers"):
        gold = count_value(doc["answers"][0], last=False)
    else:
        gold = next(
            (
                count_value(doc[k], last=False)
                for k in ("number", "count", "target")
                if doc.get(k) is not None
            ),
            None,
        )
    return Scored(1.0 if pred is not None and gold is not None and pred == gold else 0.0, pred)


def score_mme_realworld(output: str, doc: Mapping, ctx: Context) -> Scored:
    letter = ch.mme_letter(output)
    p, g = str(letter).strip().lower(), str(doc.get("answer", "")).strip().lower()
    return Scored(1.0 if p and (p == g or g in p) else 0.0, letter)


def score_vstar(output: str, doc: Mapping, ctx: Context) -> Scored:
    letter = ch.vstar_letter(output)
    return Scored(1.0 if letter == str(doc.get("label", "")).strip().upper() else 0.0, letter)


def score_aerialvg(output: str, doc: Mapping, ctx: Context) -> Scored:
    pred = final_answer(output)
    size = _size(doc)
    if size is None:
        return Scored(None, pred, unscored_reason="no_image_size")
    r = geo.aerialvg_scores(pred, doc["bbox"], size[0], size[1], ctx.coords)
    return Scored(r["acc@0.5"], r["box"], metrics={"iou": r["iou"], "acc@0.75": r["acc@0.75"]})


def score_screenspot(output: str, doc: Mapping, ctx: Context) -> Scored:
    hit, point = geo.screenspot_hit(
        final_answer(output),
        doc.get("bbox") or [0, 0, 0, 0],
        _size(doc),
        gold_relative=True,
        coords=ctx.coords,
    )
    return Scored(1.0 if hit else 0.0, point)


def score_screenspot_pro(output: str, doc: Mapping, ctx: Context) -> Scored:
    hit, point = geo.screenspot_hit(
        final_answer(output),
        doc.get("bbox") or [0, 0, 0, 0],
        _size(doc),
        gold_relative=False,
        coords=ctx.coords,
    )
    return Scored(1.0 if hit else 0.0, point)


RULE_SCORERS: dict[str, Callable[[str, Mapping, Context], Scored]] = {
    "chartqa": score_chartqa,
    "chartqa_pro": score_chartqa_pro,
    "infovqa": score_infovqa,
    "evochart": score_evochart,
    "mmmu_pro": score_mmmu_pro,
    "mathvision": score_mathvision,
    "mathvista": score_mathvista,
    "blink": score_blink,
    "cv_bench": score_blink,
    "embspatial": score_embspatial,
    "erqa": score_erqa,
    "realworldqa": score_realworldqa,
    "gameqa": score_gameqa,
    "countbench": score_countbench,
    "countqa": score_countqa,
    "mme_realworld": score_mme_realworld,
    "vstar": score_vstar,
    "aerialvg": score_aerialvg,
    "screenspot": score_screenspot,
    "screenspot_pro": score_screenspot_pro,
}


def judge_methods() -> tuple[str, ...]:
    from vero.eval.judges import GRADERS

    return tuple(GRADERS)


def methods() -> tuple[str, ...]:
    """Every `scoring.method` name: the rule scorers, then the judge graders."""
    return tuple(RULE_SCORERS) + judge_methods()


def is_judge_method(method: str | None) -> bool:
    return method in judge_methods()


def score_rule(method: str, output: Any, doc: Mapping, ctx: Context | None = None) -> Scored:
    """Score one output with a rule scorer; the output's layout is reported in `detail`."""
    text = output if isinstance(output, str) else ("" if output is None else str(output))
    scored = RULE_SCORERS[method](text, doc, ctx or Context())
    scored.detail.setdefault("format", answer_layout(text))
    return scored


# ---- the registry block -------------------------------------------------------------------------------


def check_scoring(block: Any) -> dict[str, Any]:
    """A validated copy of a registry `scoring:` block; ValueError names the bad key."""
    if not isinstance(block, Mapping):
        raise ValueError("expected a mapping with method, source and optional aggregation/coords")
    allowed = {"method", "source", "aggregation", "coords", "note"}
    unknown = sorted(set(block) - allowed)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key; allowed: {sorted(allowed)}")
    method = block.get("method")
    if method not in methods():
        raise ValueError(f"method: unknown {method!r}; expected one of {list(methods())}")
    if not isinstance(block.get("source"), str) or not block["source"].strip():
        raise ValueError("source: missing (the release file the rule comes from)")
    aggregation = block.get("aggregation", "mean")
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation: unknown {aggregation!r}; expected one of {list(AGGREGATIONS)}")
    out = {**block, "aggregation": aggregation}
    coords = block.get("coords")
    if coords is not None:
        if not isinstance(coords, Mapping) or set(coords) - set(COORD_VARIANTS) or "reasoning" not in coords:
            raise ValueError(
                f"coords: expected a mapping with 'reasoning' (and optional 'zero_shot'), got {coords!r}"
            )
        if coords["reasoning"] not in geo.COORDS:
            raise ValueError(f"coords.reasoning: {coords['reasoning']!r} is not one of {list(geo.COORDS)}")
        zs = coords.get("zero_shot") or {}
        if not isinstance(zs, Mapping) or any(v not in geo.COORDS for v in zs.values()):
            raise ValueError(f"coords.zero_shot: expected family → one of {list(geo.COORDS)}, got {zs!r}")
        out["coords"] = {"reasoning": coords["reasoning"], "zero_shot": dict(zs)}
    return out


def coords_for(scoring: Mapping, family: str | None, variant: str = "reasoning") -> str:
    """How a benchmark reads predicted coordinates for a model family: the registry's `coords`
    entry of the prompt variant (the release's reasoning tasks: pixels for every family)."""
    coords = scoring.get("coords") or {}
    if variant not in COORD_VARIANTS:
        raise ValueError(f"unknown prompt variant {variant!r}; expected one of {list(COORD_VARIANTS)}")
    if variant == "zero_shot":
        zs = coords.get("zero_shot") or {}
        if family in zs:
            return zs[family]
    return coords.get("reasoning", "absolute")


# ---- docs of samples loaded without their row --------------------------------------------------------


def doc_for(sample: Any, method: str) -> dict[str, Any]:
    """The row a scorer reads, in the release's field names.

    Rebuilt from the sample's gold fields (answer, options, reference, question, image size,
    conversation), then overlaid with the row fields the loader kept: `sample.meta["row"]` (the
    registry's `fields.extra`) and `sample.meta["doc"]` (a whole row)."""
    meta = getattr(sample, "meta", None) or {}
    size = getattr(sample, "image_size", None)
    options = list(meta.get("options") or [])
    answer = getattr(sample, "answer", "")
    reference = getattr(sample, "reference", None)
    question = getattr(sample, "question", "")
    letter_idx = (
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ".find(answer) if isinstance(answer, str) and len(answer) == 1 else -1
    )
    doc: dict[str, Any] = {"answer": answer, "question": question}
    if size:
        doc["image_size"] = list(size)
    if method in ("blink", "cv_bench"):
        doc.update(choices=options, answer=f"({answer})")
    elif method == "embspatial":
        doc.update(answer_options=options, answer=letter_idx)
    elif method == "mmmu_pro":
        doc.update(options=repr(options))
    elif method == "mathvision":
        doc.update(options=options)
    elif method == "mathvista":
        if options:
            doc.update(
                choices=options,
                question_type="multi_choice",
                answer_type="text",
                answer=options[letter_idx] if 0 <= letter_idx < len(options) else answer,
            )
        else:
            kind = "integer" if str(answer).lstrip("-").isdigit() else "float"
            digits = len(str(answer).split(".")[1]) if "." in str(answer) else 0
            doc.update(choices=None, question_type="free_form", answer_type=kind, precision=digits)
    elif method == "chartqa_pro":
        doc.update(Answer=[answer])
    elif method == "infovqa":
        doc.update(answers=list(reference) if reference else [answer])
    elif method == "countbench":
        doc.update(number=answer)
    elif method == "vstar":
        doc.update(label=answer)
    elif method in ("aerialvg", "screenspot_pro"):
        doc.update(bbox=list(reference or []))
        if size:
            doc.update(width=size[0], height=size[1])
    elif method == "screenspot":
        if reference and size:
            w, h = size
            doc.update(bbox=[reference[0] / w, reference[1] / h, reference[2] / w, reference[3] / h])
    elif method == "mia_bench":
        doc.update(instruction=question, components=list(reference) if isinstance(reference, list) else [])
    elif method == "mmifeval":
        doc.update(id=getattr(sample, "id", None), constraints=reference if reference is not None else answer)
    elif method == "charxiv":
        doc.update(reasoning_q=question, reasoning_a=answer)
    messages = getattr(sample, "messages", None)
    if method == "mm_mt_bench" and messages:
        doc.update(
            conversation=[{"role": m.get("role"), "content": m.get("content")} for m in messages],
            reference_answer=answer,
        )
    row = meta.get("row") or {}
    for key, value in row.items():
        if key == "reward_model.candidate_answers":
            doc["candidate_answers"] = value
        elif value is not None or key not in doc:
            doc[key] = value
    doc.update(meta.get("doc") or {})
    return doc
