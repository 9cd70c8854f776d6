"""The VeroEval registry and the sample loader, on local files in published row formats."""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from vero.categories import CATEGORIES
from vero.config import load_config
from vero.eval.registry import (
    RegistryError,
    get_benchmark,
    load_registry,
    mini_suite,
    paper_reference,
    suite_benchmarks,
)
from vero.eval.samples import SampleLoadError, load_samples

REPO = Path(__file__).resolve().parent.parent


def png(w=40, h=30, color=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def hf_image(data: bytes) -> dict:
    """The datasets Image feature as stored in Parquet: a struct of bytes and path."""
    return {"bytes": data, "path": None}


def write_parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def spec_from(name: str, path: Path):
    return load_registry()[name].with_local_path(path)


# ---- the registry file -----------------------------------------------------------------------


def test_registry_has_the_30_benchmarks_of_the_paper():
    reg = load_registry()
    assert len(reg) == 30
    per_cat = Counter(s.category for s in reg.values())
    assert per_cat == {
        "chart_ocr": 6,
        "stem": 4,
        "spatial_action": 5,
        "knowledge_recognition": 4,
        "grounding_counting_search": 8,
        "captioning_if": 3,
    }
    assert reg["chartqa"].scorer == "relaxed_accuracy"
    assert reg["infovqa"].scorer == "anls"
    assert reg["aerialvg"].scorer == "iou_accuracy"
    assert reg["screenspot"].scorer == reg["screenspot_pro"].scorer == "point_in_box"
    assert (reg["mmifeval"].scorer, reg["mmifeval"].reward_type) == ("reward", "instruction_following")
    judged = {k for k, s in reg.items() if s.reward_type == "llm_judge"}
    assert {
        "chartmuseum",
        "simplevqa",
        "fvqa",
        "mmvet_v2",
        "visualprobe",
        "mm_mt_bench",
        "mia_bench",
    } <= judged
    assert all(s.hub_id and s.split for s in reg.values())
    assert [h for h, _ in reg["visualprobe"].hub_parts] == [
        "Mini-o3/VisualProbe_Easy",
        "Mini-o3/VisualProbe_Medium",
        "Mini-o3/VisualProbe_Hard",
    ]


def test_paper_reference_numbers_are_recorded_with_source():
    ref = paper_reference()
    assert "2604.04917v2" in ref["source"]
    q3 = ref["models"]["qwen3_vl_8b_instruct"]
    assert (q3["base_overall"], q3["vero_overall"]) == (60.7, 66.0)
    assert set(q3["vero_category_delta"]) == set(CATEGORIES)
    assert q3["vero_category_delta"]["chart_ocr"] == 8.5
    assert ref["models"]["qwen2_5_vl_7b_instruct"]["vero_overall"] == 57.9
    reg = load_registry()
    for key, model in ref["models"].items():
        cells = model["benchmarks"]
        assert set(cells) == set(reg), key  # every benchmark of the registry, nothing else
        assert all(c["base_source"] in ("authors", "official_report", "derived") for c in cells.values())
        # the table's overall is the mean over the 30 benchmarks (to the table's rounding)
        if model.get("base_overall") is not None:
            assert sum(c["base"] for c in cells.values()) / 30 == pytest.approx(
                model["base_overall"], abs=0.06
            )
        assert sum(c["vero"] for c in cells.values()) / 30 == pytest.approx(model["vero_overall"], abs=0.06)
        for cat, pair in model["categories"].items():  # category means agree with the cells
            members = [c["vero"] for k, c in cells.items() if reg[k].category == cat]
            assert sum(members) / len(members) == pytest.approx(pair["vero"], abs=0.06), (key, cat)


def test_release_splits_and_layouts():
    reg = load_registry()
    splits = {k: s.split for k, s in reg.items()}
    assert (splits["evochart"], splits["gameqa_lite"], splits["screenspot_pro"]) == (
        "train",
        "train",
        "train",
    )
    assert splits["visualprobe"] == "validation" and splits["mme_realworld"] == "train"
    assert reg["screenspot_pro"].layout == "annotations"
    assert (
        reg["countqa"].expand["kind"] == "qa_pairs"
        and reg["mm_mt_bench"].expand["kind"] == "conversation_turns"
    )
    assert reg["aerialvg"].expand["kind"] == "first_region"
    assert all(s.version >= 1 and s.release_task for s in reg.values())
    unverified = [k for k, s in reg.items() if not s.layout_verified]
    assert "mm_mt_bench" not in unverified and "chartqa" in unverified


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"category": "charts"}, "benchmarks.chartqa.category"),
        ({"scorer": "bleu"}, "benchmarks.chartqa.scorer"),
        ({"scorer": "reward"}, "benchmarks.chartqa.reward_type"),
        ({"scorer": "reward", "reward_type": "fuzzy"}, "unknown reward_type 'fuzzy'"),
        ({"fields": {"images": [], "answer": "a"}}, "benchmarks.chartqa.fields.images"),
        ({"source": {"hub_id": "x/y"}}, "benchmarks.chartqa.source.split"),
        ({"scorrer": "anls"}, "benchmarks.chartqa.scorrer: unknown key"),
        ({"source": {"hub_id": "x/y", "split": "test", "revision": "main"}}, "source.revision: unknown key"),
        ({"source": {"hub_id": "x/y", "split": "test", "layout": "zip"}}, "source.layout: unknown layout"),
        ({"prompt": {"builder": "nope"}}, "benchmarks.chartqa.prompt.builder: unknown builder"),
        ({"prompt": {"builder": "options"}}, "benchmarks.chartqa.prompt.template: required"),
        (
            {"prompt": {"builder": "plain", "templat": "{question}"}},
            "benchmarks.chartqa.prompt.templat: unknown",
        ),
        ({"expand": {"kind": "explode"}}, "benchmarks.chartqa.expand"),
        ({"version": 0}, "benchmarks.chartqa.version"),
        ({"evidence": ["rumour"]}, "benchmarks.chartqa.evidence"),
        (
            {
                "fields": {
                    "images": ["image"],
                    "images_by_reference": {"pattern": "x", "field": "image_{}"},
                    "answer": "a",
                }
            },
            "exactly one",
        ),
    ],
)
def test_bad_registry_entry_names_file_and_key(tmp_path, patch, message):
    doc = yaml.safe_load((REPO / "config" / "veroeval.yaml").read_text())
    doc["benchmarks"]["chartqa"].update(patch)
    f = tmp_path / "reg.yaml"
    f.write_text(yaml.safe_dump(doc))
    with pytest.raises(RegistryError) as e:
        load_registry(f)
    assert str(f) in str(e.value) and message in str(e.value)


