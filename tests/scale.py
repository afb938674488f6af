"""The production topology on one machine, without Docker (`make test-scale`): Debian's nginx in front
of two `rag serve` replicas that share a Redis (rate limits, answer cache), a PostgreSQL (question log),
one read-only index and one LLM server. Every process is real; each is stopped afterwards."""

from __future__ import annotations

import shutil
import string
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from rag.llm.base import LLMUnavailable
from rag.llm.server import find_binary

from .postgres import postgres_server
from .redis_server import redis_server
from .servers import ROOT, child_server, free_port, llama_cpp_server_cmd, rag_process, wait_until

TEMPLATE = ROOT / "deploy" / "nginx-rag.conf.template"
OPERATOR = "operator-key"


@dataclass
class Topology:
    front: str  # nginx
    replicas: list[str]
    processes: list[subprocess.Popen[bytes]]
    redis_url: str
    database_url: str
    llm_url: str
    keys: list[str]


def _nginx_conf(folder: Path, port: int, replicas: list[str]) -> Path:
    servers = " ".join(f"server {r.removeprefix('http://')} max_fails=1 fail_timeout=10s;" for r in replicas)
    site = string.Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        RAG_UPSTREAMS=servers, RAG_LISTEN=f"127.0.0.1:{port}"
    )
    temp = "".join(
        f"{kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
        f"events {{ worker_connections 512; }}\n"
        f"http {{\naccess_log {folder / 'access.log'};\n{temp}{site}\n}}\n",
        encoding="utf-8",
    )
    return conf


@contextmanager
def nginx(replicas: list[str]) -> Iterator[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx is not installed: run `make test-scale` (it installs Debian's nginx)")
    folder, port = Path(tempfile.mkdtemp(prefix="rag-nginx-")), free_port()
    conf = _nginx_conf(folder, port, replicas)
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(folder), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until(f"http://127.0.0.1:{port}/healthz", proc, timeout=30, log=folder / "error.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def llm_server(gguf: Path) -> Iterator[str]:
    """llama.cpp's own server when `make install` built it, else llama-cpp-python's."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        native = [str(find_binary("")), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port), "-c", "8192",
                  "-t", "2", "-np", "2", "--no-webui"]  # fmt: skip
    except LLMUnavailable:
        native = []
    with child_server(native or llama_cpp_server_cmd(gguf, port, context=4096), url, "/v1/models", "llm-scale-"):
        yield url


@contextmanager
def topology(index: Path, gguf: Path, rate_per_minute: int) -> Iterator[Topology]:
    keys = [f"key-{i}" for i in range(6)]
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server())
        database_url = stack.enter_context(postgres_server())
        llm = stack.enter_context(llm_server(gguf))
        env = {
            "RAG_INDEX_DIR": str(index), "RAG_EMBEDDING_MODEL": "fake:64", "RAG_LLM_BACKEND": "openai",
            "RAG_LLM_URL": llm, "RAG_REDIS_URL": redis_url, "RAG_DATABASE_URL": database_url,
            "RAG_API_KEYS": ",".join(keys), "RAG_ADMIN_KEYS": OPERATOR, "RAG_RATE_LIMIT_PER_MINUTE": str(rate_per_minute),
            "RAG_FORWARDED_ALLOW_IPS": "127.0.0.1", "RAG_WATCH_INDEX_S": "0.5", "RAG_CACHE_ENABLED": "true",
            "RAG_ANSWER_MAX_TOKENS": "48", "RAG_LLM_FIRST_TOKEN_S": "300", "RAG_LLM_TOTAL_S": "600",
            "RAG_LLM_QUEUE_S": "600",
        }  # fmt: skip
        started = [stack.enter_context(rag_process(env, fakes=True)) for _ in range(2)]
        replicas = [url for url, _ in started]
        front = stack.enter_context(nginx(replicas))
        yield Topology(front, replicas, [p for _, p in started], redis_url, database_url, llm, keys)


def requests_served(replica: str) -> float:
    """What a replica's own /metrics says it served (its rag_requests_total for the search route)."""
    text = httpx.get(f"{replica}/metrics", headers={"Authorization": f"Bearer {OPERATOR}"}, timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('rag_requests_total{route="/v1/search"'))  # fmt: skip
