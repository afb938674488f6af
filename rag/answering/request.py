"""What passes between the answer pipeline's stages: the request as read, and what `prepare` found for
the model stage (the cache stores and replays the answers in between, rag/cache/memo.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from index.text import Lang
from rag.answering.dated import Dating
from rag.answering.meaning import Meaning
from rag.answering.prompts import Source
from rag.llm.base import LLMFailed, Message
from rag.retrieval.conversation import Standalone
from rag.retrieval.filters import Filters
from rag.retrieval.retriever import Hit
from rag.types import Answer, Done, Event, Related


def related(hits: Sequence[Hit]) -> list[Related]:
    return [Related(h.source, h.url, h.title, h.date.date().isoformat()) for h in hits]


@dataclass
class Request:
    """One question as asked, what is searched for it, and what the request carries along."""

    question: str  # as asked: the dated note reads the period and measures from it
    content: str  # without the words that scope the posts (「先月の記事で」): what the answer is about
    history: Sequence[Message]
    filters: Filters | None
    dating: Dating
    cancel: threading.Event
    who: str
    lang: Lang  # the answer's
    t0: float = field(default_factory=time.perf_counter)
    reads: Lang | None = None  # the language of `content` when not the answer's (an English question read in Japanese)
    rendering: str = ""  # the Japanese rendering alone, which `content` holds before the question as asked

    @property
    def read_lang(self) -> Lang:
        return self.reads or self.lang


@dataclass
class Prepared:
    """What retrieval and evidence selection found for a request: all the model stage needs."""

    request: Request
    turn: Standalone
    hits: list[Hit]
    relevance: float
    sources: list[Source]
    timings: dict[str, float]
    meaning: Meaning


def final_answer(events: Iterable[Event]) -> Answer:
    """The answer an event stream ends with (what `ask` returns where `stream` yields)."""
    for event in events:
        if isinstance(event, Done):
            return event.answer
    raise LLMFailed("the answer stream ended without a result")