def test_suite_selection_and_local_overrides(tmp_path):
    cfg = load_config(REPO / "config" / "demo.yaml")
    assert suite_benchmarks(cfg) == [f"mini_{c}" for c in CATEGORIES]
    assert get_benchmark(cfg, "mini_stem").local_path.endswith("data/heldout/stem.parquet")
    paper = load_config(
        REPO / "config" / "config.yaml", overrides={"eval": {"benchmarks": ["chartqa", "blink"]}}
    )
    assert suite_benchmarks(paper) == ["chartqa", "blink"]
    local = load_config(
        REPO / "config" / "config.yaml", overrides={"eval": {"local_data": {"chartqa": "/d/c.jsonl"}}}
    )
    spec = get_benchmark(local, "chartqa")
    assert (spec.source_kind, spec.local_path) == ("local", "/d/c.jsonl")
    bad = load_config(
        REPO / "config" / "config.yaml", overrides={"eval": {"benchmarks": ["chartqa", "nope"]}}
    )
    with pytest.raises(RegistryError, match=r"eval\.benchmarks"):
        suite_benchmarks(bad)


# ---- local files in the published formats ---------------------------------------------------------


def test_chartqa_parquet_relaxed_accuracy_rows(tmp_path):
    rows = [
        {
            "image": hf_image(png()),
            "question": "What is the peak value?",
            "answer": "42",
            "type": "human_test",
        },
        {
            "image": hf_image(png()),
            "question": "Which year is highest?",
            "answer": "2019",
            "type": "augmented",
        },
        {"image": None, "question": "No picture?", "answer": "1", "type": "human_test"},  # dropped: no_image
        {"image": hf_image(png()), "question": "  ", "answer": "3", "type": "human_test"},  # missing_question
    ]
    res = load_samples(spec_from("chartqa", write_parquet(tmp_path / "chartqa.parquet", rows)))
    assert res.n_rows == 4
    assert [s.answer for s in res.samples] == ["42", "2019"]
    assert res.dropped == {"no_image": 1, "missing_question": 1}
    s = res.samples[0]
    assert (s.scorer, s.category, s.image_size, s.reference) == (
        "relaxed_accuracy",
        "chart_ocr",
        (40, 30),
        ["42"],
    )
    assert s.question == "What is the peak value?"


