"""What a newcomer relies on in the library: importing any module does nothing but define it, every
reward route and metric states its formula, its source and an example, and no function runs past 60
lines without a reason written above it."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vero.config import REPO_ROOT

VERO = REPO_ROOT / "vero"
MAX_LINES = 60
LONG_MARK = "# Long:"  # the comment above a longer function says why it stays in one piece
OPTIONAL_EXTRAS = ("umap", "sentence_transformers", "vllm", "pynndescent", "numba")


def _modules() -> list[str]:
    out = []
    for p in sorted(VERO.rglob("*.py")):
        rel = p.relative_to(REPO_ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out.append(".".join(parts))
    return out


IMPORT_ALL = """
import importlib, json, os, sys
before = set(os.listdir("."))
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps({"new_files": sorted(set(os.listdir(".")) - before),
                  "extras": sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[2]))}))
"""


def test_importing_every_library_module_has_no_side_effect(tmp_path):
    """A fresh interpreter imports all of vero/ in an empty folder: nothing is printed, no file is
    written, no optional extra (umap-learn, sentence-transformers, vLLM) is imported."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, json.dumps(_modules()), json.dumps(OPTIONAL_EXTRAS)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"importing vero printed: {lines[:-1]}"
    out = json.loads(lines[0])
    assert out == {"new_files": [], "extras": []}


def _documented():
    from vero.eval import metrics
    from vero.rewards import compute_reward, format_reward, overlong_penalty
    from vero.rewards.routes import ROUTES

    fns = {route.score for route in ROUTES.values()} | {compute_reward, format_reward, overlong_penalty}
    fns |= {
        metrics.relaxed_accuracy,
        metrics.anls,
        metrics.box_iou,
        metrics.iou_accuracy,
        metrics.point_in_box,
    }
    return sorted(fns, key=lambda f: f.__qualname__)


@pytest.mark.parametrize("fn", _documented(), ids=lambda f: f.__qualname__)
def test_every_reward_route_and_metric_states_formula_source_and_example(fn):
    doc = inspect.getdoc(fn) or ""
    assert "Source:" in doc and ("vero-rl/" in doc or "vero-eval/" in doc), f"{fn.__qualname__}: no source"
    assert ">>>" in doc, f"{fn.__qualname__}: no doctest example"
    assert any(s in doc for s in ("=", "≤", "≥", "·", " / ", "1[")), f"{fn.__qualname__}: no formula"


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else path.name


def long_functions(root: Path = VERO) -> list[tuple[str, int, str | None]]:
    """(place, length, reason) of every function longer than MAX_LINES (its docstring not counted);
    the reason is the `# Long: ...` comment (with its continuation lines) right above its first
    decorator or its `def` (None when there is none)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = node.end_lineno - node.lineno + 1
            if ast.get_docstring(node) is not None:  # documentation is not length
                length -= node.body[0].end_lineno - node.body[0].lineno + 1
            if length <= MAX_LINES:
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            block, i = [], first - 2  # the comment lines right above
            while i >= 0 and lines[i].strip().startswith("#"):
                block.insert(0, lines[i].strip())
                i -= 1
            marks = [k for k, line in enumerate(block) if line.startswith(LONG_MARK)]
            reason = None
            if marks:
                text = " ".join(line.lstrip("#").strip() for line in block[marks[0] :])
                reason = text[len(LONG_MARK) - 2 :].strip() or None
            found.append((f"{_shown(path)}:{node.lineno} {node.name}", length, reason))
    return found


def test_no_library_function_runs_past_60_lines_without_a_reason_above_it():
    unexplained = [f"{place} ({n} lines)" for place, n, reason in long_functions() if not reason]
    assert not unexplained, (
        f"functions over {MAX_LINES} lines without a '{LONG_MARK} <why>' comment above them "
        f"(split them, or say why they stay whole): {unexplained}"
    )


def test_the_long_function_check_can_fail(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "m.py").write_text(f"def long():\n{body}\n\n\n{LONG_MARK} a reason\ndef ok():\n{body}\n")
    assert [(p.split()[-1], r) for p, _, r in long_functions(tmp_path)] == [
        ("long", None),
        ("ok", "a reason"),
    ]
