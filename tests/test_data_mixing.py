"""Mixtures: category balance in every batch, single-category subsets, weights, repeats, order."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from PIL import Image

from vero.categories import CATEGORIES
from vero.data.io import read_parquet_records, write_records
from vero.data.mixing import MixError, batch_quotas, build_mix, check_batch_balance, normalize_weights
from vero.data.schema import make_record

_PNG = io.BytesIO()
Image.new("RGB", (32, 32)).save(_PNG, format="PNG")


def filtered_dir(tmp_path, n_per_category=30, sizes=None):
    paths = {}
    for cat in CATEGORIES:
        n = (sizes or {}).get(cat, n_per_category)
        rows = [
            make_record(
                id=f"{cat}-{i}",
                data_source="s",
                category=cat,
                question=f"q{i}",
                images=[_PNG.getvalue()],
                reward_type="counting",
                answer=str(i),
            )
            for i in range(n)
        ]
        paths[cat] = tmp_path / f"{cat}.parquet"
        write_records(paths[cat], rows, row_group_size=7)
    return paths


def categories_of(path):
    return [r["category"] for r in read_parquet_records(path, columns=["category"])]


@pytest.mark.parametrize(("batch", "n"), [(6, 24), (12, 20), (256, 100), (7, 10)])
def test_quotas_keep_each_block_within_one_row_of_its_share(batch, n):
    shares = normalize_weights(list(CATEGORIES), None)
    blocks = batch_quotas(shares, batch, n * len(CATEGORIES))
    assert sum(sum(b.values()) for b in blocks) == n * len(CATEGORIES)
    totals = Counter()
    for b in blocks:
        totals.update(b)
    assert max(totals.values()) - min(totals.values()) <= 1
    order = [c for b in blocks for c, k in b.items() for _ in range(k)]
    assert check_batch_balance(order, batch) == []


def test_mixed_experiment_is_balanced_per_batch(tmp_path):
    paths = filtered_dir(tmp_path)
    out = tmp_path / "mix" / "mixed.parquet"
    summary = build_mix(paths, CATEGORIES, 24, 6, None, seed=3, out_path=out)
    cats = categories_of(out)
    assert len(cats) == 144 and summary["rows_per_category"] == dict.fromkeys(CATEGORIES, 24)
    assert check_batch_balance(cats, 6) == []
    assert all(len(set(cats[i : i + 6])) == 6 for i in range(0, 144, 6))  # 1/6 each
    ids = [r["id"] for r in read_parquet_records(out, columns=["id"])]
    assert len(set(ids)) == 144  # no row twice
    again = tmp_path / "again.parquet"
    build_mix(paths, CATEGORIES, 24, 6, None, seed=3, out_path=again)
    assert [r["id"] for r in read_parquet_records(again, columns=["id"])] == ids
    build_mix(paths, CATEGORIES, 24, 6, None, seed=4, out_path=again)
    assert [r["id"] for r in read_parquet_records(again, columns=["id"])] != ids


def test_single_category_takes_n_of_its_category(tmp_path):
    paths = filtered_dir(tmp_path)
    out = tmp_path / "single.parquet"
    build_mix(paths, ["stem"], 20, 6, None, seed=0, out_path=out)
    assert categories_of(out) == ["stem"] * 20


def test_weights_set_the_share_of_each_batch(tmp_path):
    paths = filtered_dir(tmp_path, 60)
    out = tmp_path / "w.parquet"
    weights = {"chart_ocr": 2, "stem": 1, "captioning_if": 1}
    build_mix(paths, ["chart_ocr", "stem", "captioning_if"], 20, 8, weights, seed=0, out_path=out)
    cats = categories_of(out)
    assert check_batch_balance(cats, 8, weights) == []
    assert Counter(cats[:8]) == {"chart_ocr": 4, "stem": 2, "captioning_if": 2}
    assert check_batch_balance(cats, 8, {"chart_ocr": 1, "stem": 1, "captioning_if": 1}) != []


def test_check_batch_balance_reports_unbalanced_blocks():
    order = ["stem"] * 6 + ["chart_ocr"] * 6
    problems = check_batch_balance(order, 6, {"stem": 1, "chart_ocr": 1})
    assert problems and "block at row 0" in problems[0]
    assert check_batch_balance(["stem", "chart_ocr"] * 6, 6, {"stem": 1}) == [
        "categories ['chart_ocr'] have no weight"
    ] + [f"block at row {i}: stem has 3 rows, expected 6..6" for i in (0, 6)]


def test_too_few_rows_fail_with_the_config_key_or_repeat(tmp_path):
    paths = filtered_dir(tmp_path, 30, sizes={"stem": 5})
    with pytest.raises(MixError, match="allow_repeat"):
        build_mix(paths, CATEGORIES, 12, 6, None, seed=0, out_path=tmp_path / "x.parquet")
    out = tmp_path / "rep.parquet"
    summary = build_mix(paths, CATEGORIES, 12, 6, None, seed=0, out_path=out, allow_repeat=True)
    assert summary["repeated_epochs"] == {"stem": 2}
    stem_ids = [r["id"] for r in read_parquet_records(out) if r["category"] == "stem"]
    assert len(stem_ids) == 12 and len(set(stem_ids)) == 12
    assert sorted(i.split("#")[0] for i in stem_ids[:5]) == sorted(f"stem-{i}" for i in range(5))
    (tmp_path / "e").mkdir()
    empty = filtered_dir(tmp_path / "e", 3, sizes={"stem": 0})
    with pytest.raises(MixError, match="no rows left"):
        build_mix(empty, CATEGORIES, 2, 6, None, seed=0, out_path=tmp_path / "y.parquet", allow_repeat=True)


def test_small_shuffle_buffer_still_yields_each_row_once(tmp_path):
    paths = filtered_dir(tmp_path, 50)
    out = tmp_path / "b.parquet"
    build_mix(paths, ["stem"], 50, 5, None, seed=1, out_path=out, shuffle_buffer=4)
    ids = [r["id"] for r in read_parquet_records(out)]
    assert sorted(ids) == sorted(f"stem-{i}" for i in range(50)) and ids != [f"stem-{i}" for i in range(50)]


def test_weights_must_cover_the_categories():
    with pytest.raises(MixError, match=r"mix\.weights"):
        normalize_weights(["stem", "chart_ocr"], {"stem": 1})
    with pytest.raises(MixError, match=r"mix\.weights"):
        normalize_weights(["stem"], {"stem": 0})
