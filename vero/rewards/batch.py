"""The reward as a TRL reward function: `(completions, **columns) -> list[float | None]`.

TRL's GRPOTrainer passes `prompts`, `completions`, `completion_ids`, every dataset column as a list and
`log_metric`. This reads the columns `reward_type, answer, tolerance, image_size, category` (and
`question` for judge types), scores the batch, sends judge requests concurrently, and logs through
TRL's `log_metric`: `reward/{accuracy,format,overlong}` over the batch,
`reward/category/<category>/{accuracy,format,overlong,total}`, and `reward_monitor/...` (self-evaluation
rate of the batch and running, unjudged samples, unparsed judge replies, math-verify timeouts).

Judge-type samples with no judge configured return None: TRL then leaves them out of the loss instead of
training on a made-up 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from vero.rewards.core import MODES, normalize_reward_type, route_context, score_completion, warm_up
from vero.rewards.hacking import HackingMonitor
from vero.rewards.mathverify_pool import configure_pool
from vero.rewards.types import (
    JUDGE_REWARD_TYPES,
    RewardBreakdown,
    RewardConfig,
    check_coords,
)

# Breakdown flags counted per batch under reward_monitor/<flag>.
MONITORED_FLAGS = (
    "math_verify_timeout",
    "math_verify_too_costly",
    "route_error",
    "no_image_size",
    "ifeval_no_punkt",
    "ifeval_unknown_class",
)


def completion_text(completion: object) -> str:
    """Plain text of a completion: a string, or the last assistant message of a conversational one."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence) and completion:
        messages = [m for m in completion if isinstance(m, Mapping)]
        assistant = [m for m in messages if m.get("role", "assistant") == "assistant"] or messages
        if assistant:
            content = assistant[-1].get("content", "")
            if isinstance(content, str):
                return content
            if isinstance(content, Sequence):
                return "".join(
                    str(p.get("text", ""))
                    for p in content
                    if isinstance(p, Mapping) and p.get("type", "text") == "text"
                )
    return ""


def _column(columns: Mapping[str, Any], name: str, n: int, default=None) -> list:
    values = columns.get(name)
    if values is None:
        return [default] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"reward column {name!r} has {len(values)} values for {n} completions")
    return values


