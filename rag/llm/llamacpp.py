"""The embedded backend: llama.cpp through llama-cpp-python, one generation at a time.

Our own thin wrapper rather than llama-index's LlamaCPP: that one formats prompts with hand-written
functions instead of the GGUF's chat template and exposes neither grammars nor cancellation. The
prompt is evaluated here in slices with a cancel check between them (llama-cpp-python evaluates a
whole prompt in one uninterruptible call), so a departed reader frees the model within about a second."""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.llm.base import LLMFailed, LLMOptions, LLMUnavailable, Message, Usage


class PrefixStates:
    """The KV cache of the last few prompts, by their tokens. A prompt that shares a long prefix with one
    of them (the fixed instructions and demonstrations, after a different prompt such as the search-terms
    one ran in between) restores it instead of reading those tokens again. Ours because llama-cpp-python's
    LlamaRAMCache saves the whole context with its logits buffer (hundreds of MB a state here); this keeps
    only the sequence's KV (about 28 kB a token for the 1.5B model)."""

    def __init__(self, most: int = 3, least: int = 128) -> None:
        self.most, self.least = most, least
        self._states: list[tuple[tuple[int, ...], bytes]] = []  # oldest first

    def best(self, tokens: Sequence[int]) -> tuple[tuple[int, ...], bytes, int] | None:
        """The saved state sharing the longest prefix with `tokens`, and that length."""
        found = None
        for key, data in self._states:
            n = common_prefix(key, tokens)
            if n >= self.least and (found is None or n > found[2]):
                found = (key, data, n)
        return found

    def save(self, ctx: Any, tokens: Sequence[int]) -> None:
        from llama_cpp import llama_cpp as c

        if len(tokens) < self.least:
            return
        size = c.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = c.llama_state_seq_get_data(ctx, buffer, size, 0)
        key = tuple(tokens)
        self._states = [(k, d) for k, d in self._states if k != key][-(self.most - 1) :] if self.most > 1 else []
        self._states.append((key, bytes(buffer)[:written]))

    @staticmethod
    def restore(ctx: Any, data: bytes) -> bool:
        from llama_cpp import llama_cpp as c

        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        return bool(c.llama_state_seq_set_data(ctx, buffer, len(data), 0))


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


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
        self.states = PrefixStates()
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
        same = common_prefix(m.input_ids[:cached].tolist(), tokens)
        saved = self.states.best(tokens)
        if saved is not None and saved[2] > same:  # another prompt ran since: restore the longer prefix
            key, data, n = saved
            m._ctx.kv_cache_seq_rm(-1, 0, -1)
            if self.states.restore(m._ctx.ctx, data):
                m.input_ids[: len(key)] = key
                m.n_tokens = cached = len(key)
                same = n
            else:
                m.n_tokens = cached = same = 0
        target = len(tokens) - 1
        same = min(same, target)
        if same < cached:
            m._ctx.kv_cache_seq_rm(-1, same, -1)
            m.n_tokens = same
        for i in range(same, target, self.slice):
            if cancel.is_set():
                return False
            m.eval(tokens[i : min(i + self.slice, target)])
        if cancel.is_set():
            return False
        self.states.save(m._ctx.ctx, tokens[:target])
        return True
