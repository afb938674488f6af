"""What the app holds between requests, built once from settings at start-up."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from api.ingesting import Ingester
from api.metrics import Metrics
from api.queue import GenerationQueue
from api.security import Keys, RateLimiter
from api.shared_limits import SharedRateLimiter
from rag.answering.pipeline import Answerer
from rag.cache.memo import AnswerMemo, Remembering
from rag.cache.redis_store import RedisAnswerCache
from rag.cache.store import AnswerCache
from rag.desk.questionlog import QuestionLog, open_question_log
from rag.desk.readers_view import popular_questions
from rag.errors import ArchiveQAError
from rag.indexing import Embedder, settings_embedder
from rag.llm.base import LLM
from rag.llm.gate import ModelGate
from rag.llm.openai_http import OpenAICompatibleLLM
from rag.llm.registry import load_llm
from rag.llm.server import ManagedServer, find_binary
from rag.retrieval.engine import Engine
from rag.settings import Settings
from rag.types import Answer

log = logging.getLogger("api")
SUGGESTIONS_S = 300.0  # how long the suggested questions are reused before the log is read again


@dataclass
class Services:
    settings: Settings
    metrics: Metrics
    queue: GenerationQueue
    limiter: RateLimiter | SharedRateLimiter
    keys: Keys
    engine: Engine | None = None
    llm: LLM | None = None
    llm_error: str = ""
    index_error: str = ""
    gate: ModelGate = field(default_factory=ModelGate)  # the model's slots, shared fairly between callers
    # the CPU work before the model, one request per core: a request whose reader left while it waited
    # never starts it (the ask after twelve departures is not slowed by their retrieval and scoring)
    prepare: ModelGate = field(default_factory=lambda: ModelGate(os.cpu_count() or 1))
    public_limiter: RateLimiter | SharedRateLimiter = field(default_factory=lambda: RateLimiter(20))
    memo: AnswerMemo | None = None
    embedder: Embedder | None = None  # loaded once, kept while no index exists yet
    log: QuestionLog | None = None
    ingester: Ingester | None = None
    server: ManagedServer | None = None  # llama-server, when RAG_LLM_SERVER
    _stop: threading.Event = field(default_factory=threading.Event)
    _suggested: tuple[float, list[str]] = (-1e9, [])

    @classmethod
    def start(cls, settings: Settings, metrics: Metrics | None = None) -> Services:
        shared = settings.redis_url
        limiter = (
            SharedRateLimiter(settings.rate_limit_per_minute, shared)
            if shared
            else RateLimiter(settings.rate_limit_per_minute)
        )
        public = (
            SharedRateLimiter(settings.public_rate_limit_per_minute, shared, prefix="rag:public")
            if shared
            else RateLimiter(settings.public_rate_limit_per_minute)
        )
        s = cls(
            settings,
            metrics or Metrics(),
            GenerationQueue(settings.queue_size, settings.queue_per_caller, settings.generation_slots),
            limiter,
            Keys(settings.api_keys, settings.admin_keys, settings.cors_origins, settings.staff_keys),
            public_limiter=public,
        )
        if settings.cache_enabled:
            size, age = settings.cache_max_entries, settings.cache_max_age_s
            cache = RedisAnswerCache(shared, size, age) if shared else AnswerCache(settings.cache_file, size, age)
            s.memo = AnswerMemo(cache, settings.cache_similarity)
        s.gate = ModelGate(settings.generation_slots)
        s.log = open_question_log(settings)
        s.load()
        s.ingester = Ingester(settings, s._embedder, s.reload)
        if settings.watch_index_s > 0:
            threading.Thread(target=s._watch, name="index-watch", daemon=True).start()
        if settings.watch_archive and settings.archive is not None:
            args = (settings.watch_archive_s, s._stop)
            threading.Thread(target=s.ingester.watch, args=args, name="archive-watch", daemon=True).start()
        return s

    def _embedder(self) -> Embedder:
        """Loaded once, and kept: while no index exists yet, and for the in-service ingest."""
        if self.embedder is None:
            self.embedder = settings_embedder(self.settings)
        return self.embedder

    def load(self) -> None:
        try:
            self.engine = Engine(self.settings, embedder=self._embedder())
            self.metrics.set_index(self.engine.version)
            self._forget_other_versions()
            self.index_error = ""
        except ArchiveQAError as exc:  # the service still starts: /readyz says why, a later ingest fixes it
            self.index_error = str(exc)
            log.error("index not loaded: %s", exc)
            return
        try:
            self.llm = (
                self._llm_server()
                if self.settings.llm_server
                else load_llm(self.settings.llm_backend, self.settings.llm_options())
            )
        except ArchiveQAError as exc:
            self.llm_error = str(exc)
            log.error("LLM unavailable, answers will be extractive: %s", exc)
            return
        if self.settings.answer_demonstrations:  # a long fixed prefix: read it now, not in a reader's time
            slots = self.settings.slots if self.settings.llm_server or self.settings.llm_url else 1
            threading.Thread(target=self.answerer().warm, args=(slots,), name="warm", daemon=True).start()

    def _llm_server(self) -> LLM:
        """llama.cpp's server as a child of this process, with RAG_LLM_SLOTS parallel slots."""
        st = self.settings
        if self.server is None:
            self.server = ManagedServer(find_binary(st.llama_server), st.gguf_path, st.slots, st.llm_context,
                                        st.cpu_threads, st.data_dir / "log")  # fmt: skip
            self.server.start()
        return OpenAICompatibleLLM(replace(st.llm_options(), url=self.server.url, model="local"))

    def answerer(self) -> Answerer | Remembering:
        """The answer pipeline for a request, inside the answer cache when it is on."""
        assert self.engine is not None
        pipeline = Answerer(self.engine, self.llm, self.settings.answer_config(), self.gate, prepare=self.prepare,
                            suggestions=self.suggestions)  # fmt: skip
        return Remembering(pipeline, self.memo) if self.memo is not None else pipeline

    def suggestions(self) -> list[str]:
        """What readers often asked and were answered well lately; looked up at most every 5 minutes."""
        now = time.monotonic()
        if self.log is None:
            return []
        fresh_for = SUGGESTIONS_S if self._suggested[1] else 5.0  # an empty log fills up soon: look again soon
        if now - self._suggested[0] > fresh_for:
            try:
                self._suggested = (now, popular_questions(self.log, datetime.now(UTC)))
            except Exception:  # a log that fails costs the suggestions, never the answer
                log.exception("the question log could not be read for suggestions")
                self._suggested = (now, [])
        return list(self._suggested[1])

    def upstreams(self) -> list[dict[str, object]]:
        """Each LLM server's state when answers go to several (RAG_LLM_URL=a,b)."""
        states = getattr(self.llm, "states", None)
        return states() if callable(states) else []

    def logged(self, question: str, answer: Answer) -> Answer:
        """The answer with its log id. A log that fails costs the record, never the reader's answer."""
        if self.log is None:
            return answer
        try:
            version = self.engine.version if self.engine else ""
            vector = self.engine.embedder.embed_query(question) if self.engine else None  # for grouping gaps
            return replace(answer, id=self.log.record(question, answer, version, vector))
        except Exception:
            log.exception("the question log could not record an answer")
            return answer

    def reload(self) -> bool:
        """Switch to a newly published index between requests; True when it switched."""
        if self.engine is None:
            self.load()
            return self.engine is not None
        switched = self.engine.reload()
        if switched:
            self.metrics.set_index(self.engine.version)
            self._forget_other_versions()
            log.info("now serving index version %s", self.engine.version)
        return switched

    def _forget_other_versions(self) -> None:
        """Answers cached for a version no longer served can never be hit again."""
        if self.memo is not None and self.engine is not None:
            self.memo.cache.keep_only(self.engine.version)

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.watch_index_s):
            try:
                self.reload()
            except ArchiveQAError as exc:
                log.error("index reload failed, still serving the previous version: %s", exc)
            except Exception:  # a corrupt file must not end hot reload for the life of the process
                log.exception("index reload failed unexpectedly, still serving the previous version")

    def stop(self) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.stop()
        if self.log is not None:
            self.log.close()
