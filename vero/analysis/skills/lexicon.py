"""The model-free skill extractor: reasoning operations of a documented taxonomy found by cue
phrases (`lexicon.yaml` beside this file documents the taxonomy and the cue syntax)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from vero.analysis.skills import Skill

DEFAULT_LEXICON = Path(__file__).with_name("lexicon.yaml")
_SENTENCE_END = re.compile(r"[.!?\n]")


class LexiconError(ValueError):
    """A malformed taxonomy file; the message names the file and the entry."""


@dataclass(frozen=True)
class Operation:
    label: str
    description: str
    pattern: re.Pattern


def _cue_regex(cue: str) -> str:
    if cue.startswith("re:"):
        return f"(?:{cue[3:]})"
    escaped = re.escape(cue.strip())
    # word boundaries only where the cue starts/ends with a word character ("wait," ends in a comma)
    left = r"\b" if re.match(r"\w", cue.strip()) else ""
    right = r"\b" if re.search(r"\w$", cue.strip()) else ""
    return f"(?:{left}{escaped}{right})"


def load_lexicon(path: str | Path = DEFAULT_LEXICON) -> list[Operation]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise LexiconError(f"{path}: cannot read the taxonomy: {e}") from e
    ops = data.get("operations") if isinstance(data, dict) else None
    if not isinstance(ops, list) or not ops:
        raise LexiconError(f"{path}: expected a non-empty 'operations' list")
    out, seen = [], set()
    for i, op in enumerate(ops):
        where = f"{path}: operations[{i}]"
        if not isinstance(op, dict) or not all(isinstance(op.get(k), str) for k in ("label", "description")):
            raise LexiconError(f"{where}: needs string 'label' and 'description'")
        cues = op.get("cues")
        if not isinstance(cues, list) or not cues or not all(isinstance(c, str) and c.strip() for c in cues):
            raise LexiconError(f"{where} ({op['label']}): 'cues' must be a non-empty list of strings")
        if op["label"] in seen:
            raise LexiconError(f"{where}: duplicate label {op['label']!r}")
        seen.add(op["label"])
        try:
            pattern = re.compile("|".join(_cue_regex(c) for c in cues), re.IGNORECASE)
        except re.error as e:
            raise LexiconError(f"{where} ({op['label']}): bad cue regex: {e}") from e
        out.append(Operation(op["label"], op["description"], pattern))
    return out


def _evidence(text: str, start: int, end: int, max_chars: int) -> str:
    """The sentence around a cue match, whitespace collapsed and clipped to `max_chars`."""
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    right_m = _SENTENCE_END.search(text, end)
    right = right_m.start() + 1 if right_m else len(text)
    sentence = re.sub(r"\s+", " ", text[left:right]).strip()
    if len(sentence) > max_chars:
        centre = start - left
        lo = max(0, min(centre - max_chars // 2, len(sentence) - max_chars))
        sentence = sentence[lo : lo + max_chars].strip()
    return sentence


class LexiconExtractor:
    """Detects the taxonomy's operations in a trace; one Skill per operation present.

    The description is the operation's description plus the sentence that triggered it, so
    skills of the same operation still differ by what they were applied to (as LLM-written
    descriptions do), which gives the UMAP something to spread.
    """

    name = "lexicon"

    def __init__(self, path: str | Path | None = None, evidence_chars: int = 160, **_ignored):
        self.path = Path(path) if path else DEFAULT_LEXICON
        self.operations = load_lexicon(self.path)
        self.evidence_chars = int(evidence_chars)

    def extract_with_status(self, trace: str, category: str) -> tuple[list[Skill], str]:
        if not isinstance(trace, str) or not trace.strip():
            return [], "empty_trace"
        skills = []
        for op in self.operations:
            m = op.pattern.search(trace)
            if m:
                evidence = _evidence(trace, m.start(), m.end(), self.evidence_chars)
                skills.append(Skill(op.label, f'{op.description} Evidence: "{evidence}"'))
        return skills, ("ok" if skills else "no_skills")

    def extract(self, trace: str, category: str) -> list[Skill]:
        return self.extract_with_status(trace, category)[0]
