"""Make the registry's torchvision importable on CPU-only torch (used by scripts/vllm_env.sh).

The only torchvision wheel for torch 2.13 on the registry is a CUDA build: its C extension does not
load on the CPU torch, which torchvision tolerates everywhere except two unconditional
`torch.library.register_fake("torchvision::nms" / "::qnms")` registrations in
`torchvision/_meta_registrations.py`; they raise "operator torchvision::nms does not exist" at
import time and take `import transformers` (and vLLM's Qwen-VL processors) down with them.
This rewrites both decorators to register only when the C ops are present, the way the file's
own `register_meta` helper already does for every other op. Idempotent; run with the target
venv's interpreter. Exit status 0 when torchvision then imports, 1 otherwise.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

MARKER = "# vero: registered only when torchvision's C ops loaded"
OPS = ("nms", "qnms")


def meta_registrations_file() -> Path:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("patch_torchvision_cpu: torchvision is not installed in this interpreter")
    return Path(next(iter(spec.submodule_search_locations))) / "_meta_registrations.py"


def patch_text(text: str) -> tuple[str, int]:
    """Return the patched source and how many decorators were rewritten (0 when already done)."""
    count = 0
    for op in OPS:
        original = f'@torch.library.register_fake("torchvision::{op}")'
        guarded = (
            f'@(torch.library.register_fake("torchvision::{op}") '
            f"if torchvision.extension._has_ops() else (lambda fn: fn))  {MARKER}"
        )
        if original in text:
            text = text.replace(original, guarded)
            count += 1
    return text, count


def main() -> int:
    path = meta_registrations_file()
    text = path.read_text()
    patched, count = patch_text(text)
    if count:
        path.write_text(patched)
        print(f"patch_torchvision_cpu: guarded {count} register_fake call(s) in {path}")
    elif MARKER in text:
        print(f"patch_torchvision_cpu: {path} already patched")
    else:
        print(f"patch_torchvision_cpu: {path} has no unconditional nms/qnms registration; left as is")
    check = subprocess.run(
        [sys.executable, "-c", "import torchvision; from torchvision.transforms import v2"],
        capture_output=True,
        text=True,
    )
    if check.returncode:
        print(f"patch_torchvision_cpu: torchvision still fails to import:\n{check.stderr[-2000:]}")
        return 1
    print("patch_torchvision_cpu: import torchvision OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
