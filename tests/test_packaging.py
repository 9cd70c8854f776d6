"""`vero` outside a checkout: a wheel built from this tree carries the files the library reads
(vero.resources.PACKAGE_DATA under vero/_data/, no test fixture), and, unpacked into a folder of its
own and imported from there with the checkout out of reach, loads a config, the benchmark registry
and finds its train script and accelerate configs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from vero.config import REPO_ROOT
from vero.resources import PACKAGE_DATA

OUTSIDE = r"""
import json, sys
from pathlib import Path
import vero, vero.resources as res
from vero.config import load_config
from vero.eval.registry import load_registry, suite_benchmarks
from vero.train.launch import build_train_command, train_script
from vero.config import resolve_experiment

cfg = load_config(sys.argv[1])
resolved = resolve_experiment(cfg, "mixed")
resolved["train"]["launcher"] = {"kind": "single_gpu"}
cmd = build_train_command(resolved, config_json="c.json", experiment="mixed", mix="m.parquet",
                          base_model="b", output_dir="o")
print(json.dumps({
    "vero": vero.__file__, "in_checkout": res.in_checkout(), "alpha": cfg["reward"]["alpha"],
    "registry": len(load_registry()),
    "suite": len(suite_benchmarks({**cfg, "eval": {**cfg["eval"], "suite": "veroeval"}})),
    "train_script": train_script(), "accelerate": cmd[cmd.index("--config_file") + 1],
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build_dir_existed = (REPO_ROOT / "build").exists()  # setuptools builds in the tree, under build/
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".", "-w", out],
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
    )
    if not build_dir_existed:
        shutil.rmtree(REPO_ROOT / "build", ignore_errors=True)
    (path,) = out.glob("vero-*.whl")
    return path


def test_setup_py_copies_what_the_library_reads():
    setup = (REPO_ROOT / "setup.py").read_text()
    assert f"PACKAGE_DATA = {PACKAGE_DATA!r}".replace("'", '"') in setup


def test_the_wheel_carries_the_package_data_and_no_test_fixture(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in PACKAGE_DATA:
        src = REPO_ROOT / rel
        files = (
            [p for p in src.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
            if src.is_dir()
            else [src]
        )
        for f in files:
            assert f"vero/_data/{f.relative_to(REPO_ROOT).as_posix()}" in names
    assert "vero/rewards/types.py" in names and "vero/resources.py" in names
    assert not any("synthetic" in n or n.startswith("tests/") for n in names)


def test_the_installed_wheel_works_outside_a_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    (tmp_path / "work").mkdir()
    config = tmp_path / "work" / "my.yaml"
    doc = yaml.safe_load((REPO_ROOT / "config" / "demo.yaml").read_text())
    doc.pop("reward", None)  # its keys then come from the schema's defaults, read from the wheel
    config.write_text(yaml.safe_dump(doc))
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", OUTSIDE, str(config)],
        cwd=tmp_path / "work",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    data = site / "vero" / "_data"
    assert Path(out["vero"]).is_relative_to(site) and out["in_checkout"] is False
    from vero.config import load_schema
    from vero.eval.registry import load_registry

    assert out["alpha"] == load_schema()["properties"]["reward"]["properties"]["alpha"]["default"]
    assert out["registry"] == out["suite"] == len(load_registry())
    assert out["train_script"] == str(data / "workflow_scripts" / "train.py")
    assert out["accelerate"] == str(data / "config" / "accelerate" / "single_gpu.yaml")
