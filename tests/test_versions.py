"""A question about a product version the archive never names is refused before the model reads the
nearest posts' figures as that version's (RAG_ANSWER_VERSION_CHECK)."""

from __future__ import annotations

import pytest

from rag.answering.pipeline import Answerer
from rag.answering.versions import other_versions, versions_asked
from rag.retrieval.engine import Engine
from rag.settings import Settings
from tests.fakes import ScriptedLLM
from tests.options import answer_config

from .conftest import fake_index


def test_a_nearby_version_is_not_the_one_asked_about() -> None:
    assert other_versions("Claude 5のコンテキスト長は？", ["Claude 3.5 Sonnetは200,000トークン"]) == ["claude 5"]
    assert other_versions("Gemini 2の特徴は？", ["Gemini 2.5 Proは速い"]) == ["gemini 2"]
    assert other_versions("What did WWDC 2026 announce?", ["WWDC 2024で発表された"]) == ["wwdc 2026"]


def test_the_asked_version_written_another_way_counts() -> None:
    assert other_versions("GPT-4oの料金は？", ["GPT 4o miniの料金"]) == []
    assert other_versions("Gemini 2.0の速度", ["gemini-2.0 flashは"]) == []
    assert other_versions("Qwen3-Maxの点数", ["Ｑｗｅｎ３-Max は"]) == []  # full-width, as some posts write it


def test_years_months_and_quarters_are_not_versions() -> None:
    assert versions_asked("In a post published in December 2025, how much did sales grow by 2030?") == []
    assert versions_asked("2025年Q3の売上高は？") == []
    assert versions_asked("What was the fiscal 2024 figure?") == []


def test_any_asked_version_named_in_the_sources_lets_the_model_answer() -> None:
    assert other_versions("GPT-4oとClaude 9を比べると？", ["GPT-4oは速い"]) == []


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(Settings(embedding_model="fake:64"), index=fake_index(tmp_path_factory, "versions"))


def test_a_question_on_a_version_no_source_names_is_refused_without_the_model(engine: Engine) -> None:
    question = "Vision 9による外観検査で検査工数は何%削減されましたか？"
    llm = ScriptedLLM("fake:quote")
    answer = Answerer(engine, llm, answer_config(version_check=True)).ask(question)
    assert answer.refused and answer.mode == "refusal"
    assert llm.prompts == []
    unchecked = ScriptedLLM("fake:quote")
    Answerer(engine, unchecked, answer_config(version_check=False)).ask(question)
    assert len(unchecked.prompts) == 1  # without the check the model reads the nearest posts


def test_a_question_without_a_version_is_answered_as_before(engine: Engine) -> None:
    answer = Answerer(engine, ScriptedLLM("fake:quote"), answer_config(version_check=True)).ask(
        "外観検査AIの導入で検査工数は何%削減されましたか？"
    )
    assert not answer.refused and "42%" in answer.answer
