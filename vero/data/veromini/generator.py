"""VeroMini: a procedurally drawn dataset over the six categories, deterministic by seed.

Three partitions: `heldout` (the mini eval suite), `pretrain` (the tiny model's warm start) and
`train` (RL and SFT). A keyed hash puts every normalized question and every image (its pixels)
into one of three buckets. `heldout` owns question bucket 0 and image bucket 0; `pretrain` and
`train` share question buckets 1 and 2 and own image bucket 1 and 2 respectively. A sample is
drawn into a partition only when both its question and its image fall in that partition's
buckets. So, whatever the seeds, sizes and difficulties:
- the held-out split shares no question and no image with either training partition (the
  contamination rule of the data stage: image hash or normalized question);
- `pretrain` and `train` never share an image, so never a sample (their templated questions may
  coincide: a question like "What color is the star?" is not a sample);
- each partition can be generated without the others at hand.
Identical pixels give identical PNG bytes, so image hashes never collide across partitions.

Records of the `pretrain` partition carry split "train" (they are training data, for the warm
start); their ids say `pretrain`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence

from tqdm import tqdm

from vero.categories import CATEGORIES, check_category
from vero.data.schema import SampleRecord, image_hash, make_record, normalize_question
from vero.data.veromini import captioning, charts, grounding, knowledge, spatial, stem
from vero.data.veromini.base import DEFAULT_DIFFICULTY, Task, check_difficulty
from vero.data.veromini.drawing import to_png

TASKS: dict[str, tuple[Task, ...]] = {
    "chart_ocr": charts.TASKS,
    "stem": stem.TASKS,
    "spatial_action": spatial.TASKS,
    "knowledge_recognition": knowledge.TASKS,
    "grounding_counting_search": grounding.TASKS,
    "captioning_if": captioning.TASKS,
}
assert tuple(TASKS) == CATEGORIES

DATA_SOURCE_PREFIX = "veromini"
# The generator's partitions: (question buckets, image buckets) each one may draw from.
PARTITIONS: dict[str, tuple[frozenset[int], frozenset[int]]] = {
    "heldout": (frozenset({0}), frozenset({0})),
    "pretrain": (frozenset({1, 2}), frozenset({1})),
    "train": (frozenset({1, 2}), frozenset({2})),
}
_BUCKETS = 3
_MAX_ATTEMPTS = 4000


def split_bucket(key: str) -> int:
    digest = hashlib.blake2b(f"veromini-split:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % _BUCKETS


def pixels_key(images) -> str:
    """A digest of the decoded pixels (mode, size, bytes) of a sample's PIL images."""
    h = hashlib.blake2b(digest_size=16)
    for im in images:
        h.update(f"{im.mode}:{im.size}".encode())
        h.update(im.tobytes())
    return h.hexdigest()


def question_in(norm_question: str, split: str) -> bool:
    return split_bucket("q:" + norm_question) in PARTITIONS[split][0]


def image_in(pixels: str, split: str) -> bool:
    return split_bucket("i:" + pixels) in PARTITIONS[split][1]


def partition_of(norm_question: str, pixels: str) -> str | None:
    """The one partition a (question, image) pair may belong to, or None (its buckets disagree)."""
    for split in PARTITIONS:
        if question_in(norm_question, split) and image_in(pixels, split):
            return split
    return None


def _check_split(split: str) -> None:
    if split not in PARTITIONS:
        raise ValueError(f"split must be one of {tuple(PARTITIONS)}, got {split!r}")


