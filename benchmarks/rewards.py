"""Throughput and latency of the Vero reward, per route, on one core.

Builds a mixed corpus (default 11,000 completions over every route that needs no judge), about 85 %
realistic outputs (right, wrong, unboxed, other formats, malformed layouts, think blocks of tens to
hundreds of words) and 15 % adversarial ones (random fragments of tags, braces, JSON and LaTeX; very
long answers; expansions math-verify cannot finish). Every completion is distinct and the math-verify
result cache is off, so the figures are for uncached calls. Start-up (worker process, lm-eval import)
is excluded by a warm-up pass.

    taskset -c 0 .venv/bin/python benchmarks/rewards.py --release /path/to/vero/vero-rl

Prints rewards/s, p50/p99/max latency per route and overall, and checks the targets of the reward
library: every non-numeric route >= 5,000 rewards/s, numeric >= 700/s, no call over 1 s, every route's
p99 <= 20 ms. With `--release DIR` (the release's `vero-rl` folder, zlab-princeton/vero; its
`vero_reward` package is imported from there at run time, never copied) every completion is also
scored by the release's own reward in the same process, and the two are printed side by side: the
ratio of rewards/s per route and overall (target: >= 5x overall), p99 per route for both. Targets are
checked on CPU time (this process plus the math-verify worker): on a shared machine wall time also
counts the time the scheduler gave to other jobs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import string
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from tqdm import tqdm

from vero.rewards import JUDGE_REWARD_TYPES, REWARD_TYPES, RewardConfig, compute_reward, warm_up
from vero.rewards.mathverify_pool import get_pool

ROUTES = [rt for rt in REWARD_TYPES if rt not in JUDGE_REWARD_TYPES]
TARGET_RPS = {rt: 700.0 if rt == "numeric" else 5000.0 for rt in ROUTES}
MAX_CALL_S = 1.0
MAX_P99_MS = 20.0
TARGET_RATIO = 5.0
# IFEval checkers that run langdetect (a few ms per call): reported as a separate row too.
LANGDETECT_CHECKERS = {
    "LowercaseLettersEnglishChecker",
    "CapitalLettersEnglishChecker",
    "ResponseLanguageChecker",
}

FILLER = (
    "the chart shows a rise in sales then we compare the two bars carefully and check the axis label "
    "before counting each object in the image one by one so the total must be correct wait let me "
    "recheck the legend colour and the value near the top of the plot"
)
WORDS = tuple(FILLER.split())
NOUNS = [
    "Eiffel Tower",
    "red mug",
    "golden retriever",
    "Mount Fuji",
    "São Paulo",
    "traffic light",
    "blue car",
]
SYNONYMS = [
    ["couch", "sofa"],
    ["car", "automobile"],
    ["mug", "cup"],
    ["tv", "television"],
    ["bike", "bicycle"],
]
FRAGMENTS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    r"\boxed{",
    "{",
    "}",
    "[",
    "]",
    '{"bbox_2d": [',
    '{"point_2d": [',
    r"\frac{",
    "^{",
    "1,000",
    "nan",
    "None",
    '"',
    "\\",
    "é",
    "\n",
    " ",
]


def think(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 400)))


def wrap(rng: random.Random, answer: str, *, boxed: bool = True) -> str:
    """A realistic output: mostly well formed, sometimes unboxed or with a broken layout."""
    body = f"The answer is \\boxed{{{answer}}}." if boxed else answer
    roll = rng.random()
    if roll < 0.80:
        return f"<think>{think(rng)}</think>\n<answer>{body}</answer>"
    if roll < 0.90:
        return f"<think>{think(rng)}</think>\n<answer>{answer}</answer>"  # unboxed
    if roll < 0.95:
        return f"{think(rng)} {body}"  # no tags
    return f"<think>{think(rng)}</think><answer>{body}</answer> trailing text"


def adversarial(rng: random.Random, route: str) -> str:
    roll = rng.random()
    if roll < 0.6:
        junk = "".join(rng.choice(FRAGMENTS + list(string.printable)) for _ in range(rng.randint(1, 300)))
        return (
            f"<think>{think(rng)}</think><answer>\\boxed{{{junk}}}</answer>" if rng.random() < 0.5 else junk
        )
    if roll < 0.8:
        long_answer = "9" * rng.randint(1000, 20000)
        return f"<think>x</think><answer>\\boxed{{{long_answer}}}</answer>"
    if roll < 0.9:
        nested = "{" * 200 + "1" + "}" * 200
        return f"<think>x</think><answer>\\boxed{{{nested}}}</answer>"
    costly = rng.choice(["(x+1)^{2000}", "2^{2^{2^{2^{10}}}}", "9999!", "(x+y)^{500}-(x-y)^{500}"])
    return f"<think>x</think><answer>\\boxed{{{costly}}}</answer>"


def sample(rng: random.Random, route: str, i: int) -> dict:
    """One corpus item: the completion plus the sample's reward fields."""
    item: dict = {"reward_type": route, "tolerance": None, "image_size": (640, 480)}
    right = rng.random() < 0.5
    if route in ("string_match", "search"):
        gold = rng.choice(NOUNS)
        pred = rng.choice([gold, gold.lower(), f"the {gold}", gold.upper()]) if right else rng.choice(NOUNS)
        item.update(answer=gold, completion=wrap(rng, f"{pred} {i}" if not right else pred))
    elif route == "counting":
        n = rng.randint(0, 60)
        pred = str(n) if right else str(n + rng.randint(1, 5))
        item.update(answer=str(n), completion=wrap(rng, pred if rng.random() < 0.9 else pred + ".0"))
    elif route == "multiple_choice":
        gold = rng.choice("ABCD")
        pred = (
            rng.choice([gold, f"({gold})", gold.lower()]) if right else rng.choice([*"ABCD", f"{gold}. cat"])
        )
        item.update(answer=gold, completion=wrap(rng, pred))
    elif route == "numeric":
        a, b = rng.randint(1, 400), rng.randint(2, 40)
        kind = rng.random()
        if kind < 0.4:  # integers and decimals
            gold = str(a) if rng.random() < 0.5 else f"{a / 8:g}"
            pred = gold if right else str(a + rng.randint(1, 9))
        elif kind < 0.65:  # fractions written two ways
            gold = f"\\frac{{{a}}}{{{b}}}"
            pred = f"{a}/{b}" if right else f"\\frac{{{a + 1}}}{{{b}}}"
        elif kind < 0.8:  # with a relative tolerance
            gold = f"{a * 1.5:.2f}"
            item["tolerance"] = 0.05
            pred = f"{a * 1.5 * (1.02 if right else 1.2):.3f}"
        elif kind < 0.9:  # surds
            gold = f"{a}\\sqrt{{2}}"
            pred = f"\\sqrt{{{2 * a * a}}}" if right else f"{a}\\sqrt{{3}}"
        else:  # forms only math-verify reads: π, equations, percentages, separators, powers
            gold, good, bad = rng.choice(
                [
                    (f"\\frac{{{a}\\pi}}{{{b}}}", f"{a}\\pi/{b}", f"\\frac{{{a + 1}\\pi}}{{{b}}}"),
                    (f"{a}", f"x = {a}", f"x = {a + 2}"),
                    (f"{a * 1000}", f"{a:,}000", f"{a + 1:,}000"),
                    (f"{2 ** (a % 12)}", f"2^{{{a % 12}}}", f"2^{{{a % 12 + 1}}}"),
                    (f"{a}\\%", f"{a}%", f"{a + 1}%"),
                ]
            )
            pred = good if right else bad
        item.update(answer=gold, completion=wrap(rng, f"{pred}" + (" " * (i % 3))))
    elif route == "list_string_match":
        group = rng.choice(SYNONYMS)
        pred = rng.choice(group) if right else rng.choice(rng.choice(SYNONYMS))
        item.update(answer=json.dumps(group), completion=wrap(rng, f"{pred}" if right else f"{pred} {i}"))
    elif route == "number_list":
        gold = list(range(1, rng.randint(3, 8)))
        rng.shuffle(gold)
        pred = list(gold)
        if not right:
            rng.shuffle(pred)
        item.update(answer=json.dumps(gold), completion=wrap(rng, json.dumps(pred)))
    elif route == "web_action":
        gold = {
            "ACTION": rng.choice(["CLICK", "TYPE", "SELECT"]),
            "MARK": rng.randint(0, 30),
            "VALUE": "None",
        }
        if gold["ACTION"] == "TYPE":
            gold["VALUE"] = rng.choice(["hello", "new york", "42"])
        pred = dict(gold) if right else {**gold, "MARK": gold["MARK"] + 1}
        item.update(answer=json.dumps(gold), completion=wrap(rng, json.dumps(pred)))
    elif route in ("grounding", "clicking"):
        boxes = []
        for _ in range(rng.randint(1, 4)):
            x, y = rng.randint(0, 500), rng.randint(0, 380)
            boxes.append([x, y, x + rng.randint(20, 140), y + rng.randint(20, 100)])
        item["answer"] = json.dumps([{"bbox_2d": b, "label": "obj"} for b in boxes])
        if route == "grounding":
            jitter = 3 if right else 40
            pred = [[v + rng.randint(-jitter, jitter) for v in b] for b in boxes]
            if not right and rng.random() < 0.5:
                pred = pred[:-1] or pred
            answer = json.dumps([{"bbox_2d": b, "label": "obj"} for b in pred])
        else:
            b = boxes[0]
            pt = [(b[0] + b[2]) // 2, (b[1] + b[3]) // 2] if right else [b[2] + 10, b[3] + 10]
            answer = json.dumps([{"point_2d": pt}])
        item["completion"] = wrap(rng, answer, boxed=rng.random() < 0.5)
    elif route == "instruction_following":
        pool = [
            {"class": "NumberOfWords", "args": {"num_words": rng.randint(5, 40), "relation": "at least"}},
            {"class": "CommaChecker", "args": {}},
            {"class": "KeywordChecker", "args": {"keywords": ["circle", "red"]}},
            {"class": "ForbiddenWords", "args": {"forbidden_words": ["very", "nice"]}},
            {"class": "EndChecker", "args": {"end_phrase": "That is all."}},
            {"class": "TitleChecker", "args": {}},
            {"class": "PostscriptChecker", "args": {"postscript_marker": "P.S."}},
            {"class": "NumberOfSentences", "args": {"num_sentences": 3, "relation": "less than"}},
            {"class": "BulletListChecker", "args": {"num_bullets": 2}},
            {"class": "LowercaseLettersEnglishChecker", "args": {}},
            # the release's checkers beyond IFEval's (open-instruct's IFEvalG, MM-IFEval)
            {"class": "LowercaseCountingChecker", "args": {"N": rng.randint(5, 60)}},
            {"class": "CountUniqueChecker", "args": {}},
            {"class": "FirstWordAnswerChecker", "args": {"first_word": "the"}},
            {"class": "KeywordSpecificPositionChecker", "args": {"keyword": "red", "n": 1, "m": 2}},
            {"class": "CheckWhetherResponseWordCountInRange", "args": {"lower_bound": 10, "upper_bound": 90}},
            {"class": "CheckWhetherEachParagraphBeginWithCertainSubstring", "args": {"substring": "<<"}},
            {"class": "CheckWhetherEachSentenceEndWithCertainSubstring", "args": {"substring": "."}},
        ]
        chosen = rng.sample(pool, rng.randint(1, 3))
        item["answer"] = json.dumps({"instructions": chosen})
        item["uses_langdetect"] = any(c["class"] in LANGDETECT_CHECKERS for c in chosen)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 120)))
        if right:
            text = f"<<A red circle>>\n* red circle\n* blue square\n{text}. That is all."
        item["completion"] = wrap(rng, f"{text} {i}", boxed=False)
    else:  # pragma: no cover - ROUTES is fixed above
        raise AssertionError(route)
    return item


