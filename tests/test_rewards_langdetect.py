"""vero.rewards.langdetect_fast gives langdetect's own answer, bit for bit."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from langdetect import DetectorFactory, detector_factory
from langdetect.detector import Detector
from langdetect.lang_detect_exception import LangDetectException

from vero.rewards.langdetect_fast import FastDetector, detect

CORPUS = Path(__file__).parent / "data" / "reward_corpus" / "cases.jsonl"
MULTILINGUAL = [
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "El rápido zorro marrón salta sobre el perro perezoso.",
    "これは日本語の文章です。",
    "这是一个句子。这是另一个。",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "빠른 갈색 여우가 게으른 개를 뛰어넘는다.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.",
    "ok",
    "1 2 3 !!!",
    "Visit https://example.com/a?b=1 now   or   mail me@example.org    today.",
    "Tiếng Việt có dấu rất khó.",
    "NASA and the FBI  met  in   Washington with the UN.",
    "العربية نص قصير جدا",
    "Ελληνικά κείμενο για δοκιμή.",
    "Mixed 中文 and English, ça va? 😀",
]


def texts() -> list[str]:
    rng = random.Random(3)
    cases = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    found = [
        c["completion"].split("<answer>")[-1].split("</answer>")[0]
        for c in cases
        if c["reward_type"] == "instruction_following" and isinstance(c["completion"], str)
    ]
    return MULTILINGUAL + rng.sample(sorted(set(found)), 50)


def probabilities(cls, text: str, seed) -> list[tuple[str, float]] | str:
    detector_factory.init_factory()
    factory = detector_factory._factory
    detector = cls(factory)
    detector.seed = seed
    detector.append(text)
    try:
        return [(p.lang, p.prob) for p in detector.get_probabilities()]
    except LangDetectException as e:
        return f"raises {e}"


@pytest.mark.parametrize("seed", [0, 12345])
def test_same_probabilities_as_langdetect(seed):
    for text in texts():
        assert probabilities(FastDetector, text, seed) == probabilities(Detector, text, seed), text[:80]


def test_detect_uses_the_factorys_seed(monkeypatch):
    monkeypatch.setattr(DetectorFactory, "seed", 0)
    text = MULTILINGUAL[0]
    assert detect(text) == "fr" == probabilities(Detector, text, 0)[0][0]
    with pytest.raises(LangDetectException):
        detect("1 2 3 !!!")
