"""Headline numbers of the analysis and the W&B analysis run (rule analysis_summary)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--out", required=True, help="analysis/summary.json")
    for name in (
        "length-csv",
        "probe-json",
        "probe-csv",
        "umap-json",
        "umap-html",
        "transfer-csv",
        "dynamics-csv",
    ):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--pngs", nargs="+", default=[], help="static figures to log")
    a = p.parse_args(argv)
    setup_cpu()
    from pathlib import Path

    from vero.analysis.stages import summary_stage
    from vero.settings import load_job_settings

    paths = {
        k: getattr(a, k)
        for k in (
            "length_csv",
            "probe_json",
            "probe_csv",
            "umap_json",
            "umap_html",
            "transfer_csv",
            "dynamics_csv",
        )
    }
    for png in a.pngs:
        paths[f"{Path(png).parent.name}_{Path(png).stem}_png"] = png
    summary_stage(load_job_settings(a.config_json), paths, a.out)


if __name__ == "__main__":
    main()
