"""Answering: the answer pipeline (`pipeline.Answerer`) from retrieved posts to a checked, cited answer:
evidence sentences, the key passage, prompts and demonstrations, citation checks, what a question asks
for and whether a sentence bears on it, the subject guard, the span attempt, English by translation,
dated notes and how an answer ends (`outcomes`), the help answer about the service. May import `index`,
`rag.retrieval`, `rag.llm`, `rag.desk` (the figure reader and the disagreement rule), `rag.types` and
`rag.settings`; never cache or cli (the cache wraps the pipeline from outside)."""
