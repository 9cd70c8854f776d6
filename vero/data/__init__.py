"""The data stage: canonical records, readers, VeroMini, filtering and training mixtures."""
