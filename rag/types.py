"""What an answer is made of: the result types and the events of an answer stream.

Kept apart from the pipeline so the CLI, the API, the cache and the evaluation can name them
without importing the pipeline (and its models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from index.text import Lang
from rag.llm.base import Usage

if TYPE_CHECKING:
    from rag.retrieval.periods import Period

Mode = Literal["generative", "extractive", "refusal", "help"]
NO_USAGE = Usage(0, 0)


@dataclass(frozen=True)
class Citation:
    n: int
    source: str
    url: str
    title: str
    date: str
    quote: str


@dataclass(frozen=True)
class Related:
    source: str
    url: str
    title: str
    date: str


@dataclass(frozen=True)
class Quoted:
    """A key passage: evidence sentences quoted verbatim from one post, shown before the answer."""

    n: int
    source: str
    url: str
    title: str
    date: str
    text: str


@dataclass(frozen=True)
class Figure:
    """A figure a post states, dated by its post, with whose it is and its scope: the one model of a dated
    figure, for the research desk and for an answer's note where cited posts disagree."""

    measure: str
    value: float
    unit: str
    text: str  # the figure as written
    date: str
    source: str
    url: str
    sentence: str
    subject: str = ""  # whose figure: the company, product or market named before it
    period: str = ""  # the period written before it: 2025, 2025Q3
    scope: str = ""  # forecast, quarter, year, segment, total, … joined by "+"
    high: float | None = None  # the other end of a range
    approximate: bool = False  # 約, 超, 以上 …
    precision: float = 0.0  # half the step of its last written digit
    title: str = ""  # its post's title
    bound: str = ""  # "lower" (以上, 超), "upper" (以下, 未満, 最大): a half-open interval, not a value


@dataclass(frozen=True)
class MeasureFigures:
    measure: str
    figures: list[Figure]  # oldest first


@dataclass(frozen=True)
class Answer:
    answer: str
    citations: list[Citation]
    refused: bool
    mode: Mode
    language: Lang
    timings: dict[str, float]
    usage: Usage = field(default_factory=lambda: NO_USAGE)
    related: list[Related] = field(default_factory=list)
    sentences: int = 0
    factual: int = 0
    cited: int = 0
    dropped: list[str] = field(default_factory=list)
    passages: list[Quoted] = field(default_factory=list)
    cached: bool = False
    # Why a generative answer was not given: "timeout", "failure", "unavailable", "echo" or "".
    # Answers degraded by timeouts or failures are never cached.
    fallback: str = ""
    # Given by the question log when the answer went out over HTTP; feedback names it.
    id: str = ""
    # The posting period searched (named in the question), the date of the post a "latest" answer rests
    # on, and values the cited posts disagree on for what was asked.
    period: Period | None = None
    as_of: str = ""
    disagreements: list[MeasureFigures] = field(default_factory=list)  # one figure per post, oldest first


@dataclass(frozen=True)
class Sources:
    posts: list[Related]


@dataclass(frozen=True)
class Passages:
    """The key passages, sent before generation starts; never withdrawn."""

    quotes: list[Quoted]
    ms: float


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Sources | Passages | Delta | Done
