"""The optional model-based question filter: a VLM judge behind an OpenAI-compatible endpoint.

For each sample the judge sees the image(s), the question and the reference answer, and scores
three things from 1 to 10, higher always better: relevance (the question needs the image),
ambiguity (10 = only one reasonable reading and one correct answer) and verifiability (the answer
can be checked automatically). A sample is kept when every score reaches the threshold. The
recipe does not apply this filter to captioning_if, whose answers are judged, not verified.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

SCORE_KEYS = ("relevance", "ambiguity", "verifiability")

_COMMON = (
    "You review training samples for a vision-language model. Each sample is an image, a question "
    "and a reference answer. Score the sample on three scales from 1 (worst) to 10 (best):\n"
    "- relevance: answering needs the image; the question is about what the image shows.\n"
    "- ambiguity: 10 means the question has one reasonable reading and exactly one correct answer; "
    "1 means several answers would be defensible.\n"
    "- verifiability: the reference answer is correct for this image and can be checked by a rule "
    "(an exact string, a number, a choice letter, boxes or a point).\n"
)

# What to watch for in each category, in addition to the common scales.
CATEGORY_GUIDANCE: dict[str, str] = {
    "chart_ocr": (
        "Charts, tables, documents and scene text. Check that every value the question needs is "
        "legible, that units and rounding are stated when the answer is numeric, and that a "
        "transcription answer matches the text exactly."
    ),
    "stem": (
        "Math and science problems with diagrams. Check that the figure and the text together give "
        "enough information, that the answer follows from them, and that the stated precision or "
        "option letters are unambiguous."
    ),
    "spatial_action": (
        "Spatial relations, ordering, and actions on interfaces. Check that directions are defined "
        "from a clear viewpoint, that the target element is unique, and that the expected action "
        "format is stated."
    ),
    "knowledge_recognition": (
        "Recognising objects, colors, places and facts tied to the image. Check that the visual "
        "evidence is sufficient and that the reference answer, or its listed synonyms, would be "
        "accepted by an expert."
    ),
    "grounding_counting_search": (
        "Counting, boxes and finding small things. Check that the objects to count or locate are "
        "well defined, visible and not partly hidden in a way that changes the answer, and that "
        "boxes cover the named objects."
    ),
    "captioning_if": "Captions and instructions. Check that the reference describes the image faithfully.",
}

_REPLY = (
    'Reply with JSON only: {"relevance": <1-10>, "ambiguity": <1-10>, "verifiability": <1-10>, '
    '"reason": "<one short sentence>"}'
)


@dataclass(frozen=True)
class QuestionFilterSettings:
    """`data.filter.question_filter` (config/schema/data.yaml describes each key)."""

    enabled: bool = False
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "Qwen/Qwen3-VL-235B-A22B-Instruct"
    api_key_env: str = "OPENAI_API_KEY"
    threshold: int = 6
    timeout_s: float = 120.0
    max_concurrency: int = 16
    max_retries: int = 2
    temperature: float = 0.0
    max_tokens: int = 256
    on_error: str = "drop"
    skip_categories: tuple[str, ...] = ("captioning_if",)
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> QuestionFilterSettings:
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in (section or {}).items() if k in known}
        if "skip_categories" in kwargs:
            kwargs["skip_categories"] = tuple(kwargs["skip_categories"])
        if kwargs.get("on_error", "drop") not in ("drop", "keep"):
            raise ValueError(
                "config key 'data.filter.question_filter.on_error': "
                f"{kwargs['on_error']!r} is not 'drop' or 'keep'"
            )
        return cls(**kwargs)


def _image_mime(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"


def build_messages(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Chat messages for one sample: the rubric as system turn, images + question + answer as user turn."""
    category = row.get("category", "")
    system = _COMMON + "\n" + CATEGORY_GUIDANCE.get(category, "") + "\n\n" + _REPLY
    content: list[dict[str, Any]] = [
        {
            "type": "image_url",
            "image_url": {"url": f"data:{_image_mime(b)};base64,{base64.b64encode(b).decode()}"},
        }
        for b in row["images"]
    ]
    content.append(
        {
            "type": "text",
            "text": (
                f"Question:\n{row['question']}\n\nReference answer ({row['reward_type']}):\n{row['answer']}"
            ),
        }
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_scores(text: str) -> dict[str, int]:
    """The three scores from a judge reply (JSON, possibly fenced or with text around it)."""
    text = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL)
    m = _JSON_OBJECT.search(text)
    if not m:
        raise ValueError(f"no JSON object in the reply: {text[:120]!r}")
    obj = json.loads(m.group(0))
    scores = {}
    for key in SCORE_KEYS:
        value = {k.lower(): v for k, v in obj.items()}.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int | float) or isinstance(value, bool) or not 1 <= value <= 10:
            raise ValueError(f"score {key!r} missing or outside 1..10: {value!r}")
        scores[key] = round(value)
    return scores


class QuestionJudge:
    """Scores rows through `/chat/completions`; callable as a `vero.data.filtering.QuestionScorer`."""

    def __init__(self, settings: QuestionFilterSettings, client: httpx.Client | None = None):
        self.settings = settings
        headers = {"Content-Type": "application/json", **settings.extra_headers}
        key = os.environ.get(settings.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.client = client or httpx.Client(
            base_url=settings.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=settings.timeout_s,
            # One connection per worker thread, so no request waits for a free connection.
            limits=httpx.Limits(
                max_connections=settings.max_concurrency, max_keepalive_connections=settings.max_concurrency
            ),
        )
        self.calls = 0

    def score(self, row: Mapping[str, Any]) -> dict[str, int]:
        payload = {
            "model": self.settings.model,
            "messages": build_messages(row),
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        }
        last: Exception | None = None
        for _ in range(self.settings.max_retries + 1):
            try:
                self.calls += 1
                resp = self.client.post("chat/completions", json=payload)
                resp.raise_for_status()
                return parse_scores(resp.json()["choices"][0]["message"]["content"] or "")
            except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as e:
                last = e
        raise RuntimeError(f"{type(last).__name__}: {last}")

    def verdict(self, row: Mapping[str, Any]) -> tuple[str, str] | None:
        """None to keep the row, or (reason code, detail) to drop it."""
        if row.get("category") in self.settings.skip_categories:
            return None
        try:
            scores = self.score(row)
        except RuntimeError as e:
            return None if self.settings.on_error == "keep" else ("question_filter_error", str(e)[:200])
        low = {k: v for k, v in scores.items() if v < self.settings.threshold}
        if low:
            return "question_filter_rejected", f"scores {scores} below threshold {self.settings.threshold}"
        return None

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str] | None]:
        if not rows:
            return []
        with ThreadPoolExecutor(max_workers=max(1, self.settings.max_concurrency)) as pool:
            return list(pool.map(self.verdict, rows))

    def close(self) -> None:
        self.client.close()
