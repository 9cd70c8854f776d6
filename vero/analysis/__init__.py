"""Behavioral analysis of trained policies (docs/recipe.md#8-behavioral-analysis and the ablations,
docs/recipe.md#6-ablations).

Modules, one concern each (heavy imports stay inside functions so `import vero.analysis` is cheap):

- `traces`: read evaluation traces, summaries and training logs, dropping malformed rows with a
  reason code.
- `reasoning_length`: words in the think block per category and experiment (mean ± SEM,
  bootstrap 95 % interval) beside the paper's figures.
- `skills`: skill extraction behind one interface (`llm` and `lexicon` extractors).
- `probe`: a logistic-regression probe that predicts a trace's category from its skills.
- `embeddings`, `umap_plot`: sentence embeddings of skill descriptions and the 2-D UMAP views.
- `transfer`: the single-category transfer matrix (eval delta vs the base model).
- `dynamics`: training curves and the GSPO / GRPO / DAPO overlay.
- `summary`: the headline numbers and the W&B analysis run.
"""
