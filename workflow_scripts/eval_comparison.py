"""The comparison table (Markdown + CSV): base model vs every experiment, deltas, paper numbers
(rule eval_comparison)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--summary", action="append", required=True, metavar="EXPERIMENT=SUMMARY_JSON")
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-csv", required=True)
    a = p.parse_args(argv)
    setup_cpu()
    from vero.eval.evaluate import parse_named_paths
    from vero.eval.writers import write_comparison
    from vero.settings import load_job_settings

    paths = parse_named_paths(a.summary, "--summary")
    md, _ = write_comparison(
        load_job_settings(a.config_json), summary_paths=paths, out_md=a.out_md, out_csv=a.out_csv
    )
    print(md)


if __name__ == "__main__":
    main()
