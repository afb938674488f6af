"""Two real LLM servers (llama-cpp-python's OpenAI-compatible server on the installed GGUF) behind one
`rag serve`; one is killed with SIGKILL while readers wait: no reader gets an error, and the service
reports the dead upstream."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest

from .conftest import GGUF, fake_index
from .servers import child_server, free_port, llama_cpp_server_cmd, rag_server

QUESTIONS = ["外観検査AIの導入で検査工数は何%削減されましたか？", "LLMの推論コストは量子化でどれだけ下がりましたか？",
             "エッジAIチップを選ぶときの観点は？"]  # fmt: skip


@pytest.fixture
def two_llm_servers() -> Iterator[list[subprocess.Popen[bytes]]]:
    with ExitStack() as stack:
        procs = []
        for _ in range(2):
            port = free_port()
            cmd = llama_cpp_server_cmd(GGUF, port, context=2048, threads=1)
            procs.append(stack.enter_context(child_server(cmd, f"http://127.0.0.1:{port}", "/v1/models", "llm-up-")))
        yield procs


@pytest.mark.slow
def test_killing_one_llm_server_while_readers_wait_costs_none_of_them_an_error(
    two_llm_servers: list[subprocess.Popen[bytes]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    index = fake_index(tmp_path_factory, "upstreams")
    urls = ",".join(
        f"http://127.0.0.1:{p.args[p.args.index('--port') + 1]}"
        for p in two_llm_servers  # type: ignore[union-attr]
    )
    # one client stands in for three readers, so the per-caller share of the queue is off; one model call
    # per reader (no warm-up of the demonstrations at start, no span attempt after a refusal), so the alive
    # server's count is the readers'
    env = {"RAG_INDEX_DIR": str(index), "RAG_EMBEDDING_MODEL": "fake:64", "RAG_LLM_BACKEND": "openai",
           "RAG_LLM_URL": urls, "RAG_LLM_SLOTS": "1", "RAG_CACHE_ENABLED": "false", "RAG_RATE_LIMIT_PER_MINUTE": "0",
           "RAG_ANSWER_CHARS_PER_SOURCE": "60", "RAG_ANSWER_MAX_TOKENS": "24", "RAG_LLM_FIRST_TOKEN_S": "300",
           "RAG_LLM_TOTAL_S": "600", "RAG_LLM_QUEUE_S": "600", "RAG_ADMIN_KEYS": "operator-key",
           "RAG_QUEUE_PER_CALLER": "0", "RAG_ANSWER_SPAN_FALLBACK": "false",
           "RAG_ANSWER_DEMONSTRATIONS": "false"}  # fmt: skip
    operator = {"Authorization": "Bearer operator-key"}  # upstream states are an operator's view
    with rag_server(env, fakes=True) as base, httpx.Client(base_url=base, timeout=900, headers=operator) as client:
        with ThreadPoolExecutor(len(QUESTIONS)) as pool:
            asked = [pool.submit(client.post, "/v1/ask", json={"question": q}) for q in QUESTIONS]
            deadline = time.monotonic() + 60
            while [u["in_flight"] for u in client.get("/readyz").json()["upstreams"]] != [1, 1]:
                assert time.monotonic() < deadline, "the two servers never both had a request"
                time.sleep(0.1)  # both servers are now reading a prompt: none has written a token
            two_llm_servers[0].send_signal(signal.SIGKILL)
            answers = [f.result() for f in asked]
        assert [a.status_code for a in answers] == [200] * len(QUESTIONS)
        bodies = [a.json() for a in answers]
        # each was answered by a model (it may refuse a question its tiny evidence cannot answer), none
        # degraded by the kill: no failure, timeout or unreachable model behind any answer
        assert [b["fallback"] for b in bodies if b["fallback"] in ("failure", "timeout", "unavailable", "queue")] == []
        unwritten = [
            (b["fallback"], b["usage"], b["answer"][:80]) for b in bodies if not b["usage"]["completion_tokens"]
        ]
        assert unwritten == [] and all(b["answer"] for b in bodies)  # a model wrote each
        dead, alive = client.get("/readyz").json()["upstreams"]
        assert dead["failed"] >= 1 and alive["failed"] == 0 and alive["served"] == len(QUESTIONS)
        metric = f'rag_llm_upstream_failed{{upstream="{dead["name"]}"}} {float(dead["failed"])}'
        assert metric in client.get("/metrics").text
