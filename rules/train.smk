# Training (docs/recipe.md#5-training): one job per experiment. GSPO with TRL's GRPOTrainer (or the algorithm,
# reward and SFT variants of the ablations), on the experiment's category-balanced mix.
# workflow_scripts/train.py builds the job's command from train.launcher (plain python on CPU,
# accelerate on GPUs, srun + accelerate across nodes; vero.train.launch documents each) and
# prints it to the log. A rerun (e.g. after SLURM preemption and requeue) resumes from the newest
# complete runs/{experiment}/checkpoint-*; the final model is the rule's output. A stop signal
# (README, "Preemption") makes the job save a checkpoint and exit 143. With train.validation on, the
# job validates on the held-out split (data/heldout/{category}.parquet) every N steps.

from vero.models.families import resolve_base_model

BASE_MODEL = resolve_base_model(CFG, RESULTS)
# the tiny model (or its warm start) when the workflow builds it; nothing for a hub id or a path
BASE_MODEL_INPUT = BUILT_BASE_MODEL


rule train_experiment:
    input:
        mix=DATA["mix"],
        base=BASE_MODEL_INPUT,
        vllm_env=vllm_server_env_input("train"),
        heldout=validation_input,
    output:
        final=directory(res("runs/{experiment}/final")),
        train_log=res("runs/{experiment}/train_log.jsonl"),
    log:
        logf("train_experiment/{experiment}"),
    benchmark:
        benchf("train_experiment/{experiment}")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("train_experiment"),
    params:
        settings=job_settings("train_experiment"),
        vllm_python=vllm_python_prefix,
        base=lambda wildcards, input: input.base[0] if input.base else BASE_MODEL,
        run_dir=lambda wildcards: res(f"runs/{wildcards.experiment}"),
    # exec: the trainer is the job's process (a shell in between would die of a stop signal
    # and let Snakemake take the job for ended while it saves); fd 3 is Snakemake's stderr, where
    # the final error line goes besides the log (workflow_scripts/train.py --error-fd)
    shell:
        "{params.vllm_python}exec python workflow_scripts/train.py --config-json {params.settings}"
        " --experiment {wildcards.experiment} --mix {input.mix} --base-model {params.base}"
        " --output-dir {params.run_dir} --heldout {input.heldout} --error-fd 3 3>&2 > {log} 2>&1"
