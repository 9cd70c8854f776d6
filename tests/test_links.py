"""Every document and file the repository names exists in the repository.

Three kinds of reference are checked, in every text file git tracks (or would track) except the data of
the test corpora under tests/data/ (their READMEs are checked):
- relative Markdown links, `[text](path#anchor)`, in *.md: the file exists and, for a Markdown
  target with an anchor, one of its headings has that anchor (GitHub's slug rule);
- repository paths named anywhere (`docs/recipe.md#4-reward`, `vero/rewards/core.py`,
  `tests/test_rewards_*`, in comments, docstrings, config and prose): the path exists, a trailing
  `*`, `{` or `<` makes it a glob that must match something, and an anchor must exist;
- bare document names in capitals (`README.md`, `CHANGELOG.md`): the file exists beside the naming
  file or at the root.

Release files are cited by their path in the release tree (`vero-rl/…`, `vero-eval/…`, which no
folder here shares). The few top-level release files whose folder name this repository also has
(`docs/`, `scripts/`) are listed under "Release files cited" in docs/recipe.md, and only those are
accepted as release citations.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TEXT_SUFFIXES = {".md", ".py", ".smk", ".yaml", ".yml", ".sh", ".toml", ".cfg", ".txt", ".ini", ".json"}
TEXT_NAMES = {"Makefile", "Snakefile", "run"}
SKIP_PREFIXES = ("tests/data/",)
# This file plants bad references in a temporary tree on purpose.
SELF = "tests/test_links.py"
# Tokens shaped like a path that are not one: the train-step benchmark prints "ratio vero/bare".
NOT_PATHS = {"vero/bare"}
# Paths that exist only in a built wheel (setup.py copies the package data there), never in a checkout.
BUILD_OUTPUTS = ("vero/_data/",)
# A path joined onto another base (`results / f"eval/…"`, `res("envs/…")` in the rules) is an output
# under that base, not a file of the repository.
_JOINED_RE = re.compile(r"(?:/\s*f?|\bres\(f?)[\"']$")
# Top-level folders and files of this repository whose paths the text names.
TOP = (
    "docs",
    "vero",
    "config",
    "rules",
    "workflow_scripts",
    "scripts",
    "tests",
    "benchmarks",
    "profiles",
    "envs",
    "slurm",
    ".ci",
)
ROOT_FILES = ("README.md", "Makefile", "Snakefile", "pyproject.toml", "constraints.txt")

_NOT_PATH = r"(?<![\w./@:-])"
_PATH_RE = re.compile(_NOT_PATH + r"((?:" + "|".join(re.escape(t) for t in TOP) + r")/[\w./-]*)(#[\w-]+)?")
_ROOT_FILE_RE = re.compile(
    _NOT_PATH + r"(" + "|".join(re.escape(f) for f in ROOT_FILES) + r")(#[\w-]+)?(?![\w-])"
)
_CAPS_DOC_RE = re.compile(_NOT_PATH + r"([A-Z][A-Z0-9_]*\.md)(?![\w-])")
_MD_LINK_RE = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens.

    >>> slug("6. Ablations")
    '6-ablations'
    >>> slug("#### `analysis`")
    'analysis'
    >>> slug("3. Data: Vero-600K")
    '3-data-vero-600k'
    """
    text = heading.lstrip("#").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(md: Path) -> set[str]:
    """The anchors of a Markdown file's headings (outside code fences), duplicates numbered."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    fenced = False
    for line in md.read_text(encoding="utf-8").splitlines():
        if _FENCE_RE.match(line):
            fenced = not fenced
            continue
        if fenced or not re.match(r"#{1,6} ", line):
            continue
        s = slug(line)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def release_citations(root: Path) -> set[str]:
    """The release files docs/recipe.md lists under "Release files cited" (backquoted paths)."""
    recipe = root / "docs" / "recipe.md"
    if not recipe.exists():
        return set()
    text = recipe.read_text(encoding="utf-8")
    if "## Release files cited" not in text:
        return set()
    section = text.split("## Release files cited", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `([^`]+)`", section, flags=re.M))


def text_files(root: Path) -> list[str]:
    """Repository-relative paths of the text files to check: git's view when root is a checkout."""
    if (root / ".git").exists():
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    else:
        out = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    keep = []
    for rel in out:
        p = Path(rel)
        if not rel or rel == SELF or not (root / p).is_file():
            continue
        if rel.startswith(SKIP_PREFIXES) and p.suffix != ".md":  # corpora: data, but their READMEs are docs
            continue
        if p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES:
            keep.append(rel)
    return sorted(keep)


def _resolve(root: Path, base: Path, target: str) -> Path | None:
    for cand in (base / target, root / target):
        if cand.exists():
            return cand
    return None


def _module_file(root: Path, ref: str) -> Path | None:
    """The file a path names, or the module of a `path/module.attribute` reference."""
    if (root / ref).exists():
        return root / ref
    head = ref
    while "." in head:
        head = head.rsplit(".", 1)[0]
        if (root / f"{head}.py").exists():
            return root / f"{head}.py"
    return None


