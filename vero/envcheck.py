"""Resolve the workflow's conda environments (`envs/*.yaml`) for the machines they are built on.

    python -m vero.envcheck                       # every envs/*.yaml, Linux x86_64 (CUDA wheels)
    python -m vero.envcheck envs/gpu.yaml --out results/envs

Each file's `pip:` list is resolved, nothing installed, for the platform a GPU cluster runs
(`x86_64-manylinux_2_34`: glibc 2.34, the wheels PyPI serves for Linux, i.e. torch's CUDA build)
and the file's own Python (`python=3.12` in its conda dependencies). A set that cannot resolve
fails naming the file and the conflict as the resolver states it (e.g. "vllm==0.33.0 depends on
torch==2.14.0 and you require torch==2.13.0"); an index that cannot be reached fails too, never
skips: the check exists to say the environments build, and without the index it cannot.

The resolver is uv's (`uv pip compile --python-platform`, a PyPI client): it reads wheel
metadata with concurrent HTTP range requests and builds the metadata of the few source-only
packages (deepspeed, langdetect, ...) on this machine. pip's own dry run
(`pip install --dry-run --report --platform ... --only-binary=:all:`) was measured on this index
first: without `--use-feature=fast-deps` it downloads every wheel (4.0 GB for vllm + torch + trl);
with it, 11.7 MB of range reads in 1,835 sequential requests, 3.5 min for that subset alone; and
with `--platform` it cannot take source-only packages at all (README, "Environments").

`installed_mismatches` is the import-side check: the pins a CPU environment built from the same
file (the vLLM tier's `.venv-vllm`, scripts/vllm_env.sh) must hold exactly.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PLATFORM = "x86_64-manylinux_2_34"
INDEX_URL = "https://pypi.org/simple"
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;#]+)")
_PYTHON = re.compile(r"^python\s*=+\s*([0-9]+\.[0-9]+)")
# uv's wording when the index itself failed (not a resolution conflict)
_NETWORK = re.compile(
    r"Failed to fetch|error sending request|Could not connect|dns error|Connection refused|"
    r"timed out|tcp connect error|Network is unreachable|Failed to download",
    re.IGNORECASE,
)


class EnvCheckError(RuntimeError):
    """An environment file that does not resolve (or cannot be read); the message names it."""


class IndexUnreachable(EnvCheckError):
    """The package index could not be reached: the check failed, it did not pass or skip."""


@dataclass
class EnvSpec:
    path: Path
    python: str
    requirements: list[str]

    @property
    def pins(self) -> dict[str, str]:
        """Exactly pinned requirements: normalised name -> version (extras dropped)."""
        out = {}
        for req in self.requirements:
            m = _PIN.match(req)
            if m:
                out[normalise(m.group(1))] = m.group(3)
        return out


@dataclass
class Resolution:
    spec: EnvSpec
    packages: dict[str, str] = field(default_factory=dict)  # normalised name -> version
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "env": str(self.spec.path),
            "python": self.spec.python,
            "platform": PLATFORM,
            "packages": dict(sorted(self.packages.items())),
            "seconds": round(self.seconds, 1),
        }


def normalise(name: str) -> str:
    """PEP 503 name normalisation: "Flash_Attn" -> "flash-attn"."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_env(path: str | Path) -> EnvSpec:
    """The Python version and pip requirements of a conda environment file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise EnvCheckError(f"{path}: cannot read the environment file ({exc})") from exc
    deps = (data or {}).get("dependencies") or []
    python, pip_reqs = None, None
    for dep in deps:
        if isinstance(dep, str) and _PYTHON.match(dep):
            python = _PYTHON.match(dep).group(1)
        elif isinstance(dep, Mapping) and "pip" in dep:
            pip_reqs = [str(r) for r in dep["pip"] or []]
    if python is None:
        raise EnvCheckError(f"{path}: no `python=X.Y` among the conda dependencies")
    if not pip_reqs:
        raise EnvCheckError(f"{path}: no `pip:` requirements to resolve")
    return EnvSpec(path=path, python=python, requirements=pip_reqs)


@functools.cache
def uv_binary() -> str:
    """The uv executable of this environment (the `uv` package of the dev extra). Cached, and
    looked up before `resolve_all` starts its threads: uv's lookup reads `sysconfig`, whose first
    initialisation is not thread-safe."""
    try:
        from uv import find_uv_bin
    except ImportError as exc:
        raise EnvCheckError(
            "the environment check needs uv (`pip install uv`, part of the project's dev extra)"
        ) from exc
    return find_uv_bin()


def compile_command(spec: EnvSpec, *, index_url: str = INDEX_URL, platform: str = PLATFORM) -> list[str]:
    return [
        uv_binary(),
        "pip",
        "compile",
        "--no-config",  # this machine's pip/uv settings (local mirrors, caps) must not leak in
        "--quiet",
        "--no-header",
        "--no-annotate",
        "--index-url",
        index_url,
        "--python-platform",
        platform,
        "--python-version",
        spec.python,
        "-",
    ]


def resolve(
    spec: EnvSpec, *, index_url: str = INDEX_URL, platform: str = PLATFORM, timeout_s: float = 600
) -> Resolution:
    """Resolve one environment; raises EnvCheckError naming the file and the conflict."""
    start = time.monotonic()
    try:
        proc = subprocess.run(
            compile_command(spec, index_url=index_url, platform=platform),
            input="\n".join(spec.requirements) + "\n",
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise IndexUnreachable(
            f"{spec.path}: resolving against {index_url} took over {timeout_s:.0f} s"
        ) from exc
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        message = proc.stderr.strip() or proc.stdout.strip()
        if _NETWORK.search(message) and "No solution found" not in message:
            raise IndexUnreachable(
                f"{spec.path}: the package index {index_url} could not be reached, so the environment "
                f"was NOT checked:\n{message}"
            )
        raise EnvCheckError(
            f"{spec.path}: the pip set does not resolve for {platform}, Python {spec.python}:\n{message}"
        )
    packages = {}
    for line in proc.stdout.splitlines():
        m = _PIN.match(line)
        if m:
            packages[normalise(m.group(1))] = m.group(3)
    missing = {n: v for n, v in spec.pins.items() if packages.get(n) != v}
    if missing:  # cannot happen with a sound resolver; a parse error of ours would show here
        raise EnvCheckError(f"{spec.path}: resolved set lacks the pins {missing}")
    return Resolution(spec=spec, packages=packages, seconds=seconds)


def resolve_all(paths: Sequence[str | Path], **kwargs) -> tuple[list[Resolution], list[EnvCheckError]]:
    """Resolve several environments concurrently (the work is network round trips)."""
    specs: list[EnvSpec] = []
    errors: list[EnvCheckError] = []
    for p in paths:
        try:
            specs.append(read_env(p))
        except EnvCheckError as exc:
            errors.append(exc)

    def one(spec):
        try:
            return resolve(spec, **kwargs)
        except EnvCheckError as exc:
            return exc

    uv_binary()  # once, in this thread (see uv_binary)
    with ThreadPoolExecutor(max_workers=max(1, len(specs))) as pool:
        outcomes = list(pool.map(one, specs))
    resolved = [o for o in outcomes if isinstance(o, Resolution)]
    errors += [o for o in outcomes if isinstance(o, EnvCheckError)]
    return resolved, errors


def installed_mismatches(spec: EnvSpec, installed: Mapping[str, str], skip: Iterable[str] = ()) -> dict:
    """Pins of `spec` that `installed` (name -> version) does not hold exactly, except `skip`.

    Local version labels are ignored (torch 2.13.0+cpu holds the pin torch==2.13.0)."""
    skip = {normalise(s) for s in skip}
    out = {}
    for name, version in spec.pins.items():
        if name in skip:
            continue
        have = installed.get(name)
        if have is None or have.split("+")[0] != version:
            out[name] = {"pinned": version, "installed": have}
    return out


def installed_versions(python: str | Path) -> dict[str, str]:
    """name -> version of every distribution installed for interpreter `python`."""
    code = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout
    return {normalise(k): v for k, v in json.loads(out).items()}


def default_env_files(root: Path | None = None) -> list[Path]:
    root = root or Path.cwd()
    return sorted((root / "envs").glob("*.yaml"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("envs", nargs="*", help="environment files (default: envs/*.yaml)")
    parser.add_argument("--platform", default=PLATFORM, help=f"uv platform (default {PLATFORM})")
    parser.add_argument("--index-url", default=INDEX_URL)
    parser.add_argument("--out", help="directory for one <env>.resolved.json per environment")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.envs] or default_env_files()
    if not paths:
        print("vero.envcheck: no envs/*.yaml here", file=sys.stderr)
        return 2
    resolved, errors = resolve_all(paths, index_url=args.index_url, platform=args.platform)
    for r in resolved:
        key = ", ".join(
            f"{n} {r.packages[n]}" for n in ("vllm", "torch", "transformers", "trl") if n in r.packages
        )
        print(
            f"[envcheck] {r.spec.path}: resolves for {args.platform}, Python {r.spec.python}: "
            f"{len(r.packages)} packages ({key}) in {r.seconds:.1f} s"
        )
        if args.out:
            out = Path(args.out) / f"{r.spec.path.stem}.resolved.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(r.as_dict(), indent=1) + "\n")
    for e in errors:
        print(f"[envcheck] FAILED {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
