"""Jekyll posts: front matter → `Post`, with the URL the live site gives each post."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from index.errors import ArchiveNotFound

log = logging.getLogger(__name__)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+?)\.(?:md|markdown)$")
_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
# Jekyll's "pretty" slug keeps these besides letters and digits.
_SLUG_KEEP = set("._~!$&'()+,;=@")
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class SiteConfig:
    url: str = ""
    baseurl: str = ""
    permalink: str = "/:year/:month/:day/:title/"
    timezone: str = "Asia/Tokyo"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def load(cls, archive: Path) -> SiteConfig:
        """Read `_config.yml` from the archive root; Jekyll's defaults where it is absent."""
        path = archive / "_config.yml"
        if not path.is_file():
            return cls()
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
        permalink = str(data.get("permalink") or cls.permalink)
        if permalink in ("date", "pretty"):  # Jekyll's named styles
            permalink = "/:categories/:year/:month/:day/:title/"
        return cls(
            url=str(data.get("url") or "").rstrip("/"),
            baseurl=str(data.get("baseurl") or "").rstrip("/"),
            permalink=permalink,
            timezone=str(data.get("timezone") or cls.timezone),
        )


@dataclass(frozen=True)
class Post:
    source: str  # file name as on disk (relative to _posts/): the stable id
    title: str
    date: datetime  # aware
    url: str
    body: str  # raw markdown after the front matter, NFC
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    author: str = ""
    description: str = ""
    excerpt: str = ""
    content_hash: str = field(default="", compare=False)


class MalformedPost(ValueError):
    """A post file that cannot become a `Post`; the message is the reason."""


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def slugify(text: str) -> str:
    """Jekyll's `slugify(mode: "pretty", cased: true)`: letters of any script, digits and
    `._~!$&'()+,;=@` are kept; every other run of characters becomes one `-`."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        cat = unicodedata.category(ch)
        if cat[0] == "L" or cat == "Nd" or ch in _SLUG_KEEP:
            out.append(ch)
        elif not out or out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def parse_date(value: object, tz: ZoneInfo) -> datetime:
    """Front-matter dates come as `2025-09-09 08:40:13 +0000` strings (YAML does not read
    `+0000` as a timestamp) or as YAML dates; naive values are in the site timezone, as in Jekyll."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=tz)
    m = _DATE.match(str(value).strip())
    if not m:
        raise MalformedPost(f"unreadable date {value!r}")
    y, mo, d, hh, mm, ss, off = m.groups()
    stamp = f"{y}-{int(mo):02d}-{int(d):02d}T{int(hh or 0):02d}:{mm or '00'}:{ss or '00'}"
    try:
        if not off:
            return datetime.fromisoformat(stamp).replace(tzinfo=tz)
        off = "+00:00" if off == "Z" else (off if ":" in off else f"{off[:3]}:{off[3:]}")
        return datetime.fromisoformat(stamp + off)
    except ValueError:  # 2025-02-30, 25:00: the shape of a date, but no such day or time
        raise MalformedPost(f"impossible date {value!r}") from None


def post_url(source: str, when: datetime, site: SiteConfig, categories: tuple[str, ...] = ()) -> str:
    name = Path(source).name
    m = _NAME.match(unicodedata.normalize("NFC", name))
    stem = m.group(4) if m else Path(name).stem
    local = when.astimezone(site.tz)  # the site builds URLs from the date in its own timezone
    path = site.permalink
    for key, value in (
        (":categories", "/".join(slugify(c).lower() for c in categories)),
        (":year", f"{local.year:04d}"),
        (":month", f"{local.month:02d}"),
        (":day", f"{local.day:02d}"),
        (":title", slugify(stem)),
    ):
        path = path.replace(key, value)
    path = re.sub(r"/{2,}", "/", path)
    return f"{site.url}{site.baseurl}{path}"


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split()
    return tuple(unicodedata.normalize("NFC", str(v)).strip() for v in items if str(v).strip())


def _meta_text(value: object) -> str:
    return unicodedata.normalize("NFC", str(value)).strip() if value is not None else ""


# Caps on what one post can make the readers after it chew on; the real archive's longest title is 168
# characters and its longest line (a flattened body) about 27,000.
TITLE_MAX = 300
LINE_MAX = 60_000
_YEARS = (1970, 2100)  # a date outside these is a typo or a probe, and breaks timezone arithmetic


