"""The gaps report: questions the archive could not answer (refused, or rated down), grouped by
meaning with the embedder, largest group first, each with the posts that came closest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from rag.desk.escaping import markdown_link, markdown_text
from rag.desk.questionlog import LoggedQuestion
from rag.retrieval.engine import Engine
from rag.types import Related

_EXAMPLES = 5
_CLOSEST = 3


@dataclass(frozen=True)
class GapCluster:
    count: int
    refused: int
    rated_down: int
    examples: list[str]  # the most central first, without repeats
    closest: list[Related]
    last_asked: str


def clusters_of(vectors: np.ndarray, similarity: float) -> list[list[int]]:
    """Average-link groups whose members are on average at least `similarity` (cosine) alike."""
    if len(vectors) == 0:
        return []
    if len(vectors) == 1:
        return [[0]]
    tree = linkage(vectors, method="average", metric="cosine")
    labels = fcluster(tree, t=1 - similarity, criterion="distance")
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    return list(groups.values())


def gap_clusters(
    entries: Sequence[LoggedQuestion], engine: Engine | None, similarity: float, closest_for: int | None = None
) -> list[GapCluster]:
    """Groups by meaning, largest first; each question's vector is the one the log kept, or embedded now.
    The closest posts are looked up for the `closest_for` largest groups (all when None)."""
    if not entries:
        return []

    def vector(e: LoggedQuestion) -> np.ndarray:
        if e.vector is not None:
            return np.asarray(e.vector, dtype=np.float32)
        assert engine is not None, "questions without a kept vector need the engine's embedder"
        return np.asarray(engine.embedder.embed_query(e.question), dtype=np.float32)

    vectors = np.stack([vector(e) for e in entries])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    found = []
    for members in clusters_of(vectors, similarity):
        centre = vectors[members].mean(axis=0)
        central = sorted(members, key=lambda i: -float(vectors[i] @ centre))
        found.append((members, central))
    found.sort(key=lambda mc: (-len(mc[0]), entries[mc[1][0]].question))
    out = []
    for rank, (members, central) in enumerate(found):
        examples = list(dict.fromkeys(entries[i].question for i in central))[:_EXAMPLES]
        closest: list[Related] = []
        if engine is not None and (closest_for is None or rank < closest_for):
            hits = engine.search(entries[central[0]].question, _CLOSEST).result.hits
            closest = [Related(h.source, h.url, h.title, h.date.date().isoformat()) for h in hits]
        group = [entries[i] for i in members]
        out.append(
            GapCluster(
                count=len(group),
                refused=sum(e.refused for e in group),
                rated_down=sum(e.rating == "down" for e in group),
                examples=examples,
                closest=closest,
                last_asked=max(e.asked_at for e in group).isoformat(),
            )
        )
    return sorted(out, key=lambda c: (-c.count, c.examples[0]))


def gaps_json(clusters: list[GapCluster]) -> dict[str, Any]:
    def one(c: GapCluster) -> dict[str, Any]:
        closest = [{"source": r.source, "url": r.url, "title": r.title, "date": r.date} for r in c.closest]
        return {"count": c.count, "refused": c.refused, "rated_down": c.rated_down, "examples": c.examples,
                "last_asked": c.last_asked, "closest": closest}  # fmt: skip

    return {"clusters": [one(c) for c in clusters]}


def gaps_markdown(clusters: list[GapCluster]) -> str:
    if not clusters:
        return "# What readers asked that the archive could not answer\n\nNothing refused or rated down yet.\n"
    lines = ["# What readers asked that the archive could not answer", ""]
    for n, c in enumerate(clusters, 1):
        counts = f"{c.count} questions ({c.refused} refused, {c.rated_down} rated down), last {c.last_asked[:10]}"
        lines += [f"## {n}. {markdown_text(c.examples[0])}", "", counts, ""]
        lines += [f"- {markdown_text(q)}" for q in c.examples] + ["", "Closest posts:", ""]
        lines += [f"- {r.date} {markdown_link(r.title, r.url)}" for r in c.closest] + [""]
    return "\n".join(lines)