# Long: one loop over the rows with its redraw checks side by side (the split's question and image
# partitions, no repeated image+question pair), so the partition rules read in one place.
def generate_category(
    category: str,
    n: int,
    seed: int,
    split: str,
    *,
    difficulty: str = DEFAULT_DIFFICULTY,
    with_targets: bool = False,
    progress: bool = False,
) -> Iterator[SampleRecord]:
    """`n` samples of one category, cycling through its tasks so each task gets its share.

    `with_targets` adds the warm-start target fields to each record: `rationale` (a short
    worked reasoning from the drawn facts) and `response` (the answer block for instruction
    following; None where the answer field itself is the reference).
    """
    check_category(category)
    _check_split(split)
    check_difficulty(difficulty)
    tasks = TASKS[category]
    # The hard level keeps the stream of earlier versions; other levels get their own.
    stream = (
        f"{seed}:{split}:{category}" if difficulty == "hard" else f"{seed}:{split}:{category}:{difficulty}"
    )
    rng = random.Random(stream)
    seen: set[tuple[str, str]] = set()
    bar = tqdm(total=n, desc=f"veromini {split} {category}", disable=not progress, leave=False)
    for i in range(n):
        task = tasks[i % len(tasks)]
        for _attempt in range(_MAX_ATTEMPTS):
            try:
                draft = task.make(rng, difficulty)
            except RuntimeError:  # place_boxes found no room for this draw's shapes: draw again
                continue
            norm_q = normalize_question(draft.question)
            if not question_in(norm_q, split) or not image_in(pixels_key(draft.images), split):
                continue
            images = [to_png(im) for im in draft.images]
            ih = image_hash(images)
            if (ih, norm_q) in seen:
                continue
            seen.add((ih, norm_q))
            break
        else:
            raise RuntimeError(
                f"VeroMini task {task.name!r} ({difficulty}) found no new {split} sample in "
                f"{_MAX_ATTEMPTS} draws (sample {i}); its question or image space is too small for n={n}"
            )
        if draft.reward_type != task.reward_type:
            raise AssertionError(f"task {task.name} produced reward_type {draft.reward_type}")
        bar.update()
        record = make_record(
            id=f"{DATA_SOURCE_PREFIX}-{split}-{category}-{i:06d}",
            data_source=f"{DATA_SOURCE_PREFIX}/{task.name}",
            category=category,
            question=draft.question,
            images=images,
            reward_type=draft.reward_type,
            answer=draft.answer,
            tolerance=draft.tolerance,
            coords="absolute",
            split="heldout" if split == "heldout" else "train",
            image_size=list(draft.images[0].size),
        )
        if with_targets:
            record = {**record, "rationale": draft.rationale, "response": draft.response}
        yield record
    bar.close()


def generate_veromini(
    n_per_category: int,
    seed: int = 0,
    split: str = "train",
    categories: Sequence[str] | None = None,
    *,
    difficulty: str = DEFAULT_DIFFICULTY,
    with_targets: bool = False,
    progress: bool = False,
) -> Iterator[SampleRecord]:
    """Yield `n_per_category` VeroMini records for each category, category by category."""
    if n_per_category < 0:
        raise ValueError(f"n_per_category must be >= 0, got {n_per_category}")
    for category in categories or CATEGORIES:
        yield from generate_category(
            category,
            n_per_category,
            seed,
            split,
            difficulty=difficulty,
            with_targets=with_targets,
            progress=progress,
        )


def reward_types_covered() -> set[str]:
    return {t.reward_type for tasks in TASKS.values() for t in tasks}


def pretrain_schema():
    """The canonical record schema plus the warm-start target columns of the pretrain file."""
    import pyarrow as pa

    from vero.data.schema import ARROW_SCHEMA

    return ARROW_SCHEMA.append(pa.field("rationale", pa.string(), nullable=False)).append(
        pa.field("response", pa.string(), nullable=True)
    )


def write_pretrain(
    path, n_per_category: int, seed: int, *, difficulty: str = DEFAULT_DIFFICULTY, progress: bool = False
) -> dict[str, int]:
    """Write VeroMini's `pretrain` partition (records + targets, category by category) to Parquet."""
    from vero.data.io import RecordWriter

    counts: dict[str, int] = {}
    with RecordWriter(path, schema=pretrain_schema()) as writer:
        for category in CATEGORIES:
            counts[category] = 0
            for row in generate_category(
                category,
                n_per_category,
                seed,
                "pretrain",
                difficulty=difficulty,
                with_targets=True,
                progress=progress,
            ):
                writer.write(row)
                counts[category] += 1
    return counts
