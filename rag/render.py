"""Domain objects → the JSON shapes the CLI and the HTTP API share."""

from __future__ import annotations

from typing import Any

from rag.desk.escaping import safe_url
from rag.retrieval.retriever import Hit
from rag.types import Answer, Quoted, Related


def hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "rank": hit.rank,
        "score": round(hit.score, 6),
        "source": hit.source,
        "url": hit.url,
        "title": hit.title,
        "date": hit.date.isoformat(),
        "categories": list(hit.categories),
        "tags": list(hit.tags),
        "heading": " > ".join(hit.heading),
        "text": hit.text,
    }


def related_json(r: Related) -> dict[str, str]:
    return {"source": r.source, "url": r.url, "title": r.title, "date": r.date}


def quoted_json(q: Quoted) -> dict[str, Any]:
    return {"n": q.n, "source": q.source, "url": q.url, "title": q.title, "date": q.date, "text": q.text}


def answer_json(answer: Answer) -> dict[str, Any]:
    """The answer object shared by `rag ask --json`, `rag eval --answers` and POST /v1/ask."""
    marker = {c.source: c.n for c in answer.citations}
    return {
        "id": answer.id,
        "answer": answer.answer,
        "citations": [
            {"n": c.n, "source": c.source, "url": c.url, "title": c.title, "date": c.date, "quote": c.quote}
            for c in answer.citations
        ],
        "passages": [quoted_json(q) for q in answer.passages],
        "refused": answer.refused,
        "mode": answer.mode,
        "timings": answer.timings,
        "related": [related_json(r) for r in answer.related],
        "usage": {"prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens},
        "cached": answer.cached,
        "fallback": answer.fallback,
        "period": answer.period.as_dict() if answer.period else None,
        "as_of": answer.as_of,
        "disagreements": [
            {
                "measure": d.measure,
                "values": [
                    {"value": f.value, "unit": f.unit, "text": f.text, "date": f.date, "n": marker.get(f.source, 0)}
                    for f in d.figures
                ],
            }
            for d in answer.disagreements
        ],
    }


def passages_text(quotes: list[Quoted]) -> str:
    """Key passages as a quotation ahead of the answer, in plain-text channels."""
    return "".join(f"> {q.text}[{q.n}]\n" for q in quotes) + ("\n" if quotes else "")


def sources_text(answer: Answer, lang: str) -> str:
    """The source list appended to answers in plain-text channels (OpenAI-compatible responses)."""
    if not answer.citations:
        return ""
    head = "出典:" if lang == "ja" else "Sources:"
    lines = [f"[{c.n}] {c.title} ({c.date}) {safe_url(c.url)}".rstrip() for c in answer.citations]
    return "\n\n" + head + "\n" + "\n".join(lines)
