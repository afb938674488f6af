"""Search filters (category, tags, date range in the site timezone) as masks over posts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from index.docstore import PostMeta


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)  # a post must carry every tag
    since: date | None = None  # inclusive, site-local day
    until: date | None = None  # inclusive, site-local day

    def __bool__(self) -> bool:
        return bool(self.category or self.tags or self.since or self.until)

    def post_mask(self, posts: list[PostMeta], tz: ZoneInfo) -> np.ndarray:
        """One bool per post (in the snapshot's order)."""
        lo = datetime.combine(self.since, time(), tzinfo=tz) if self.since else None
        hi = datetime.combine(self.until + timedelta(days=1), time(), tzinfo=tz) if self.until else None
        category = self.category.casefold() if self.category else None
        tags = {t.casefold() for t in self.tags}
        keep = np.ones(len(posts), dtype=bool)
        for i, post in enumerate(posts):
            wrong_category = category is not None and category not in {c.casefold() for c in post.categories}
            missing_tag = not tags <= {t.casefold() for t in post.tags}
            out_of_range = (lo is not None and post.date < lo) or (hi is not None and post.date >= hi)
            keep[i] = not (wrong_category or missing_tag or out_of_range)
        return keep