def build_corpus(n_per_route: int, adversarial_share: float, seed: int) -> list[dict]:
    rng = random.Random(seed)
    corpus = []
    for route in ROUTES:
        for i in range(n_per_route):
            item = sample(rng, route, i)
            if rng.random() < adversarial_share:
                item["completion"] = adversarial(rng, route) + f" {i}"
            corpus.append(item)
    rng.shuffle(corpus)
    return corpus


def load_release(path: Path):
    """The release's reward module, imported from its `vero-rl` folder as it is on disk."""
    root = Path(path).resolve()
    if not (root / "vero_reward" / "math_verify_reward_type_boxed.py").is_file():
        raise SystemExit(f"--release {path}: no vero_reward/math_verify_reward_type_boxed.py there")
    sys.path.insert(0, str(root))
    sys.dont_write_bytecode = True  # leave the release's folder as it is
    import importlib

    return importlib.import_module("vero_reward.math_verify_reward_type_boxed")


def release_score(item: dict, release) -> float:
    """The release's compute_score, with extra_info as its data pipeline builds it."""
    extra = {"reward_type": item["reward_type"]}
    if item["tolerance"] is not None:
        extra["tolerance"] = item["tolerance"]
    if item["image_size"] is not None:
        extra["image_sizes"] = [tuple(item["image_size"])]
    with contextlib.redirect_stdout(_SINK):  # it prints on timeouts
        return release.compute_score_from_data_source(
            "benchmark", item["completion"], item["answer"], extra_info=extra, format_score=0.2
        )["score"]


