"""The whole chain for real: a uvicorn server with the real embedder, FAISS index and local LLM,
called through the official OpenAI client (streaming and not) and driven in headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from index.embedding import DEFAULT_EMBEDDER, load_embedder
from index.ingest import ingest
from rag.desk.questionlog import QuestionLog
from tests.options import embedder_options, ingest_options

from .browser import ARTIFACTS, browsing
from .conftest import DATA, models_dir
from .servers import rag_server

QUESTION = "外観検査AIの導入で、検査工数は何%削減されましたか？"


@pytest.fixture(scope="session")
def real_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real")


@pytest.fixture(scope="session")
def real_server(real_root: Path) -> Iterator[str]:
    root = real_root
    shutil.copytree(DATA / "archive", root / "archive")
    embedder = load_embedder(DEFAULT_EMBEDDER, embedder_options(models_dir=models_dir(), threads=2))
    ingest(root / "archive", root / "idx", embedder.name, lambda: embedder, ingest_options())
    env = {"RAG_INDEX_DIR": str(root / "idx"), "RAG_MODELS_DIR": str(models_dir()), "RAG_LLM_BACKEND": "llama.cpp",
           "RAG_RATE_LIMIT_PER_MINUTE": "0", "RAG_DATABASE_URL": f"sqlite:///{root / 'questions.sqlite'}",
           # every test here asks the same question and must see the model answer it, not the cache
           "RAG_CACHE_ENABLED": "false",
           # generous deadlines: this test is about the real model answering, even on a busy machine
           "RAG_LLM_FIRST_TOKEN_S": "300", "RAG_LLM_TOTAL_S": "600"}  # fmt: skip
    with rag_server(env) as url:
        yield url


def test_the_openai_client_gets_a_cited_answer(real_server: str) -> None:
    client = OpenAI(base_url=f"{real_server}/v1", api_key="not-needed")
    r = client.chat.completions.create(model="archive-qa", messages=[{"role": "user", "content": QUESTION}])
    content = r.choices[0].message.content or ""
    citations = (r.model_extra or {})["citations"]
    assert citations and citations[0]["source"] == "2025-09-10-3-製造業のai活用事例.md"
    assert "[1]" in content and "\n\n出典:\n[1] " in content
    assert "42" in content
    assert r.usage is not None and r.usage.completion_tokens > 0


def test_the_openai_client_streams_a_cited_answer(real_server: str) -> None:
    client = OpenAI(base_url=f"{real_server}/v1", api_key="not-needed")
    stream = client.chat.completions.create(
        model="archive-qa", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    pieces, last = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    text = "".join(pieces)
    assert len(pieces) >= 2 and "[1]" in text and "出典:" in text
    assert last is not None and last.choices[0].finish_reason == "stop"
    assert (last.model_extra or {})["citations"][0]["source"] == "2025-09-10-3-製造業のai活用事例.md"


def test_the_widget_streams_an_answer_with_working_citation_links(
    real_server: str, real_root: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.keys import Keys

    with browsing(tmp_path, 120) as (driver, wait):
        driver.get(real_server + "/")
        shadow = wait.until(lambda d: d.find_element("css selector", "[data-archive-qa]").shadow_root)
        fab = shadow.find_element("css selector", ".fab")
        assert fab.text == "記事に質問する"  # Japanese interface on a Japanese page
        fab.send_keys(Keys.ENTER)  # keyboard: the button opens the panel and focus moves to the input
        box = shadow.find_element("css selector", "textarea")
        assert driver.execute_script("return arguments[0].shadowRoot.activeElement.tagName",
                                     driver.find_element("css selector", "[data-archive-qa]")) == "TEXTAREA"  # fmt: skip
        # count how often the answer text changes while it streams in
        driver.execute_script(
            "const r = arguments[0].shadowRoot; window.__changes = 0;"
            "new MutationObserver(() => window.__changes++).observe(r.querySelector('.log'),"
            "{subtree: true, childList: true, characterData: true});",
            driver.find_element("css selector", "[data-archive-qa]"),
        )
        box.send_keys(QUESTION, Keys.ENTER)
        link = wait.until(lambda d: shadow.find_elements("css selector", ".cites a"))[0]
        answer = shadow.find_element("css selector", ".bot .bubble").text
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "widget-ja.png"))
        assert "42" in answer and "[1]" in answer
        quote = shadow.find_element("css selector", ".quote")  # the key passage, kept under the answer
        assert "42%" in quote.text
        assert quote.find_element("css selector", "a").get_dom_attribute("href").startswith("https://blog.example.jp/")
        assert link.get_dom_attribute("href") == "https://blog.example.jp/2025/09/10/3-製造業のai活用事例/"
        assert link.get_attribute("target") == "_blank" and "製造業のAI活用事例" in link.text
        assert driver.execute_script("return window.__changes") >= 3  # status, streamed text, final text
        # thumbs down with a comment: the rating reaches the question log under this answer's id
        shadow.find_element("css selector", ".rate .thumb.down").click()
        comment = wait.until(lambda d: shadow.find_elements("css selector", ".rate .comment"))[0]
        comment.send_keys("価格の記載がほしい")
        shadow.find_element("css selector", ".rate .send-comment").click()
        wait.until(lambda d: "ありがとう" in shadow.find_element("css selector", ".rate").text)
        rated = QuestionLog(f"sqlite:///{real_root / 'questions.sqlite'}", keep_days=90).entries(rated_only=True)
        assert [(e.question, e.rating, e.comment) for e in rated] == [(QUESTION, "down", "価格の記載がほしい")]
        requested = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert requested and all(u.startswith(real_server) for u in requested)  # no other host is contacted
        box.send_keys(Keys.ESCAPE)
        assert "open" not in shadow.find_element("css selector", ".panel").get_attribute("class")
        # an English page gets the English interface
        driver.get(real_server + "/?lang=en")
        shadow = wait.until(lambda d: d.find_element("css selector", "[data-archive-qa]").shadow_root)
        assert shadow.find_element("css selector", ".fab").text == "Ask the archive"
        driver.save_screenshot(str(ARTIFACTS / "widget-en.png"))


def test_the_widget_never_links_a_url_that_is_not_http(real_server: str, tmp_path: Path) -> None:
    """An answer whose citation URL is `javascript:` (a hostile archive or a tampered response): the
    widget shows the title, without a link. The response is replaced in the page itself."""
    from selenium.webdriver.common.keys import Keys

    with browsing(tmp_path, 60) as (driver, wait):
        driver.get(real_server + "/")
        host = wait.until(lambda d: d.find_element("css selector", "[data-archive-qa]"))
        driver.execute_script(
            "const cite = {n: 1, source: 'x.md', url: 'javascript:alert(1)', title: 'Evil', date: '2025-01-01',"
            " quote: 'q', text: 'q'};"
            "const done = {answer: 'A[1]', citations: [cite], passages: [cite], refused: false, mode: 'generative',"
            " timings: {}, related: [], usage: {}, cached: false};"
            "const body = 'event: passage\\ndata: ' + JSON.stringify({passages: [cite]}) + '\\n\\n'"
            " + 'event: done\\ndata: ' + JSON.stringify(done) + '\\n\\n';"
            "window.fetch = () => Promise.resolve(new Response(body, {status: 200}));"
        )
        shadow = host.shadow_root
        shadow.find_element("css selector", ".fab").send_keys(Keys.ENTER)
        shadow.find_element("css selector", "textarea").send_keys("質問", Keys.ENTER)
        wait.until(lambda d: shadow.find_elements("css selector", ".cites li"))
        assert "Evil" in shadow.find_element("css selector", ".cites li").text
        links = [a.get_dom_attribute("href") for a in shadow.find_elements("css selector", "a")]
        assert not any(h and h.startswith("javascript:") for h in links)
