"""Synthetic analysis inputs with known structure, for tests and benchmarks of the analysis.

`synthetic_traces(distinct=True)` gives each category its own reasoning style (cue sentences of
different operations of the lexicon taxonomy), so a probe must recover the category;
`distinct=False` draws every category's sentences from one pooled distribution, so it must not.
Think-block lengths scale with the paper's per-category lengths, so their order is known.
`write_synthetic_results` lays out eval traces, eval summaries and training logs at the paths
of docs/architecture.md, for running the analysis rules without the upstream stages.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path

from vero.categories import CATEGORIES, PAPER_REASONING_LENGTH

STYLE_SENTENCES: dict[str, list[str]] = {
    "chart_ocr": [
        "Reading the x-axis and the legend first.",
        "The y-axis ticks go from 0 to 50.",
        "Looking at each bar in turn and combining the values.",
        "The title is written above the plot.",
        "Putting these together across the panels.",
    ],
    "stem": [
        "Let me solve for x in the equation.",
        "Wait, that's wrong, let me reconsider the sign.",
        "Using the formula for the area of a circle.",
        "Let me double-check the derivative.",
        "Substitute the value back to verify.",
    ],
    "spatial_action": [
        "The cup is left of the plate and behind the bowl.",
        "If I rotate the cube, the red face moves.",
        "The next action is to click the search button.",
        "The chair is closer to the camera than the table.",
        "Navigate to the settings page and scroll down.",
    ],
    "knowledge_recognition": [
        "This is a famous landmark.",
        "I recall it is located in Paris.",
        "The logo looks like a known brand.",
        "This species is known for its stripes.",
    ],
    "grounding_counting_search": [
        "Let me count the apples: one, two, three.",
        "Scan the image and locate the dog.",
        "The bounding box coordinates are near the top-left.",
        "Looking for the small sign in the corner.",
    ],
    "captioning_if": [
        "The image shows a busy street in the evening.",
        "The instruction asks for at most three sentences.",
        "The caption must include the word sunset.",
        "In the background there are mountains.",
    ],
}
FILLER = ["the", "so", "and", "then", "of", "it", "this", "we", "a", "to", "here"]


def synthetic_traces(
    n_per_category: int = 30,
    *,
    distinct: bool = True,
    experiment: str = "mixed",
    seed: int = 0,
    length_scale: float = 0.05,
) -> list[dict]:
    """Eval-style records (id, benchmark, category, question, output, extracted, score)."""
    rng = random.Random(seed)
    pooled = [s for c in CATEGORIES for s in STYLE_SENTENCES[c]]
    out = []
    for cat in CATEGORIES:
        pool = STYLE_SENTENCES[cat] if distinct else pooled
        target = max(8, int(PAPER_REASONING_LENGTH[cat][0] * length_scale))
        for i in range(n_per_category):
            sentences = rng.sample(pool, k=min(3, len(pool)))
            words = " ".join(sentences).split()
            n = max(len(words), int(rng.gauss(target, target * 0.1)))
            words += [rng.choice(FILLER) for _ in range(n - len(words))]
            output = f"<think>{' '.join(words)}</think><answer>\\boxed{{{i % 4}}}</answer>"
            out.append(
                {
                    "id": f"{cat}-{i}",
                    "benchmark": f"mini_{cat}",
                    "category": cat,
                    "question": f"Question {i} about {cat}?",
                    "output": output,
                    "extracted": str(i % 4),
                    "score": float(rng.random() < 0.5),
                    "experiment": experiment,
                }
            )
    return out


def synthetic_train_log(n_steps: int, *, entropy: float, seed: int = 0, with_clip: bool = True) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for step in range(1, n_steps + 1):
        row = {
            "step": step,
            "reward": 0.2 + 0.5 * step / n_steps + rng.uniform(-0.02, 0.02),
            "reward_std": 0.1,
            "reward/accuracy": 0.1 + 0.5 * step / n_steps,
            "reward/format": 0.9,
            "reward/overlong": 0.0,
            "entropy": entropy + rng.uniform(-0.05, 0.05),
            "completions/mean_length": 40 + step,
            "loss": 0.01 * rng.uniform(-1, 1),
            "grad_norm": 1.0 + rng.uniform(0, 0.5),
        }
        for c in CATEGORIES[:2]:  # the breakdown vero's reward logs per category
            row[f"reward/category/{c}/total"] = row["reward"] + 0.05
            row[f"reward/category/{c}/accuracy"] = row["reward/accuracy"]
        if with_clip:
            row["clip_ratio/region_mean"] = 0.01
        rows.append(row)
    return rows


def write_synthetic_results(
    results_dir: str | Path,
    config: Mapping,
    *,
    benchmarks: list[str],
    n_per_category: int = 12,
    seed: int = 0,
) -> None:
    """Eval traces + summaries for `base` and every experiment, and a train log per experiment."""
    results_dir = Path(results_dir)
    ckpt = config.get("analysis", {}).get("checkpoint", "final")
    for k, exp in enumerate(["base", *config["experiments"]]):
        traces = synthetic_traces(n_per_category, experiment=exp, seed=seed + k)
        d = results_dir / "eval" / exp / ckpt
        d.mkdir(parents=True, exist_ok=True)
        for b in benchmarks:
            rows = [t for t in traces if t["benchmark"] == b] or [
                dict(t, benchmark=b) for t in traces[:n_per_category]
            ]
            with (d / f"{b}.jsonl").open("w") as f:
                for t in rows:
                    f.write(json.dumps({k2: v for k2, v in t.items() if k2 != "experiment"}) + "\n")
                f.write("{not json\n")  # one malformed line: it must be dropped and counted
        # the shape vero.eval.aggregate writes: percentages, {"score": ...} per category and overall
        cats = {c: 30.0 + 5 * j + (0.0 if exp == "base" else 2.0 * k) for j, c in enumerate(CATEGORIES)}
        summary = {
            "benchmarks": {},
            "categories": {c: {"score": v, "n_benchmarks": 1} for c, v in cats.items()},
            "overall": {"score": sum(cats.values()) / len(cats)},
        }
        (d / "summary.json").write_text(json.dumps(summary))
        if exp != "base":
            run = results_dir / "runs" / exp
            run.mkdir(parents=True, exist_ok=True)
            algo = config["experiments"][exp].get("train", {}).get("algorithm", "gspo")
            ent = {"gspo": 0.58, "grpo": 0.50, "dapo": 0.22}.get(algo, 0.4)
            with (run / "train_log.jsonl").open("w") as f:
                for row in synthetic_train_log(6, entropy=ent, seed=seed + k, with_clip=exp != "sft"):
                    f.write(json.dumps(row) + "\n")
