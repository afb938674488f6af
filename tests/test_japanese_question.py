"""An English question read in Japanese (RAG_ANSWER_JAPANESE_QUESTION): the model's Japanese rendering,
then the question as asked, is what is searched and asked; the answer stays English, and a rendering
that is not a Japanese question changes nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from rag.answering.pipeline import Answerer
from rag.llm.base import Message, Usage
from rag.retrieval.engine import Engine
from rag.settings import Settings
from rag.types import Sources
from tests.fakes import ScriptedLLM
from tests.options import answer_config

from .conftest import fake_index

ENGLISH = "By what percentage did the inspection AI cut the inspection workload?"
RENDERING = "外観検査AIの導入で検査工数は何%削減されましたか？"
READ_IN_JAPANESE = answer_config(japanese_question=True)


class Rendering(ScriptedLLM):
    """The scripted model, writing `rendering` when asked to translate a question."""

    def __init__(self, rendering: str) -> None:
        super().__init__("fake:quote")
        self.rendering = rendering

    def stream(self, messages: Sequence[Message], **kwargs) -> Iterator[str | Usage]:  # type: ignore[no-untyped-def]
        if messages[0].content.startswith("Translate the English question"):
            self.prompts.append(list(messages))
            yield self.rendering
            yield Usage(len(messages[-1].content), 1)
            return
        yield from super().stream(messages, **kwargs)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(Settings(embedding_model="fake:64"), index=fake_index(tmp_path_factory, "japanese-question"))


def test_the_model_is_asked_the_japanese_rendering_and_answers_in_english(engine: Engine) -> None:
    llm = Rendering(RENDERING)
    answer = Answerer(engine, llm, READ_IN_JAPANESE).ask(ENGLISH)
    asked = answer_prompt(llm)
    assert f"Question: {RENDERING} {ENGLISH}" in asked
    assert asked.rstrip().endswith("Answer in English.")
    assert "rendering_ms" in answer.timings and answer.citations


def searched(answerer: Answerer, question: str) -> list[str]:
    return [p.source for e in answerer.stream(question) if isinstance(e, Sources) for p in e.posts]


def test_the_rendering_is_what_is_searched(engine: Engine) -> None:
    read = searched(Answerer(engine, Rendering(RENDERING), READ_IN_JAPANESE), ENGLISH)
    as_asked = searched(Answerer(engine, Rendering(RENDERING), answer_config()), ENGLISH)
    assert read == searched(Answerer(engine, Rendering(RENDERING), answer_config()), f"{RENDERING} {ENGLISH}")
    assert read != as_asked  # the hashing embedder finds other posts for the English words


def test_a_rendering_that_is_not_japanese_leaves_the_english_question(engine: Engine) -> None:
    llm = Rendering("Sure! Here is the translation you asked for.")
    Answerer(engine, llm, READ_IN_JAPANESE).ask(ENGLISH)
    assert f"Question: {ENGLISH}" in answer_prompt(llm)


def answer_prompt(llm: Rendering) -> str:
    """The question's turn of the answer prompt (a translation of a sentence written in Japanese may follow)."""
    return [p[-1].content for p in llm.prompts if p[-1].content.startswith("Sources:")][-1]


def test_a_rendering_that_rambles_is_not_used(engine: Engine) -> None:
    llm = Rendering("検査" * 200 + "？")
    Answerer(engine, llm, READ_IN_JAPANESE).ask(ENGLISH)
    assert f"Question: {ENGLISH}" in answer_prompt(llm)


def test_off_by_default_the_english_question_is_asked_as_it_is(engine: Engine) -> None:
    llm = Rendering(RENDERING)
    Answerer(engine, llm, answer_config()).ask(ENGLISH)
    assert len(llm.prompts) == 1 and f"Question: {ENGLISH}" in llm.prompts[0][-1].content


def test_the_key_passage_is_scored_on_the_rendering_alone(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    scored: list[tuple[str, str]] = []
    original = Answerer.key_passages

    def recording(self: Answerer, question: str, sources, lang, meaning=None):  # type: ignore[no-untyped-def]
        scored.append((question, lang))
        return original(self, question, sources, lang, meaning)

    monkeypatch.setattr(Answerer, "key_passages", recording)
    Answerer(engine, Rendering(RENDERING), READ_IN_JAPANESE).ask(ENGLISH)
    Answerer(engine, Rendering(RENDERING), answer_config()).ask(ENGLISH)
    assert scored == [(RENDERING, "ja"), (ENGLISH, "en")]
