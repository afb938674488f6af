"""Picks an LLM backend by name. The built-in backends register here through the same seam the
test fakes use; each imports its library only when chosen."""

from __future__ import annotations

from collections.abc import Callable

from rag.llm.base import LLM, LLMOptions, LLMUnavailable

Factory = Callable[[str, LLMOptions], LLM | None]
_REGISTRY: dict[str, Factory] = {}


def register_llm(prefix: str, factory: Factory) -> None:
    _REGISTRY[prefix] = factory


def load_llm(backend: str, options: LLMOptions) -> LLM | None:
    """`backend`: "llama.cpp" (embedded GGUF), "openai" (any OpenAI-compatible server at `url`),
    "none" (extractive answers only), "auto" (openai when a URL is set, else llama.cpp) or a registered
    prefix ("fake:...")."""
    if backend == "auto":
        backend = "openai" if options.url else "llama.cpp"
    factory = _REGISTRY.get(backend.split(":", 1)[0])
    if factory is None:
        known = ", ".join(sorted({"auto", *_REGISTRY}))
        raise LLMUnavailable(f"unknown LLM backend {backend!r}: use one of {known}")
    return factory(backend, options)


def _llamacpp(backend: str, options: LLMOptions) -> LLM:
    from rag.llm.llamacpp import LlamaCppLLM

    return LlamaCppLLM(options)


def _openai(backend: str, options: LLMOptions) -> LLM:
    from dataclasses import replace

    from rag.llm.openai_http import OpenAICompatibleLLM
    from rag.llm.pool import UpstreamPool

    urls = [u.strip() for u in options.url.split(",") if u.strip()]
    if len(urls) <= 1:
        return OpenAICompatibleLLM(options)
    return UpstreamPool([OpenAICompatibleLLM(replace(options, url=u)) for u in urls])


register_llm("llama.cpp", _llamacpp)
register_llm("openai", _openai)
register_llm("none", lambda backend, options: None)
