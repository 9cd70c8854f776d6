"""The README's "Extending" recipes, followed step by step on toy examples: a dataset in the published
layout through the data stage functions, a benchmark added to a copy of the registry with a local
fixture, a reward type registered through `vero.rewards.register_reward_type` and used by data
validation, the training reward and evaluation."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
import yaml
from PIL import Image

from tests.fixtures.backends import CannedBackend
from vero.config import REPO_ROOT, load_config
from vero.data.io import read_parquet_records

README = (REPO_ROOT / "README.md").read_text()


def _png(w: int, h: int, seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (seed % 256, 40, 200)).save(buf, format="PNG")
    return buf.getvalue()


def _published_line(i: int, source: str, answer: str, reward_type: str = "numeric") -> str:
    """One row in the Vero-600K (verl) layout the README names: images as base64 bytes."""
    question = f"What value does bar {i} of {source} show?"
    return json.dumps(
        {
            "id": f"{source}-{i}",
            "data_source": source,
            "prompt": [{"role": "user", "content": "<image>" + question}],
            "images": [{"bytes": base64.b64encode(_png(80, 60, i)).decode(), "path": None}],
            "ability": "chart_ocr",
            "reward_model": {"style": "rule", "ground_truth": answer},
            "extra_info": {
                "answer": answer,
                "reward_type": reward_type,
                "tolerance": 0.05,
                "question": question,
            },
        }
    )


def _section(title: str) -> str:
    m = re.search(rf"\*\*{title}\*\*(.*?)(?=\n\*\*|\n## )", README, re.DOTALL)
    assert m, f"README: no '{title}' paragraph under Extending"
    return m.group(1)


# ---- a dataset -------------------------------------------------------------------------------------


def test_readme_dataset_recipe_files_source_screened_by_the_dataset_rules(tmp_path):
    """`kind: files` + `paths` + `curated: false`: the rows become canonical rows, a source too small
    for its category is dropped by the dataset-level rule, a malformed row with a reason code, and
    both are counted in the filter report's Markdown table."""
    from vero.data.stages import filter_report_stage, filter_stage, mix_stage, raw_stage

    text = _section("A dataset.")
    for words in ("kind: files", "paths", "curated: false", "vero/data/readers.py", "data/filter_report.md"):
        assert words in text, f"README dataset recipe no longer says {words!r}"

    lines = [_published_line(i, "toy_charts", str(10 + i)) for i in range(6)]
    lines += [_published_line(i, "toy_tiny", str(i)) for i in range(2)]  # 2 rows: below min_source_rows
    lines.append(_published_line(99, "toy_charts", ""))  # an empty gold: no prediction can match it
    (tmp_path / "toy.jsonl").write_text("\n".join(lines) + "\n")
    cfg = load_config(
        REPO_ROOT / "config" / "demo.yaml",
        overrides={
            "results_dir": str(tmp_path / "results"),
            "data": {
                "source": {"kind": "files", "paths": [str(tmp_path / "toy.jsonl")], "curated": False},
                "filter": {"min_source_rows": 4, "min_source_mean_pixels": 1000, "max_drop_fraction": 0.9},
            },
            "mix": {"samples_per_category": 4, "batch_size": 2},
        },
    )
    cfg["experiments"] = {"single_chart_ocr": cfg["experiments"]["single_chart_ocr"]}  # chart_ocr only
    d = tmp_path / "data"
    ingest = raw_stage(cfg, d / "raw", d / "raw/ingest_report.json")
    assert ingest["rows_read"] == 9 and ingest["curated"] is False
    report = filter_stage(
        cfg, "chart_ocr", d / "raw/chart_ocr.parquet", d / "filtered/chart_ocr.parquet", d / "r.json", []
    )
    assert report["kept"] == 6
    assert report["dropped"].get("source_too_small") == 2
    assert sum(report["dropped"].values()) + sum(ingest["dropped"].values()) == 3
    agg = filter_report_stage(cfg, [d / "r.json"], d / "raw/ingest_report.json", d / "fr.json", d / "fr.md")
    md = (d / "fr.md").read_text()
    assert "source_too_small" in md and agg
    rows = list(read_parquet_records(d / "filtered/chart_ocr.parquet"))
    assert {r["data_source"] for r in rows} == {"toy_charts"}
    assert all(set(r) >= {"id", "category", "question", "images", "reward_type", "answer"} for r in rows)
    mix = mix_stage(cfg, "single_chart_ocr", d / "filtered", d / "mix.parquet")
    assert mix["rows"] == 4 and len(list(read_parquet_records(d / "mix.parquet"))) == 4


# ---- a benchmark -----------------------------------------------------------------------------------


