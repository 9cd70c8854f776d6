# Vero: data filtering -> GSPO training -> VeroEval -> behavioral analysis -> report.
#
#   snakemake --profile slurm all                       # the study on a SLURM GPU cluster
#   snakemake --profile profiles/local --configfile config/demo.yaml all   # the CPU demo
#
# Named targets (README "Targets"): all, data, train, evaluation, analysis, report,
# ablation_transfer, ablation_reward, ablation_algorithm, ablation_sft, reproduce_paper.


include: "rules/common.smk"
include: "rules/envs.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/eval.smk"
include: "rules/reproduce.smk"
include: "rules/analysis.smk"
include: "rules/report.smk"


localrules:
    all,
    data,
    train,
    evaluation,
    analysis,
    report,
    ablation_transfer,
    ablation_reward,
    ablation_algorithm,
    ablation_sft,


rule all:
    input:
        REPORT,


rule data:
    input:
        data_targets(),


rule train:
    input:
        train_targets(),


rule evaluation:
    input:
        eval_targets(),
        COMPARISON,


rule analysis:
    input:
        analysis_targets(),


rule report:
    input:
        REPORT,


rule ablation_transfer:
    input:
        ablation_targets(
            "transfer", res("analysis/transfer.csv"), res("analysis/transfer.png")
        ),


rule ablation_reward:
    input:
        ablation_targets("reward"),


rule ablation_algorithm:
    input:
        ablation_targets("algorithm", res("analysis/dynamics/algorithm_ablation.png")),


rule ablation_sft:
    input:
        ablation_targets("sft"),
