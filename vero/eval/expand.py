"""Row expansions: a published row that holds several samples becomes one row per sample, as the
release's `process_docs` functions do before evaluation.

An expansion reads only the structural columns of the rows (`columns(spec)`), and returns a plan:
(source row index, fields to set) per new row, plus the rows it skipped by reason. The expanded
row is the source row (images decoded only when that row is read) updated with those fields.

- qa_pairs (countqa `countqa_process_docs`): one row per entry of a `questions` list, paired with
  the `answers` entry at the same position ("" when missing); id "<row>_<pair>".
- conversation_turns (mm_mt_bench `mm_mt_bench_process_docs`): one row per user turn followed by
  an assistant turn, with the turn's index, position and the reference (the assistant's text).
- first_region (aerialvg `_aerialvg_process_docs`): the first annotated region of each row; rows
  without regions or with a box of other than four numbers are skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vero.eval.prompting import _content_parts, parse_conversation

Plan = list[tuple[int, dict]]


def _qa_pairs(rows: Sequence[Mapping], spec: Mapping) -> tuple[Plan, Counter]:
    plan: Plan = []
    dropped: Counter = Counter()
    for i, row in enumerate(rows):
        questions = list(row.get(spec.get("questions", "questions")) or [])
        answers = list(row.get(spec.get("answers", "answers")) or [])
        if not questions:
            dropped["no_questions"] += 1
            continue
        for k, question in enumerate(questions):
            answer = answers[k] if k < len(answers) else ""
            plan.append(
                (
                    i,
                    {
                        "question": str(question).strip(),
                        "answer": str(answer).strip(),
                        "question_id": f"{i}_{k}",
                    },
                )
            )
    return plan, dropped


def _conversation_turns(rows: Sequence[Mapping], spec: Mapping) -> tuple[Plan, Counter]:
    plan: Plan = []
    dropped: Counter = Counter()
    field = spec.get("field", "conversation")
    for i, row in enumerate(rows):
        messages = parse_conversation(row.get(field))
        if not messages:
            dropped["bad_conversation"] += 1
            continue
        for index in range(0, len(messages) - 1, 2):
            if messages[index].get("role") != "user":
                continue
            parts = _content_parts(messages[index + 1].get("content"))
            reference = "".join(p.get("text", "") for p in parts if p["type"] == "text").strip()
            plan.append(
                (
                    i,
                    {
                        field: messages,
                        "turn": index // 2,
                        "message_index": index,
                        "reference_answer": reference,
                    },
                )
            )
    return plan, dropped


def _first_region(rows: Sequence[Mapping], spec: Mapping) -> tuple[Plan, Counter]:
    plan: Plan = []
    dropped: Counter = Counter()
    for i, row in enumerate(rows):
        grounding = row.get(spec.get("field", "grounding")) or {}
        regions = list(grounding.get("regions") or [])
        if not regions:
            dropped["no_region"] += 1
            continue
        region = regions[0]
        bbox = region.get("bbox")
        if bbox is None or len(bbox) != 4:
            dropped["bad_bbox"] += 1
            continue
        plan.append(
            (
                i,
                {
                    "caption": grounding.get("caption", "") or "",
                    "phrase": region.get("phrase", "") or "",
                    "relation": region.get(spec.get("relation_key", "relation")),
                    "bbox": list(bbox),
                    "region_idx": 0,
                },
            )
        )
    return plan, dropped


EXPANSIONS: dict[str, Callable[[Sequence[Mapping], Mapping], tuple[Plan, Counter]]] = {
    "qa_pairs": _qa_pairs,
    "conversation_turns": _conversation_turns,
    "first_region": _first_region,
}


def columns(spec: Mapping) -> list[str]:
    """The row columns an expansion reads (so hub rows can be planned without decoding images)."""
    kind = spec["kind"]
    if kind == "qa_pairs":
        return [spec.get("questions", "questions"), spec.get("answers", "answers")]
    return [spec.get("field", "conversation" if kind == "conversation_turns" else "grounding")]


def plan_expansion(spec: Mapping, rows: Sequence[Mapping]) -> tuple[Plan, Counter]:
    """The expansion plan of `rows` (structural columns suffice) and the rows skipped, by reason."""
    return EXPANSIONS[spec["kind"]](rows, spec)


class ExpandedRows(Sequence):
    """The rows after an expansion: source rows read on demand, updated with the plan's fields."""

    def __init__(self, source: Sequence[Mapping], plan: Plan):
        self.source = source
        self.plan = plan
        names = getattr(source, "column_names", None)
        extra = {k for _, fields in plan for k in fields}
        self.column_names = sorted(set(names or ()) | extra) if names is not None else None

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, k: int) -> dict[str, Any]:
        i, fields = self.plan[k]
        return {**self.source[i], **fields, "__source_row__": i}
