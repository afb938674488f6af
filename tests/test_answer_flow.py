"""The reader's side of an answer: the key passage at once, no model time for readers who left,
deadlines that start with the model, and repeated questions from the cache."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answering.pipeline import Answerer
from rag.cache.memo import AnswerMemo, Remembering
from rag.cache.store import AnswerCache
from rag.llm.base import Message
from rag.llm.gate import ModelGate
from rag.llm.registry import load_llm
from rag.retrieval.engine import Engine
from rag.retrieval.filters import Filters
from rag.settings import Settings
from rag.types import Delta, Done, Passages, Sources
from tests.fakes import ScriptedLLM
from tests.options import answer_config, llm_options

from .conftest import fake_index, readers_who_leave

QUESTION = "外観検査AIの導入で検査工数は何%削減されましたか？"
DEFAULTS = answer_config()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(Settings(embedding_model="fake:64"), index=fake_index(tmp_path_factory, "flow"))


def fresh_llm(script: str = "quote", read_s: float = 0.0) -> ScriptedLLM:
    """A private scripted model (not the shared registry instance), so its prompt log is this test's."""
    llm = ScriptedLLM(f"fake:{script}")
    llm.read_s = read_s
    return llm


def test_the_key_passage_comes_before_any_answer_text_and_stays_in_the_answer(engine: Engine) -> None:
    events = list(Answerer(engine, fresh_llm(), DEFAULTS).stream(QUESTION))
    kinds = [type(e) for e in events]
    assert kinds[:2] == [Sources, Passages] and kinds[-1] is Done and Delta in kinds
    quotes = events[1].quotes  # type: ignore[union-attr]
    assert len(quotes) == 1 and "42%" in quotes[0].text
    post = Path("tests/data/archive/_posts") / quotes[0].source
    assert quotes[0].text in post.read_text(encoding="utf-8")  # verbatim from the post
    answer = events[-1].answer  # type: ignore[union-attr]
    assert answer.passages == quotes  # never withdrawn
    cited = {c.n: c.source for c in answer.citations}
    assert cited[quotes[0].n] == quotes[0].source  # its marker names the same post in the answer


def test_no_passage_is_shown_when_no_sentence_supports_the_question(engine: Engine) -> None:
    events = list(Answerer(engine, fresh_llm(), DEFAULTS).stream("量子コンピュータの冷却方式は？"))
    assert not any(isinstance(e, Passages) for e in events)


def test_when_the_model_refuses_the_shown_passage_is_the_answer(engine: Engine) -> None:
    no_span_attempt = replace(DEFAULTS, span_fallback=False)  # with it, the span it picks is the answer
    answer = Answerer(engine, fresh_llm("refuse"), no_span_attempt).ask(QUESTION)
    assert answer.mode == "extractive" and answer.fallback == "refused" and not answer.refused
    assert answer.passages and answer.passages[0].text.rstrip("。") in answer.answer


def test_when_the_model_refuses_a_confident_passage_a_span_attempt_answers(engine: Engine) -> None:
    answer = Answerer(engine, fresh_llm("refuse"), replace(DEFAULTS, span_fallback=True)).ask(QUESTION)
    assert answer.mode == "extractive" and answer.fallback == "span" and not answer.refused
    assert answer.citations and answer.answer


def _hold_the_model(answerer: Answerer, question: str = QUESTION) -> threading.Thread:
    thread = threading.Thread(target=answerer.ask, args=(question,))
    thread.start()
    while answerer.gate.busy == 0:
        time.sleep(0.005)
    return thread


def test_readers_who_left_while_queued_are_never_evaluated(engine: Engine) -> None:
    llm, gate = fresh_llm(read_s=0.5), ModelGate(1)
    busy = _hold_the_model(Answerer(engine, llm, DEFAULTS, gate))
    # twelve readers close the widget while their questions wait for the model
    readers_who_leave(gate, lambda _, cancel: Answerer(engine, llm, DEFAULTS, gate).stream(QUESTION, cancel=cancel))
    busy.join(5)
    assert len(llm.prompts) == 1  # only the reader who stayed was read
    after = Answerer(engine, llm, DEFAULTS, gate).ask(QUESTION)
    assert after.mode == "generative" and len(llm.prompts) == 2


def test_a_reader_who_leaves_while_the_prompt_is_read_frees_the_model(engine: Engine) -> None:
    llm, gate = fresh_llm(read_s=30.0), ModelGate(1)
    cancel = threading.Event()
    thread = threading.Thread(
        target=lambda: list(Answerer(engine, llm, DEFAULTS, gate).stream(QUESTION, cancel=cancel))
    )
    thread.start()
    while gate.busy == 0:
        time.sleep(0.005)
    cancel.set()
    thread.join(10)
    assert not thread.is_alive() and gate.busy == 0  # not 30 s later: the read stopped at the cancel


def test_the_first_token_deadline_counts_from_when_the_model_starts(engine: Engine) -> None:
    # Each prompt takes 0.6 s to read; the second waits 0.6 s first. From arrival it has its first token
    # after 1.2 s, past the 1 s deadline; from when the model starts on it, after 0.6 s, within it.
    llm, gate = fresh_llm(read_s=0.6), ModelGate(1)
    config = answer_config(first_token_s=1.0)
    busy = _hold_the_model(Answerer(engine, llm, config, gate))
    second = Answerer(engine, llm, config, gate).ask(QUESTION)
    busy.join(5)
    assert second.mode == "generative" and second.timings["queue_ms"] >= 300


