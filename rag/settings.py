"""The one settings object, read from RAG_* environment variables (and .env) at the entry points
(CLI, app factory) and passed down; nothing reads the environment at import time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.embedding import DEFAULT_EMBEDDER, EmbedderOptions
from rag.llm.base import LLMOptions
from rag.llm.gguf import DEFAULT_NAME as DEFAULT_GGUF

if TYPE_CHECKING:
    from rag.answer import AnswerConfig


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    archive: Path | None = Field(None, description="Jekyll site folder holding _posts/ (and _config.yml)")
    data_dir: Path = Field(Path("data"), description="where indexes and built models live")
    index_dir: Path | None = Field(None, description="index folder (default: DATA_DIR/index)")
    models_dir: Path | None = Field(None, description="built models (default: DATA_DIR/models)")
    embedding_model: str = Field(DEFAULT_EMBEDDER, description="sentence-transformers name or path")
    embed_batch_size: int = Field(8, ge=1, le=1024)
    embed_int8: bool = Field(True, description="dynamic int8 embedder (1.4x faster, cosine 0.996 vs fp32)")
    threads: int = Field(0, ge=0, description="CPU threads for models; 0 = all cores")
    retrieval_mode: Literal["hybrid", "dense", "sparse"] = "hybrid"
    reranker: str = Field("", description="sentence-transformers CrossEncoder name or path; empty = none")
    reranker_depth: int = Field(20, ge=2, le=100, description="how many fused posts the reranker re-scores")
    relevance_threshold: float | None = Field(
        None, ge=0, le=1, description="flag 'not in archive' below this probability (default: calibrated)"
    )

    # the language model
    llm_backend: str = Field("auto", description="auto | llama.cpp | openai | none (extractive answers only)")
    llm_gguf: Path | None = Field(None, description="GGUF for the embedded model (default: the installed one)")
    llm_url: str = Field("", description="OpenAI-compatible server, e.g. http://localhost:11434 (Ollama)")
    llm_model: str = Field("", description="model name to request from RAG_LLM_URL")
    llm_api_key: str = Field("", description="bearer token for RAG_LLM_URL")
    llm_context: int = Field(4096, ge=512)
    llm_first_token_s: float = Field(30.0, gt=0, description="answer extractively if no token by then")
    llm_total_s: float = Field(120.0, gt=0)
    answer_sources: int = Field(3, ge=1, le=8)
    answer_chars_per_source: int = Field(200, ge=50, le=2000)
    answer_max_tokens: int = Field(160, ge=16, le=2048)
    answer_grammar: bool = Field(False, description="constrain decoding to cited sentences (llama.cpp grammar)")

    # the HTTP service
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated; empty = no key needed"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed to call from browsers"
    )
    rate_limit_per_minute: int = Field(120, ge=0, description="per key or client IP; 0 = unlimited")
    queue_size: int = Field(8, ge=0, description="answers waiting for the model before 429")
    # Above the largest valid request (20 messages of 3,000 characters, JSON-escaped), so the limit
    # only ever stops abuse, never a request the schema allows.
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    watch_index_s: float = Field(2.0, ge=0, description="how often to look for a new index version; 0 = never")

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

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
            threads=self.cpu_threads, context=self.llm_context, timeout=self.llm_total_s,
        )  # fmt: skip

    def answer_config(self) -> AnswerConfig:
        from rag.answer import AnswerConfig

        return AnswerConfig(
            max_sources=self.answer_sources, chars_per_source=self.answer_chars_per_source,
            max_tokens=self.answer_max_tokens, first_token_s=self.llm_first_token_s, total_s=self.llm_total_s,
            grammar=self.answer_grammar,
        )  # fmt: skip

    def embedder_options(self) -> EmbedderOptions:
        return EmbedderOptions(models_dir=self.models_path, batch_size=self.embed_batch_size, threads=self.cpu_threads)
