"""The research desk and the editors' view: topic research over posts (`research`, `report`), figures in
Japanese prose and their context (`figures`, `figure_context`), the question log (`questionlog`), what
readers ask (`readers_view`), the gaps report (`gaps`) and safe links, Markdown and CSV (`escaping`).
May import `index`, `rag.retrieval`, `rag.types` and `rag.settings`; never answering, cache or cli."""
