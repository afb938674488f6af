"""The sparse leg: Sudachi tokens (mode C plus mode-A parts, NFKC, lower case, no function words) and BM25."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from index.sparse import BM25Index, JapaneseTokenizer, Vocab, build_bm25

DOCS = [
    "量子化で推論コストを下げる方法を紹介します。",
    "外観検査AIと予知保全の導入事例です。",
    "クラウドのストレージサービスを比較します。",
    "生成AI市場の拡大と企業導入の現在地。",
]


@pytest.fixture(scope="module")
def tokenize() -> JapaneseTokenizer:
    return JapaneseTokenizer()


BuildIndex = Callable[[list[list[str]]], BM25Index]


@pytest.fixture
def bm25_over(tmp_path: Path) -> BuildIndex:
    """A BM25 index built by the production code over the given token lists (one chunk each)."""

    def build(docs: list[list[str]]) -> BM25Index:
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY, tokens BLOB NOT NULL DEFAULT x'')")
        vocab = Vocab(conn)
        for i, tokens in enumerate(docs):
            conn.execute("INSERT INTO chunks VALUES (?, ?)", (i, vocab.encode(tokens).tobytes()))
        build_bm25(conn, tmp_path)
        return BM25Index.load(tmp_path, conn)

    return build


# --- the tokenizer ----------------------------------------------------------------------------------


def test_compounds_stay_whole_and_their_parts_also_match(tokenize: JapaneseTokenizer) -> None:
    tokens = tokenize("ストレージサービスを使う")
    assert tokens[:3] == ["ストレージサービス", "ストレージ", "サービス"]  # the compound first, then its parts
    assert {"量子化", "量子"} <= set(tokenize("量子化の効果"))


def test_a_simple_word_is_not_split_again(tokenize: JapaneseTokenizer) -> None:
    assert tokenize("推論") == ["推論"]


def test_full_width_and_upper_case_latin_give_the_same_token_as_plain_lower_case(tokenize: JapaneseTokenizer) -> None:
    assert tokenize("ＧＰＴ") == tokenize("GPT") == tokenize("gpt") == ["gpt"]
    assert tokenize("ＬＬＭ") == ["llm"]
    assert tokenize("２０２５年") == tokenize("2025年")


def test_particles_auxiliaries_and_symbols_are_dropped(tokenize: JapaneseTokenizer) -> None:
    tokens = tokenize("「量子化」で、推論コストを下げました！？")
    assert not {"で", "を", "ます", "た", "「", "」", "、", "！", "？"} & set(tokens)
    assert {"量子化", "推論", "コスト", "下げる"} <= set(tokens)  # content words, in their dictionary form


def test_light_verbs_are_dropped_but_the_noun_they_follow_is_kept(tokenize: JapaneseTokenizer) -> None:
    assert tokenize("導入する") == tokenize("導入できる") == ["導入"]


def test_english_function_words_are_dropped_and_names_kept(tokenize: JapaneseTokenizer) -> None:
    tokens = tokenize("What is the cost of the LLM according to the blog post?")
    assert "llm" in tokens
    assert not {"what", "is", "the", "of", "according", "blog", "post", "ザ", "?"} & set(tokens)


def test_an_english_loanword_meets_its_katakana_form(tokenize: JapaneseTokenizer) -> None:
    assert tokenize("cost") == tokenize("コスト")


def test_empty_and_punctuation_only_text_gives_no_tokens(tokenize: JapaneseTokenizer) -> None:
    assert tokenize("") == []
    assert tokenize("。、！？「」 \n") == []


def test_text_longer_than_sudachi_accepts_is_tokenized_in_pieces(tokenize: JapaneseTokenizer) -> None:
    text = "量子化の効果。\n" * 5000  # 110 KB; Sudachi alone refuses more than 49,149 bytes
    assert len(text.encode()) > 49_149
    assert tokenize(text).count("量子化") == 5000  # nothing lost at the cuts


# --- BM25 -------------------------------------------------------------------------------------------


def test_a_term_found_in_one_document_ranks_that_document_first(
    tokenize: JapaneseTokenizer, bm25_over: BuildIndex
) -> None:
    index = bm25_over([tokenize(d) for d in DOCS])
    hits = index.search(tokenize("予知保全"), k=10)
    assert [row for row, _ in hits] == [1]  # only scored documents come back
    assert hits[0][1] > 0


def test_a_part_of_a_compound_finds_the_document_with_the_compound(
    tokenize: JapaneseTokenizer, bm25_over: BuildIndex
) -> None:
    index = bm25_over([tokenize(d) for d in DOCS])
    assert index.search(tokenize("ストレージ"), k=3)[0][0] == 2
    assert index.search(tokenize("量子"), k=3)[0][0] == 0


def test_unknown_query_terms_score_nothing_and_do_not_crash(tokenize: JapaneseTokenizer, bm25_over: BuildIndex) -> None:
    index = bm25_over([tokenize(d) for d in DOCS])
    assert index.search(["火星", "天気"], k=5) == []
    assert index.search([], k=5) == []
    assert not index.scores(["火星"]).any()
    known = index.scores(tokenize("外観検査"))
    np.testing.assert_array_equal(index.scores([*tokenize("外観検査"), "火星"]), known)


def test_a_rarer_term_weighs_more_and_an_unseen_term_is_rarest(bm25_over: BuildIndex) -> None:
    index = bm25_over([["ai", "検査"], ["ai", "保全"], ["ai", "市場"]])
    assert index.idf("検査") > index.idf("ai")
    assert index.idf("火星") > index.idf("検査")


def test_a_shorter_document_with_the_same_term_count_scores_higher(bm25_over: BuildIndex) -> None:
    index = bm25_over([["検査", "a", "b", "c", "d", "e"], ["検査", "a"], ["f"]])
    scores = index.scores(["検査"])
    assert scores[1] > scores[0] > 0 == scores[2]


def test_repeated_query_terms_count_again(bm25_over: BuildIndex) -> None:
    index = bm25_over([["検査", "ai"], ["保全"]])
    np.testing.assert_allclose(index.scores(["検査", "検査"]), 2 * index.scores(["検査"]))


def test_the_mask_applies_before_truncation(bm25_over: BuildIndex) -> None:
    index = bm25_over([["検査", "検査", "検査"], ["検査", "ai", "ai"], ["保全"]])
    assert index.search(["検査"], k=1)[0][0] == 0
    only_second = np.array([False, True, True])
    assert [row for row, _ in index.search(["検査"], k=1, mask=only_second)] == [1]
    assert index.search(["検査"], k=5, mask=np.zeros(3, dtype=bool)) == []


def test_term_ids_are_stable_when_the_vocabulary_is_reopened() -> None:
    conn = sqlite3.connect(":memory:")
    first = Vocab(conn).encode(["検査", "保全", "検査"])
    assert first.tolist() == [0, 1, 0]
    again = Vocab(conn)
    assert again.encode(["保全", "検査", "火星"], grow=False).tolist() == [1, 0]  # unknown terms skipped
    assert again.encode(["火星"]).tolist() == [2]


def test_the_top_score_as_a_share_of_its_ceiling_does_not_move_with_the_archive_size(bm25_over: BuildIndex) -> None:
    small = bm25_over([["量子", "計算"], ["量子", "計算", "冷却"], ["市場"]])
    large = bm25_over([["量子", "計算"], ["量子", "計算", "冷却"], ["市場"]] + [["市場", f"語{i}"] for i in range(40)])
    query = ["冷却"]
    raw = [idx.search(query, 1)[0][1] for idx in (small, large)]
    share = [idx.search(query, 1)[0][1] / idx.ceiling(query) for idx in (small, large)]
    assert raw[1] > raw[0] * 1.5  # the raw BM25 score grows with the archive (a rarer term)
    assert share == pytest.approx([1.0, 1.0])  # its share of the best possible does not
    assert small.ceiling(["未知"]) == 0.0
