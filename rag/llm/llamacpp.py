"""The embedded backend: llama.cpp through llama-cpp-python, one generation at a time.

Our own thin wrapper rather than llama-index's LlamaCPP: that one formats prompts with hand-written
functions instead of the GGUF's chat template and exposes neither grammars nor cancellation. The
prompt is evaluated here in slices with a cancel check between them (llama-cpp-python evaluates a
whole prompt in one uninterruptible call), so a departed reader frees the model within about a second."""

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
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise LLMUnavailable(f'llama-cpp-python is not installed ({exc}); run "make install"') from exc
        self.name = f"llama.cpp:{path.name}"
        self._lock = threading.Lock()  # a llama.cpp context serves one sequence at a time
        self.slice = max(1, options.prefill_slice)
        threads = options.threads or os.cpu_count() or 1
        draft = None
        if options.prompt_lookup:
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            draft = LlamaPromptLookupDecoding(num_pred_tokens=options.prompt_lookup)
        try:
            self.model: Any = Llama(
                model_path=str(path), n_ctx=options.context, n_threads=threads, n_threads_batch=threads,
                n_batch=options.batch, n_ubatch=options.ubatch, flash_attn=options.flash_attn, draft_model=draft,
                verbose=False,
            )  # fmt: skip
        except (ValueError, RuntimeError) as exc:
            raise LLMUnavailable(f"could not load {path}: {exc}") from exc
        template = self.model.metadata.get("tokenizer.chat_template")
        if not template:
            raise LLMUnavailable(f"{path} has no chat template in its metadata; use a chat (instruct) GGUF")
        eos = self.model.token_eos()
        self._format: Any = Jinja2ChatFormatter(
            template=template, eos_token=self.model._model.token_get_text(eos), bos_token="", stop_token_ids=[eos]
        )

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

        cancel = cancel or threading.Event()
        with self._lock:
            completion = 0
            try:
                turns: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
                chat = self._format(messages=turns)
                tokens = self.model.tokenize(chat.prompt.encode(), add_bos=not chat.added_special, special=True)
                if not self._prefill(tokens, cancel):
                    yield Usage(len(tokens), 0)
                    return
                chunks = self.model.create_completion(
                    prompt=tokens, max_tokens=max_tokens, temperature=temperature, stream=True,
                    stop=[*stop, *([chat.stop] if isinstance(chat.stop, str) else chat.stop or [])],
                    stopping_criteria=chat.stopping_criteria,
                    grammar=LlamaGrammar.from_string(grammar, verbose=False) if grammar else None,
                )  # fmt: skip
                for chunk in chunks:
                    if cancel.is_set():
                        break
                    delta = chunk["choices"][0]["text"]
                    if delta:
                        completion += 1
                        yield delta
            except (ValueError, RuntimeError) as exc:
                raise LLMFailed(f"llama.cpp failed: {exc}") from exc
            yield Usage(len(tokens), completion)

    def _prefill(self, tokens: list[int], cancel: threading.Event) -> bool:
        """Evaluates all but the last prompt token in slices, reusing the cached prefix (the fixed
        system prompt); False when cancelled. `create_completion` then finds the prefix in place and
        evaluates only the last token before sampling."""
        m = self.model
        cached = int(m.n_tokens)
        same = 0
        for a, b in zip(m.input_ids[:cached], tokens, strict=False):
            if a != b:
                break
            same += 1
        target = len(tokens) - 1
        same = min(same, target)
        if same < cached:
            m._ctx.kv_cache_seq_rm(-1, same, -1)
            m.n_tokens = same
        for i in range(same, target, self.slice):
            if cancel.is_set():
                return False
            m.eval(tokens[i : min(i + self.slice, target)])
        return not cancel.is_set()
