"""The desk and the widget in Chromium, as a person sees them: a real server on the research fixture
archive, a question log filled through the HTTP API, the pages driven by keyboard and mouse. Screenshots
go to bench/results/ (desk-research.png, desk-readers.png, widget-conversation.png; docs/desk.md)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .browser import AXE, browsing, serious_violations
from .conftest import fake_index
from .servers import free_port, rag_server

STAFF_KEY = "desk-staff-key"
READER = {"Authorization": "Bearer desk-reader-key"}
SHOTS = Path(__file__).parents[1] / "bench" / "results"
pytestmark = pytest.mark.skipif(not shutil.which("chromedriver"), reason="make test installs chromium-driver")


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    index = fake_index(tmp_path_factory, "desk-browser", archive="research")
    port = free_port()  # the demo page's own origin is the one the widget is admitted from
    env = {"RAG_INDEX_DIR": str(index), "RAG_EMBEDDING_MODEL": "fake:64", "RAG_LLM_BACKEND": "fake:quote",
           "RAG_RATE_LIMIT_PER_MINUTE": "0", "RAG_PUBLIC_RATE_LIMIT_PER_MINUTE": "0",
           "RAG_API_KEYS": "desk-reader-key", "RAG_STAFF_KEYS": STAFF_KEY,
           "RAG_CORS_ORIGINS": f"http://127.0.0.1:{port}", "RAG_CACHE_ENABLED": "false"}  # fmt: skip
    with rag_server(env, fakes=True, port=port) as url:
        asked = ["ミライAIの売上高は？", "ミライLMのパラメータ数は？", "ソラトテックの利用者数は？",
                 "ミライAIの売上高はいくら？", "量子コンピュータの冷却方式は？"]  # fmt: skip
        ids = [httpx.post(f"{url}/v1/ask", json={"question": q}, headers=READER, timeout=60).json()["id"]
               for q in asked]  # fmt: skip
        httpx.post(f"{url}/v1/feedback", json={"answer_id": ids[4], "rating": "down", "comment": "冷却の記事がほしい"},
                   headers=READER)  # fmt: skip
        httpx.post(f"{url}/v1/feedback", json={"answer_id": ids[0], "rating": "up"}, headers=READER)
        yield url


def _sign_in(driver: object, wait: object, url: str) -> None:
    driver.get(url)  # type: ignore[attr-defined]
    key = wait.until(lambda d: d.find_element("id", "key"))  # type: ignore[attr-defined]
    key.send_keys(STAFF_KEY)
    driver.find_element("css selector", "#key-form button").click()  # type: ignore[attr-defined]


def test_the_research_view_shows_months_posts_figures_and_the_disagreement(desk_server: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    with browsing(tmp_path, 60, 1200, 1600) as (driver, wait):
        _sign_in(driver, wait, desk_server + "/desk")
        topic = wait.until(
            lambda d: d.find_element("id", "topic") if d.find_element("id", "topic").is_displayed() else None
        )
        topic.send_keys("ミライAI", Keys.ENTER)  # the keyboard alone runs a research
        wait.until(lambda d: d.find_elements("css selector", "#r-figures table"))
        months = driver.find_elements("css selector", "#r-chart svg rect")
        assert len(months) == 6  # January to June 2025, the empty months drawn too
        assert len(driver.find_elements("css selector", "#r-chart svg rect.zero")) >= 1
        posts = driver.find_elements("css selector", "#r-posts li")
        dates = [p.text[:10] for p in posts]
        assert len(posts) >= 4 and dates == sorted(dates)  # oldest first
        assert not any(p.find_element("css selector", "a").text.endswith(".md") for p in posts)  # titles, not files
        flagged = driver.find_elements("css selector", "#r-figures tr.disagree")
        assert len(flagged) >= 2 and "Disagrees with" in flagged[0].text
        assert "120億円" in driver.find_element("id", "r-disagree").text and "150億円" in driver.find_element(
            "id", "r-disagree").text  # fmt: skip
        assert "ミライAI" in flagged[0].text  # whose figure it is
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / "desk-research.png"))
        link = driver.find_element("id", "r-link").get_attribute("href")
        assert "topic=" in link and "view=research" in link
        driver.get(link)  # the link reproduces the view (the key stays for this tab's session)
        wait.until(lambda d: d.find_elements("css selector", "#r-figures tr.disagree"))
        if AXE.is_file():
            assert serious_violations(driver) == []


def test_the_readers_view_shows_the_days_the_shares_the_gaps_and_the_rated_answers(
    desk_server: str, tmp_path: Path
) -> None:
    with browsing(tmp_path, 60, 1200, 1600) as (driver, wait):
        _sign_in(driver, wait, desk_server + "/desk?view=readers")
        wait.until(lambda d: d.find_elements("css selector", "#q-chart svg rect"))
        assert len(driver.find_elements("css selector", "#q-chart svg rect")) == 7  # the last week, day by day
        stats = driver.find_element("id", "q-stats").text
        assert "5" in stats and "answered" in stats and "first text p50" in stats
        gaps = driver.find_element("id", "q-gaps").text
        assert "量子コンピュータ" in gaps  # rated down: a gap
        rows = driver.find_elements("css selector", "#q-rated tbody tr")
        assert len(rows) == 2 and "down" in rows[0].text and "冷却の記事がほしい" in rows[0].text  # thumbs down first
        rows[0].find_element("css selector", "button").click()
        dialog = wait.until(lambda d: d.find_element("id", "answer-dialog") if d.find_element(
            "id", "answer-dialog").is_displayed() else None)  # fmt: skip
        assert "量子コンピュータ" in dialog.text and "冷却の記事がほしい" in dialog.text
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / "desk-readers.png"))


def test_a_reader_key_cannot_open_the_desk(desk_server: str, tmp_path: Path) -> None:
    with browsing(tmp_path, 30) as (driver, wait):
        driver.get(desk_server + "/desk?view=readers")
        wait.until(lambda d: d.find_element("id", "key")).send_keys("desk-reader-key")
        driver.find_element("css selector", "#key-form button").click()
        wait.until(lambda d: "may not use the desk" in d.find_element("id", "key-error").text)
        assert not driver.find_element("id", "view-readers").is_displayed()


def test_the_conversation_follows_the_reader_to_another_page_until_a_new_one(desk_server: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    with browsing(tmp_path, 60) as (driver, wait):
        driver.get(desk_server + "/")
        shadow = wait.until(lambda d: d.find_element("css selector", "[data-archive-qa]").shadow_root)
        shadow.find_element("css selector", ".fab").send_keys(Keys.ENTER)
        suggested = wait.until(lambda d: shadow.find_elements("css selector", ".suggest button"))
        assert 1 <= len(suggested) <= 3  # questions readers asked and were answered
        first = suggested[0].text
        suggested[0].click()  # a click asks it
        wait.until(lambda d: shadow.find_elements("css selector", ".cites a"))
        thumbs = shadow.find_elements("css selector", ".rate .thumb")
        assert [t.find_elements("css selector", "svg") != [] for t in thumbs] == [True, True]
        assert thumbs[0].text and thumbs[1].text  # a text label beside each icon
        answer = shadow.find_element("css selector", ".bot .bubble").text
        driver.get(desk_server + "/?another=page")  # the reader lands on another page of the site
        shadow = wait.until(lambda d: d.find_element("css selector", "[data-archive-qa]").shadow_root)
        panel = shadow.find_element("css selector", ".panel")
        wait.until(lambda d: "open" in panel.get_attribute("class"))
        assert shadow.find_element("css selector", ".user .bubble").text == first
        assert shadow.find_element("css selector", ".bot .bubble").text == answer
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / "widget-conversation.png"))
        shadow.find_element("css selector", ".fresh").click()  # a new conversation clears it
        assert shadow.find_elements("css selector", ".user") == []
        driver.get(desk_server + "/?third=page")
        shadow = wait.until(lambda d: d.find_element("css selector", "[data-archive-qa]").shadow_root)
        assert shadow.find_elements("css selector", ".user") == []  # mounted means restored: nothing to restore
        stored = driver.execute_script("return sessionStorage.getItem('archive-qa-conversation')")
        assert stored is not None and '"turns": []' in stored.replace(":[]", ": []")
