"""How to see what the program makes of its settings, one way per consumer: the option objects `Settings`
builds, the services the app starts, the app's answers over HTTP, what `rag serve` hands uvicorn, the
engine, and the gap report. tests/test_settings_effect.py changes one setting at a time and compares."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.services
import rag.cli.desk
import rag.cli.main
import rag.desk.gaps
import rag.retrieval.rerank
from api.main import create_app
from api.services import Services
from rag.retrieval.engine import Engine
from rag.retrieval.relevance import MODELS, RelevanceModel
from rag.settings import Settings


@dataclass
class World:
    """What a probe may use: the fake index, a scratch folder, and monkeypatch for stand-ins."""

    index: Path
    tmp: Path
    monkeypatch: pytest.MonkeyPatch

    def settings(self, **changes: Any) -> Settings:
        """A small service on the sample index with fakes for the models; no .env, nothing under data/."""
        base: dict[str, Any] = dict(
            embedding_model="fake:64", index_dir=self.index, data_dir=self.tmp / "data", llm_backend="fake:quote",
            watch_index_s=0, rate_limit_per_minute=0, cache_enabled=False,
            database_url=f"sqlite:///{self.tmp / 'questions.sqlite'}",
        )  # fmt: skip
        return Settings(_env_file=None, **{**base, **changes})


Observe = Callable[[Settings, World], object]


@dataclass(frozen=True)
class Probe:
    """A value other than the default for one setting, and where its effect shows. `given`: other settings
    the effect needs (a reranker before its depth can matter)."""

    value: object | Callable[[World], object]
    observe: Observe
    given: Mapping[str, object] = field(default_factory=dict)

    def changed(self, world: World) -> object:
        return self.value(world) if callable(self.value) else self.value


def built(*names: str) -> Observe:
    """What the named builders and properties of `Settings` produce (AnswerConfig, LLMOptions, ...)."""

    def observe(s: Settings, w: World) -> object:
        made = [getattr(s, name) for name in names]
        return tuple(m() if callable(m) else m for m in made)

    return observe


class _Threads:
    """Stands in for `threading` inside api.services: records the threads it would start, starts none."""

    Event = threading.Event

    def __init__(self) -> None:
        self.started: list[tuple[str, tuple[object, ...]]] = []

    def Thread(self, target: object, args: tuple[object, ...] = (), name: str = "", daemon: bool = False) -> Any:
        threads = self

        class _Recorded:
            def start(self) -> None:
                threads.started.append((name, tuple(a for a in args if not isinstance(a, threading.Event))))

        return _Recorded()


@contextmanager
def _services(s: Settings, w: World) -> Iterator[tuple[Services, _Threads]]:
    threads = _Threads()
    w.monkeypatch.setattr(api.services, "threading", threads)
    svc = Services.start(s)
    try:
        yield svc, threads
    finally:
        svc.stop()


def service(read: Callable[[Any], object]) -> Observe:
    """What the app's services hold once started with the settings (Services.start). `read` takes them as
    Any: the optional parts it reads (the ingester, the log) are there in the probes that read them."""

    def observe(s: Settings, w: World) -> object:
        with _services(s, w) as (svc, _):
            return read(svc)

    return observe


def started_threads(s: Settings, w: World) -> object:
    """The background threads the app starts (index and archive watchers), with their intervals."""
    with _services(s, w) as (_, threads):
        return threads.started


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: object = None
    content: bytes | None = None


def http(*calls: Call) -> Observe:
    """Statuses (and the CORS header) of requests to the app the factory builds from the settings."""

    def observe(s: Settings, w: World) -> object:
        with TestClient(create_app(s)) as client:
            replies = [
                client.request(c.method, c.path, headers=dict(c.headers), json=c.json, content=c.content) for c in calls
            ]
        return [(r.status_code, r.headers.get("access-control-allow-origin")) for r in replies]

    return observe


def served(s: Settings, w: World) -> object:
    """What `rag serve` hands uvicorn (the app itself aside)."""
    seen: dict[str, object] = {}
    w.monkeypatch.setattr("uvicorn.run", lambda app, **options: seen.update(options))
    w.monkeypatch.setattr(rag.cli.main, "http_app", lambda settings: None)
    rag.cli.main._serve(rag.cli.main.build_parser().parse_args(["serve"]), s)
    return seen


_LOAD = RelevanceModel.load.__func__  # type: ignore[attr-defined]


def engine(read: Callable[[Engine], object]) -> Observe:
    """The query engine built from the settings, a reranker and a relevance calibration standing in."""

    def observe(s: Settings, w: World) -> object:
        w.monkeypatch.setattr(rag.retrieval.rerank, "Reranker", lambda name, depth: (name, depth))
        calibrated = w.tmp / "relevance.json"  # the shipped calibration, as if it were the fake embedder's
        calibrated.write_text(json.dumps({"fake:64": next(iter(json.loads(MODELS.read_text()).values()))}))
        w.monkeypatch.setattr(
            RelevanceModel,
            "load",
            classmethod(lambda cls, name, threshold=None: _LOAD(cls, name, threshold, calibrated)),
        )
        return read(Engine(s))

    return observe


def gap_report(s: Settings, w: World) -> object:
    """The similarity `rag report gaps` groups questions by."""
    seen: list[float] = []

    def clusters(entries: object, engine: object, similarity: float) -> list[object]:
        seen.append(similarity)
        return []

    w.monkeypatch.setattr(rag.desk.gaps, "gap_clusters", clusters)
    rag.cli.desk._gaps(argparse.Namespace(since=None, index=None, json=True, md=None), s)
    return seen


class _Server:
    """Stands in for llama-server (`rag serve --llm-server`): what it would be started with."""

    def __init__(self, binary: Path, gguf: Path, slots: int, context: int, threads: int, log_dir: Path) -> None:
        self.args, self.url = (binary, gguf, slots, context, threads), "http://127.0.0.1:9"

    def start(self) -> None: ...

    def stop(self) -> None: ...


def managed_server(s: Settings, w: World) -> object:
    """The llama-server the app would run, or why it could not."""
    w.monkeypatch.setattr(api.services, "ManagedServer", _Server)
    with _services(s, w) as (svc, _):
        return svc.server.args if isinstance(svc.server, _Server) else svc.llm_error