def _check_anchor(path: Path, anchor: str | None) -> bool:
    if not anchor or path.suffix != ".md":
        return True
    return anchor.lstrip("#") in anchors(path)


def references(root: Path, rel: str) -> list[tuple[int, str, str]]:
    """(line, reference, problem) for each reference in one file that does not resolve."""
    path = root / rel
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []
    base = path.parent
    released = release_citations(root)
    bad: list[tuple[int, str, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if path.suffix == ".md":
            for m in _MD_LINK_RE.finditer(line):
                target = m.group(1).strip("<>")
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, mailto:, …
                    continue
                file_part, _, anchor = target.partition("#")
                dest = (base / file_part) if file_part else path
                if not dest.exists():
                    bad.append((lineno, target, "link target missing"))
                elif not _check_anchor(dest, anchor):
                    bad.append((lineno, target, "anchor missing"))
        for m in _PATH_RE.finditer(line):
            ref, anchor = m.group(1).rstrip("."), m.group(2)
            if ref in released or ref in NOT_PATHS or ref.startswith(BUILD_OUTPUTS):
                continue
            if _JOINED_RE.search(line[: m.start(1)]):
                continue
            nxt = line[m.end(1) : m.end(1) + 1] if not anchor else ""
            if nxt in ("*", "{", "<", "…"):
                if not list(root.glob(ref + "*")):
                    bad.append((lineno, ref + nxt, "nothing matches"))
                continue
            dest = _module_file(root, ref)
            if dest is None:
                bad.append((lineno, ref + (anchor or ""), "path missing"))
            elif not _check_anchor(dest, anchor):
                bad.append((lineno, ref + anchor, "anchor missing"))
        for m in _ROOT_FILE_RE.finditer(line):
            if m.group(2) and not _check_anchor(root / m.group(1), m.group(2)):
                bad.append((lineno, m.group(1) + m.group(2), "anchor missing"))
        for m in _CAPS_DOC_RE.finditer(line):
            if _resolve(root, base, m.group(1)) is None:
                bad.append((lineno, m.group(1), "document missing"))
    return bad


def unresolved(root: Path) -> list[str]:
    return [f"{rel}:{n}: {ref} ({why})" for rel in text_files(root) for n, ref, why in references(root, rel)]


def test_every_reference_in_the_repository_resolves():
    bad = unresolved(ROOT)
    assert not bad, "references to files that are not in the repository:\n" + "\n".join(bad)


def test_release_citations_are_listed_in_the_recipe():
    assert release_citations(ROOT) >= {"docs/EVALUATION.md", "scripts/download_and_format_vero_600k.py"}


def test_the_check_reports_planted_bad_references(tmp_path):
    # Names built from parts so that this file itself names no missing path.
    missing_doc, private = "docs/" + "missing.md", "RECIPE" + ".md"
    (tmp_path / "docs").mkdir()
    (tmp_path / "vero").mkdir()
    (tmp_path / "config").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_ok_a.py").write_text("")
    (tmp_path / "README.md").write_text("# Top\n\n## Quick start\nSee [guide](docs/guide.md#usage).\n")
    (tmp_path / "docs" / "guide.md").write_text(
        "# Guide\n\n## Usage\n```\n## not a heading\n```\n"
        "[ok](../README.md#quick-start) [gone](nothing.md) [bad anchor](guide.md#nope)"
        " [fenced](#not-a-heading) [web](https://example.org/x.md)\n"
        "Release: `scripts/fetch.py`. Tests: `tests/test_ok_*`, `tests/test_gone_*`.\n"
    )
    (tmp_path / "docs" / "recipe.md").write_text(
        "# R\n\n## Release files cited\n- `scripts/fetch.py`: a release file\n"
    )
    (tmp_path / "vero" / "m.py").write_text(
        f'"""Reward ({private} §3); see docs/guide.md#usage and {missing_doc}."""\n'
        "# vero-rl/vero_reward/x.py is the release's; vero/m.py is this file; README.md#quick-start\n"
    )
    (tmp_path / "config" / "c.yaml").write_text("# rules/" + "none.smk does it (docs/guide.md#" + "usage2)\n")
    bad = unresolved(tmp_path)
    assert bad == [
        "config/c.yaml:1: rules/none.smk (path missing)",
        "config/c.yaml:1: docs/guide.md#usage2 (anchor missing)",
        "docs/guide.md:7: nothing.md (link target missing)",
        "docs/guide.md:7: guide.md#nope (anchor missing)",
        "docs/guide.md:7: #not-a-heading (anchor missing)",
        "docs/guide.md:8: tests/test_gone_* (nothing matches)",
        f"vero/m.py:1: {missing_doc} (path missing)",
        f"vero/m.py:1: {private} (document missing)",
    ]