class VeroTRLReward:
    """Callable TRL reward; see the module docstring. `last_breakdowns` and `last_metrics` describe the most
    recent batch; `hacking` keeps the running self-evaluation rate."""

    def __init__(
        self,
        reward_cfg: RewardConfig | Mapping[str, Any] | None,
        *,
        coords: str,
        max_completion_tokens: int | None,
        judge=None,
        mode: str = "vero",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown reward mode {mode!r}; expected one of {', '.join(MODES)}")
        self.config = (
            reward_cfg if isinstance(reward_cfg, RewardConfig) else RewardConfig.from_config(reward_cfg)
        )
        self.coords = check_coords(coords)
        self.max_completion_tokens = max_completion_tokens
        self.judge = judge
        self.mode = mode
        self.__name__ = "vero_reward" if mode == "vero" else "math_verify_reward"
        self.hacking = HackingMonitor()
        self.last_breakdowns: list[RewardBreakdown] = []
        self.last_metrics: dict[str, float] = {}
        configure_pool(self.config.math_verify_workers)
        warm_up(config=self.config)  # start-up costs now, not in the first training step

    def __call__(self, prompts=None, completions=None, completion_ids=None, **columns) -> list[float | None]:
        completions = list(completions or [])
        n = len(completions)
        reward_types = _column(columns, "reward_type", n)
        answers = _column(columns, "answer", n, "")
        tolerances = _column(columns, "tolerance", n)
        sizes = _column(columns, "image_size", n)
        categories = _column(columns, "category", n, "all")
        questions = _column(columns, "question", n, "")
        reward_types = [normalize_reward_type(rt) for rt in reward_types]
        texts = [completion_text(c) for c in completions]
        lengths = [len(ids) if ids is not None else None for ids in (completion_ids or [None] * n)]

        contexts = [
            route_context(tolerances[i], sizes[i], self.coords, self.config, self.config.semantics)
            for i in range(n)
        ]

        # Judge requests are collected in a first pass, sent concurrently, then fed to a second pass.
        pending: dict[int, tuple[str, str, str]] = {}
        judge_results: dict[int, object] = {}

        def collect(i):
            def fn(question, reference, response):
                if i in judge_results:
                    return judge_results[i]
                pending[i] = (question, reference, response)
                return None

            return fn

        def score(i):
            use_judge = self.judge is not None and reward_types[i] in JUDGE_REWARD_TYPES
            return score_completion(
                texts[i],
                reward_type=reward_types[i],
                answer=answers[i] if isinstance(answers[i], str) else "",
                ctx=contexts[i],
                config=self.config,
                completion_tokens=lengths[i],
                max_completion_tokens=self.max_completion_tokens,
                question=questions[i] if isinstance(questions[i], str) else "",
                judge_fn=collect(i) if use_judge else None,
                mode=self.mode,
                raw_accuracy=False,  # training uses the gated accuracy only
            )

        breakdowns = [score(i) for i in range(n)]
        if pending:
            from vero.rewards.judge import JudgeItem, run_coroutine

            order = sorted(pending)
            items = [JudgeItem(*pending[i]) for i in order]
            results = run_coroutine(self.judge.score_many(items))
            judge_results.update(zip(order, results, strict=True))
            for i in order:
                breakdowns[i] = score(i)

        self.last_breakdowns = breakdowns
        self.last_metrics = self._metrics(breakdowns, reward_types, categories, texts, judge_results)
        log_metric = columns.get("log_metric")
        if callable(log_metric):
            for name, value in self.last_metrics.items():
                log_metric(name, value)
        return [b.total if b.judged else None for b in breakdowns]

    def _metrics(self, breakdowns, reward_types, categories, texts, judge_results) -> dict[str, float]:
        groups: dict[str, list[RewardBreakdown]] = defaultdict(list)
        for b, cat in zip(breakdowns, categories, strict=True):
            if b.judged:
                groups[str(cat)].append(b)
                groups["all"].append(b)
        metrics: dict[str, float] = {}
        for cat, items in sorted(groups.items()):
            for field in ("accuracy", "format", "overlong", "total"):
                mean = sum(getattr(b, field) for b in items) / len(items)
                if cat == "all":
                    if field != "total":  # TRL logs the total itself as `reward`
                        metrics[f"reward/{field}"] = mean
                else:
                    metrics[f"reward/category/{cat}/{field}"] = mean
        batch_flags = [bool(self.hacking.observe(b.extracted or "")) for b in breakdowns]
        metrics["reward_monitor/self_eval_rate"] = sum(batch_flags) / len(batch_flags) if batch_flags else 0.0
        metrics["reward_monitor/self_eval_rate_running"] = self.hacking.rate
        judge_flags = [f for f, rt in zip(batch_flags, reward_types, strict=True) if rt in JUDGE_REWARD_TYPES]
        if judge_flags:
            metrics["reward_monitor/self_eval_rate_judge"] = sum(judge_flags) / len(judge_flags)
            metrics["reward_monitor/unjudged"] = float(sum(not b.judged for b in breakdowns))
        if judge_results:
            unparsed = sum(not getattr(r, "parsed", True) for r in judge_results.values())
            metrics["reward_monitor/judge_unparsed"] = float(unparsed)
        for flag in MONITORED_FLAGS:
            metrics[f"reward_monitor/{flag}"] = float(sum(flag in b.flags for b in breakdowns))
        return {k: v for k, v in metrics.items() if math.isfinite(v)}


def make_trl_reward(
    reward_cfg: RewardConfig | Mapping[str, Any] | None,
    *,
    coords: str,
    max_completion_tokens: int | None,
    judge=None,
    mode: str = "vero",
) -> VeroTRLReward:
    """A TRL reward function for the Vero reward (`mode="vero"`) or the single math-verify ablation
    (`mode="math_verify_only"`: every sample's accuracy from math-verify on its boxed answer)."""
    return VeroTRLReward(
        reward_cfg, coords=coords, max_completion_tokens=max_completion_tokens, judge=judge, mode=mode
    )