def _toy_registry(tmp_path, entry: dict) -> str:
    doc = yaml.safe_load((REPO_ROOT / "config" / "veroeval.yaml").read_text())
    doc["benchmarks"]["toybench"] = entry
    path = tmp_path / "veroeval.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def _evaluate_toy(tmp_path, entry: dict, rows: list[dict], outputs: list[str]):
    from vero.eval.evaluate import evaluate_benchmark
    from vero.eval.registry import suite_benchmarks

    Image.new("RGB", (40, 30), "white").save(tmp_path / "toy.png")
    (tmp_path / "toybench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(
        REPO_ROOT / "config" / "demo.yaml",
        overrides={
            "results_dir": str(tmp_path / "results"),
            "eval": {
                "suite": "veroeval",
                "registry": _toy_registry(tmp_path, entry),
                "benchmarks": ["toybench"],
                "local_data": {"toybench": str(tmp_path / "toybench.jsonl")},
            },
        },
    )
    assert suite_benchmarks(cfg) == ["toybench"]  # what rules/common.smk expands the eval jobs over
    summary = evaluate_benchmark(
        cfg,
        experiment="base",
        checkpoint="final",
        benchmark="toybench",
        out_jsonl=tmp_path / "toybench.out.jsonl",
        out_summary=tmp_path / "toybench.json",
        backend=CannedBackend(outputs),
        judge=None,
    )
    recs = [json.loads(x) for x in (tmp_path / "toybench.out.jsonl").read_text().splitlines()]
    return summary, recs


TOY_ENTRY = {
    "name": "ToyBench",
    "category": "chart_ocr",
    "version": 1,
    "source": {"hub_id": "example/toybench", "config": None, "split": "test"},
    "fields": {
        "id": "qid",
        "images": ["image"],
        "question": "question",
        "answer": "answer",
        "answer_format": "text",
    },
    "prompt": {"builder": "plain", "strip": False},
    "scorer": "relaxed_accuracy",
    "metric": "relaxed accuracy (5 % relative tolerance on numbers)",
}


def test_readme_benchmark_recipe_toy_entry_in_a_copy_of_the_registry_is_loaded_and_scored(tmp_path):
    text = _section("A benchmark.")
    for words in ("config/veroeval.yaml", "category", "hub dataset id", "split", "field mapping", "scorer"):
        assert words in text, f"README benchmark recipe no longer says {words!r}"
    rows = [
        {"qid": "a", "image": "toy.png", "question": "How many?", "answer": "40"},
        {"qid": "b", "image": "toy.png", "question": "Which colour?", "answer": "red"},
        {"qid": "c", "image": "toy.png", "question": "Largest?", "answer": "2019"},
    ]
    outputs = [
        "<think>close</think><answer>\\boxed{41}</answer>",  # within 5 %
        "<think>hm</think><answer>\\boxed{blue}</answer>",
        "<think>x</think><answer>\\boxed{2019}</answer>",
    ]
    summary, recs = _evaluate_toy(tmp_path, TOY_ENTRY, rows, outputs)
    assert [r["id"] for r in recs] == ["a", "b", "c"]
    assert [r["score"] for r in recs] == [1.0, 0.0, 1.0]
    assert summary["benchmark"] == "toybench" and summary["score"] == pytest.approx(200 / 3)


def test_a_toy_benchmark_entry_with_an_unknown_key_names_the_key(tmp_path):
    from vero.eval.registry import RegistryError, load_registry

    with pytest.raises(RegistryError, match="toybench"):
        load_registry(_toy_registry(tmp_path, {**TOY_ENTRY, "scorer": "bleu"}))


# ---- a reward type ---------------------------------------------------------------------------------


@pytest.fixture
def parity_type():
    """A toy reward type registered the documented way: 1 when the boxed integer has the gold's parity."""
    from vero.rewards import RewardTypeSpec, register_reward_type, unregister_reward_type

    def parity(pred: str, gold: str, ctx) -> float:
        try:
            return float(int(pred.strip()) % 2 == int(gold) % 2)
        except ValueError:
            return 0.0

    def check_gold(gold: str) -> None:
        int(gold)  # ValueError for a gold that is not an integer

    spec = RewardTypeSpec("parity", "text", "boxed", "1 when the parities agree", "(toy)")
    register_reward_type(spec, parity, check_gold)
    yield spec
    unregister_reward_type("parity")


def test_readme_reward_type_recipe_states_the_signature_the_code_has():
    import inspect

    from vero.rewards import register_reward_type
    from vero.rewards.routes import ROUTES

    text = _section("A reward type.")
    assert "(prediction, gold, ctx) -> float" in text and "register_reward_type" in text
    assert "REWARD_TYPE_SPECS" in text and "vero/rewards/types.py" in text
    assert list(inspect.signature(register_reward_type).parameters) == ["spec", "score", "check_gold"]
    for route in ROUTES.values():  # every built-in route has the signature the README states
        assert len(inspect.signature(route.score).parameters) == 3


