"""A real Redis server for the tests: Debian's redis-server (installed by `make test`) on a free
loopback port, nothing persisted; stopped afterwards."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from rag.llm.server import free_port, stop_child, until_ready


def _answers_ping(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.ConnectionError:
        return False


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise RuntimeError("redis-server is not installed: run `make test` (it installs Debian's redis-server)")
    port, folder = free_port(), Path(tempfile.mkdtemp(prefix="rag-redis-"))
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", str(folder), "--protected-mode", "yes"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        if not until_ready(lambda: _answers_ping(url), proc, timeout=20, every=0.05):
            raise RuntimeError(f"redis-server did not start on port {port}")
        yield url
    finally:
        stop_child(proc)
        shutil.rmtree(folder, ignore_errors=True)
