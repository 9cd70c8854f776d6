"""Score every output of a benchmark job: `score_all` calls `vero.eval.scoring.score_output` once
per sample. Judge-scored samples wait on an HTTP endpoint, so they run in a thread pool (the judge
client bounds its own concurrency); the rest run in this thread, where math-verify's signal-based
timeout works. Progress goes to stderr."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from vero.eval.scoring import JUDGE_TYPES, score_output


def score_all(
    samples: Sequence,
    texts: Sequence[str],
    counts: Sequence[int | None],
    *,
    judge: Any,
    judge_concurrency: int = 64,
    desc: str = "score",
    **score_kwargs: Any,
) -> list[dict]:
    """One score record per sample, in order (see `score_output` for the fields)."""
    from tqdm.auto import tqdm

    results: list[dict | None] = [None] * len(samples)
    remote = [i for i, s in enumerate(samples) if judge is not None and s.reward_type in JUDGE_TYPES]
    remote_set = set(remote)

    def one(i: int) -> dict:
        return score_output(samples[i], texts[i], judge=judge, completion_tokens=counts[i], **score_kwargs)

    with tqdm(total=len(samples), desc=desc, unit="sample", mininterval=5, file=sys.stderr) as bar:
        for i in range(len(samples)):
            if i not in remote_set:
                results[i] = one(i)
                bar.update(1)
        if remote:
            with ThreadPoolExecutor(max(1, judge_concurrency)) as pool:
                futures = {pool.submit(one, i): i for i in remote}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update(1)
    return results  # type: ignore[return-value]