def test_infovqa_parquet_anls_with_answer_list(tmp_path):
    rows = [
        {
            "questionId": 7,
            "image": hf_image(png()),
            "question": "Which country?",
            "answers": ["USA", "united states"],
        },
        {"questionId": 8, "image": hf_image(png()), "question": "Title?", "answers": []},  # missing_answer
    ]
    res = load_samples(spec_from("infovqa", write_parquet(tmp_path / "info.parquet", rows)))
    assert [s.id for s in res.samples] == ["7"]
    assert res.samples[0].reference == ["USA", "united states"]
    assert json.loads(res.samples[0].answer) == ["USA", "united states"]
    assert res.dropped == {"missing_answer": 1}


def test_mmmu_pro_parquet_multiple_choice_with_interleaved_images(tmp_path):
    opts = ["cat", "dog", "bird"]
    rows = [
        {
            "id": "validation_Art_1",
            "question": "<image 1> Which animal? <image 2>",
            "options": str(opts),  # MMMU publishes options as a Python list literal
            "answer": "B",
            "subject": "Art",
            **{f"image_{i}": (hf_image(png()) if i <= 2 else None) for i in range(1, 8)},
        },
        {
            "id": "validation_Art_2",
            "question": "Which? <image 1>",
            "options": str(opts),
            "answer": "F",  # not one of three options
            "subject": "Art",
            **{f"image_{i}": (hf_image(png()) if i == 1 else None) for i in range(1, 8)},
        },
        {  # no <image N> token: the release would show no image; no sample without one here
            "id": "validation_Art_3",
            "question": "Which, without a picture?",
            "options": str(opts),
            "answer": "A",
            "subject": "Art",
            **{f"image_{i}": (hf_image(png()) if i == 1 else None) for i in range(1, 8)},
        },
    ]
    res = load_samples(spec_from("mmmu_pro_standard", write_parquet(tmp_path / "mmmu.parquet", rows)))
    assert res.dropped == {"answer_not_in_options": 1, "no_image": 1}
    s = res.samples[0]
    assert (s.reward_type, s.answer, len(s.images)) == ("multiple_choice", "B", 2)
    assert s.question.endswith("A. cat\nB. dog\nC. bird\n\n")  # the release's construct_prompt


def test_mathvista_json_option_text_becomes_letter_and_free_form_stays_numeric(tmp_path):
    img_dir = tmp_path / "images"
    img_dir.mkdir()
    (img_dir / "1.png").write_bytes(png())
    rows = [
        {
            "pid": "1",
            "decoded_image": "images/1.png",
            "question": "Which is larger?",
            "choices": ["3", "5"],
            "answer": "5",
            "question_type": "multi_choice",
        },
        {
            "pid": "2",
            "decoded_image": base64.b64encode(png()).decode(),
            "question": "What is x?",
            "choices": None,
            "answer": "1.5",
            "question_type": "free_form",
        },
        {"pid": "3", "decoded_image": "images/missing.png", "question": "?", "choices": None, "answer": "2"},
    ]
    path = tmp_path / "mathvista.json"
    path.write_text(json.dumps(rows))
    res = load_samples(spec_from("mathvista_testmini", path))
    by_id = {s.id: s for s in res.samples}
    assert (by_id["1"].reward_type, by_id["1"].answer) == ("multiple_choice", "B")
    assert (by_id["2"].reward_type, by_id["2"].answer) == ("numeric", "1.5")
    assert res.dropped == {"bad_image": 1}


