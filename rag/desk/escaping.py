"""Text from posts and readers made safe for the formats reports are opened in: links only to http(s)
(a post's permalink can be `javascript:…`), Markdown with its special characters escaped, and CSV cells
a spreadsheet will not run as formulas (OWASP's CSV injection advice)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_IN_URL = re.compile(r"[\s\"'<>\\`\x00-\x1f\x7f]")


def safe_url(url: str) -> str:
    """The URL when it is an absolute http(s) link with nothing that could break out of an attribute or a
    Markdown link; "" otherwise (the post is then listed without a link)."""
    if not url or _UNSAFE_IN_URL.search(url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def markdown_text(text: str) -> str:
    """Text shown as itself in Markdown: specials escaped, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def markdown_link(text: str, url: str) -> str:
    """[text](url) for a safe URL; the escaped text alone otherwise."""
    shown = markdown_text(text)
    target = safe_url(url)
    return f"[{shown}]({target})" if target else shown


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
