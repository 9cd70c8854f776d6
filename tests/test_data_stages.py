"""The data steps in-process, from a verl JSONL source to a mix: what the scripts call."""

from __future__ import annotations

import base64
import json

import pytest

from vero.categories import CATEGORIES
from vero.config import REPO_ROOT, load_config
from vero.data.filtering import FilterDropError
from vero.data.io import read_parquet_records
from vero.data.mixing import check_batch_balance
from vero.data.stages import filter_report_stage, filter_stage, heldout_stage, mix_stage, raw_stage
from vero.data.veromini import generate_veromini


def verl_line(r) -> str:
    return json.dumps(
        {
            "id": r["id"],
            "data_source": "mini",
            "prompt": [{"role": "user", "content": "<image>" + r["question"]}],
            "images": [{"bytes": base64.b64encode(r["images"][0]).decode(), "path": None}],
            "ability": r["category"],
            "reward_model": {"style": "rule", "ground_truth": r["answer"]},
            "extra_info": {
                "answer": r["answer"],
                "reward_type": r["reward_type"],
                "tolerance": r["tolerance"],
            },
        }
    )


@pytest.fixture
def files_config(tmp_path):
    rows = list(generate_veromini(4, 9, "train"))
    (tmp_path / "src.jsonl").write_text(
        "\n".join(verl_line(r) for r in rows) + '\n{"id": "broken", "ability": "stem"}\n'
    )
    # An evaluation set that shares one training question.
    (tmp_path / "bench.jsonl").write_text(
        json.dumps({"id": "b", "prompt": rows[0]["question"], "ability": "chart_ocr", "extra_info": {}})
        + "\n"
    )
    cfg = load_config(REPO_ROOT / "config" / "demo.yaml")
    cfg["data"]["source"] = {**cfg["data"]["source"], "kind": "files", "paths": [str(tmp_path / "src.jsonl")]}
    cfg["data"]["filter"]["eval_sets"] = [str(tmp_path / "bench.jsonl")]
    cfg["data"]["synthetic"]["heldout_per_category"] = 2
    cfg["mix"].update(samples_per_category=3, batch_size=6)
    return cfg


def test_steps_from_a_files_source_to_a_balanced_mix(files_config, tmp_path):
    d = tmp_path / "data"
    ingest = raw_stage(files_config, d / "raw", d / "raw/ingest_report.json")
    assert ingest["rows_read"] == 25 and ingest["dropped"] == {}
    assert ingest["written"]["stem"] == 5  # the broken line says ability "stem"; the filter drops it
    heldout_stage(files_config, d / "heldout")
    refs = [d / f"heldout/{c}.parquet" for c in CATEGORIES]
    reports = []
    for cat in CATEGORIES:
        filter_stage(
            files_config,
            cat,
            d / f"raw/{cat}.parquet",
            d / f"filtered/{cat}.parquet",
            d / f"filtered/{cat}.r.json",
            refs,
        )
        reports.append(d / f"filtered/{cat}.r.json")
    assert json.loads((d / "filtered/stem.r.json").read_text())["dropped"] == {"schema_invalid": 1}
    chart = json.loads((d / "filtered/chart_ocr.r.json").read_text())
    assert (
        chart["dropped"] == {"contaminated": 1}
        and str(tmp_path / "bench.jsonl") in chart["contamination_references"]
    )
    with pytest.raises(FilterDropError, match="chart_ocr"):
        filter_report_stage(files_config, reports, d / "raw/ingest_report.json", d / "fr.json", d / "fr.md")
    files_config["data"]["filter"]["max_drop_fraction"] = 0.5
    agg = filter_report_stage(files_config, reports, d / "raw/ingest_report.json", d / "fr.json", d / "fr.md")
    assert agg["passed"] and (d / "fr.md").read_text().startswith("# Data filter report")
    summary = mix_stage(files_config, "mixed", d / "filtered", d / "mix/mixed.parquet")
    assert summary["rows"] == 18
    cats = [r["category"] for r in read_parquet_records(d / "mix/mixed.parquet", columns=["category"])]
    assert check_batch_balance(cats, 6) == []
