"""`rag serve --llm-server`: llama.cpp's own server (built by make install) as a managed child with
parallel slots; restarted when it dies, stopped with the service."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rag.llm.server import find_binary

from .conftest import fake_index, models_dir
from .servers import rag_process

QUESTIONS = ["外観検査AIの導入で検査工数は何%削減されましたか？", "LLMの推論コストは量子化でどれだけ下がりましたか？"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


OPERATOR = "operator-key-for-tests"
AS_OPERATOR = {"Authorization": f"Bearer {OPERATOR}"}


@pytest.mark.slow
def test_the_managed_llama_server_answers_in_parallel_and_comes_back_after_a_crash(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    find_binary("")  # built by make install; a clear failure otherwise
    env = {
        "RAG_INDEX_DIR": str(fake_index(tmp_path_factory, "llm-server")),
        "RAG_EMBEDDING_MODEL": "fake:64",
        "RAG_MODELS_DIR": str(models_dir()),
        "RAG_LLM_SLOTS": "2",
        "RAG_CACHE_ENABLED": "false",
        "RAG_RATE_LIMIT_PER_MINUTE": "0",
        "RAG_ANSWER_MAX_TOKENS": "32",
        "RAG_LLM_FIRST_TOKEN_S": "300",
        "RAG_LLM_TOTAL_S": "600",
        "RAG_DATA_DIR": str(tmp_path_factory.mktemp("llm-server-data")),
        "RAG_ADMIN_KEYS": OPERATOR,
    }  # fmt: skip  (the server's pid and restarts are an operator's view)
    with rag_process({**env, "RAG_LLM_SERVER": "true"}, fakes=True) as (base, proc):
        ready = httpx.get(f"{base}/readyz", headers=AS_OPERATOR).json()
        child = ready["llm_server"]["pid"]
        assert ready["llm_server"]["slots"] == 2 and "openai" in ready["llm"]
        with ThreadPoolExecutor(2) as pool:  # two readers at once, one slot each
            answers = list(pool.map(lambda q: httpx.post(f"{base}/v1/ask", json={"question": q}, timeout=600, headers=AS_OPERATOR).json(),
                                    QUESTIONS))  # fmt: skip
        assert all(a["usage"]["completion_tokens"] > 0 for a in answers), answers  # the model wrote for both
        os.kill(child, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while (state := httpx.get(f"{base}/readyz", headers=AS_OPERATOR).json()["llm_server"])["restarts"] < 1:
            assert time.monotonic() < deadline, "llama-server was not restarted"
            time.sleep(0.5)
        assert state["pid"] != child
        again = httpx.post(f"{base}/v1/ask", json={"question": QUESTIONS[0]}, timeout=600, headers=AS_OPERATOR).json()
        assert again["mode"] == "generative" and again["fallback"] == "", again
        restarted = state["pid"]
    assert proc.returncode is not None
    deadline = time.monotonic() + 15
    while _alive(restarted):
        assert time.monotonic() < deadline, "llama-server outlived the service"
        time.sleep(0.2)
