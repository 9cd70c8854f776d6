# The vLLM serving environment (envs/vllm.yaml) of the jobs that start a vLLM server: the in-job
# judge (reward.judge.serve), evaluation with eval.backend vllm_server and the skill extractor
# (analysis.skills.llm.serve). The rule runs inside envs/vllm.yaml (with --sdm conda Snakemake
# builds it) and records its python; the server-starting rules take that file as input and hand
# the python to vero.serving as VERO_VLLM_PYTHON. A VERO_VLLM_PYTHON already set wins. Either way
# the interpreter must import vllm, or this job fails before any server job starts.


localrules:
    vllm_server_env,


rule vllm_server_env:
    output:
        python=res("envs/vllm_python.txt"),
    log:
        logf("vllm_server_env"),
    conda:
        "../envs/vllm.yaml"
    shell:
        '"${{VERO_VLLM_PYTHON:-python}}" -c "import sys, vllm; print(sys.executable)"'
        " > {output.python} 2> {log}"


def _serves_judge(wildcards):
    serve = resolve_experiment(CFG, wildcards.experiment)["reward"]["judge"]
    return bool(serve.get("enabled")) and bool(
        (serve.get("serve") or {}).get("enabled")
    )


def vllm_server_env_input(stage):
    """Input function: the recorded serving python when the stage's job starts a vLLM server."""

    def needs(wildcards):
        if stage == "train":
            serving = _serves_judge(wildcards)
        elif stage == "eval":
            serving = CFG["eval"].get("backend") == "vllm_server"
        else:  # analysis skills
            skills = CFG["analysis"].get("skills") or {}
            serving = skills.get("extractor") == "llm" and bool(
                ((skills.get("llm") or {}).get("serve") or {}).get("enabled")
            )
        return [res("envs/vllm_python.txt")] if serving else []

    return needs


def vllm_python_prefix(wildcards, input):
    """`VERO_VLLM_PYTHON=<recorded python> ` before a job's command, when it starts a server."""
    files = list(input.get("vllm_env", []) or [])
    return f'VERO_VLLM_PYTHON="$(cat {files[0]})" ' if files else ""
