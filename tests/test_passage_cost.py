"""What the key passage costs before it is shown: embedding sentences is the CPU work between retrieval
and the passage (docs/answers.md, "Key passage cost"), so how many are embedded is bounded."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from index.text import split_sentences
from rag.answering.config import AnswerConfig
from rag.answering.evidence import Scorer, evidence_depth, readable, select_evidence
from rag.answering.meaning import Meaning
from rag.answering.pipeline import Answerer
from rag.answering.prompts import Source
from rag.retrieval.engine import Engine
from rag.retrieval.retriever import Hit, Passage
from rag.settings import Settings
from tests.fakes import HashingEmbedder
from tests.options import answer_config

from .conftest import fake_index

FILLER = [f"本日は{i}番目の話題として、展示会の様子を写真とともに紹介します。" for i in range(12)]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(Settings(embedding_model="fake:64"), index=fake_index(tmp_path_factory, "passage-cost"))


def hit(rank: int, *chunks: str) -> Hit:
    name = f"post{rank}"
    passages = tuple(Passage(rank * 10 + i, (), text, 1.0 - i / 10) for i, text in enumerate(chunks))
    return Hit(rank, 0.1, name, f"https://blog.example.jp/{name}/", name, datetime(2025, 9, 1), (), (), passages)


class Cosines:
    """Scores by meaning: the answer sentence highest, and a record of every sentence it was asked about."""

    def __init__(self, answer: str) -> None:
        self.answer, self.asked = answer, list[list[str]]()

    def __call__(self, question: str, sentences: list[str]) -> np.ndarray:
        self.asked.append(list(sentences))
        return np.array([0.95 if s == self.answer else 0.8 for s in sentences])


def scorer() -> Scorer:
    return Scorer(lambda text: text.split(), lambda term: 1.0)  # words meet only where spaces split them


def test_an_english_question_embeds_at_most_meaning_sentences_of_each_post() -> None:
    answer = "外観検査AIの導入で検査工数を42%削減しました。"
    hits = [hit(0, answer + "".join(FILLER[:6]), "".join(FILLER[6:])), hit(1, "".join(FILLER))]
    dense = Cosines(answer)
    sources = select_evidence("How much work did the inspection AI save?", hits, scorer(), max_sources=1,
                              dense=dense, prefer_dense=True, pool=2, meaning_sentences=4)  # fmt: skip
    assert [len(asked) for asked in dense.asked] == [4, 4]
    assert answer in sources[0].text


def test_with_no_bound_every_sentence_of_the_pool_is_embedded() -> None:
    hits = [hit(0, "".join(FILLER[:6]), "".join(FILLER[6:]))]
    dense = Cosines("")
    select_evidence("What was shown?", hits, scorer(), dense=dense, prefer_dense=True, pool=1, meaning_sentences=0)
    assert [len(asked) for asked in dense.asked] == [12]


def test_the_sentences_embedded_share_the_most_words_with_the_question_then_come_from_the_best_chunk() -> None:
    lexical = np.array([0.0, 0.0, 0.5, 0.0, 0.0, 0.9])  # post order: the best chunk's sentences first
    assert readable(lexical, 3).tolist() == [0, 2, 5]
    assert readable(lexical, 0).tolist() == list(range(6))
    assert readable(lexical, 10).tolist() == list(range(6))


def test_a_sentence_not_embedded_is_never_the_evidence_but_can_widen_its_window() -> None:
    answer = "外観検査AIの導入で検査工数を42%削減しました。"
    late = "この記事の最後に、検査工数の削減幅をもう一度まとめておきます。"
    hits = [hit(0, answer + FILLER[0], "".join(FILLER[1:6]) + late)]
    dense = Cosines(late)  # the unread sentence would score highest, were it read
    sources = select_evidence("How much work was saved?", hits, scorer(), max_sources=1, chars_per_source=120,
                              dense=dense, prefer_dense=True, pool=1, meaning_sentences=2)  # fmt: skip
    assert all(late not in asked for asked in dense.asked)
    assert sources[0].text.startswith(answer)


def test_before_the_key_passage_an_english_question_embeds_at_most_the_bound_for_each_post_of_the_pool(
    engine: Engine, fake: HashingEmbedder
) -> None:
    """Evidence embeds at most `meaning_sentences` per post of the pool; the key passage then adds only
    sentences of the quoted windows not read yet."""
    question = "How much inspection work did the visual inspection AI save?"
    bounded, unbounded = answer_config(meaning_sentences=2), answer_config(meaning_sentences=0)
    hits = engine.search(question, evidence_depth(bounded)).result.hits
    evidence, key, sources = _embedded(engine, fake, question, hits, bounded)
    every, _, _ = _embedded(engine, fake, question, hits, unbounded)
    assert evidence <= bounded.evidence_pool * bounded.meaning_sentences < every
    assert key <= sum(len(split_sentences(s.text)) for s in sources)


def _embedded(
    engine: Engine, fake: HashingEmbedder, question: str, hits: list[Hit], cfg: AnswerConfig
) -> tuple[int, int, list[Source]]:
    """Sentences embedded by evidence selection, then by the key passage, on the answer path's entry points."""
    answerer, meaning = Answerer(engine, None, cfg), Meaning(engine.embedder)
    start = fake.embedded
    sources = answerer.evidence(question, hits, "en", meaning)
    chosen = fake.embedded
    answerer.key_passages(question, sources, "en", meaning)
    return chosen - start, fake.embedded - chosen, sources
