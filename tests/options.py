"""The option objects tests use: the program's defaults (from `Settings`, the one place they are
declared), with a test's own changes on top. No test spells out a default of its own."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from index.chunking import ChunkingConfig
from index.embedding import EmbedderOptions
from index.ingest import IngestOptions
from rag.answering.config import AnswerConfig
from rag.llm.base import LLMOptions
from rag.retrieval.config import RetrievalConfig
from rag.settings import Settings


def defaults() -> Settings:
    """The settings a fresh install runs with (no .env file read)."""
    return Settings(_env_file=None)


def answer_config(**changes: Any) -> AnswerConfig:
    return replace(defaults().answer_config(), **changes)


def retrieval_config(**changes: Any) -> RetrievalConfig:
    return replace(defaults().retrieval_config(), **changes)


def llm_options(**changes: Any) -> LLMOptions:
    return replace(defaults().llm_options(), **changes)


def embedder_options(**changes: Any) -> EmbedderOptions:
    return replace(defaults().embedder_options(), **changes)


def chunking_config(**changes: Any) -> ChunkingConfig:
    return replace(defaults().chunking_config(), **changes)


def ingest_options(**changes: Any) -> IngestOptions:
    return replace(defaults().ingest_options(), **changes)
