"""The desk's budgets, in Chromium against a real server on the full archive: the page loads in ≤ 1 s, a
topic view in ≤ 2 s, and the readers view over a log of 100,000 questions in ≤ 2 s.

The log is filled by this script (SQLite in data/bench/desk/): 100,000 questions over the last 30 days,
drawn from the tuning set's wording, a tenth refused, a few percent rated (half of them down, with a
comment), each with a first-text time and a question vector, as the service stores them.

    python -m bench.bench_desk --index data/bench/ingest-index [--questions 100000] [--out bench/results/desk.json]"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from bench.common import ROOT, bench_parser, latency, write
from rag.desk.questionlog import QuestionLog, feedback, questions
from tests.browser import chromium
from tests.servers import rag_server

TOPICS = (
    "OpenAI",
    "Google",
    "Microsoft",
    "Anthropic",
    "ソフトバンク",
    "Meta",
    "TSMC",
    "AMD",
    "生成AI市場",
    "AIエージェント",
)
STAFF = "bench-desk-staff-key"


def fill(log_url: str, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed)
    wording = [json.loads(line)["question"] for line in (ROOT / "bench/data/tuning.jsonl").read_text().splitlines()]
    QuestionLog(log_url, keep_days=3650).close()  # the schema
    engine = sa.create_engine(log_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for start in range(0, n, 5000):
            rows, rated = [], []
            for _ in range(min(5000, n - start)):
                refused = rng.random() < 0.1
                ident = uuid.uuid4().hex
                v = vectors.standard_normal(384).astype(np.float32)
                v /= np.linalg.norm(v)
                rows.append({
                    "id": ident, "asked_at": now - timedelta(seconds=rng.uniform(0, 30 * 86400)),
                    "question": rng.choice(wording), "language": "ja", "cached": rng.random() < 0.3,
                    "mode": "refusal" if refused else rng.choice(("generative", "generative", "extractive")),
                    "refused": refused, "fallback": "", "timings": {"ttft_ms": rng.uniform(2000, 12000)},
                    "cited": [], "index_version": "bench", "answer": "…", "shown": {"citations": [], "passages": []},
                    "ttft_ms": rng.uniform(2000, 12000), "vector": v.astype(np.float16).tobytes(),
                })  # fmt: skip
                if rng.random() < 0.03:
                    down = rng.random() < 0.5
                    rated.append({"answer_id": ident, "rating": "down" if down else "up",
                                  "comment": "数字が違う" if down else "", "rated_at": now})  # fmt: skip
            conn.execute(questions.insert(), rows)
            if rated:
                conn.execute(feedback.insert(), rated)
    engine.dispose()


def _status_ms(driver: Any, element: str, started: str) -> float:
    text = driver.find_element("id", element).text
    return float(text.split(started, 1)[1].split(" ms", 1)[0].strip()) if started in text else float("nan")


def main() -> None:
    parser = bench_parser(__doc__, "desk.json", questions=False)
    parser.add_argument("--questions", type=int, default=100_000)
    args = parser.parse_args()
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    work = ROOT / "data/bench/desk"
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "questions.sqlite"
    log_path.unlink(missing_ok=True)
    log_url = f"sqlite:///{log_path}"
    started = time.perf_counter()
    fill(log_url, args.questions)
    filled_s = time.perf_counter() - started
    env = {"RAG_INDEX_DIR": str(args.index), "RAG_LLM_BACKEND": "none", "RAG_STAFF_KEYS": STAFF,
           "RAG_DATABASE_URL": log_url, "RAG_RATE_LIMIT_PER_MINUTE": "0", "RAG_LOG_DAYS": "3650"}  # fmt: skip
    figures: dict[str, Any] = {"log_questions": args.questions, "log_filled_s": round(filled_s, 1)}
    with rag_server(env, timeout=600) as url:
        driver = chromium(work, 1200, 1000)
        try:
            wait = WebDriverWait(driver, 120)
            loads = []
            for _ in range(5):
                driver.get(url + "/desk")
                wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
                loads.append(driver.execute_script(
                    "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd - t.startTime;"
                ))  # fmt: skip
            figures["page_load_ms"] = latency(loads)
            wait.until(lambda d: d.find_element("id", "key")).send_keys(STAFF)
            driver.find_element("css selector", "#key-form button").click()
            topic_ms = []
            for topic in TOPICS:
                box = wait.until(lambda d: d.find_element("id", "topic"))
                box.clear()
                box.send_keys(topic, Keys.ENTER)
                wait.until(lambda d: "Done in" in d.find_element("id", "research-status").text)
                topic_ms.append(_status_ms(driver, "research-status", "Done in"))
                driver.execute_script("document.getElementById('research-status').textContent = ''")
            figures["topic_view_ms"] = {**latency(topic_ms), "topics": list(TOPICS)}
            readers_ms = []
            for _ in range(3):
                driver.get(
                    url + "/desk?view=readers&since=" + (datetime.now(UTC) - timedelta(days=29)).date().isoformat()
                )
                wait.until(lambda d: "read in" in d.find_element("id", "readers-status").text)
                readers_ms.append(_status_ms(driver, "readers-status", "read in"))
            figures["readers_view_ms"] = {**latency(readers_ms), "period_days": 30}
        finally:
            driver.quit()
    figures["targets"] = {"page_load_ms": 1000, "topic_view_ms": 2000, "readers_view_ms": 2000}
    write(args.out, figures, f"python -m bench.bench_desk --index {args.index} --questions {args.questions}")


if __name__ == "__main__":
    main()
