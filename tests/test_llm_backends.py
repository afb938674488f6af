"""Each LLM backend for real: the embedded llama.cpp with the installed GGUF, and the HTTP backend
against llama-cpp-python's own OpenAI-compatible server running the same GGUF; plus the GGUF check."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.install import gguf
from rag.install.gguf import ChecksumMismatch
from rag.llm.base import LLM, LLMUnavailable, Message, Usage
from rag.llm.registry import load_llm
from tests.options import llm_options

from .conftest import GGUF
from .servers import free_port

PROMPT = [Message("system", "Answer with one word."), Message("user", "日本の首都はどこですか？")]


def run(llm: LLM) -> tuple[str, Usage]:
    text, usage = "", None
    for item in llm.stream(PROMPT, max_tokens=8):
        if isinstance(item, Usage):
            usage = item
        else:
            text += item
    assert usage is not None
    return text, usage


def test_the_embedded_model_answers_from_the_installed_gguf() -> None:
    text, usage = run(load_llm("llama.cpp", llm_options(gguf=str(GGUF), threads=2, context=1024)))
    assert "東京" in text or "Tokyo" in text
    assert usage.prompt_tokens > 5 and 0 < usage.completion_tokens <= 8


def test_the_http_backend_streams_from_a_real_openai_compatible_server(llama_server: str) -> None:
    text, usage = run(load_llm("auto", llm_options(url=llama_server, model="qwen")))
    assert "東京" in text or "Tokyo" in text
    assert usage.completion_tokens > 0


def test_an_unreachable_server_is_reported_as_unavailable() -> None:
    llm = load_llm("openai", llm_options(url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(LLMUnavailable, match="cannot reach the LLM server"):
        run(llm)


def test_a_missing_gguf_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailable, match=r"make install.*RAG_LLM_GGUF"):
        load_llm("llama.cpp", llm_options(gguf=str(tmp_path / "none.gguf")))


def test_the_installed_gguf_passes_its_checksum() -> None:
    gguf.verify(GGUF)


def test_a_corrupted_gguf_fails_the_checksum_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 1024)
    with pytest.raises(
        ChecksumMismatch, match=r"is corrupt: sha256 .* is not the expected .*delete it and run \"make install\""
    ):
        gguf.verify(bad)


def test_assembly_from_corrupted_parts_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = []
    for i in range(3):
        part = tmp_path / f"part{i}.bin"
        part.write_bytes(bytes([i]) * 100)
        parts.append(part)
    monkeypatch.setattr(gguf, "part_paths", lambda: parts)
    dest = tmp_path / "out" / "model.gguf"
    with pytest.raises(ChecksumMismatch):
        gguf.assemble(dest)
    assert not dest.exists() and not list(dest.parent.glob(".*"))
