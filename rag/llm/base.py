"""One small interface for language models: messages in, text deltas and usage out."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from index.errors import ArchiveQAError

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


class LLMUnavailable(ArchiveQAError):
    """The model cannot be reached or loaded (answers fall back to extractive mode)."""


class LLMFailed(ArchiveQAError):
    """The model failed while generating."""


class LLM(Protocol):
    name: str

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
        """Text deltas as they are generated, then one `Usage`. Setting `cancel` stops generation
        at the next token; `grammar` (GBNF) constrains output where the backend supports it."""
        ...


@dataclass(frozen=True)
class LLMOptions:
    """Every value comes from `Settings.llm_options()`, where the defaults and their reasons live."""

    gguf: str
    url: str
    model: str
    api_key: str
    threads: int  # 0: the backend's own choice
    context: int
    timeout: float
    batch: int  # llama.cpp n_batch
    ubatch: int  # llama.cpp n_ubatch
    flash_attn: bool
    prefill_slice: int  # prompt tokens evaluated between two cancel checks
    prompt_lookup: int  # draft tokens for prompt-lookup speculative decoding; 0 = off
