"""Warm-start the embedded tiny VLM on VeroMini's pretrain split (rule warm_start).

  python workflow_scripts/warm_start.py --config-json results/settings/warm_start/<sha>.json \
      --base results/models/tiny-qwen2_5_vl --data results/data/pretrain/veromini.parquet \
      --out results/models/tiny-qwen2_5_vl-warm
"""

import argparse
import json
import sys
import time

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--config-json", required=True, help="the validated config (results/settings/warm_start/<sha>.json)"
    )
    p.add_argument("--base", required=True, help="the built tiny model directory")
    p.add_argument("--data", required=True, help="the pretrain Parquet file (rule data_pretrain)")
    p.add_argument("--out", required=True, help="output model directory")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.config import ConfigError
    from vero.models import coords_for
    from vero.models.warm_start import WarmStartSettings, run_warm_start
    from vero.prompts import training_system_prompt
    from vero.settings import load_job_settings

    try:
        cfg = load_job_settings(a.config_json)
        settings = WarmStartSettings.from_config(cfg)
    except ConfigError as exc:
        sys.exit(f"warm_start: {exc}")
    start = time.perf_counter()
    out = run_warm_start(
        a.base,
        a.data,
        a.out,
        settings,
        coords=coords_for(cfg["model"]["family"]),
        system_prompt=training_system_prompt(cfg),
        dtype=cfg["model"].get("dtype", "auto"),
    )
    print(json.dumps({"out": str(out), "seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
