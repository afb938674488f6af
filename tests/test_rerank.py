"""The reranker's plumbing, with a tiny cross-encoder built here (none ships offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rag.retrieval.engine import Engine
from rag.settings import Settings

from .conftest import DATA


def tiny_cross_encoder(folder: Path) -> Path:
    """A 2-layer BERT with a fresh WordPiece vocabulary, saved as a sentence-transformers CrossEncoder."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    texts = [p.read_text(encoding="utf-8") for p in (DATA / "archive" / "_posts").glob("*.md")]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=800, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=256)  # fmt: skip
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256, num_labels=1)  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def test_the_reranker_reorders_fused_posts_by_its_own_scores(index: Path, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    model = tiny_cross_encoder(tmp_path / "ce")
    plain = Engine(Settings(embedding_model="fake:64", index_dir=index)).search("AIの導入効果", 5)
    reranked = Engine(Settings(embedding_model="fake:64", index_dir=index, reranker=str(model), reranker_depth=5))
    result = reranked.search("AIの導入効果", 5).result
    assert {h.source for h in result.hits} == {h.source for h in plain.result.hits}  # same posts...
    expected = CrossEncoder(str(model)).predict([("AIの導入効果", f"{h.title}\n{h.text}") for h in result.hits])
    assert list(expected) == sorted(expected, reverse=True)  # ...in the cross-encoder's order
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]


def test_a_missing_reranker_says_what_to_do(index: Path, tmp_path: Path) -> None:
    from index.errors import ModelNotFound

    with pytest.raises(ModelNotFound, match="unset RAG_RERANKER"):
        Engine(Settings(embedding_model="fake:64", index_dir=index, reranker=str(tmp_path / "nothing")))
