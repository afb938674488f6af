"""llama.cpp's own server as a managed child process (`rag serve --llm-server`): parallel slots and
continuous batching on the shipped GGUF, reached through the OpenAI-compatible backend. The child is
started with the service, restarted if it dies, and stopped with the service. The child-process steps
it needs (a free port, waiting until the child is ready, stopping it) are public: the tests and benches
start their servers with them."""

from __future__ import annotations

import glob
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from rag.llm.base import LLMUnavailable

log = logging.getLogger(__name__)
# Where `make install` leaves it: beside the llama-cpp-python wheel, outside the checkout.
BUILT = "~/.cache/archive-qa/wheels/llama-server-*/llama-server"
RESTART_S = (1.0, 30.0)  # the first pause before a restart, doubled per crash in a row up to the second


def find_binary(configured: str) -> Path:
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise LLMUnavailable(f"RAG_LLAMA_SERVER names {path}, which does not exist")
        return path
    found = sorted(glob.glob(os.path.expanduser(BUILT)), key=os.path.getmtime)
    if not found:
        raise LLMUnavailable("llama-server is not built: run `make install` (or set RAG_LLAMA_SERVER)")
    return Path(found[-1])


def free_port() -> int:
    """A loopback port no one listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> Callable[[], bool]:
    """A readiness check: `url` answers 200."""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def until_ready(ready: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float, every: float = 0.2) -> bool:
    """Polls `ready` until it holds (True), or until `proc` exits or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(every)
    return False


def stop_child(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Asks the child to stop, and kills it if it lingers past `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ManagedServer:
    def __init__(self, binary: Path, gguf: Path, slots: int, context: int, threads: int, log_dir: Path) -> None:
        if not gguf.is_file():
            raise LLMUnavailable(f"no GGUF at {gguf}: run `make install`")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # -c is the whole context, shared by the slots: each slot gets the context one answer needs
        self.cmd = [str(binary), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(self.port),
                    "-np", str(slots), "-c", str(context * slots), "-t", str(threads), "--no-webui"]  # fmt: skip
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / "llama-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stop = threading.Event()

    def start(self, timeout: float = 120.0) -> None:
        self._spawn()
        self._wait_ready(timeout)
        threading.Thread(target=self._supervise, name="llama-server-watch", daemon=True).start()

    def _spawn(self) -> None:
        with open(self.log_path, "ab") as sink:
            self.proc = subprocess.Popen(self.cmd, stdout=sink, stderr=sink, start_new_session=True)
        log.info("llama-server started (pid %d) on %s", self.proc.pid, self.url)

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        if until_ready(answers(f"{self.url}/health"), self.proc, timeout):
            return
        if self.proc.poll() is not None:
            raise LLMUnavailable(f"llama-server exited at start (code {self.proc.returncode}); see {self.log_path}")
        raise LLMUnavailable(f"llama-server was not ready within {timeout:.0f} s; see {self.log_path}")

    def _supervise(self) -> None:
        crashes = 0
        while not self._stop.wait(0.5):
            if self.proc is None or self.proc.poll() is None:
                continue
            crashes += 1
            pause = min(RESTART_S[0] * 2 ** (crashes - 1), RESTART_S[1])
            log.error("llama-server exited with code %s; restarting in %.0f s", self.proc.returncode, pause)
            if self._stop.wait(pause):
                return
            try:
                self._spawn()
                self._wait_ready(120)
                self.restarts += 1
                crashes = 0
            except LLMUnavailable as exc:
                log.error("llama-server restart failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None:
            stop_child(self.proc)
