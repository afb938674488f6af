"""Real servers for the end-to-end tests: started as child processes, ready when /readyz says so."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.llm.server import answers, free_port, stop_child, until_ready

ROOT = Path(__file__).parents[1]
__all__ = ["ROOT", "child_server", "free_port", "llama_cpp_server_cmd", "rag_process", "rag_server", "wait_until"]


def wait_until(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path | None = None) -> None:
    """Until `url` answers 200; the server's log tail in the error when it exits first."""
    if until_ready(answers(url), proc, timeout, every=0.3):
        return
    if proc.poll() is not None:
        tail = log.read_text(errors="replace")[-3000:] if log else ""
        raise RuntimeError(f"server exited with {proc.returncode}: {tail}")
    proc.kill()
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


def log_file(prefix: str) -> Path:
    # Server output goes to a file: a pipe nobody reads fills up and blocks the server mid-request.
    return Path(tempfile.mkstemp(prefix=prefix, suffix=".log")[1])


@contextmanager
def child_server(
    cmd: list[str], url: str, ready: str, prefix: str, timeout: float = 120, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Any server as a child process: its output in a log file, ready when `url + ready` answers, then
    terminated (killed if it lingers)."""
    log = log_file(prefix)
    with open(log, "wb") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    try:
        wait_until(url + ready, proc, timeout, log)
        yield proc
    finally:
        stop_child(proc, timeout=20)


def llama_cpp_server_cmd(gguf: Path, port: int, context: int = 1024, threads: int = 2) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server on a GGUF. By default it ends the running answer, with no
    error, when another request arrives; a real server queues them, so that is switched off."""
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port",
            str(port), "--n_ctx", str(context), "--n_threads", str(threads),
            "--interrupt_requests", "false"]  # fmt: skip


@contextmanager
def rag_server(env: dict[str, str], fakes: bool = False, timeout: float = 180, port: int = 0) -> Iterator[str]:
    """`rag serve` on a free port (or `port`); with `fakes`, the test fakes are registered in the server
    process."""
    with rag_process(env, fakes, timeout, port) as (url, _):
        yield url


@contextmanager
def rag_process(
    env: dict[str, str], fakes: bool = False, timeout: float = 180, port: int = 0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The same, with the process (for tests that kill it)."""
    port = port or free_port()
    module = "tests.run_cli" if fakes else "rag.cli.main"
    # a fresh answer cache per server: a test must see the model answer, not an earlier run's cache
    state = Path(tempfile.mkdtemp(prefix="rag-state-"))
    full_env = {**os.environ, "RAG_WATCH_INDEX_S": "0", "RAG_CACHE_PATH": str(state / "answers.sqlite"),
                "RAG_DATABASE_URL": f"sqlite:///{state / 'questions.sqlite'}", **env}  # fmt: skip
    cmd = [sys.executable, "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with child_server(cmd, url, "/readyz", "rag-server-", timeout, env=full_env) as proc:
        yield url, proc