def test_screenspot_relative_boxes_become_pixels(tmp_path):
    rows = [
        {
            "file_name": "a.png",
            "image": hf_image(png(200, 100)),
            "instruction": "open settings",
            "bbox": [0.1, 0.2, 0.3, 0.6],
            "data_type": "icon",
            "data_source": "ios",
        },
        {
            "file_name": "b.png",
            "image": hf_image(png(200, 100)),
            "instruction": "close",
            "bbox": [0.5, 0.5, 0.4, 0.9],
            "data_type": "text",
            "data_source": "web",
        },  # x2 < x1
    ]
    res = load_samples(spec_from("screenspot", write_parquet(tmp_path / "ss.parquet", rows)))
    assert res.dropped == {"bad_bbox": 1}
    s = res.samples[0]
    assert s.reference == pytest.approx([20.0, 20.0, 60.0, 60.0])
    assert s.scorer == "point_in_box" and "open settings" in s.question


def test_mmifeval_jsonl_constraints_and_unreadable_line(tmp_path):
    img = base64.b64encode(png()).decode()
    cons = [{"key": "lowercase", "value": "all", "judge": "rule_based"}]
    path = write_jsonl(
        tmp_path / "mmif.jsonl",
        [
            {"id": "a", "image": img, "question": "Describe it in lowercase.", "constraints": cons},
            {"id": "b", "image": img, "question": "", "instruction": "Title it.", "constraints": cons},
            {"id": "c", "image": img, "question": "No constraints", "constraints": None},  # missing_answer
        ],
    )
    with path.open("a") as f:
        f.write("{not json\n")
    res = load_samples(spec_from("mmifeval", path))
    assert res.dropped == {"missing_answer": 1, "unreadable_row": 1}
    assert [s.question for s in res.samples] == ["Describe it in lowercase.", "Title it."]
    assert res.samples[0].reference == cons and json.loads(res.samples[0].answer) == cons


def test_countbench_counting_and_seeded_subset(tmp_path):
    rows = [{"image": hf_image(png()), "question": f"How many dots ({i})?", "number": i} for i in range(20)]
    spec = spec_from("countbenchqa", write_parquet(tmp_path / "cb.parquet", rows))
    a = load_samples(spec, max_samples=5, seed=3)
    b = load_samples(spec, max_samples=5, seed=3)
    assert [s.id for s in a.samples] == [s.id for s in b.samples] and len(a.samples) == 5
    assert {s.reward_type for s in a.samples} == {"counting"}
    assert all(s.answer == str(int(s.id)) for s in a.samples)


def test_mapping_errors_name_benchmark_and_file(tmp_path):
    path = write_parquet(tmp_path / "x.parquet", [{"img": hf_image(png()), "q": "?", "a": "1"}])
    with pytest.raises(SampleLoadError, match=r"benchmark chartqa .*x\.parquet.*fields\.question"):
        load_samples(spec_from("chartqa", path))
    with pytest.raises(SampleLoadError, match="not found"):
        load_samples(spec_from("chartqa", tmp_path / "absent.parquet"))


# ---- the mini suite (canonical VeroMini rows) -------------------------------------------------------


def test_mini_suite_reads_heldout_records(tmp_path):
    from vero.data.io import write_records
    from vero.data.veromini.generator import generate_category

    specs = mini_suite(tmp_path)
    assert list(specs) == [f"mini_{c}" for c in CATEGORIES]
    for cat in ("chart_ocr", "grounding_counting_search"):
        path = tmp_path / "data" / "heldout" / f"{cat}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_records(path, generate_category(cat, 4, seed=7, split="heldout"))
        res = load_samples(specs[f"mini_{cat}"])
        assert len(res.samples) == 4 and not res.dropped
        assert all(s.category == cat and s.scorer == "reward" and s.reward_type for s in res.samples)
        assert all(s.image_size and s.images for s in res.samples)


