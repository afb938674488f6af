"""Any OpenAI-compatible server (Ollama, vLLM, llama.cpp's server, a hosted model), streamed over HTTP.

httpx directly rather than llama-index's OpenAILike: we need per-token cancellation, a first-token
deadline and the server's own usage figures, and the wrapper would add the OpenAI SDK for one call."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence

import httpx

from rag.llm.base import LLMFailed, LLMOptions, LLMUnavailable, Message, Usage


class OpenAICompatibleLLM:
    def __init__(self, options: LLMOptions) -> None:
        if not options.url:
            raise LLMUnavailable("RAG_LLM_URL is not set (e.g. http://localhost:11434 for Ollama)")
        self.url = options.url.rstrip("/")
        if not self.url.endswith("/v1"):
            self.url += "/v1"
        self.model = options.model or "default"
        self.name = f"openai:{self.model}@{self.url}"
        headers = {"Authorization": f"Bearer {options.api_key}"} if options.api_key else {}
        self.client = httpx.Client(headers=headers, timeout=httpx.Timeout(options.timeout, connect=5.0))

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
        body: dict[str, object] = {
            "model": self.model, "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens, "temperature": temperature, "stream": True,
            "stream_options": {"include_usage": True},
        }  # fmt: skip
        if stop:
            body["stop"] = list(stop)
        if grammar:
            body["grammar"] = grammar  # llama.cpp servers honour it; others ignore unknown fields or refuse
        usage: Usage | None = None
        count = 0
        try:
            with self.client.stream("POST", f"{self.url}/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    detail = response.read().decode(errors="replace")[:300]
                    raise LLMFailed(f"{self.url} answered {response.status_code}: {detail}")
                for line in response.iter_lines():
                    if cancel is not None and cancel.is_set():
                        break
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = json.loads(data)
                    if event.get("usage"):
                        u = event["usage"]
                        usage = Usage(int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0)))
                    for choice in event.get("choices") or []:
                        delta = (choice.get("delta") or {}).get("content")
                        if delta:
                            count += 1
                            yield delta
        except httpx.ConnectError as exc:
            raise LLMUnavailable(f"cannot reach the LLM server at {self.url}: {exc}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise LLMFailed(f"the LLM server at {self.url} failed: {exc}") from exc
        yield usage or Usage(0, count)
