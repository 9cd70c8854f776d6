# The vLLM serving environment (envs/vllm.yaml) of the jobs that start a vLLM server: the in-job
# judge (reward.judge.serve), evaluation with eval.backend vllm_server and the skill extractor
# (analysis.skills.llm.serve). The rule runs inside envs/vllm.yaml (with --sdm conda Snakemake
# builds it) and records its python; the server-starting rules take that file as input and hand
# the python to vero.serving as VERO_VLLM_PYTHON. A VERO_VLLM_PYTHON already set wins. Either way
# the interpreter must import vllm, or this job fails before any server job starts.
# Input functions (vllm_server_env_input, vllm_python_prefix): rules/common.smk.


localrules:
    vllm_server_env,


rule vllm_server_env:
    output:
        python=res("envs/vllm_python.txt"),
    log:
        logf("vllm_server_env"),
    benchmark:
        benchf("vllm_server_env")
    conda:
        "../envs/vllm.yaml"
    shell:
        '"${{VERO_VLLM_PYTHON:-python}}" -c "import sys, vllm; print(sys.executable)"'
        " > {output.python} 2> {log}"
