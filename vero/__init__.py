"""Vero: an open RL recipe for general visual reasoning, as a Snakemake workflow."""
