"""Over-long prompts are dropped when the mix is read (train.max_prompt_length), counted with the
model's own processor."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.test_train_data import write_balanced_mix
from vero.models import load_processor
from vero.train import data as train_data


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    return write_balanced_mix(tmp_path_factory.mktemp("mix") / "mixed.parquet", n_blocks=3)


@pytest.fixture(scope="module")
def processor(tiny_vlm_dir):
    return load_processor(str(tiny_vlm_dir))


def _images(row):
    return [Image.open(io.BytesIO(img["bytes"])) if isinstance(img, dict) else img for img in row["images"]]


def test_prompt_token_count_equals_the_processor(mix, processor):
    ds, _ = train_data.load_mix(mix, mix_batch_size=6, single_category=False)
    for row in ds.with_format(None).select(range(6)):
        images = _images(row)
        text = processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        expected = len(processor(text=[text], images=images, return_tensors="pt")["input_ids"][0])
        counted = train_data.prompt_token_count(row["prompt"], [im.size for im in images], processor)
        assert counted == expected, row["id"]


def test_overlong_prompts_drop_their_block(mix, processor):
    ds, report = train_data.load_mix(mix, mix_batch_size=6, single_category=False)
    lengths = [
        train_data.prompt_token_count(r["prompt"], [im.size for im in _images(r)], processor)
        for r in ds.with_format(None)
    ]
    limit = sorted(lengths)[-2]  # exactly one row (the longest) is over the limit
    assert sum(n > limit for n in lengths) == 1
    longest = lengths.index(max(lengths))
    kept = train_data.filter_overlong_prompts(
        ds, report, processor=processor, max_prompt_length=limit, mix_batch_size=6, single_category=False
    )
    assert len(kept) == len(ds) - 6  # its block of six goes with it: the other blocks stay balanced
    assert report.dropped[train_data.PROMPT_TOO_LONG] == 1
    assert report.dropped[train_data.BLOCK_OF_DROPPED_ROW] == 5
    assert f"row {longest}" in report.examples[train_data.PROMPT_TOO_LONG]
    assert report.kept == len(kept)
    # nothing over the limit: the dataset is returned as it is
    assert (
        train_data.filter_overlong_prompts(
            ds,
            report,
            processor=processor,
            max_prompt_length=max(lengths),
            mix_batch_size=6,
            single_category=False,
        )
        is ds
    )


def test_single_category_drops_only_the_row_and_all_too_long_is_an_error(mix, processor):
    ds, report = train_data.load_mix(mix, mix_batch_size=6, single_category=True)
    lengths = [
        train_data.prompt_token_count(r["prompt"], [im.size for im in _images(r)], processor)
        for r in ds.with_format(None)
    ]
    kept = train_data.filter_overlong_prompts(
        ds,
        report,
        processor=processor,
        max_prompt_length=sorted(lengths)[-2],
        mix_batch_size=6,
        single_category=True,
    )
    assert len(kept) == len(ds) - 1
    with pytest.raises(ValueError, match="max_prompt_length"):
        train_data.filter_overlong_prompts(
            ds, report, processor=processor, max_prompt_length=1, mix_batch_size=6, single_category=True
        )
