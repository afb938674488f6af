"""What every layer agrees on about text, in one place (here, the lowest layer, so ingestion and the
query side share it): the language of a text, normalisation, sentence splitting, numbers as quantities
(`quantities`), file digests and elapsed time."""
