"""The query side, by capability: `retrieval`, `answering`, `llm`, `cache`, `desk`, `evaluation`, the
`cli`, and the `install` tools; `settings` (the one `Settings`; `settings_table` renders it for the
README), `types` (what an answer is made of) and `render` (the JSON shapes the CLI and the API share)
are used by all of them. Imports flow `api → rag → index`: nothing here imports `api`."""
