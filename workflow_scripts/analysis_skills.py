"""Skills of one experiment's evaluation traces (rule analysis_skills)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--experiment", required=True)
    p.add_argument("--traces", nargs="+", required=True, help="eval JSONL files of the experiment")
    p.add_argument("--out", required=True, help="analysis/skills/{experiment}.jsonl")
    p.add_argument(
        "--cache-dir", default=None, help="llm reply cache (when analysis.skills.llm.cache_dir is null)"
    )
    a = p.parse_args(argv)
    setup_cpu()
    from vero.analysis.stages import skills_stage
    from vero.settings import load_job_settings

    skills_stage(load_job_settings(a.config_json), a.experiment, a.traces, a.out, a.cache_dir)


if __name__ == "__main__":
    main()
