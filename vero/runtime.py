"""Process-level settings every CPU script and test applies before heavy imports."""

from __future__ import annotations

import os
import sys


def setup_cpu(threads: int | None = None) -> None:
    """Pin math libraries to few threads and keep the hub offline unless told otherwise.

    On these 2-core machines torch's default thread count made tiny-model steps 10-50x slower
    and erratic (docs/environment.md#threads), so CPU runs use one thread unless `VERO_THREADS` says more.
    """
    n = str(threads or int(os.environ.get("VERO_THREADS", "1")))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(var, n)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("MPLBACKEND", "Agg")
    # torch reads OMP_NUM_THREADS when it is first imported; only a torch imported before this
    # call needs telling (importing it here would cost data-only jobs seconds).
    torch = sys.modules.get("torch")
    if torch is not None and not torch.cuda.is_available():
        torch.set_num_threads(int(n))
