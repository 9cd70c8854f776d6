"""Files the library reads beside its code, found the same way in a checkout and in an installed wheel.

In a checkout they are the repository's own files (`config/schema/*.yaml`, `config/veroeval.yaml`,
`config/accelerate/*.yaml`, `workflow_scripts/train.py`), so an edit there takes effect at once. A
wheel carries copies of the same paths under `vero/_data/` (setup.py copies them when the wheel is
built; `PACKAGE_DATA` lists them), so `load_config`, the registry and the train launcher work
outside a checkout too.

>>> resource("config/schema").is_dir()
True
>>> resource("config/veroeval.yaml").name
'veroeval.yaml'
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
PACKAGED_DIR = PACKAGE_DIR / "_data"

# Repository paths (files or folders) the library reads, which the wheel carries under vero/_data/.
PACKAGE_DATA: tuple[str, ...] = (
    "config/schema",
    "config/veroeval.yaml",
    "config/accelerate",
    "workflow_scripts/train.py",
)


def in_checkout() -> bool:
    """Whether this `vero` is the package folder of a repository checkout (an editable install)."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "config" / "schema").is_dir()


def resource(relative: str | Path) -> Path:
    """The file or folder at repository path `relative`: the checkout's own when running from one,
    else the wheel's copy. Raises FileNotFoundError naming both places when neither has it."""
    rel = Path(relative)
    path = (REPO_ROOT if in_checkout() else PACKAGED_DIR) / rel
    if not path.exists():
        raise FileNotFoundError(
            f"{rel}: not found in the checkout ({REPO_ROOT}) nor in the installed package ({PACKAGED_DIR})"
        )
    return path
