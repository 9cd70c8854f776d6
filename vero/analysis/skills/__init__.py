"""Skill extraction: which reasoning operations a trace uses, behind one interface.

`get_extractor(name, **cfg)` returns an object with `.extract(trace, category) -> list[Skill]`
(and `.extract_with_status`, which also says what happened: `ok`, `cached`, `empty_trace`,
`unparseable`, `request_failed`, ...). Two extractors:

- `llm` (the paper's method): a language model reads the trace and lists the skills it shows as
  JSON; an OpenAI-compatible endpoint or a local transformers model; cached by trace hash.
- `lexicon` (no model): reasoning operations of a documented taxonomy (`lexicon.yaml`) detected
  from cue phrases; the cheap embedded default.

The category is passed for bookkeeping only. Neither extractor shows it to the model or uses it
to decide, otherwise the probe that predicts the category from the skills would be circular.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Protocol

from vero.analysis.traces import Drops

MAX_LABEL_CHARS = 80
MAX_DESCRIPTION_CHARS = 400


@dataclass(frozen=True)
class Skill:
    label: str
    description: str

    def as_dict(self) -> dict:
        return asdict(self)


class SkillExtractor(Protocol):
    name: str

    def extract(self, trace: str, category: str) -> list[Skill]: ...

    def extract_with_status(self, trace: str, category: str) -> tuple[list[Skill], str]: ...


def get_extractor(name: str, **cfg) -> SkillExtractor:
    """The extractor called `name` (`llm` or `lexicon`), built from its config keys."""
    if name == "lexicon":
        from vero.analysis.skills.lexicon import LexiconExtractor

        return LexiconExtractor(**cfg)
    if name == "llm":
        from vero.analysis.skills.llm import LLMExtractor

        return LLMExtractor(**cfg)
    raise ValueError(f"unknown skill extractor {name!r}; expected 'llm' or 'lexicon'")


# ---- parsing a model's reply into skills ------------------------------------------------------

_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_LABEL_KEYS = ("label", "skill", "name", "title")
_DESC_KEYS = ("description", "desc", "explanation", "details")


def _clean(text, limit: int) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()[:limit]


def _skill_from(obj) -> Skill | None:
    if isinstance(obj, str):
        label = _clean(obj, MAX_LABEL_CHARS)
        return Skill(label, label) if label else None
    if not isinstance(obj, dict):
        return None
    lower = {str(k).lower(): v for k, v in obj.items()}
    label = next((lower[k] for k in _LABEL_KEYS if isinstance(lower.get(k), str) and lower[k].strip()), None)
    desc = next((lower[k] for k in _DESC_KEYS if isinstance(lower.get(k), str) and lower[k].strip()), None)
    if label is None and desc is None:
        return None
    label = _clean(label if label is not None else desc, MAX_LABEL_CHARS)
    return Skill(label, _clean(desc if desc is not None else label, MAX_DESCRIPTION_CHARS))


def _skills_from_value(value) -> list[Skill] | None:
    """Skills from a decoded JSON value: a list, a single skill object, or {"skills": [...]}."""
    if isinstance(value, dict):
        lower = {str(k).lower(): v for k, v in value.items()}
        if isinstance(lower.get("skills"), list):
            value = lower["skills"]
        else:
            one = _skill_from(value)
            return [one] if one else None
    if isinstance(value, list):
        skills = [s for s in (_skill_from(v) for v in value) if s is not None]
        return skills if skills or not value else None
    return None


def parse_skill_reply(text: str) -> list[Skill] | None:
    """Skills from a model's reply, or None when nothing usable is found.

    Tolerates what models do around JSON: a `<think>` preamble, code fences, prose before or
    after, a single object instead of a list, `{"skills": [...]}`, plain strings as items.
    Duplicated labels (case-insensitive) are kept once.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    candidates = [m.group(1) for m in _FENCE_RE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for chunk in candidates:
        for m in re.finditer(r"[\[{]", chunk):
            try:
                value, _ = decoder.raw_decode(chunk, m.start())
            except json.JSONDecodeError:
                continue
            skills = _skills_from_value(value)
            if skills is not None:
                return dedupe(skills)
    return None


def dedupe(skills: Iterable[Skill]) -> list[Skill]:
    seen, out = set(), []
    for s in skills:
        key = s.label.lower()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


# ---- running an extractor over traces ---------------------------------------------------------


def sample_per_category(traces: list[dict], max_per_category: int | None, seed: int = 0) -> list[dict]:
    """At most `max_per_category` traces of each category, a seeded random choice, input order kept."""
    if not max_per_category:
        return list(traces)
    by_cat: dict[str, list[int]] = {}
    for i, t in enumerate(traces):
        by_cat.setdefault(t["category"], []).append(i)
    rng = random.Random(seed)
    keep = set()
    for idx in by_cat.values():
        keep.update(idx if len(idx) <= max_per_category else rng.sample(idx, max_per_category))
    return [t for i, t in enumerate(traces) if i in keep]


def extract_skills(
    traces: list[dict],
    extractor: SkillExtractor,
    *,
    text_of=None,
    max_workers: int = 1,
    drops: Drops | None = None,
    progress: bool = True,
) -> list[dict]:
    """One record per trace: id, experiment, benchmark, category, status, skills.

    `text_of(trace)` gives the text the extractor reads (default: the whole output). Traces whose
    extraction fails are still recorded (empty skills, the status says why) and counted in
    `drops` under `skills_<status>`, so the probe knows what it did not see.
    """
    from tqdm.auto import tqdm

    drops = drops if drops is not None else Drops()
    text_of = text_of or (lambda t: t["output"])

    def one(t):
        return extractor.extract_with_status(text_of(t), t["category"])

    if max_workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers) as pool:
            results = list(
                tqdm(pool.map(one, traces), total=len(traces), desc="skills", disable=not progress)
            )
    else:
        results = [one(t) for t in tqdm(traces, desc="skills", disable=not progress)]
    records = []
    for t, (skills, status) in zip(traces, results, strict=True):
        if status not in ("ok", "cached"):
            drops.add(f"skills_{status}", t.get("_where", str(t.get("id"))))
        records.append(
            {
                "id": t["id"],
                "experiment": t.get("experiment"),
                "benchmark": t.get("benchmark"),
                "category": t["category"],
                "extractor": extractor.name,
                "status": status,
                "skills": [s.as_dict() for s in skills],
            }
        )
    return records


def load_skill_records(path, drops: Drops | None = None) -> list[dict]:
    """Skill records written by `extract_skills` (analysis/skills/{experiment}.jsonl)."""
    from vero.analysis.traces import read_jsonl

    drops = drops if drops is not None else Drops()
    out = []
    for row in read_jsonl(path, drops):
        skills = row.get("skills")
        if not isinstance(row.get("category"), str) or not isinstance(skills, list):
            drops.add("malformed_skill_record", row["_where"])
            continue
        parsed = [s for s in (_skill_from(x) for x in skills) if s is not None]
        row["skills"] = [s.as_dict() for s in parsed]
        out.append(row)
    return out
