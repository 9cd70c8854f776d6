"""GSPO training with TRL (issue 4): config mapping, data, sampler, trainers, launch, resume.

`run_experiment` is the entry point of workflow_scripts/train.py; the submodules stay importable
without loading torch/TRL where they do not need them (launch, trl_config).
"""

from __future__ import annotations


def run_experiment(*args, **kwargs):
    """See `vero.train.run.run_experiment`."""
    from vero.train.run import run_experiment as _run

    return _run(*args, **kwargs)


__all__ = ["run_experiment"]