def _checked_date(when: datetime, tz: ZoneInfo) -> datetime:
    if not _YEARS[0] <= when.year <= _YEARS[1]:
        raise MalformedPost(f"date {when.isoformat()} is outside {_YEARS[0]}-{_YEARS[1]}")
    try:
        when.astimezone(tz)
        when.astimezone(ZoneInfo("UTC"))
    except (OverflowError, ValueError):
        raise MalformedPost(f"date {when.isoformat()} cannot be put in the site's timezone") from None
    return when


def _capped_lines(body: str, notes: list[str]) -> str:
    if len(body) <= LINE_MAX or all(len(line) <= LINE_MAX for line in body.split("\n")):
        return body
    lines = body.split("\n")
    cut = sum(1 for line in lines if len(line) > LINE_MAX)
    notes.append(f"{cut} line(s) over {LINE_MAX:,} characters cut to that length")
    return "\n".join(line[:LINE_MAX] for line in lines)


def parse_post(source: str, raw: bytes, site: SiteConfig, notes: list[str] | None = None) -> Post:
    """The post in a file; `notes` collects what was cut from it (a title or a line too long)."""
    notes = [] if notes is None else notes
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedPost(f"not UTF-8 (byte {exc.start})") from None
    m = _FRONT_MATTER.match(text)
    if not m:
        raise MalformedPost("no YAML front matter between --- lines")
    try:
        # Aliases can expand without bound ("billion laughs"); Jekyll front matter never needs them.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(m.group(1), Loader=_Loader)):
            raise MalformedPost("YAML aliases (*name) in front matter are not accepted")
        meta = yaml.load(m.group(1), Loader=_Loader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        raise MalformedPost(f"bad YAML front matter{f' at line {where.line + 2}' if where else ''}") from None
    except ValueError as exc:  # an unquoted impossible date (2025-02-30) fails inside the YAML reader
        if isinstance(exc, MalformedPost):
            raise
        raise MalformedPost(f"bad value in front matter: {exc}") from None
    if not isinstance(meta, dict):
        raise MalformedPost("front matter is not a mapping")
    if not meta.get("date"):
        raise MalformedPost("no date in front matter")
    when = _checked_date(parse_date(meta["date"], site.tz), site.tz)
    body = _capped_lines(unicodedata.normalize("NFC", text[m.end() :]), notes)
    if not body.strip():
        raise MalformedPost("empty body")
    categories = _strings(meta.get("categories", meta.get("category")))
    url = str(meta["permalink"]) if meta.get("permalink") else post_url(source, when, site, categories)
    if url.startswith("/"):
        url = f"{site.url}{site.baseurl}{url}"
    name_stem = _NAME.match(unicodedata.normalize("NFC", Path(source).name))
    title = _meta_text(meta.get("title")) or (name_stem.group(4) if name_stem else Path(source).stem)
    if len(title) > TITLE_MAX:
        notes.append(f"title of {len(title):,} characters cut to {TITLE_MAX}")
        title = title[:TITLE_MAX]
    return Post(
        source=source,
        title=title,
        date=when,
        url=url,
        body=body,
        categories=categories,
        tags=_strings(meta.get("tags")),
        author=_meta_text(meta.get("author")),
        description=_meta_text(meta.get("description")),
        excerpt=_meta_text(meta.get("excerpt")),
        content_hash=hashlib.sha256(raw).hexdigest(),
    )


def post_files(archive: Path) -> list[tuple[str, Path]]:
    """(source id, path) of every post file, sorted; raises when the archive is missing."""
    posts_dir = archive / "_posts"
    if not posts_dir.is_dir():
        raise ArchiveNotFound(archive)
    files = [p for p in posts_dir.rglob("*") if p.is_file() and p.suffix in (".md", ".markdown")]
    return sorted((p.relative_to(posts_dir).as_posix(), p) for p in files)


def read_posts(archive: Path, site: SiteConfig | None = None) -> Iterator[Post | Skipped]:
    """Every post of the archive, or the reason it was skipped; one warning per skipped file."""
    site = site or SiteConfig.load(archive)
    for source, path in post_files(archive):
        try:
            yield parse_post(source, path.read_bytes(), site)
        except MalformedPost as exc:
            log.warning("skipped %s: %s", source, exc)
            yield Skipped(source, str(exc))
