"""Shared helpers for the benchmark scripts (not tests: they write figures to bench/results/)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from index.posts import MalformedPost, SiteConfig, parse_post, post_files
from rag.answering.pipeline import Answerer
from rag.evaluation.evaluate import percentile
from rag.llm.base import LLM
from rag.retrieval.engine import Engine
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BENCH_INDEX = ROOT / "data/bench/ingest-index"  # the full archive's index, as bench_ingest builds it
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def cpu_info(field: str) -> str:
    """The first value of `field` in /proc/cpuinfo ("model name", "flags"); empty where there is none."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    return next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.split(":")[0].strip() == field), ""
    )


def machine() -> dict[str, Any]:
    """What a figure was measured on, for every bench's JSON."""
    return {
        "cpu": cpu_info("model name"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write(out: Path, figures: dict[str, Any], command: str) -> None:
    report = {"command": command, "commit": commit(), "machine": machine(), **figures}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False, indent=2))


def latency(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": len(values)}


def env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default)


def bench_parser(doc: str | None, out: str, questions: bool = True) -> argparse.ArgumentParser:
    """A bench's command line: its docstring as help, --index (BENCH_INDEX), --out (`out` under
    bench/results/) and, with `questions`, --questions."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=BENCH_INDEX)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results" / out)
    if questions:
        add_questions_arg(parser)
    return parser


def answerer_on(index: Path, settings: Settings, llm: LLM | None = None) -> Answerer:
    """The answer pipeline on `index` with the settings' answer options; without a model unless given
    one (the evidence, passage and margin benches measure what comes before the model)."""
    return Answerer(Engine(settings, index=index), llm, settings.answer_config())


def add_questions_arg(parser: argparse.ArgumentParser) -> None:
    """--questions: the dev set beside the checkout, or $RAG_EVAL."""
    parser.add_argument(
        "--questions", type=Path, default=env_path("RAG_EVAL", str(ROOT.parent / "shared/eval/dev.jsonl"))
    )


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream: blocks of `event:`/`data:` lines separated by blank lines."""
    event = "message"
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)


# --- passages of the archive ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    post: str
    title: str
    date: str
    text: str


def _prose(body: str, title: str) -> list[str]:
    """Paragraphs of running Japanese text: no headings, images, tables, lists, quotes or code."""
    out = []
    for para in re.split(r"\n\s*\n", body):
        para = para.strip()
        if len(para) < 20 or para == title or para[0] in "#!|-*>`<" or para[:2].rstrip(".").isdigit():
            continue
        if _JAPANESE.search(para):
            out.append(para)
    return out


def _cut_at_sentence(text: str, size: int) -> str:
    """About `size` characters, ending at a sentence end when one is near, as the service's evidence does."""
    if len(text) <= size:
        return text
    end = text.find("。", size - 40)
    return text[: end + 1] if 0 <= end < size + 40 else text[:size]


def post_passages(source: str, path: Path, site: SiteConfig, size: int, per_post: int = 3) -> list[Passage]:
    """Up to `per_post` prose passages of about `size` characters from one post file, read as the
    ingest reads it; none from a post the ingest would skip."""
    try:
        post = parse_post(source, path.read_bytes(), site)
    except (OSError, MalformedPost):  # the sample archive holds deliberately broken posts
        return []
    out: list[Passage] = []
    chunk = ""
    for para in _prose(post.body, post.title):
        chunk = f"{chunk}\n{para}" if chunk else para
        if len(chunk) >= size:
            out.append(Passage(post.source, post.title, post.date.date().isoformat(), _cut_at_sentence(chunk, size)))
            chunk = ""
            if len(out) == per_post:
                break
    return out


def archive_passages(archive: Path, n: int, size: int, seed: int, per_post: int = 3) -> list[Passage]:
    """`n` passages, from `n` different posts when the archive has them (chosen with `seed`); from an
    archive with fewer, the posts' further passages in turn, then the same ones again."""
    site = SiteConfig.load(archive)
    files = post_files(archive)
    random.Random(seed).shuffle(files)
    by_post: list[list[Passage]] = []
    for source, path in files:
        passages = post_passages(source, path, site, size, per_post)
        if passages:
            by_post.append(passages)
        if len(by_post) >= n:
            break
    ordered = [post[i] for i in range(per_post) for post in by_post if i < len(post)]
    if not ordered:
        raise SystemExit(f"no Japanese prose passages under {archive / '_posts'}")
    return [ordered[i % len(ordered)] for i in range(n)]
