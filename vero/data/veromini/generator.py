"""VeroMini: a procedurally drawn dataset over the six categories, deterministic by seed.

Split separation is by construction: a sample may go to the held-out split only if both its
normalized question and its image hash fall in bucket 0 of a keyed hash, and to the train split
only if neither does. So the two splits can never share a question or an image, whatever the seeds
and sizes, and the train split can be generated without the held-out one at hand.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence

from tqdm import tqdm

from vero.categories import CATEGORIES, check_category
from vero.data.schema import SPLITS, SampleRecord, image_hash, make_record, normalize_question
from vero.data.veromini import captioning, charts, grounding, knowledge, spatial, stem
from vero.data.veromini.base import Task
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
_BUCKETS = 3
_MAX_ATTEMPTS = 2000


def split_bucket(key: str) -> int:
    digest = hashlib.blake2b(f"veromini-split:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % _BUCKETS


def belongs_to_split(norm_question: str, img_hash: str, split: str) -> bool:
    q_held, i_held = split_bucket("q:" + norm_question) == 0, split_bucket("i:" + img_hash) == 0
    return (q_held and i_held) if split == "heldout" else (not q_held and not i_held)


def generate_category(
    category: str, n: int, seed: int, split: str, *, progress: bool = False
) -> Iterator[SampleRecord]:
    """`n` samples of one category, cycling through its tasks so each task gets its share."""
    check_category(category)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    tasks = TASKS[category]
    rng = random.Random(f"{seed}:{split}:{category}")
    seen: set[tuple[str, str]] = set()
    bar = tqdm(total=n, desc=f"veromini {split} {category}", disable=not progress, leave=False)
    for i in range(n):
        task = tasks[i % len(tasks)]
        for _attempt in range(_MAX_ATTEMPTS):
            try:
                draft = task.make(rng)
            except RuntimeError:  # place_boxes found no room for this draw's shapes: draw again
                continue
            images = [to_png(im) for im in draft.images]
            norm_q, ih = normalize_question(draft.question), image_hash(images)
            if (ih, norm_q) in seen or not belongs_to_split(norm_q, ih, split):
                continue
            seen.add((ih, norm_q))
            break
        else:
            raise RuntimeError(
                f"VeroMini task {task.name!r} found no new {split} sample in {_MAX_ATTEMPTS} draws "
                f"(sample {i}); its question or image space is too small for n={n}"
            )
        if draft.reward_type != task.reward_type:
            raise AssertionError(f"task {task.name} produced reward_type {draft.reward_type}")
        bar.update()
        yield make_record(
            id=f"{DATA_SOURCE_PREFIX}-{split}-{category}-{i:06d}",
            data_source=f"{DATA_SOURCE_PREFIX}/{task.name}",
            category=category,
            question=draft.question,
            images=images,
            reward_type=draft.reward_type,
            answer=draft.answer,
            tolerance=draft.tolerance,
            coords="absolute",
            split=split,
            image_size=list(draft.images[0].size),
        )
    bar.close()


def generate_veromini(
    n_per_category: int,
    seed: int = 0,
    split: str = "train",
    categories: Sequence[str] | None = None,
    *,
    progress: bool = False,
) -> Iterator[SampleRecord]:
    """Yield `n_per_category` VeroMini records for each category, category by category."""
    if n_per_category < 0:
        raise ValueError(f"n_per_category must be >= 0, got {n_per_category}")
    for category in categories or CATEGORIES:
        yield from generate_category(category, n_per_category, seed, split, progress=progress)


def reward_types_covered() -> set[str]:
    return {t.reward_type for tasks in TASKS.values() for t in tasks}
