"""Evaluation: `rag eval` over a questions file in dev.jsonl's format (`evaluate`) and the grading of an
answer against a gold answer (`grading`). May import every other part of `rag` but the CLI."""
