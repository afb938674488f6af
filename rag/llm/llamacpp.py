"""The embedded backend: llama.cpp through llama-cpp-python, one generation at a time.

Our own thin wrapper rather than llama-index's LlamaCPP: that one formats prompts with hand-written
functions instead of the GGUF's chat template and exposes neither grammars nor cancellation."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.llm.base import LLMFailed, LLMOptions, LLMUnavailable, Message, Usage


class LlamaCppLLM:
    def __init__(self, options: LLMOptions) -> None:
        path = Path(options.gguf)
        if not path.is_file():
            raise LLMUnavailable(f'no GGUF at {path}; run "make install" or set RAG_LLM_GGUF to a .gguf file')
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMUnavailable(f'llama-cpp-python is not installed ({exc}); run "make install"') from exc
        self.name = f"llama.cpp:{path.name}"
        self._lock = threading.Lock()  # a llama.cpp context serves one sequence at a time
        threads = options.threads or os.cpu_count() or 1
        try:
            self.model: Any = Llama(
                model_path=str(path), n_ctx=options.context, n_threads=threads, n_threads_batch=threads,
                n_batch=512, verbose=False,
            )  # fmt: skip
        except (ValueError, RuntimeError) as exc:
            raise LLMUnavailable(f"could not load {path}: {exc}") from exc

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 400,
        temperature: float = 0.0,
        grammar: str | None = None,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
    ) -> Iterator[str | Usage]:
        from llama_cpp import LlamaGrammar

        with self._lock:
            completion = 0
            try:
                chunks = self.model.create_chat_completion(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    max_tokens=max_tokens, temperature=temperature, stream=True, stop=list(stop) or None,
                    grammar=LlamaGrammar.from_string(grammar, verbose=False) if grammar else None,
                )  # fmt: skip
                for chunk in chunks:
                    if cancel is not None and cancel.is_set():
                        break
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        completion += 1
                        yield delta
            except (ValueError, RuntimeError) as exc:
                raise LLMFailed(f"llama.cpp failed: {exc}") from exc
            # Tokens now in the context = prompt + generated, so the prompt size falls out of it.
            yield Usage(max(int(self.model.n_tokens) - completion, 0), completion)
