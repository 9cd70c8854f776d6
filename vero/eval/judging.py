"""The LLM judge of an evaluation job: GPUs, lifecycle, and the preflight check.

`judge_for` yields the judge client while a block runs: a client of `reward.judge.base_url`, or,
with `reward.judge.serve.enabled`, vLLM serving the judge model inside the job on the GPUs
generation has released (`eval_job_gpus` reserves enough of them). `preflight_judge` checks the
endpoint before the first judge-scored sample is scored (and, for an external judge, before
generation starts), so an unreachable or misconfigured judge fails the job at once, naming it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from vero.eval.registry import get_benchmark

PROBE = ("What is 2 + 2?", "4", "<think>2 + 2 = 4.</think><answer>\\boxed{4}</answer>")


class JudgePreflightError(RuntimeError):
    """The judge endpoint is unreachable, refuses requests or does not return a score."""


def judge_settings(cfg: Mapping) -> Mapping:
    """`reward.judge` (endpoint, key, serving) with `eval.judge`'s model, temperature and length."""
    from vero.eval.judges import eval_judge_config

    return eval_judge_config(cfg)


def judge_wanted(cfg: Mapping, needed: bool) -> bool:
    """Whether the job uses a judge: it is enabled and some sample needs one."""
    return bool(judge_settings(cfg).get("enabled") and needed)


def judge_served_in_job(cfg: Mapping) -> bool:
    return bool((judge_settings(cfg).get("serve") or {}).get("enabled"))


def eval_job_gpus(cfg: Mapping, benchmark: str, configured: int) -> int:
    """GPUs one evaluation job needs: the configured ones, and enough for a judge served in the
    job (after generation) when the benchmark may have judge-scored samples."""
    from vero.eval.registry import may_need_judge

    serve = judge_settings(cfg).get("serve") or {}
    if (
        judge_settings(cfg).get("enabled")
        and serve.get("enabled")
        and may_need_judge(get_benchmark(cfg, benchmark))
    ):
        return max(int(configured), int(serve.get("gpus", 1)))
    return int(configured)


def _health_url(judge: Any) -> str | None:
    base = getattr(judge, "base_url", None)
    return f"{str(base).rstrip('/')}/models" if base else None


def preflight_judge(judge: Any) -> None:
    """Check the judge before the job relies on it: the endpoint answers (GET <base_url>/models,
    which OpenAI-compatible servers, vLLM's included, serve) and one probe item comes back with a
    parsed score. When the judge client brings its own check (a `preflight()` method, or a function
    `vero.rewards.judge.preflight(client)`), that check runs instead.

    Raises JudgePreflightError naming the endpoint; never returns silently on a failure.
    """
    endpoint = getattr(judge, "endpoint", repr(judge))
    from vero.rewards import judge as judge_module

    method, function = getattr(judge, "preflight", None), getattr(judge_module, "preflight", None)
    if callable(method) or callable(function):  # the judge client's own check
        try:
            method() if callable(method) else function(judge)
        except Exception as e:
            raise JudgePreflightError(f"judge endpoint {endpoint} failed its preflight: {e}") from e
        return
    url = _health_url(judge)
    if url:
        import httpx

        key = getattr(judge, "_api_key", None)
        try:
            r = httpx.get(url, timeout=30.0, headers={"Authorization": f"Bearer {key}"} if key else {})
        except httpx.HTTPError as e:
            raise JudgePreflightError(f"judge endpoint {endpoint} is unreachable ({url}): {e}") from e
        if r.status_code >= 400:
            raise JudgePreflightError(f"judge endpoint {endpoint}: {url} answered HTTP {r.status_code}")
    try:
        result = judge.score(*PROBE)
    except Exception as e:
        raise JudgePreflightError(f"judge endpoint {endpoint} failed the probe request: {e}") from e
    if getattr(result, "raw_score", None) is None and not getattr(result, "parsed", False):
        raise JudgePreflightError(f"judge endpoint {endpoint} answered the probe without a score")
    print(
        f"[eval] judge {endpoint}: healthy, probe scored {getattr(result, 'raw_score', '?')}", file=sys.stderr
    )


@contextmanager
def judge_for(cfg: Mapping, needed: bool = True, *, preflight: bool = False) -> Iterator[Any]:
    """The LLM judge client while the block runs, or None (judge samples then stay unscored).

    With `preflight`, the endpoint is checked (`preflight_judge`) before the client is handed out.
    """
    judge_cfg = judge_settings(cfg)
    if not judge_wanted(cfg, needed):
        yield None
        return
    from vero.rewards import JudgeClient

    if not judge_served_in_job(cfg):
        client = JudgeClient.from_config(judge_cfg)
        if preflight:
            preflight_judge(client)
        yield client
        return
    from vero.eval.serve import served_vllm

    serve = judge_cfg.get("serve") or {}
    with served_vllm(
        judge_cfg.get("model", "Qwen/Qwen3-32B"),
        gpus=int(serve.get("gpus", 1)),
        extra_args=serve.get("extra_args") or (),
        health_timeout_s=float(serve.get("health_timeout_s", 900)),
        label="judge server",
    ) as url:
        client = JudgeClient.from_config({**judge_cfg, "base_url": url})
        if preflight:
            preflight_judge(client)
        yield client
