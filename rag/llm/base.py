"""One small interface for language models, and the registry that picks a backend from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
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


Factory = Callable[[str, LLMOptions], LLM]
_REGISTRY: dict[str, Factory] = {}


def register_llm(prefix: str, factory: Factory) -> None:
    _REGISTRY[prefix] = factory


def load_llm(backend: str, options: LLMOptions) -> LLM | None:
    """`backend`: "llama.cpp" (embedded GGUF), "openai" (any OpenAI-compatible server at `url`),
    "none" (extractive answers only) or a registered prefix ("fake:...")."""
    prefix = backend.split(":", 1)[0]
    if prefix in _REGISTRY:
        return _REGISTRY[prefix](backend, options)
    if backend == "none":
        return None
    if backend == "openai" or (backend == "auto" and options.url):
        from rag.llm.openai_http import OpenAICompatibleLLM

        return OpenAICompatibleLLM(options)
    if backend in ("llama.cpp", "auto"):
        from rag.llm.llamacpp import LlamaCppLLM

        return LlamaCppLLM(options)
    raise LLMUnavailable(f"unknown LLM backend {backend!r}: use auto, llama.cpp, openai or none")
