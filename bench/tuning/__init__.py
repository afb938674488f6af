"""The tuning set: 300+ questions over the real archive in dev.jsonl's format, large enough that a
difference in answer accuracy can be told from noise. `sample` draws posts and fact sentences for the
drafters, `check` keeps only questions that pass the mechanical checks and a blind review, `build`
writes `bench/data/tuning.jsonl`. How it was made: bench/data/TUNING.md."""
