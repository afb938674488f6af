"""English by way of Japanese (RAG_ANSWER_ENGLISH_ROUTE=translate): the model answers in Japanese and the
checked answer is translated once the model has finished it, through the same model gate."""

from __future__ import annotations

import threading
import time

import pytest

from rag.answering.pipeline import Answerer
from rag.answering.translate import SYSTEM, in_japanese, translate
from rag.llm.gate import ModelGate
from rag.retrieval.engine import Engine
from rag.settings import Settings
from rag.types import Delta, Done
from tests.fakes import ScriptedLLM
from tests.options import answer_config

from .conftest import fake_index

QUESTION = "How much inspection work did the visual inspection AI save?"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(Settings(embedding_model="fake:64"), index=fake_index(tmp_path_factory, "english-route"))


def test_the_translation_is_asked_after_the_answer_frees_the_one_model(engine: Engine) -> None:
    llm = ScriptedLLM("fake:failmid")  # streams a finished sentence, then more, then breaks
    # the fake model quotes Japanese whatever the question's language: the on-topic check would drop it
    config = answer_config(english_route="translate", queue_s=3.0, span_fallback=False, on_topic=False)
    answerer = Answerer(engine, llm, config, gate=ModelGate(1))
    started = time.perf_counter()
    events = list(answerer.stream(QUESTION))
    took = time.perf_counter() - started
    answer = next(e.answer for e in events if isinstance(e, Done))
    assert answer.mode == "generative" and answer.fallback == "failure"  # the finished sentence stays
    assert [p[0].content == SYSTEM for p in llm.prompts] == [False, True]  # the answer, then its translation
    assert took < config.queue_s  # never waited on the gate the answer held
    shown = "".join(e.text for e in events if isinstance(e, Delta))
    assert shown.strip() == answer.answer.strip()


def test_a_sentence_the_model_wrote_in_japanese_is_translated_after_the_english_ones(engine: Engine) -> None:
    llm = ScriptedLLM("fake:mixed")  # an English short answer, then a source sentence copied in Japanese
    config = answer_config(english_route="mixed", span_fallback=False, on_topic=False)
    answerer = Answerer(engine, llm, config, gate=ModelGate(1))
    before_translation, events = [], []
    for event in answerer.stream(QUESTION):
        events.append(event)
        if isinstance(event, Delta) and len(llm.prompts) == 1:
            before_translation.append(event.text)
    answer = next(e.answer for e in events if isinstance(e, Done))
    assert before_translation and not in_japanese("".join(before_translation))  # the English part at once
    assert [p[0].content == SYSTEM for p in llm.prompts] == [False, True]  # then one translation
    assert answer.mode == "generative" and "In English" in answer.answer and not in_japanese(answer.answer)
    shown = "".join(e.text for e in events if isinstance(e, Delta))
    assert shown.strip() == answer.answer.strip()


def test_the_direct_route_shows_the_answer_as_the_model_wrote_it(engine: Engine) -> None:
    llm = ScriptedLLM("fake:mixed")
    config = answer_config(english_route="direct", span_fallback=False, on_topic=False)
    answer = Answerer(engine, llm, config, gate=ModelGate(1)).ask(QUESTION)
    assert len(llm.prompts) == 1 and in_japanese(answer.answer)


@pytest.mark.parametrize(
    ("sentence", "japanese"),
    [
        ("3 generations[2]。", False),
        ("22.5 billion dollars (225億ドル) in 2025[1].", False),
        ("AWSはInferentia 3を搭載したEC2インスタンスを発表している[2]。", True),
        ("意大利的AI国内法已经通过[1]。", True),
    ],
)
def test_a_sentence_is_japanese_by_its_text_not_its_markers_or_asides(sentence: str, japanese: bool) -> None:
    assert in_japanese(sentence) is japanese


def test_a_translation_still_in_japanese_is_not_used() -> None:
    llm = ScriptedLLM("fake:quote")  # "translates" by copying the sentence back, and adds a marker
    sentence = "目視検査の工数を40%削減しました[1]。"
    assert translate(llm, ModelGate(1), sentence, answer_config().limits(), threading.Event()) == sentence


def test_the_japanese_check_reads_100000_characters_of_unclosed_asides_at_once() -> None:
    # the aside pattern's worst case: every opening bracket followed by the most it may scan, never closed
    hostile = ("（" + "あ" * 79) * 1250
    started = time.perf_counter()
    assert in_japanese(hostile) and not in_japanese(("(" + "a" * 79) * 1250)
    assert time.perf_counter() - started < 0.5
