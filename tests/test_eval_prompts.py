"""Prompts and images as the release's harness builds them, checked against the release itself.

Two corpora, made by running the release's own task functions unmodified in a scratch environment
(tests/data/eval_prompts/README.md says how):
- the 30 fixtures (tests/data/eval_fixtures, published layouts) through the real loader: the text,
  the turns and the images (sizes and pixels) each sample shows the model;
- adversarial rows of our own through each benchmark's prompt builder: inline options, stripped
  instructions, units, decimal places, conversation histories, articles, punctuation.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image

from vero.eval.prompting import build_prompt, fill, sample_messages
from vero.eval.registry import load_registry
from vero.eval.rows import row_value
from vero.eval.samples import load_samples, raw_options

DATA = Path(__file__).resolve().parent / "data"
FIXTURES = DATA / "eval_fixtures"
INDEX = json.loads((FIXTURES / "index.json").read_text())
REGISTRY = load_registry()


def _release_fixture_outputs() -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = defaultdict(dict)
    for line in (FIXTURES / "release_outputs.jsonl").read_text().splitlines():
        rec = json.loads(line)
        out[rec["benchmark"]][rec["index"]] = rec
    return out


RELEASE = _release_fixture_outputs()
# rows the project drops where the release keeps them (with the reason), by (benchmark, row index)
EXPECTED_DROPS = {("countqa", 2): "missing_answer"}  # a question with no answer: nothing to score


def _pixels(data: bytes) -> tuple[list[int], str]:
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
        return list(rgb.size), hashlib.sha256(rgb.tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("key", list(REGISTRY))
def test_fixture_samples_show_the_model_what_the_release_shows(key):
    res = load_samples(REGISTRY[key].with_local_path(FIXTURES / INDEX[key]))
    mine = {s.meta["row_index"]: s for s in res.samples}
    expected = RELEASE[key]
    assert expected, f"no release outputs recorded for {key}"
    for i, rec in expected.items():
        if (key, i) in EXPECTED_DROPS:
            assert i not in mine and res.dropped[EXPECTED_DROPS[key, i]] >= 1
            continue
        s = mine[i]
        assert s.question == rec["text"], f"{key}[{i}]"
        assert [_pixels(b) for b in s.images] == [(im["size"], im["pixels_sha"]) for im in rec["images"]], key
        if "turns" in rec:
            assert sample_messages(s) == rec["turns"], f"{key}[{i}]"
    assert len(mine) == len(expected) - sum(k == key for k, _ in EXPECTED_DROPS)


def _corpus(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_prompt_builders_agree_with_the_release_on_the_adversarial_corpus():
    records = _corpus(DATA / "eval_prompts" / "corpus.jsonl")
    assert len({r["benchmark"] for r in records}) >= 25
    wrong = []
    for r in records:
        spec = REGISTRY[r["benchmark"]]
        opts = raw_options(row_value(r["row"], spec.fields["options"])) if spec.fields.get("options") else []
        text = build_prompt(
            spec.prompt, r["row"], question_field=spec.fields.get("question"), options=opts
        ).text
        if text != r["text"]:
            wrong.append((r["benchmark"], r["row"], text, r["text"]))
    assert not wrong, f"{len(wrong)}/{len(records)} prompts differ, first: {wrong[0]}"


def test_fill_leaves_json_examples_alone():
    assert fill('{q} [{"point_2d": [x, y]}]', q="Tap") == 'Tap [{"point_2d": [x, y]}]'
    assert fill("{a}{b}", a="{b}", b="x") == "{b}x"  # one pass: inserted text is not filled again
