"""VeroEval: benchmark registry, sample loading, prompts, generation, scoring and aggregation.

The pieces, in the order an evaluation job uses them (docs/evaluation.md has the rule → function
map): `registry` (config/veroeval.yaml and the VeroMini suite) → `rows` + `expand` (published rows,
one row → several samples) → `samples` + `images` + `prompting` (rows → `EvalSample`, the prompt
the release's harness builds) → `judging` (the judge's GPUs, lifecycle and preflight) → `backends`
(hf / vllm / openai / vllm_server generation; `cache` keys reused outputs on content) →
`scoring` + `metrics` (one score per sample) → `aggregate` (per benchmark,
category, overall) → `writers` (summaries, comparison, sweep curves) and `reproduce` (the released
checkpoints against the paper). `evaluate.evaluate_benchmark` runs one job end to end.
"""
