"""Build one experiment's category-balanced training order (rule data_mix)."""

import argparse
import sys

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--config-json",
        required=True,
        help="the job's settings (results/settings/<rule>/<sha>.json) or a config as JSON",
    )
    p.add_argument("--experiment", required=True, help="a key of `experiments:`")
    p.add_argument("--filtered-dir", required=True, help="directory of data/filtered/{category}.parquet")
    p.add_argument("--out", required=True, help="data/mix/{experiment}.parquet")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.config import ConfigError
    from vero.data.mixing import MixError
    from vero.data.stages import mix_stage
    from vero.prompts import PromptError
    from vero.settings import load_job_settings

    try:
        mix_stage(load_job_settings(a.config_json), a.experiment, a.filtered_dir, a.out)
    except (MixError, ConfigError, PromptError) as err:
        sys.exit(f"data_mix: {err}")


if __name__ == "__main__":
    main()
