"""Retrieval: from a question to the posts that bear on it. The loaded index and models (`engine`), hybrid
search with fusion and one hit per post (`retriever`), filters by category, tag and date, the calibrated
not-in-archive probability (`relevance`), the optional cross-encoder (`rerank`), the posting period a
question names (`periods`), follow-ups made standalone (`conversation`), Japanese search terms for an
English question (`query_terms`) and the LlamaIndex adapter. May import `index`, `rag.llm` and
`rag.settings`; never answering, desk, cache or cli."""
