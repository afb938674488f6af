"""HTTP request and response bodies. Pydantic lives here, at the boundary; `rag/` keeps dataclasses."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

MAX_QUESTION = 1000  # characters: longer is not a question, and it would slow the model for everyone

_HIT_EXAMPLE: dict[str, Any] = {
    "rank": 1,
    "score": 0.0328,
    "source": "2025-09-10-3-製造業のai活用事例.md",
    "url": "https://blog.example.jp/2025/09/10/3-製造業のai活用事例/",
    "title": "製造業のAI活用事例：外観検査と予知保全で成果を出すには",
    "date": "2025-09-10T12:00:00+09:00",
    "categories": ["業界別AI活用"],
    "tags": ["製造業", "予知保全"],
    "heading": "事例1：外観検査AI",
    "text": "外観検査AIを導入したところ、検査工数を42%削減し…",
}


def _day_from_json(value: object) -> object:
    """JSON has no date type: a day comes as "YYYY-MM-DD" text, and only so (no numbers, which lax
    parsing would read as timestamps)."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError('expected a day as "YYYY-MM-DD"')


DayText = Annotated[date, BeforeValidator(_day_from_json)]


class FiltersIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"category": "業界別AI活用"}, {"since": "2025-01-01", "until": "2025-12-31"}]},
    )

    category: str | None = Field(None, max_length=100, description="only posts in this category")
    tags: list[str] = Field(default_factory=list, max_length=20, description="only posts carrying every tag")
    since: DayText | None = Field(None, description="posts on or after this day (site timezone)")
    until: DayText | None = Field(None, description="posts on or before this day (site timezone)")


class SearchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"query": "外観検査AIの導入効果", "k": 5},
                {"query": "生成AI", "filters": {"since": "2025-01-01", "until": "2025-12-31"}},
            ]
        },
    )

    query: str = Field(..., min_length=1, max_length=MAX_QUESTION)
    k: int = Field(10, ge=1, le=50)
    filters: FiltersIn | None = None


class HitOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_HIT_EXAMPLE]})

    rank: int
    score: float
    source: str = Field(..., description="the post's file name")
    url: str
    title: str
    date: str
    categories: list[str]
    tags: list[str]
    heading: str = Field(..., description="heading path of the best passage, joined with ' > '")
    text: str = Field(..., description="the best passage")


class SearchOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"hits": [_HIT_EXAMPLE], "took_ms": 41.2}]})

    hits: list[HitOut]
    took_ms: float


def _one_question(role: str, text: str) -> None:
    """A reader's turn is searched like the question: the same limit on every endpoint."""
    if role == "user" and len(text) > MAX_QUESTION:
        raise ValueError(
            f"a question (and each earlier question of the conversation) may hold at most {MAX_QUESTION:,} "
            f"characters; this one has {len(text):,}"
        )


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant"]
    content: str = Field(..., max_length=2 * MAX_QUESTION)

    @model_validator(mode="after")
    def _question_limit(self) -> Turn:
        _one_question(self.role, self.content)
        return self


class AskIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"question": "外観検査AIで検査工数は何%削減されましたか？", "stream": False},
                {
                    "question": "それはいつの記事？",
                    "history": [
                        {"role": "user", "content": "製造業で外観検査AIを導入した事例は？"},
                        {"role": "assistant", "content": "A社が検査工数を42%削減しました[1]。"},
                    ],
                },
            ]
        },
    )

    question: str = Field(..., min_length=1, max_length=MAX_QUESTION)
    history: list[Turn] = Field(default_factory=list, max_length=10, description="earlier turns, oldest first")
    filters: FiltersIn | None = None
    stream: bool = False


class CitationOut(BaseModel):
    n: int
    source: str
    url: str
    title: str
    date: str
    quote: str = Field(..., description="the passage text that supports the sentences citing it")


class PassageOut(BaseModel):
    n: int = Field(..., description="the citation number of its post, as in the answer's markers")
    source: str
    url: str
    title: str
    date: str
    text: str = Field(..., description="sentences quoted verbatim from the post")


class RelatedOut(BaseModel):
    source: str
    url: str
    title: str
    date: str


class PeriodOut(BaseModel):
    since: str
    until: str
    label: str


class ValueOut(BaseModel):
    value: float = Field(..., description="scales applied: 120億円 → 12000000000")
    unit: str
    text: str = Field(..., description="as written in the post")
    date: str
    n: int = Field(..., description="the citation marker of the post")


class DisagreementOut(BaseModel):
    measure: str
    values: list[ValueOut]


class AskOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answer": "外観検査AIの導入で検査工数を42%削減しました[1]。",
                    "citations": [
                        {
                            "n": 1,
                            "source": "2025-09-10-3-製造業のai活用事例.md",
                            "url": "https://blog.example.jp/2025/09/10/3-製造業のai活用事例/",
                            "title": "製造業のAI活用事例：外観検査と予知保全で成果を出すには",
                            "date": "2025-09-10",
                            "quote": "外観検査AIを導入したところ、検査工数を42%削減しました。",
                        }
                    ],
                    "passages": [
                        {
                            "n": 1,
                            "source": "2025-09-10-3-製造業のai活用事例.md",
                            "url": "https://blog.example.jp/2025/09/10/3-製造業のai活用事例/",
                            "title": "製造業のAI活用事例：外観検査と予知保全で成果を出すには",
                            "date": "2025-09-10",
                            "text": "外観検査AIを導入したところ、検査工数を42%削減しました。",
                        }
                    ],
                    "refused": False,
                    "mode": "generative",
                    "timings": {"retrieve_ms": 120.5, "passage_ms": 180.2, "ttft_ms": 5400.0, "total_ms": 9100.0},
                    "related": [],
                    "usage": {"prompt_tokens": 410, "completion_tokens": 38},
                }
            ]
        }
    )

    id: str = Field("", description="answer id for POST /v1/feedback (empty if the question log failed)")
    answer: str
    citations: list[CitationOut]
    passages: list[PassageOut] = Field(
        default_factory=list, description="key passages, quoted before generation started; never withdrawn"
    )
    refused: bool
    mode: Literal["generative", "extractive", "refusal", "help"] = Field(
        ..., description="help: a question about the service itself, answered from the index without the model"
    )
    timings: dict[str, float]
    related: list[RelatedOut] = Field(default_factory=list, description="closest posts when refused")
    usage: dict[str, int]
    cached: bool = Field(False, description="served from the answer cache")
    fallback: str = Field(
        "", description="why no generated answer: timeout, failure, queue, refused, unsupported, off-topic, echo"
    )
    period: PeriodOut | None = Field(None, description="the posting period the question named, as searched")
    as_of: str = Field("", description="for questions about the latest state: the date of the post it rests on")
    disagreements: list[DisagreementOut] = Field(
        default_factory=list, description="values the cited posts give differently for what was asked"
    )


class ProblemOut(BaseModel):
    field: str
    problem: str


class ResearchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"topic": "生成AI市場", "since": "2025-01-01", "limit": 50}]},
    )

    topic: str = Field(..., min_length=1, max_length=200)
    since: DayText | None = Field(None, description="posts on or after this day (site timezone)")
    until: DayText | None = Field(None, description="posts on or before this day (site timezone)")
    category: str | None = Field(None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=20, description="posts carrying every tag")
    limit: int = Field(50, ge=1, le=200, description="at most this many relevant posts")


class FigureOut(BaseModel):
    measure: str = Field(..., description="the phrase the figure quantifies, e.g. 売上高, パラメータ数")
    value: float = Field(..., description="scales applied: 8,028億円 → 802800000000")
    unit: str = Field(..., description="pct, jpy, usd, eur, … or the counter written (社, 人, パラメータ)")
    text: str = Field(..., description="the figure as written")
    date: str
    source: str
    url: str
    sentence: str
    subject: str = Field("", description="whose figure: the company, product or market the sentence names")
    period: str = Field("", description="the period written before it: 2025, 2025Q3, 2025H1")
    scope: str = Field("", description="forecast, quarter, year, month, segment, total, … joined by +")
    high: float | None = Field(None, description="the other end when the figure is a range")
    title: str = Field("", description="the title of its post")


class MeasureOut(BaseModel):
    measure: str
    figures: list[FigureOut]


class ResearchOut(BaseModel):
    topic: str
    posts: list[dict[str, str]] = Field(..., description="[{date, url, title, source, snippet}], oldest first")
    timeline: list[dict[str, Any]] = Field(..., description="[{month: 'YYYY-MM', count}], empty months included")
    figures: list[FigureOut]
    changes: list[MeasureOut] = Field(..., description="per measure given by several posts, its figures by date")
    disagreements: list[MeasureOut] = Field(..., description="one measure, different values, posts ≤ 31 days apart")
    took_ms: float


class FeedbackIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"answer_id": "3f2a" * 8, "rating": "down", "comment": "古い情報でした"}]},
    )

    answer_id: str = Field(..., pattern=r"^[0-9a-f]{32}$", description="the `id` of an answer from /v1/ask")
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=1000)


class FeedbackOut(BaseModel):
    answer_id: str
    rating: Literal["up", "down"]


class ErrorOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"error": "queue_full", "detail": "…"}]})

    error: str = Field(..., description="a stable machine-readable code")
    detail: str | list[ProblemOut] = Field(..., description="what was wrong, for a person to read")


class ContentPart(BaseModel):
    """One part of a message's content; parts other than text (images, audio) are accepted and ignored."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: str = Field(..., max_length=40)
    text: str | None = Field(None, max_length=3 * MAX_QUESTION)


class ChatMessage(BaseModel):
    model_config = ConfigDict(strict=True)

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[ContentPart] | None = Field(None, max_length=3 * MAX_QUESTION)

    def text(self) -> str:
        """What the message says: its string, or its text parts joined (other parts are ignored)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content or [] if p.type == "text")

    @model_validator(mode="after")
    def _question_limit(self) -> ChatMessage:
        _one_question(self.role, self.text())  # all its parts together, not each part
        return self


class ChatIn(BaseModel):
    """OpenAI's chat completion request; fields we do not use are accepted and ignored."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "examples": [{"model": "archive-qa", "messages": [{"role": "user", "content": "外観検査AIの効果は？"}]}]
        },
    )

    model: str = Field("archive-qa", max_length=200, description="echoed back; the archive's pipeline answers")
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=20)
    stream: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
