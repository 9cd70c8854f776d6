"""Generate VeroMini's pretrain split, the tiny model's warm-start data (rule data_pretrain)."""

import argparse
import json

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--config-json",
        required=True,
        help="the validated config (results/settings/data_pretrain/<sha>.json)",
    )
    p.add_argument("--out", required=True, help="data/pretrain/veromini.parquet")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.data.veromini import write_pretrain
    from vero.models.warm_start import WarmStartSettings
    from vero.settings import load_job_settings

    cfg = load_job_settings(a.config_json)
    ws = WarmStartSettings.from_config(cfg)
    counts = write_pretrain(
        a.out,
        ws.samples_per_category,
        ws.seed,
        difficulty=cfg["data"]["synthetic"]["difficulty"],
        progress=True,
    )
    print(json.dumps({"pretrain": counts}))


if __name__ == "__main__":
    main()
