"""The archive as the index sees it: each post's cleaned text and its sentences, read once.

The checks compare evidence with the cleaned text (what retrieval and the model can ever read), after
NFKC and with white space removed, so a sentence split over a line or written with full-width digits
still matches."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from index.cleaning import blocks_to_text, clean_body, split_sentences
from index.posts import Post, SiteConfig, read_posts

_SPACE = re.compile(r"\s+")


def flat(text: str) -> str:
    """The form two texts are compared in: NFKC, no white space, no markdown emphasis or table bars."""
    text = unicodedata.normalize("NFKC", text).replace("**", "").replace("|", "")
    return _SPACE.sub("", text)


@dataclass(frozen=True)
class Article:
    post: Post
    text: str  # cleaned body
    flat: str

    @property
    def source(self) -> str:
        return self.post.source

    def sentences(self) -> list[str]:
        out: list[str] = []
        for block in self.text.split("\n\n"):
            if block.startswith("#"):
                continue
            if block.lstrip().startswith("|"):
                out.extend(row.strip() for row in block.splitlines() if not set(row) <= set("|-: "))
            else:
                out.extend(split_sentences(block))
        return out


def load_articles(archive: Path) -> list[Article]:
    site = SiteConfig.load(archive)
    out = []
    for post in read_posts(archive, site):
        if isinstance(post, Post):
            text = blocks_to_text(clean_body(post.body))
            out.append(Article(post, text, flat(f"{post.title}\n{text}")))
    return out
