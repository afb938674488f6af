"""Every documented setting has an effect: for each field of `Settings`, a value other than the one the
test service runs with, and the consumer where the change must show (tests/setting_probes.py). A field
nothing reads fails here, and so does a new field without a probe."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from index import embedding as embedding_module
from index.embedding import DEFAULT_EMBEDDER, SentenceTransformerEmbedder
from rag.settings import Settings

from .conftest import DATA, fake_index, models_dir
from .setting_probes import (
    Call,
    Probe,
    World,
    built,
    engine,
    gap_report,
    http,
    managed_server,
    served,
    service,
    started_threads,
)

ORIGIN = "https://blog.example.jp"  # a page of the blog, where the widget runs
SEARCH = Call("POST", "/v1/search", json={"query": "AI"})
PAGE_SEARCH = Call("POST", "/v1/search", {"Origin": ORIGIN}, json={"query": "AI"})
OVERSIZED = Call("POST", "/v1/search", {"Content-Type": "application/json"},
                 content=json.dumps({"query": "AI", "k": 3, "filters": {"tags": ["x" * 2000]}}).encode())  # fmt: skip
ARCHIVE = DATA / "archive"

options = built("answer_config", "retrieval_config", "llm_options", "embedder_options", "ingest_options")
answer, llm, embedder, ingest = (
    built(n) for n in ("answer_config", "llm_options", "embedder_options", "ingest_options")
)
retrieval = engine(lambda e: e.retriever.config)
memo = service(lambda svc: svc.memo and (svc.memo.cache.path, svc.memo.cache.max_entries, svc.memo.cache.max_age_s,
                                          svc.memo.threshold))  # fmt: skip

PROBES: dict[str, Probe] = {
    "archive": Probe(ARCHIVE, service(lambda svc: svc.ingester.archive)),
    "data_dir": Probe(Path("elsewhere"), built("models_path", "cache_file")),
    "index_dir": Probe(Path("elsewhere"), built("index_path")),
    "models_dir": Probe(Path("elsewhere"), options),
    "embedding_model": Probe("fake:32", service(lambda svc: svc.embedder.name)),
    "embed_batch_size": Probe(32, embedder),
    "embed_int8": Probe(False, embedder),  # and the embedder honours it: the tests at the end
    "embed_max_seq_length": Probe(256, embedder),
    "threads": Probe(97, options),
    "max_post_bytes": Probe(4096, service(lambda svc: svc.ingester.settings.ingest_options())),
    "post_seconds": Probe(0.0, ingest),
    "chunk_min_chars": Probe(300, ingest),
    "chunk_max_chars": Probe(700, ingest),
    "chunk_overlap_chars": Probe(0, ingest),
    "retrieval_mode": Probe("sparse", retrieval),
    "retrieval_candidates": Probe(50, retrieval),
    "retrieval_rrf_k": Probe(20, retrieval),
    "retrieval_collapse": Probe(False, retrieval),
    "retrieval_passages_per_post": Probe(1, retrieval),
    "retrieval_fuse_posts": Probe(False, retrieval),
    "dense_weight": Probe(2.0, retrieval),
    "sparse_weight": Probe(1.0, retrieval),
    "en_dense_weight": Probe(2.0, retrieval),
    "en_sparse_weight": Probe(1.0, retrieval),
    "reranker": Probe("a-cross-encoder", engine(lambda e: e.reranker)),
    "reranker_depth": Probe(5, engine(lambda e: e.reranker), {"reranker": "a-cross-encoder"}),
    "relevance_threshold": Probe(0.123, engine(lambda e: e.relevance.threshold)),
    "relevance_threshold_en": Probe(0.321, engine(lambda e: e.english_threshold)),
    "llm_backend": Probe("none", service(lambda svc: type(svc.llm).__name__)),
    "llm_gguf": Probe(Path("other.gguf"), llm),
    "llm_url": Probe("http://127.0.0.1:9", llm),
    "llm_slots": Probe(3, built("generation_slots"), {"llm_server": True}),
    "llm_server": Probe(True, built("generation_slots")),
    "llama_server": Probe(lambda w: str(w.tmp / "llama-server"), managed_server, {"llm_server": True}),
    "llm_model": Probe("another-model", llm),
    "llm_api_key": Probe("a-token", llm),
    "llm_context": Probe(2048, llm),
    "llm_first_token_s": Probe(5.0, answer),
    "llm_total_s": Probe(60.0, options),
    "llm_queue_s": Probe(5.0, answer),
    "llm_batch": Probe(256, llm),
    "llm_ubatch": Probe(256, llm),
    "llm_flash_attn": Probe(False, llm),
    "llm_prefill_slice": Probe(32, llm),
    "llm_prompt_lookup": Probe(4, llm),
    "answer_sources": Probe(3, answer),
    "answer_chars_per_source": Probe(120, answer),
    "answer_max_tokens": Probe(64, answer),
    "answer_grammar": Probe(True, answer),
    "answer_passages": Probe(False, answer),
    "answer_evidence_pool": Probe(3, answer),
    "answer_meaning_sentences": Probe(2, answer),
    "answer_compact_headers": Probe(False, answer),
    "answer_favour_type": Probe(False, answer),
    "answer_on_topic": Probe(False, answer),
    "answer_english_terms": Probe(True, answer),
    "answer_japanese_question": Probe(True, answer),
    "answer_window": Probe("spread", answer),
    "answer_short_first": Probe(False, answer),
    "answer_demonstrations": Probe(False, answer),
    "answer_subject_guard": Probe(False, answer),
    "answer_version_check": Probe(False, answer),
    "answer_alone_margin": Probe(0.5, answer),
    "answer_english_route": Probe("translate", answer),
    "answer_span_fallback": Probe(False, answer),
    "cache_enabled": Probe(True, memo),
    "cache_path": Probe(lambda w: w.tmp / "elsewhere.sqlite", memo, {"cache_enabled": True}),
    "cache_max_entries": Probe(10, memo, {"cache_enabled": True}),
    "cache_max_age_s": Probe(60.0, memo, {"cache_enabled": True}),
    "cache_similarity": Probe(0.99, memo, {"cache_enabled": True}),
    "database_url": Probe(
        lambda w: f"sqlite:///{w.tmp / 'elsewhere.sqlite'}", service(lambda svc: str(svc.log.engine.url))
    ),
    "log_days": Probe(30, service(lambda svc: svc.log.keep_days)),
    "gap_similarity": Probe(0.8, gap_report),
    "redis_url": Probe("redis://127.0.0.1:1/0", service(lambda svc: type(svc.limiter).__name__)),
    "host": Probe("0.0.0.0", served),
    "port": Probe(8123, served),
    "forwarded_allow_ips": Probe("127.0.0.1", served),
    "api_keys": Probe(["reader-key"], http(SEARCH)),
    "admin_keys": Probe(["admin-key"], http(Call("GET", "/metrics"))),
    "staff_keys": Probe(["staff-key"], http(Call("GET", "/v1/desk/facets"))),
    "cors_origins": Probe(
        [ORIGIN], http(Call("OPTIONS", "/v1/search", {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}))
    ),
    "rate_limit_per_minute": Probe(1, http(SEARCH, SEARCH)),
    "public_rate_limit_per_minute": Probe(
        1, http(PAGE_SEARCH, PAGE_SEARCH), {"api_keys": ["reader-key"], "cors_origins": [ORIGIN]}
    ),
    "queue_size": Probe(3, service(lambda svc: svc.queue.capacity)),
    "queue_per_caller": Probe(5, service(lambda svc: svc.queue.per_caller)),
    "max_body_bytes": Probe(1024, http(OVERSIZED)),
    "watch_index_s": Probe(5.0, started_threads),
    "watch_archive": Probe(True, started_threads, {"archive": ARCHIVE}),
    "watch_archive_s": Probe(7.0, started_threads, {"archive": ARCHIVE, "watch_archive": True}),
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_index(tmp_path_factory, "settings")


@pytest.fixture
def world(index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    (tmp_path / "llama-server").touch()
    yield World(index, tmp_path, monkeypatch)


def test_every_setting_has_a_probe() -> None:
    missing, extra = Settings.model_fields.keys() - PROBES.keys(), PROBES.keys() - Settings.model_fields.keys()
    assert not missing, f"settings with no probe of their effect: {sorted(missing)}"
    assert not extra, f"probes of settings that do not exist: {sorted(extra)}"


@pytest.mark.parametrize("name", sorted(PROBES))
def test_changing_a_setting_changes_what_the_program_uses(name: str, world: World) -> None:
    probe = PROBES[name]
    value = probe.changed(world)
    assert getattr(world.settings(**probe.given), name) != value, "the probe must change the setting"
    before = probe.observe(world.settings(**probe.given), world)
    after = probe.observe(world.settings(**{**probe.given, name: value}), world)
    assert before != after, f"RAG_{name.upper()}={value!r} changed nothing the program uses ({before!r})"
    # and the difference is the setting's, not noise: the same settings are seen the same way again
    assert probe.observe(world.settings(**probe.given), world) == before


# --- RAG_EMBED_INT8 reaches the model --------------------------------------------------------------------


class _Model:
    """Enough of a SentenceTransformer for SentenceTransformerEmbedder.load."""

    max_seq_length = 512
    prompts: dict[str, str] = {}  # noqa: RUF012

    def get_embedding_dimension(self) -> int:
        return 4


@pytest.mark.parametrize("int8", [True, False])
def test_the_embedder_is_quantized_exactly_when_embed_int8_is_set(
    int8: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quantized: list[object] = []
    monkeypatch.setitem(
        sys.modules, "sentence_transformers", SimpleNamespace(SentenceTransformer=lambda *a, **k: _Model())
    )
    monkeypatch.setattr(embedding_module, "quantize_int8", quantized.append)
    settings = Settings(_env_file=None, embed_int8=int8)
    SentenceTransformerEmbedder.load(str(tmp_path), replace(settings.embedder_options(), threads=0))  # torch untouched
    assert len(quantized) == int(int8)


@pytest.mark.slow
@pytest.mark.skipif(not (models_dir() / DEFAULT_EMBEDDER).is_dir(), reason="the default embedder is not built")
def test_the_real_embedder_has_int8_layers_only_when_embed_int8_is_set() -> None:
    def int8_layers(int8: bool) -> int:
        settings = Settings(_env_file=None, models_dir=models_dir(), embed_int8=int8)
        options = replace(settings.embedder_options(), threads=0)
        model = SentenceTransformerEmbedder.load(DEFAULT_EMBEDDER, options).model
        return sum("quantized" in type(m).__module__ for m in model[0].auto_model.modules())

    assert int8_layers(True) > 0 and int8_layers(False) == 0
