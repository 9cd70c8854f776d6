"""UMAP of skill-description embeddings: PNG + interactive HTML (rule analysis_umap)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--skills", nargs="+", required=True, help="analysis/skills/*.jsonl")
    p.add_argument("--out-png", required=True)
    p.add_argument("--out-html", required=True)
    p.add_argument("--out-points", required=True, help="CSV of the 2-D points")
    p.add_argument("--out-json", required=True, help="what was embedded and how")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.analysis.stages import umap_stage
    from vero.settings import load_job_settings

    umap_stage(load_job_settings(a.config_json), a.skills, a.out_png, a.out_html, a.out_points, a.out_json)


if __name__ == "__main__":
    main()
