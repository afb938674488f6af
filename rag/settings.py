"""The one settings object, read from RAG_* environment variables (and .env) at the entry points
(CLI, app factory) and passed down; nothing reads the environment at import time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.chunking import ChunkingConfig
from index.embedding import DEFAULT_EMBEDDER, EmbedderOptions
from rag.answering.config import AnswerConfig
from rag.install.gguf import DEFAULT_NAME as DEFAULT_GGUF
from rag.llm.base import LLMOptions
from rag.retrieval.config import RetrievalConfig

if TYPE_CHECKING:
    from index.ingest import IngestOptions


class Settings(BaseSettings):
    """Every default of the program, each with the reason it has that value; the option objects the
    packages take (`AnswerConfig`, `RetrievalConfig`, `LLMOptions`, `EmbedderOptions`, `ChunkingConfig`,
    `IngestOptions`) declare none and are built here. The README's configuration table is generated from
    these fields (`python -m rag.settings_table`)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    archive: Path | None = Field(None, description="Jekyll site folder holding _posts/ (and _config.yml)")
    data_dir: Path = Field(Path("data"), description="where indexes, built models, the cache and the log live")
    index_dir: Path | None = Field(None, description="index folder (default: DATA_DIR/index)")
    models_dir: Path | None = Field(None, description="built models (default: DATA_DIR/models)")
    embedding_model: str = Field(DEFAULT_EMBEDDER, description="any sentence-transformers name or path")
    # length-sorted batches of 8 beat 32 on 2 cores: less padding (bench/bench_embed.py)
    embed_batch_size: int = Field(8, ge=1, le=1024, description="texts the embedder encodes at once")
    # dynamic int8 on every Linear but the FFN outputs (docs/models.md)
    embed_int8: bool = Field(True, description="dynamic int8 embedder (1.4x faster, cosine 0.996 vs fp32)")
    embed_max_seq_length: int = Field(
        512, ge=8, le=8192, description="longest embedder input in tokens (capped at the model's own limit)"
    )
    threads: int = Field(0, ge=0, description="CPU threads for models; 0 = all cores")

    # ingest: larger files are not blog posts; a read that runs over its time is skipped (index/reading.py)
    max_post_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="larger post files are skipped at ingest")
    post_seconds: float = Field(
        10.0, ge=0, description="longest time reading one post may take at ingest (a child process); 0 = no limit"
    )
    # Chunks of 400-600 characters that never cut a sentence (docs/ingestion.md). A change re-chunks every
    # post at the next ingest: the sizes are kept in the index manifest and compared.
    chunk_min_chars: int = Field(400, ge=0, description="a section smaller than this shares its chunk with the next")
    chunk_max_chars: int = Field(600, ge=1, description="longest chunk; only a single longer sentence is cut")
    chunk_overlap_chars: int = Field(80, ge=0, description="whole sentences repeated from the previous chunk, at most")

    # retrieval (docs/retrieval.md)
    retrieval_mode: Literal["hybrid", "dense", "sparse"] = Field(
        "hybrid", description="hybrid (BM25 and dense, fused), dense or sparse (BM25) only"
    )
    retrieval_candidates: int = Field(100, ge=1, description="chunks each leg returns before fusion")
    retrieval_rrf_k: int = Field(60, ge=0, description="reciprocal rank fusion's k")
    retrieval_collapse: bool = Field(True, description="one hit per post")
    retrieval_passages_per_post: int = Field(3, ge=1, description="matching chunks shown with a post's hit")
    # A leg that returns ten chunks of one post should vote for that post once, not push every other
    # post down.
    retrieval_fuse_posts: bool = Field(
        True, description="fuse post rankings rather than chunk rankings (when collapsing)"
    )
    # BM25 counts three times the dense leg: best MRR on both dev.jsonl and JaQuAD (docs/retrieval.md)
    dense_weight: float = Field(1.0, ge=0, description="dense leg's weight in the fusion")
    sparse_weight: float = Field(3.0, ge=0, description="BM25 leg's weight in the fusion")
    # the same for questions with no Japanese in them, whose words BM25 can rarely match
    en_dense_weight: float = Field(1.0, ge=0, description="dense leg's weight for questions with no Japanese")
    en_sparse_weight: float = Field(3.0, ge=0, description="BM25 leg's weight for questions with no Japanese")
    reranker: str = Field("", description="sentence-transformers CrossEncoder name or path; empty = none")
    reranker_depth: int = Field(20, ge=2, le=100, description="how many fused posts the reranker re-scores")
    relevance_threshold: float | None = Field(
        None, ge=0, le=1, description="flag 'not in archive' below this probability (default: calibrated)"
    )
    # The relevance model is calibrated on Japanese questions, whose BM25 evidence a question with no Japanese
    # never has: on the tuning set it flagged 36 of 68 English answerable questions and 1 of 8 unanswerable
    # ones. Left to the model, English accuracy rose by 0.13 (95% CI 0.06-0.22, 200 questions), refusals of
    # unanswerable questions unchanged (docs/answers.md).
    relevance_threshold_en: float | None = Field(
        0.0, ge=0, le=1, description="the same for questions with no Japanese; 0 = never flag (the model decides)"
    )

    # the language model
    llm_backend: str = Field("auto", description="auto | llama.cpp | openai | none (extractive answers only)")
    llm_gguf: Path | None = Field(None, description="GGUF for the embedded model (default: the installed one)")
    llm_url: str = Field(
        "", description="OpenAI-compatible server(s), comma-separated: the least busy is used, a failing one rested"
    )
    llm_slots: int | None = Field(
        None, ge=1, le=64, description="parallel generations per LLM server (default: 4 for --llm-server, else 1)"
    )
    llm_server: bool = Field(False, description="run llama.cpp's llama-server as a child (rag serve --llm-server)")
    llama_server: str = Field("", description="the llama-server binary (default: the one make install built)")
    llm_model: str = Field("", description="model name to request from RAG_LLM_URL")
    llm_api_key: str = Field("", description="bearer token for RAG_LLM_URL")
    llm_context: int = Field(4096, ge=512, description="the model's context in tokens (each slot's)")
    llm_first_token_s: float = Field(30.0, gt=0, description="answer extractively if no token by then")
    llm_total_s: float = Field(120.0, gt=0, description="longest a generation may take, from when the model starts")
    llm_queue_s: float = Field(120.0, gt=0, description="longest wait for the model before answering without it")
    llm_batch: int = Field(512, ge=8, le=4096, description="llama.cpp n_batch")
    llm_ubatch: int = Field(512, ge=8, le=4096, description="llama.cpp n_ubatch")
    # Flash attention: prompt 60.9 against 51.7 tokens/s, generation 23.7 against 16.2, the same outputs
    # (bench/results/llm-settings.json). Slices of 64 prompt tokens take about a second each here; 32-token
    # slices measured 27.3 and 44.9 tokens/s (the first run disturbed), so the larger slice.
    llm_flash_attn: bool = Field(True, description="llama.cpp flash attention")
    llm_prefill_slice: int = Field(
        64, ge=1, le=4096, description="prompt tokens between two checks for a reader who left (about a second)"
    )
    llm_prompt_lookup: int = Field(0, ge=0, le=32, description="prompt-lookup draft tokens; 0 = off")

    # the answer (docs/answers.md)
    answer_sources: int = Field(2, ge=1, le=8, description="sources the model reads")
    # 2 sources of 200 characters, date-only headers, chosen from 5 posts: the same first-sentence time and
    # dev accuracy as 3 x 120 (7.6 s p50, against 21.5 s for 3 x 200 with titles) and citation precision
    # 0.94 against 0.79: a third source is mostly a post the model cites without its holding the answer
    # (docs/answers.md, the evidence budget)
    answer_chars_per_source: int = Field(200, ge=50, le=2000, description="characters of each source")
    answer_max_tokens: int = Field(160, ge=16, le=2048, description="longest answer the model may write, in tokens")
    answer_grammar: bool = Field(False, description="constrain decoding to cited sentences (llama.cpp grammar)")
    answer_passages: bool = Field(True, description="send the key passage before the model starts")
    answer_evidence_pool: int = Field(5, ge=1, le=10, description="top posts whose sentences compete for evidence")
    # Embedding every sentence of the pool was the seconds before the key passage (85 for an English
    # question). 8 a post chose the same key passages and kept every evidence that held the answer on 200
    # tuning questions; 6 lost two (docs/answers.md, "Key passage cost").
    answer_meaning_sentences: int = Field(
        8, ge=0, le=100, description="sentences of each post embedded when evidence is read by meaning; 0 = all"
    )
    answer_window: Literal["contiguous", "spread"] = Field(
        "contiguous", description="each source: the best sentence and its neighbours, or the post's best sentences"
    )
    answer_compact_headers: bool = Field(True, description="source headers with the date only")
    answer_favour_type: bool = Field(True, description="favour evidence holding the kind of fact asked for")
    answer_on_topic: bool = Field(True, description="drop supported sentences that do not bear on the question")
    answer_english_terms: bool = Field(
        False, description="the model writes Japanese search terms for English questions"
    )
    # Off: on the first 76 English tuning questions it answered +0.044 more right (95% CI -0.074 to +0.162,
    # refusals graded wrong) and cited better (0.89 against 0.79), inside the interval (docs/answers.md).
    answer_japanese_question: bool = Field(
        False, description="the model renders an English question in Japanese, which is searched and asked"
    )
    # The next four are on together: on 100 Japanese answerable questions of the tuning set they answered
    # +0.09 more right (95% CI 0.01-0.17), refusing 0.12 instead of 0.29; the part each plays is not
    # separated yet (docs/answers.md, "Decided on the tuning set").
    answer_short_first: bool = Field(
        True, description="the answer opens with the figure, date or name asked for, checked against its source"
    )
    answer_demonstrations: bool = Field(True, description="worked examples in the cached prompt prefix")
    answer_subject_guard: bool = Field(
        True, description="drop a generated figure the source gives for another company, product or period"
    )
    # A question on 「Claude 5」 answered from posts on Claude 3.5: 5 of the 9 unanswerable tuning questions
    # the model answered, and none of the 383 answerable ones refused (docs/answers.md, "The version check").
    answer_version_check: bool = Field(
        True, description="refuse before the model when no retrieved post names the product version asked about"
    )
    # 0.3: on the 243 answerable Japanese tuning questions, citation precision +0.029 (95% CI +0.011 to
    # +0.052), accuracy +0.008 (-0.012 to +0.029); English questions' cosine leads never reach it
    answer_alone_margin: float = Field(
        0.3, ge=0, description="quote the best post alone when its evidence score leads the next by this; 0 = never"
    )
    # mixed: of 160 English tuning questions, answers in Japanese 40 -> 4, accuracy and citations unchanged
    answer_english_route: Literal["direct", "translate", "mixed"] = Field(
        "mixed",
        description="English answers: written in English; in Japanese and translated sentence by sentence; or "
        "written in English with any sentence the model wrote in Japanese translated after the answer (mixed)",
    )
    answer_span_fallback: bool = Field(
        True, description="when the model refuses a confident key passage, a second short attempt picks the span"
    )

    # the answer cache (SQLite under the data folder, shared by the worker processes of one machine)
    cache_enabled: bool = Field(True, description="serve repeated questions from the answer cache")
    cache_path: Path | None = Field(
        None, description="the answer cache's SQLite file (default: DATA_DIR/cache/answers.sqlite)"
    )
    cache_max_entries: int = Field(5000, ge=1, description="answers kept; the least recently used go first")
    cache_max_age_s: float = Field(7 * 86400, gt=0, description="seconds a cached answer is served (7 days)")
    # Calibrated on dev (python -m bench.calibrate_similarity): no two distinct dev questions are above
    # 0.916, and all 71 kept paraphrases and rewordings are at 0.93 or above; 0.97 missed 8.5% of them.
    cache_similarity: float = Field(0.93, gt=0, le=1, description="question cosine for a near-duplicate hit")

    # the question log (every question answered over HTTP) and reader feedback
    database_url: str = Field("", description="PostgreSQL URL for the question log; empty = SQLite in DATA_DIR/log")
    log_days: int = Field(90, ge=1, description="days a logged question and its rating are kept")
    # the best pairwise F1 (0.953) for "same theme" on dev: paraphrases and questions sharing a gold post
    gap_similarity: float = Field(0.92, gt=0, le=1, description="question cosine that groups gaps together")

    # what replicas share (empty: each process keeps its own, as a single box needs)
    redis_url: str = Field("", description="Redis for rate limits and the answer cache shared by replicas")

    # the HTTP service
    host: str = Field("127.0.0.1", description="address rag serve listens on")
    port: int = Field(8000, description="port rag serve listens on")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated reader keys; when set, the API requires one (the blog's own pages excepted)",
    )
    admin_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated operator keys: admin endpoints and /metrics (docs/security.md)",
    )
    staff_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated staff keys: the desk, research and reports, not admin"
    )
    forwarded_allow_ips: str = Field("", description="proxies trusted for X-Forwarded-For (uvicorn), e.g. 127.0.0.1")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed to call the API from browsers (the widget's pages)"
    )
    rate_limit_per_minute: int = Field(120, ge=0, description="requests a minute per key or client IP; 0 = unlimited")
    # A reader asks a question a minute or two; 20 leaves room for a lively conversation and for searches,
    # and keeps a script posing as the widget far below what a key holder may do.
    public_rate_limit_per_minute: int = Field(
        20, ge=0, description="requests a minute per client IP for keyless page visitors (the widget); 0 = unlimited"
    )
    queue_size: int = Field(8, ge=0, description="answers waiting for the model before 429")
    queue_per_caller: int = Field(2, ge=0, description="places in the answer queue one caller may hold; 0 = no limit")
    # Above the largest valid request (20 messages of 3,000 characters, JSON-escaped), so the limit
    # only ever stops abuse, never a request the schema allows.
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="larger request bodies are refused (413)")
    watch_index_s: float = Field(2.0, ge=0, description="how often to look for a new index version; 0 = never")
    watch_archive: bool = Field(False, description="ingest RAG_ARCHIVE whenever its posts change (rag serve --watch)")
    watch_archive_s: float = Field(1.0, gt=0, description="how often the watched archive is looked at")

    @field_validator("api_keys", "admin_keys", "staff_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def generation_slots(self) -> int:
        """Generations at once: one embedded llama.cpp context, or each server's slots."""
        if self.llm_server:
            return self.slots
        servers = len([u for u in self.llm_url.split(",") if u.strip()])
        return self.slots * servers if servers and self.llm_backend in ("auto", "openai") else 1

    @property
    def slots(self) -> int:
        """Each LLM server's slots. The managed llama-server gets 4: at 8 readers it gave 13.4 answers/min
        and a ttft p95 of 48 s, against 12.2 and 73 s with one slot (docs/scaling.md); a server we do
        not manage is assumed to take one request at a time unless told."""
        return self.llm_slots or (4 if self.llm_server else 1)

    @property
    def gguf_path(self) -> Path:
        return self.llm_gguf or self.models_path / DEFAULT_GGUF

    @property
    def index_path(self) -> Path:
        return self.index_dir or self.data_dir / "index"

    @property
    def models_path(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def cpu_threads(self) -> int:
        return self.threads or os.cpu_count() or 1

    def llm_options(self) -> LLMOptions:
        return LLMOptions(
            gguf=str(self.gguf_path), url=self.llm_url, model=self.llm_model, api_key=self.llm_api_key,
            threads=self.cpu_threads, context=self.llm_context, timeout=self.llm_total_s, batch=self.llm_batch,
            ubatch=self.llm_ubatch, flash_attn=self.llm_flash_attn, prefill_slice=self.llm_prefill_slice,
            prompt_lookup=self.llm_prompt_lookup,
        )  # fmt: skip

    @property
    def cache_file(self) -> Path:
        return self.cache_path or self.data_dir / "cache" / "answers.sqlite"

    def answer_config(self) -> AnswerConfig:
        return AnswerConfig(
            max_sources=self.answer_sources, chars_per_source=self.answer_chars_per_source,
            max_tokens=self.answer_max_tokens, first_token_s=self.llm_first_token_s, total_s=self.llm_total_s,
            queue_s=self.llm_queue_s, grammar=self.answer_grammar, passages=self.answer_passages,
            evidence_pool=self.answer_evidence_pool, compact_headers=self.answer_compact_headers,
            favour_type=self.answer_favour_type, english_terms=self.answer_english_terms,
            japanese_question=self.answer_japanese_question,
            on_topic=self.answer_on_topic, short_first=self.answer_short_first,
            demonstrations=self.answer_demonstrations, subject_guard=self.answer_subject_guard,
            version_check=self.answer_version_check,
            alone_margin=self.answer_alone_margin, span_fallback=self.answer_span_fallback,
            english_route=self.answer_english_route, meaning_sentences=self.answer_meaning_sentences,
            window=self.answer_window,
        )  # fmt: skip

    def embedder_options(self) -> EmbedderOptions:
        return EmbedderOptions(
            models_dir=self.models_path, batch_size=self.embed_batch_size, threads=self.cpu_threads,
            max_seq_length=self.embed_max_seq_length, int8=self.embed_int8,
        )  # fmt: skip

    def retrieval_config(self) -> RetrievalConfig:
        return RetrievalConfig(
            mode=self.retrieval_mode, candidates=self.retrieval_candidates, rrf_k=self.retrieval_rrf_k,
            collapse=self.retrieval_collapse, passages_per_post=self.retrieval_passages_per_post,
            fuse_posts=self.retrieval_fuse_posts, dense_weight=self.dense_weight, sparse_weight=self.sparse_weight,
            en_dense_weight=self.en_dense_weight, en_sparse_weight=self.en_sparse_weight,
        )  # fmt: skip

    def chunking_config(self) -> ChunkingConfig:
        return ChunkingConfig(
            min_chars=self.chunk_min_chars, max_chars=self.chunk_max_chars, overlap_chars=self.chunk_overlap_chars
        )

    def ingest_options(self) -> IngestOptions:
        from index.ingest import IngestOptions  # imported here: reading the settings needs no FAISS

        return IngestOptions(self.chunking_config(), self.max_post_bytes, self.post_seconds)
