"""The `rag` command line: ingest, search, ask, eval, serve (`main`), research and reports (`desk`). It
reads `Settings` once and passes it down; `rag serve` builds the HTTP app from those settings through
the factory the `api` package registers (an entry point), so no module of `rag` imports `api`."""
