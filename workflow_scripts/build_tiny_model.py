"""Build the embedded tiny VLM (rule build_tiny_model) or a tiny text LM (the test judge).

  python -m vero.config config/demo.yaml > config.json   # or the job's results/settings/... file
  python workflow_scripts/build_tiny_model.py --config-json config.json \
      --out results/models/tiny-qwen2_5_vl
  python workflow_scripts/build_tiny_model.py --family qwen3_vl --out DIR --hidden-size 128
  python workflow_scripts/build_tiny_model.py --text-lm qwen3 --out DIR

Shape flags override the config's `model.tiny` values.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--config-json",
        type=Path,
        help="the job's settings or a config as JSON; family and shape from model.*",
    )
    p.add_argument("--family", choices=["qwen2_5_vl", "qwen3_vl"], help="VLM family (overrides the config)")
    p.add_argument("--text-lm", choices=["qwen2", "qwen3"], help="build a text-only causal LM instead")
    p.add_argument("--out", type=Path, required=True, help="output model directory")
    p.add_argument("--hidden-size", type=int)
    p.add_argument("--num-layers", type=int)
    p.add_argument("--num-heads", type=int)
    p.add_argument("--vocab-size", type=int)
    p.add_argument("--seed", type=int)
    a = p.parse_args(argv)
    setup_cpu()

    from vero.models.tiny import build_tiny_text_lm, build_tiny_vlm, describe, tiny_settings
    from vero.settings import load_job_settings

    family, shape = None, {}
    if a.config_json is not None:
        cfg = load_job_settings(a.config_json)
        family, shape = tiny_settings(cfg)
    for key in ("hidden_size", "num_layers", "num_heads", "vocab_size", "seed"):
        if getattr(a, key) is not None:
            shape[key] = getattr(a, key)
    family = a.family or family
    if not a.text_lm and family is None:
        p.error("give --family or --config-json (model.family)")
    start = time.perf_counter()
    try:
        if a.text_lm:
            text_shape = {k: v for k, v in shape.items() if not k.startswith("vision_")}
            out = build_tiny_text_lm(a.out, family=a.text_lm, **text_shape)
        else:
            out = build_tiny_vlm(family, a.out, **shape)
    except ValueError as exc:  # a bad shape: say which, without a traceback
        sys.exit(f"build_tiny_model: {exc}")
    print(json.dumps({"out": str(out), "seconds": round(time.perf_counter() - start, 2), **describe(out)}))


if __name__ == "__main__":
    main()