def test_a_registered_reward_type_is_used_by_data_training_and_evaluation(parity_type, tmp_path):
    from vero.data.answers import answer_verdict
    from vero.data.schema import validate_record
    from vero.rewards import (
        BOXED_REWARD_TYPES,
        REWARD_TYPES,
        check_ground_truth,
        compute_reward,
        make_trl_reward,
        reward_type_spec,
    )

    assert "parity" in REWARD_TYPES and "parity" in BOXED_REWARD_TYPES
    assert reward_type_spec("parity") is parity_type
    # data: the gold check of the type decides what is kept
    assert answer_verdict("parity", "3") is None
    assert answer_verdict("parity", "three")[0] == "answer_invalid"
    check_ground_truth("parity", "4")
    with pytest.raises(ValueError):
        check_ground_truth("parity", "four")
    row = {
        "id": "p1",
        "data_source": "toy",
        "category": "stem",
        "question": "odd or even?",
        "images": [_png(8, 8, 1)],
        "image_size": [8, 8],
        "reward_type": "parity",
        "answer": "3",
        "tolerance": None,
        "coords": "absolute",
        "split": "train",
    }
    assert "unknown_reward_type" not in validate_record(row)
    # the reward and the training reward
    good, wrong = "<think>t</think><answer>\\boxed{9}</answer>", "<think>t</think><answer>\\boxed{8}</answer>"
    assert compute_reward(good, reward_type="parity", answer="3").total == pytest.approx(1.0)
    assert compute_reward(wrong, reward_type="parity", answer="3").accuracy == 0.0
    trl = make_trl_reward({}, coords="absolute", max_completion_tokens=None)
    assert trl(
        completions=[good, wrong], reward_type=["parity", "parity"], answer=["3", "3"]
    ) == pytest.approx([1.0, 0.2])
    # evaluation: a benchmark whose answers this type grades
    entry = {**TOY_ENTRY, "scorer": "reward", "reward_type": "parity", "metric": "parity accuracy"}
    rows = [
        {"qid": "a", "image": "toy.png", "question": "odd?", "answer": "3"},
        {"qid": "b", "image": "toy.png", "question": "even?", "answer": "4"},
    ]
    _, recs = _evaluate_toy(tmp_path, entry, rows, [good, good])
    assert [r["score"] for r in recs] == [1.0, 0.0] and [r["reward_type"] for r in recs] == ["parity"] * 2


def test_register_reward_type_refuses_what_it_cannot_route(parity_type):
    from vero.rewards import RewardTypeSpec, register_reward_type, unregister_reward_type

    ok = (lambda p, g, c: 0.0, lambda g: None)
    with pytest.raises(ValueError, match="already registered"):
        register_reward_type(parity_type, *ok)
    with pytest.raises(ValueError, match="built in only"):
        register_reward_type(RewardTypeSpec("j", "judge", "text", "", "", judge=True), *ok)
    with pytest.raises(ValueError, match="answer_format"):
        register_reward_type(RewardTypeSpec("k", "text", "latex", "", ""), *ok)
    with pytest.raises(ValueError, match="built-in"):
        unregister_reward_type("numeric")


def test_the_reward_type_table_is_the_one_source_of_the_type_sets():
    from vero.rewards import types

    specs = types.REWARD_TYPE_SPECS
    assert tuple(types.REWARD_TYPES) == tuple(specs)
    assert set(types.BOXED_REWARD_TYPES) == {n for n, s in specs.items() if s.answer_format == "boxed"}
    assert set(types.JUDGE_REWARD_TYPES) == {"llm_judge", "instruction_following_llm_judge"}
    assert set(types.IF_REWARD_TYPES) == {"instruction_following", "instruction_following_llm_judge"}
    assert all(s.family in types.FAMILIES and s.answer_format in types.ANSWER_FORMATS for s in specs.values())
    assert all(s.source.startswith("vero-rl/") and s.source.endswith(".py") for s in specs.values())
    table = types.reward_type_table()
    assert all(f"`{n}`" in table for n in specs) and table.count("\n") == len(specs) + 2


def test_the_architecture_page_shows_the_reward_type_table_as_the_code_has_it():
    from vero.rewards.types import reward_type_table

    doc = (REPO_ROOT / "docs" / "architecture.md").read_text()
    block = doc.split("<!-- reward-types:begin -->\n", 1)[1].split("<!-- reward-types:end -->", 1)[0]
    assert block == reward_type_table(), "docs/architecture.md: regenerate the table from reward_type_table()"
