"""Build hook: the wheel carries the repository files the library reads (vero.resources.PACKAGE_DATA)
under vero/_data/, so `vero` works outside a checkout. Metadata and dependencies live in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# The same list as vero.resources.PACKAGE_DATA (tests/test_packaging.py checks they agree).
PACKAGE_DATA = ("config/schema", "config/veroeval.yaml", "config/accelerate", "workflow_scripts/train.py")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's own files
        target = Path(self.build_lib) / "vero" / "_data"
        for rel in PACKAGE_DATA:
            src, dst = ROOT / rel, target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, dst)


setup(cmdclass={"build_py": BuildPyWithData})
