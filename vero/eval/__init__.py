"""VeroEval: benchmark registry, sample loading, generation backends, scoring and aggregation.

The pieces, in the order a checkpoint evaluation uses them:
`registry` (config/veroeval.yaml and the VeroMini suite) → `samples` (rows → `EvalSample`) →
`backends` (hf / vllm / openai generation) → `scoring` + `metrics` (one score per sample) →
`aggregate` (per benchmark, category, overall) → `comparison` (tables) and `sweep` (curves).
`evaluate.evaluate_benchmark` runs one (experiment, checkpoint, benchmark) job end to end.
"""
