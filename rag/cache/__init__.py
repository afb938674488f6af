"""The answer cache: one SQLite store per machine (`store`), or Redis shared by replicas (`redis_store`),
behind one contract, and the memo that wraps the answer pipeline: exact repeats and near-duplicate
wordings with the same evidence replayed, answers kept by rule (`memo`). May import `index`,
`rag.types`, `rag.retrieval` (the embedder for near-duplicates) and `rag.answering` (the pipeline it
wraps); never desk or cli."""