def test_a_request_that_waits_too_long_for_the_model_never_reaches_it(engine: Engine) -> None:
    llm, gate = fresh_llm(read_s=1.0), ModelGate(1)
    busy = _hold_the_model(Answerer(engine, llm, DEFAULTS, gate))
    late = Answerer(engine, llm, answer_config(queue_s=0.2), gate).ask(QUESTION)
    busy.join(5)
    assert late.mode == "extractive" and late.fallback == "queue" and len(llm.prompts) == 1


def memo(tmp_path: Path, similar: float = 0.999) -> AnswerMemo:
    return AnswerMemo(AnswerCache(tmp_path / "cache.sqlite"), similar)


def test_a_repeated_question_is_replayed_from_the_cache_without_the_model(engine: Engine, tmp_path: Path) -> None:
    llm, m = fresh_llm(), memo(tmp_path)
    first = list(Remembering(Answerer(engine, llm, DEFAULTS), m).stream(QUESTION))
    again = list(
        Remembering(Answerer(engine, llm, DEFAULTS), m).stream(
            "  外観検査ＡＩの導入で検査工数は何％削減されましたか？ "
        )
    )
    assert len(llm.prompts) == 1
    assert [type(e) for e in again] == [Sources, Passages, Delta, Done]
    before, after = first[-1].answer, again[-1].answer  # type: ignore[union-attr]
    assert after.cached and not before.cached
    assert (after.answer, after.citations, after.passages) == (before.answer, before.citations, before.passages)
    assert "".join(e.text for e in again if isinstance(e, Delta)) == after.answer


def test_other_filters_a_follow_up_or_another_index_version_are_not_served_from_the_cache(
    engine: Engine, tmp_path: Path
) -> None:
    llm, m = fresh_llm(), memo(tmp_path)
    Remembering(Answerer(engine, llm, DEFAULTS), m).ask(QUESTION)
    Remembering(Answerer(engine, llm, DEFAULTS), m).ask(QUESTION, filters=Filters(category="業界別AI活用"))
    Remembering(Answerer(engine, llm, DEFAULTS), m).ask(QUESTION, history=[Message("user", "製造業の事例は？")])
    assert len(llm.prompts) == 3
    m.cache.keep_only("another-version")
    Remembering(Answerer(engine, llm, DEFAULTS), m).ask(QUESTION)
    assert len(llm.prompts) == 4


def test_a_near_duplicate_wording_hits_when_it_selects_the_same_evidence(engine: Engine, tmp_path: Path) -> None:
    llm, m = fresh_llm(), memo(tmp_path, similar=0.85)
    Remembering(Answerer(engine, llm, DEFAULTS), m).ask(QUESTION)
    near = Remembering(Answerer(engine, llm, DEFAULTS), m).ask("外観検査AIの導入で検査工数は何%削減されたのですか？")
    assert near.cached and len(llm.prompts) == 1
    other = Remembering(Answerer(engine, llm, DEFAULTS), m).ask("予知保全の導入で保全コストはいくら削減されましたか？")
    assert not other.cached and len(llm.prompts) == 2


def test_answers_degraded_by_a_timeout_are_not_cached(engine: Engine, tmp_path: Path) -> None:
    m = memo(tmp_path)
    slow = Remembering(Answerer(engine, load_llm("fake:slow", llm_options()), answer_config(first_token_s=0.3)), m)
    assert slow.ask(QUESTION).fallback == "timeout"
    assert len(m.cache) == 0


def test_an_english_question_can_search_with_japanese_terms_from_the_model(engine: Engine) -> None:
    llm = fresh_llm()
    answer = Answerer(engine, llm, answer_config(english_terms=True)).ask("How much did inspection AI cut work?")
    assert "terms_ms" in answer.timings and len(llm.prompts) == 2
    assert llm.prompts[0][0].content.startswith("You turn an English question into Japanese search keywords")


def test_japanese_questions_never_spend_model_time_on_search_terms(engine: Engine) -> None:
    llm = fresh_llm()
    answer = Answerer(engine, llm, answer_config(english_terms=True)).ask(QUESTION)
    assert "terms_ms" not in answer.timings and len(llm.prompts) == 1


def test_a_model_that_fails_mid_answer_leaves_the_streamed_text_as_the_answer(engine: Engine) -> None:
    events = list(Answerer(engine, fresh_llm("failmid"), DEFAULTS).stream(QUESTION))
    streamed = "".join(e.text for e in events if isinstance(e, Delta))
    answer = events[-1].answer  # type: ignore[union-attr]
    assert streamed and answer.answer == streamed  # nothing withdrawn, nothing added after it
    assert answer.mode == "generative" and answer.fallback == "failure"


def test_an_english_answer_embeds_each_evidence_sentence_once(engine: Engine) -> None:
    """Evidence selection, the key passage and the citation check all score sentences by meaning for an
    English question; the answerer keeps their vectors instead of embedding them again."""
    embedded: list[str] = []
    real = engine.embedder.embed_documents

    def counting(texts: list[str]):  # type: ignore[no-untyped-def]
        embedded.extend(texts)
        return real(texts)

    engine.embedder.embed_documents = counting  # type: ignore[method-assign]
    try:
        Answerer(engine, ScriptedLLM("fake:quote"), DEFAULTS).ask(
            "How much inspection work did the visual inspection AI save?"
        )
    finally:
        del engine.embedder.embed_documents
    assert embedded and len(embedded) == len(set(embedded))
