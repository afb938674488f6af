"""One contract, run against every implementation behind the `LLM` and `Embedder` seams, fakes
included: a fake that drifts from the real thing would make every fast test lie."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from index.embedding import Embedder, load_embedder
from rag.llm.base import LLM, Message, Usage
from rag.llm.registry import load_llm
from tests.options import embedder_options, llm_options

from .conftest import GGUF, models_dir

PROMPT = [Message("system", "Answer in one short sentence."), Message("user", "日本の首都について説明してください。")]
CHOICE = 'root ::= "はい" | "いいえ"\n'


@pytest.fixture(scope="module", params=["fake", "llama.cpp", "openai"])
def llm(request: pytest.FixtureRequest) -> Iterator[LLM]:
    if request.param == "fake":
        model = load_llm("fake:quote", llm_options())
    elif request.param == "llama.cpp":
        model = load_llm("llama.cpp", llm_options(gguf=str(GGUF), threads=2, context=1024))
    else:
        model = load_llm("openai", llm_options(url=request.getfixturevalue("llama_server"), model="qwen"))
    assert model is not None
    yield model


def items(llm: LLM, messages: list[Message] = PROMPT, **kw: object) -> tuple[list[str], list[Usage]]:
    text: list[str] = []
    usage: list[Usage] = []
    for item in llm.stream(messages, **kw):  # type: ignore[arg-type]
        assert not usage, "nothing may follow the Usage"
        (usage if isinstance(item, Usage) else text).append(item)  # type: ignore[arg-type]
    return text, usage


def test_text_comes_first_and_one_usage_last(llm: LLM) -> None:
    text, usage = items(llm, max_tokens=12)
    assert "".join(text).strip() and len(usage) == 1
    assert 0 < usage[0].completion_tokens <= 12
    if llm.name.startswith("openai:"):
        # llama-cpp-python's server sends no usage in a stream: the HTTP backend reports only what it counted
        assert usage[0].prompt_tokens == 0
    else:
        assert usage[0].prompt_tokens > 0


def test_max_tokens_bounds_the_answer(llm: LLM) -> None:
    short, usage = items(llm, max_tokens=2)
    longer, _ = items(llm, max_tokens=12)
    assert usage[0].completion_tokens <= 2
    assert len("".join(short)) < len("".join(longer))


def test_cancel_stops_the_stream(llm: LLM) -> None:
    stop = threading.Event()
    stop.set()
    text, _ = items(llm, max_tokens=40, cancel=stop)
    assert text == []  # told to stop before the first token: nothing is written
    stop = threading.Event()
    written = []
    for item in llm.stream(PROMPT, max_tokens=40, cancel=stop):
        if isinstance(item, str):
            written.append(item)
            stop.set()
    assert 1 <= len(written) <= 3  # stops at the next token (an HTTP stream may have one in flight)


def test_a_literal_grammar_constrains_the_output(llm: LLM) -> None:
    question = [Message("user", "東京は日本の首都ですか？はいかいいえで答えてください。")]
    text, _ = items(llm, question, max_tokens=8, grammar=CHOICE)
    assert "".join(text).strip() in {"はい", "いいえ"}


@pytest.fixture(scope="module", params=["fake:64", "multilingual-e5-small-q4"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return load_embedder(request.param, embedder_options(models_dir=models_dir(), threads=2))


def test_vectors_are_unit_float32_of_the_declared_size(embedder: Embedder) -> None:
    docs = embedder.embed_documents(["外観検査AIで検査工数を42%削減した。", "生成AIの市場規模は拡大している。"])
    query = embedder.embed_query("外観検査の効果")
    assert docs.dtype == np.float32 and docs.shape == (2, embedder.dim)
    assert query.dtype == np.float32 and query.shape == (embedder.dim,)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-3)
    assert np.isclose(np.linalg.norm(query), 1.0, atol=1e-3)
    assert embedder.embed_documents([]).shape == (0, embedder.dim)


def test_a_text_is_nearer_to_its_paraphrase_than_to_another_topic(embedder: Embedder) -> None:
    a, b, c = embedder.embed_documents(
        [
            "外観検査AIで検査工数を42%削減した。",
            "外観検査にAIを導入し、検査の工数が42%減った。",
            "今日は雨が降っている。",
        ]
    )
    assert float(a @ b) > float(a @ c)
