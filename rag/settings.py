"""The one settings object, read from RAG_* environment variables (and .env) at the entry points
(CLI, app factory) and passed down; nothing reads the environment at import time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embedding import DEFAULT_EMBEDDER, EmbedderOptions


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
    relevance_threshold: float | None = Field(
        None, ge=0, le=1, description="flag 'not in archive' below this probability (default: calibrated)"
    )

    @property
    def index_path(self) -> Path:
        return self.index_dir or self.data_dir / "index"

    @property
    def models_path(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def cpu_threads(self) -> int:
        return self.threads or os.cpu_count() or 1

    def embedder_options(self) -> EmbedderOptions:
        return EmbedderOptions(models_dir=self.models_path, batch_size=self.embed_batch_size, threads=self.cpu_threads)
