"""Domain objects → the JSON shapes the CLI and the HTTP API share."""

from __future__ import annotations

from typing import Any

from rag.retrieve import Hit


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
