"""Writing JSON results, one way for every stage: atomically, so an interrupted job never leaves a
half-written file behind as its output (Snakemake would take it as done).

>>> import json, tempfile
>>> from pathlib import Path
>>> path = write_json(Path(tempfile.mkdtemp()) / "out" / "summary.json", {"b": 1, "a": [0.5]})
>>> json.loads(path.read_text())
{'b': 1, 'a': [0.5]}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: str | Path, obj: Any, *, sort_keys: bool = False, indent: int = 2) -> Path:
    """Write `obj` as JSON to `path` (parents created) through a temporary file renamed into place;
    values JSON has no type for (dates, paths) are written as their `str`. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(obj, indent=indent, sort_keys=sort_keys, default=str) + "\n")
    os.replace(tmp, path)
    return path
