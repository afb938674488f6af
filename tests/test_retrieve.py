"""Hybrid retrieval over the sample archive: RRF, hits per post, modes, filters, the not-in-archive flag."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from rag.retrieval.engine import Engine
from rag.retrieval.filters import Filters
from rag.retrieval.relevance import RelevanceModel
from rag.retrieval.retriever import LegScores, Retriever, post_ranks, rrf
from rag.settings import Settings

from .conftest import DATA, fake_index

MARKET = "2025-08-29-1-生成ai市場の拡大と企業導入.md"  # 21:30 UTC on 29 August: 30 August in Tokyo
EDGE = next(p.name for p in (DATA / "archive" / "_posts").glob("2025-09-01-2-*"))  # an NFD file name, kept as is
COST = "2025-09-03-1-llm推論コスト.md"
RULES = "2025-09-04-1-ai規制の動向.md"  # 18:00 UTC on 4 September: 5 September in Tokyo
RULES_2 = "2025-09-05-1-ai規制の動向.md"
FACTORY = "2025-09-10-3-製造業のai活用事例.md"
PAPER = "2026-01-15-2-研究論文紹介.md"  # 23:50 UTC on 15 January: 16 January in Tokyo


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(Settings(embedding_model="fake:64"), index=fake_index(tmp_path_factory, "retrieve"))


@pytest.fixture(scope="module")
def retriever(engine: Engine) -> Retriever:
    return engine.retriever


def sources(retriever: Retriever, query: str, k: int = 10, filters: Filters | None = None) -> list[str]:
    return [h.source for h in retriever.search(query, k, filters).hits]


# --- reciprocal rank fusion -------------------------------------------------------------------------


def test_rrf_adds_one_over_k_plus_rank_from_every_ranking() -> None:
    fused = rrf([[1, 2, 3], [3, 1]], k=60)
    assert fused == pytest.approx({1: 1 / 61 + 1 / 62, 2: 1 / 62, 3: 1 / 63 + 1 / 61})
    assert max(fused, key=fused.__getitem__) == 1  # found by both rankings beats first in only one


def test_rrf_weights_scale_each_ranking_vote() -> None:
    fused = rrf([[1], [2]], k=60, weights=[1.0, 3.0])
    assert fused[2] == pytest.approx(3 * fused[1])


def test_post_ranks_count_each_post_once_at_its_first_chunk() -> None:
    chunk_ranking = [10, 11, 20, 12, 30, 21]  # chunk c belongs to post c // 10
    assert post_ranks(chunk_ranking, lambda c: c // 10) == {1: 0, 2: 1, 3: 2}


# --- hits -------------------------------------------------------------------------------------------


def test_a_post_appears_once_with_its_best_passages_first(retriever: Retriever) -> None:
    hits = retriever.search("量子化", 10).hits
    assert hits[0].source == COST
    assert len({h.source for h in hits}) == len(hits)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(hits[0].passages) == 2  # both chunks of the post mention 量子化
    for h in hits:
        assert 1 <= len(h.passages) <= retriever.config.passages_per_post
        assert [p.score for p in h.passages] == sorted((p.score for p in h.passages), reverse=True)
        assert h.score == h.passages[0].score and h.text == h.passages[0].text


def test_passages_per_post_caps_the_passages_of_each_hit(retriever: Retriever) -> None:
    hits = retriever.with_config(passages_per_post=1).search("量子化", 10).hits
    assert hits[0].source == COST and all(len(h.passages) == 1 for h in hits)


def test_sparse_votes_three_times_dense_when_both_legs_agree(retriever: Retriever) -> None:
    # fused by post: sparse_weight/(60+1) + dense_weight/(60+1), plus a tie-break under 1e-3 of that
    top = retriever.search("外観検査", 5).hits[0]
    assert top.source == FACTORY
    assert top.score == pytest.approx(4 / 61, rel=1.1e-3)
    assert retriever.with_config(mode="sparse").search("外観検査", 5).hits[0].score == pytest.approx(3 / 61, rel=1.1e-3)
    assert retriever.with_config(mode="dense").search("外観検査", 5).hits[0].score == pytest.approx(1 / 61, rel=1.1e-3)


def test_without_collapse_hits_are_chunks(retriever: Retriever) -> None:
    hits = retriever.with_config(collapse=False).search("量子化", 5).hits
    assert [h.source for h in hits].count(COST) == 2
    assert all(len(h.passages) == 1 for h in hits)
    assert len({h.passages[0].chunk_id for h in hits}) == 5


def test_sparse_mode_returns_only_posts_holding_a_query_term(retriever: Retriever) -> None:
    sparse = retriever.with_config(mode="sparse")
    assert sources(sparse, "外観検査", 5) == [FACTORY, EDGE]
    assert sources(sparse, "火星の天気", 5) == []


def test_dense_mode_ranks_by_cosine_and_always_fills_k(engine: Engine, retriever: Retriever) -> None:
    dense = retriever.with_config(mode="dense")
    result = dense.search("火星の天気", 5)
    assert len(result.hits) == 5
    top5 = retriever.snapshot.search_dense(engine.embedder.embed_query("火星の天気"), 5)
    assert result.hits[0].passages[0].chunk_id == top5[0][0]
    assert result.legs == LegScores(top5[0][1], top5[0][1] - top5[4][1], sparse_top=0.0, agree=False)


def test_leg_scores_record_the_best_of_each_leg_and_whether_they_agree(retriever: Retriever) -> None:
    legs = retriever.search("外観検査", 5).legs
    assert legs.sparse_top == pytest.approx(float(retriever.bm25.scores(retriever.tokenize("外観検査")).max()))
    assert 0 < legs.dense_top <= 1 and 0 <= legs.dense_gap <= legs.dense_top
    assert legs.agree  # both legs put the factory post first
    sparse_only = retriever.with_config(mode="sparse").search("外観検査", 5).legs
    assert sparse_only.dense_top == 0 and not sparse_only.agree


# --- filters ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "sparse", "dense"])
def test_filters_apply_before_truncation(retriever: Retriever, mode: str) -> None:
    narrow = retriever.with_config(mode=mode, candidates=1)
    unfiltered = sources(narrow, "強化学習", 1)
    assert unfiltered and unfiltered != [FACTORY]  # each leg keeps one candidate: not the factory post
    assert sources(narrow, "強化学習", 1, Filters(category="業界別AI活用")) == [FACTORY]


@pytest.mark.parametrize("mode", ["hybrid", "sparse", "dense"])
def test_an_impossible_filter_returns_no_hits_rather_than_an_error(retriever: Retriever, mode: str) -> None:
    r = retriever.with_config(mode=mode)
    for impossible in (Filters(category="存在しない"), Filters(tags=("EU", "NPU")), Filters(since=date(2030, 1, 1))):
        result = r.search("量子化", 5, impossible)
        assert result.hits == [] and result.legs == LegScores()


def test_category_and_tags_match_without_regard_to_case_and_tags_must_all_match(retriever: Retriever) -> None:
    assert set(sources(retriever, "AI", 10, Filters(category="技術解説"))) == {EDGE, COST}
    assert sources(retriever, "AI", 10, Filters(tags=("eu", "汎用ai"))) == [RULES_2]
    assert set(sources(retriever, "AI", 10, Filters(tags=("EU",)))) == {RULES, RULES_2}


def test_dates_are_days_in_the_site_timezone(retriever: Retriever) -> None:
    def on(since: date | None, until: date | None) -> set[str]:
        return set(sources(retriever, "AI", 10, Filters(since=since, until=until)))

    assert on(date(2025, 8, 30), date(2025, 8, 30)) == {MARKET}  # posted 29 August UTC
    assert on(None, date(2025, 8, 29)) == set()
    assert on(date(2025, 9, 5), date(2025, 9, 5)) == {RULES, RULES_2}
    assert on(None, date(2025, 9, 4)) == {MARKET, EDGE, COST}
    assert on(date(2026, 1, 16), None) == {PAPER}
    assert on(date(2026, 1, 17), None) == set()


# --- the not-in-archive flag ------------------------------------------------------------------------


def stored_model(tmp_path: Path, threshold: float = 0.5) -> Path:
    """Probability rises with the best BM25 score alone: no query term anywhere gives sigmoid(-1) = 0.27."""
    path = tmp_path / "relevance.json"
    entry = {"weights": [0.0, 0.0, 1.0, 0.0], "bias": -1.0, "threshold": threshold}
    path.write_text(json.dumps({"fake:64": entry}), encoding="utf-8")
    return path


def test_a_question_under_the_threshold_is_flagged_not_in_archive(engine: Engine, tmp_path: Path) -> None:
    model = RelevanceModel.load("fake:64", path=stored_model(tmp_path))
    off_topic = engine.retriever.search("火星の天気", 5)
    on_topic = engine.retriever.search("量子化の効果", 5)
    assert model.probability(off_topic) == pytest.approx(0.2689, abs=1e-4)
    assert model.flags(model.probability(off_topic))
    assert not model.flags(model.probability(on_topic))
    assert model.probability(engine.retriever.search("量子化", 5, Filters(category="存在しない"))) == 0.0


def test_the_engine_reports_the_flag_with_its_search(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "relevance", RelevanceModel.load("fake:64", path=stored_model(tmp_path)))
    assert engine.search("火星の天気").not_in_archive
    assert not engine.search("量子化の効果").not_in_archive
    lower = RelevanceModel.load("fake:64", threshold=0.1, path=stored_model(tmp_path))  # RAG_RELEVANCE_THRESHOLD
    monkeypatch.setattr(engine, "relevance", lower)
    assert not engine.search("火星の天気").not_in_archive


def test_without_a_model_for_the_embedder_nothing_is_flagged(engine: Engine, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"another-embedder": {"weights": [1, 1, 1, 1], "bias": -99, "threshold": 0.9}}))
    for path in (tmp_path / "missing.json", other):
        model = RelevanceModel.load("fake:64", path=path)
        p = model.probability(engine.retriever.search("火星の天気", 5))
        assert p == 1.0 and not model.flags(p)


def test_a_question_with_no_japanese_is_judged_by_the_english_threshold(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = RelevanceModel.load("fake:64", threshold=0.99, path=stored_model(tmp_path))
    monkeypatch.setattr(engine, "relevance", strict)
    monkeypatch.setattr(engine, "english_threshold", None)  # as RAG_RELEVANCE_THRESHOLD: both flagged
    assert engine.search("What did quantization change?").not_in_archive
    monkeypatch.setattr(engine, "english_threshold", 0.0)  # RAG_RELEVANCE_THRESHOLD_EN=0
    assert engine.search("量子化の効果").not_in_archive
    assert not engine.search("What did quantization change?").not_in_archive