def test_hub_code_path_with_a_local_dataset_repo(tmp_path):
    """The hub branch (datasets.load_dataset, decoded PIL images, several configs) on a local
    dataset directory laid out like a hub repo (one folder per config, split-named Parquet)."""
    import dataclasses

    import datasets

    for config, n in (("Counting", 2), ("Jigsaw", 1)):
        ds = datasets.Dataset.from_dict(
            {
                "idx": [f"{config}_{i}" for i in range(n)],
                "question": ["Which one?"] * n,
                "prompt": ["Which one?\n(A) left\n(B) right"] * n,
                "choices": [["left", "right"]] * n,
                "answer": ["(B)"] * n,
                "image_1": [png()] * n,
                "image_2": [None] * n,
            },
            features=datasets.Features(
                {
                    "idx": datasets.Value("string"),
                    "question": datasets.Value("string"),
                    "prompt": datasets.Value("string"),
                    "choices": datasets.Sequence(datasets.Value("string")),
                    "answer": datasets.Value("string"),
                    "image_1": datasets.Image(),
                    "image_2": datasets.Image(),
                }
            ),
        )
        (tmp_path / "repo" / config).mkdir(parents=True)
        ds.to_parquet(str(tmp_path / "repo" / config / "val-00000-of-00001.parquet"))
    # hub repos declare their configs in the README's YAML header
    header = {
        "configs": [
            {"config_name": c, "data_files": [{"split": "val", "path": f"{c}/val-*"}]}
            for c in ("Counting", "Jigsaw")
        ]
    }
    (tmp_path / "repo" / "README.md").write_text(f"---\n{yaml.safe_dump(header)}---\n")
    spec = dataclasses.replace(
        load_registry()["blink"], hub_id=str(tmp_path / "repo"), hub_configs=("Counting", "Jigsaw")
    )
    res = load_samples(spec)
    assert [s.id for s in res.samples] == ["Counting_0", "Counting_1", "Jigsaw_0"]
    assert all(s.answer == "B" and len(s.images) == 1 and s.image_size == (40, 30) for s in res.samples)
    assert res.samples[2].meta["config"] == "Jigsaw"


def test_benchmark_made_of_several_hub_datasets(tmp_path):
    """VisualProbe as published: three dataset repos (val.json + data/), image paths that carry the
    repo's name, fetched from the row's own repo."""
    import dataclasses

    ids = []
    for level in ("Easy", "Hard"):
        repo = tmp_path / f"VisualProbe_{level}"
        (repo / "data").mkdir(parents=True)
        (repo / "data" / "0.png").write_bytes(png(20 if level == "Easy" else 30, 10))
        row = {
            "images": [f"VisualProbe_{level}/data/0.png"],
            "problem": f"<image>{level}: where?",
            "solution": "here",
        }
        (repo / "val.json").write_text(json.dumps([row]))
        ids.append(str(repo))
    spec = dataclasses.replace(load_registry()["visualprobe"], hub_id=ids[0], hub_ids=tuple(ids))
    res = load_samples(spec)
    assert [s.id for s in res.samples] == ["VisualProbe_Easy-0", "VisualProbe_Hard-1"]
    assert [s.meta["config"] for s in res.samples] == ["VisualProbe_Easy", "VisualProbe_Hard"]
    assert [s.image_size for s in res.samples] == [(20, 10), (30, 10)]  # each from its own repo
    assert [s.question for s in res.samples] == ["Easy: where?", "Hard: where?"]
    assert {s.reward_type for s in res.samples} == {"llm_judge"}


def test_hub_rows_expand_without_decoding_every_image(tmp_path):
    """CountQA from a hub-style dataset directory: the QA pairs are planned from the question and
    answer columns alone, one sample per pair, ids '<row>_<pair>'."""
    import dataclasses

    import datasets

    repo = tmp_path / "CountQA"
    repo.mkdir()
    datasets.Dataset.from_dict(
        {
            "image": [png(), png(20, 10)],
            "questions": [["How many cats?", "How many dogs?"], ["How many cups?"]],
            "answers": [["2", "3"], ["5"]],
        },
        features=datasets.Features(
            {
                "image": datasets.Image(),
                "questions": datasets.Sequence(datasets.Value("string")),
                "answers": datasets.Sequence(datasets.Value("string")),
            }
        ),
    ).to_parquet(str(repo / "test-00000-of-00001.parquet"))
    spec = dataclasses.replace(load_registry()["countqa"], hub_id=str(repo))
    res = load_samples(spec, max_samples=2, seed=0)
    assert res.n_rows == 3 and len(res.samples) == 2
    assert {s.id for s in res.samples} <= {"0_0", "0_1", "1_0"}
    full = load_samples(spec)
    assert [(s.id, s.question, s.answer) for s in full.samples] == [
        ("0_0", "How many cats?", "2"),
        ("0_1", "How many dogs?", "3"),
        ("1_0", "How many cups?", "5"),
    ]
    assert full.samples[2].image_size == (20, 10) and full.samples[2].meta["source_row"] == 1
