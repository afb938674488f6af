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
    gguf: str = ""
    url: str = ""
    model: str = ""
    api_key: str = ""
    threads: int = 0
    context: int = 4096
    timeout: float = 120.0
    batch: int = 512  # llama.cpp n_batch / n_ubatch
    ubatch: int = 512
    flash_attn: bool = True
    prefill_slice: int = 64  # prompt tokens evaluated between two cancel checks (~1 s here)
    prompt_lookup: int = 0  # draft tokens for prompt-lookup speculative decoding; 0 = off
