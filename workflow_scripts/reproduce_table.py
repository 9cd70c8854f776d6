"""Per-benchmark deltas of the released models against the paper's table: Markdown, CSV and a
plot (rule reproduce_table)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--summary", action="append", required=True, metavar="MODEL=SUMMARY_JSON")
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-png", required=True)
    a = p.parse_args(argv)
    setup_cpu()
    from vero.eval.evaluate import parse_named_paths
    from vero.eval.reproduce import write_reproduction
    from vero.settings import load_job_settings

    rows = write_reproduction(
        load_job_settings(a.config_json),
        summary_paths=parse_named_paths(a.summary, "--summary"),
        out_md=a.out_md,
        out_csv=a.out_csv,
        out_png=a.out_png,
    )
    for r in rows:
        if r["benchmark"] == "overall":
            print(f"{r['model']}: {r['name']} ours {r['ours']} paper {r['paper']} delta {r['delta']}")


if __name__ == "__main__":
    main()