class _Sink:
    def write(self, _):
        return 0

    def flush(self):
        pass


_SINK = _Sink()


def score(item: dict, config: RewardConfig) -> float:
    return compute_reward(
        item["completion"],
        reward_type=item["reward_type"],
        answer=item["answer"],
        tolerance=item["tolerance"],
        image_size=item["image_size"],
        config=config,
        raw_accuracy=False,  # as the TRL reward scores: an output with format 0 is not graded further
    ).total


def workers_cpu_ns(pool) -> int:
    """On-CPU time of the math-verify workers (Linux schedstat), to count their work as CPU time too."""
    total = 0
    for w in list(pool._all):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{w.proc.pid}/schedstat").read_text().split()[0])
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-route", type=int, default=1000, help="completions per route (11 routes)")
    ap.add_argument("--adversarial", type=float, default=0.15, help="share of adversarial completions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--timeout", type=float, default=RewardConfig().math_verify_timeout_s, help="math-verify s"
    )
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--semantics", choices=["release", "corrected"], default="release")
    ap.add_argument("--release", type=Path, help="the release's vero-rl folder: score with it side by side")
    args = ap.parse_args(argv)

    config = RewardConfig(math_verify_timeout_s=args.timeout, semantics=args.semantics)
    corpus = build_corpus(args.per_route, args.adversarial, args.seed)
    start = time.perf_counter()
    warm_up(config=config)
    warm_up_s = time.perf_counter() - start
    pool = get_pool()
    pool.cache_size = 0  # uncached figures: every math-verify call goes to the worker
    release = load_release(args.release) if args.release else None
    warm = build_corpus(5, args.adversarial, args.seed + 1)
    for item in warm:  # fills no result cache; the release's first calls too
        score(item, config)
        if release is not None:
            release_score(item, release)
    rel_latencies: dict[str, list[float]] = {rt: [] for rt in ROUTES}
    rel_cpu: dict[str, float] = dict.fromkeys(ROUTES, 0.0)

    latencies: dict[str, list[float]] = {rt: [] for rt in ROUTES}
    cpu_calls: dict[str, list[float]] = {rt: [] for rt in ROUTES}  # CPU seconds of each call
    cpu: dict[str, float] = dict.fromkeys(ROUTES, 0.0)
    if_split: dict[str, list[float]] = {"with langdetect": [], "without langdetect": []}
    if_cpu: dict[str, float] = dict.fromkeys(if_split, 0.0)
    for item in tqdm(corpus, desc="scoring", unit="reward", mininterval=1.0, file=sys.stderr):
        rt = item["reward_type"]
        worker_before = workers_cpu_ns(pool) if rt == "numeric" else 0
        cpu_start = time.thread_time_ns()
        start = time.perf_counter()
        score(item, config)
        elapsed = time.perf_counter() - start
        used = (time.thread_time_ns() - cpu_start) / 1e9
        if rt == "numeric":
            used += max(workers_cpu_ns(pool) - worker_before, 0) / 1e9
        latencies[rt].append(elapsed)
        cpu_calls[rt].append(used)
        cpu[rt] += used
        if "uses_langdetect" in item:
            key = "with langdetect" if item["uses_langdetect"] else "without langdetect"
            if_split[key].append(elapsed)
            if_cpu[key] += used
        if release is not None:
            cpu_start = time.thread_time_ns()
            start = time.perf_counter()
            release_score(item, release)
            rel_latencies[rt].append(time.perf_counter() - start)
            rel_cpu[rt] += (time.thread_time_ns() - cpu_start) / 1e9

    rows = []
    named = {**latencies, **{f"  IF {k}": v for k, v in if_split.items() if v}}
    named["overall"] = [x for v in latencies.values() for x in v]
    cpu_of = {**cpu, **{f"  IF {k}": v for k, v in if_cpu.items()}, "overall": sum(cpu.values())}
    for rt, lat in named.items():
        rows.append(
            {
                "route": rt,
                "n": len(lat),
                "rewards_per_s": len(lat) / sum(lat),
                "rewards_per_cpu_s": len(lat) / cpu_of[rt] if cpu_of[rt] > 0 else float("inf"),
                "p50_ms": 1000 * statistics.median(lat),
                "p99_ms": 1000 * percentile(lat, 0.99),
                "p99_cpu_ms": 1000 * percentile(cpu_calls[rt], 0.99) if rt in cpu_calls else None,
                "max_ms": 1000 * max(lat),
                "target_rps": TARGET_RPS.get(rt),
            }
        )

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(
        f"Vero reward benchmark: {len(corpus)} completions, {args.adversarial:.0%} adversarial,"
        f" seed {args.seed}"
    )
    print(
        f"CPUs allowed: {cpus}; load average: {os.getloadavg()[0]:.2f};"
        f" math-verify timeout {args.timeout:g} s"
    )
    print("rewards/s: calls per second of wall time; per CPU-s: per second on the CPU (this process plus")
    print("the math-verify worker), which leaves out time the scheduler gave to other processes.")
    header = (
        f"{'route':<24}{'n':>6}{'rewards/s':>11}{'per CPU-s':>11}{'p50 ms':>9}{'p99 ms':>9}{'p99 CPU':>9}"
        f"{'max ms':>9}"
    )
    print(header + "  target")
    misses = []
    for r in rows:
        target = r["target_rps"]
        ok = target is None or r["rewards_per_s"] >= target
        ok_cpu = target is None or r["rewards_per_cpu_s"] >= target
        mark = (
            ""
            if target is None
            else f">= {target:,.0f}/s wall {'ok' if ok else 'MISS'}, cpu {'ok' if ok_cpu else 'MISS'}"
        )
        if not ok:
            misses.append(r["route"])
        print(
            f"{r['route']:<24}{r['n']:>6}{r['rewards_per_s']:>11,.0f}{r['rewards_per_cpu_s']:>11,.0f}"
            f"{r['p50_ms']:>9.3f}{r['p99_ms']:>9.3f}"
            + (f"{r['p99_cpu_ms']:>9.3f}" if r["p99_cpu_ms"] is not None else f"{'':>9}")
            + f"{r['max_ms']:>9.1f}  {mark}"
        )
    slowest = max(r["max_ms"] for r in rows) / 1000
    print(
        f"slowest call: {slowest:.3f} s"
        f" (target < {MAX_CALL_S:g} s: {'ok' if slowest < MAX_CALL_S else 'MISS'})"
    )
    print(f"math-verify pool: {pool.stats}; warm_up (start-up, all routes): {warm_up_s:.2f} s")
    side = side_by_side(latencies, cpu, rel_latencies, rel_cpu) if release is not None else []
    p99_misses = [r["route"] for r in rows if r["route"] in ROUTES and r["p99_cpu_ms"] > MAX_P99_MS]
    p99_wall_misses = [r["route"] for r in rows if r["route"] in ROUTES and r["p99_ms"] > MAX_P99_MS]
    if side:
        print(f"\nside by side with the release's reward ({args.release}), same corpus, same process:")
        print(
            f"{'route':<24}{'project/s':>11}{'release/s':>11}{'ratio':>8}{'CPU ratio':>11}"
            f"{'p99 ms':>9}{'rel p99':>9}"
        )
        for r in side:
            print(
                f"{r['route']:<24}{r['project_per_s']:>11,.0f}{r['release_per_s']:>11,.0f}{r['ratio']:>7.1f}x"
                f"{r['cpu_ratio']:>10.1f}x{r['p99_ms']:>9.3f}{r['release_p99_ms']:>9.3f}"
            )
        overall = side[-1]
        verdict = "ok" if overall["cpu_ratio"] >= TARGET_RATIO else "MISS"
        print(
            f"overall ratio {overall['ratio']:.1f}x wall, {overall['cpu_ratio']:.1f}x CPU"
            f" (target >= {TARGET_RATIO:g}x in CPU time: {verdict})"
        )
    worst = max((r for r in rows if r["route"] in ROUTES), key=lambda r: r["p99_cpu_ms"])
    worst_text = f"{worst['route']} {worst['p99_cpu_ms']:.2f} ms"
    print(
        f"p99 per route <= {MAX_P99_MS:g} ms in CPU time (worst: {worst_text}):"
        f" {'ok' if not p99_misses else 'MISS ' + ', '.join(p99_misses)}; in wall time on this machine:"
        f" {'ok' if not p99_wall_misses else 'over for ' + ', '.join(p99_wall_misses)}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "side_by_side": side, "pool": pool.stats, "cpus": str(cpus)}, indent=2)
        )
    ratio_ok = not side or side[-1]["cpu_ratio"] >= TARGET_RATIO  # CPU: wall time counts other jobs too
    return 0 if not misses and slowest < MAX_CALL_S and not p99_misses and ratio_ok else 1


def side_by_side(latencies, cpu, rel_latencies, rel_cpu) -> list[dict]:
    rows = []
    names = [*ROUTES, "overall"]
    for name in names:
        mine = latencies[name] if name != "overall" else [x for v in latencies.values() for x in v]
        theirs = rel_latencies[name] if name != "overall" else [x for v in rel_latencies.values() for x in v]
        mine_cpu = cpu[name] if name != "overall" else sum(cpu.values())
        theirs_cpu = rel_cpu[name] if name != "overall" else sum(rel_cpu.values())
        if not mine or not theirs:
            continue
        rows.append(
            {
                "route": name,
                "project_per_s": len(mine) / sum(mine),
                "release_per_s": len(theirs) / sum(theirs),
                "ratio": sum(theirs) / sum(mine),
                "cpu_ratio": theirs_cpu / mine_cpu if mine_cpu > 0 else float("inf"),
                "p99_ms": 1000 * percentile(mine, 0.99),
                "release_p99_ms": 1000 * percentile(theirs, 0.99),
            }
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
