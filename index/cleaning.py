"""Markdown body → the article's own content as blocks: boilerplate, markup and repeats removed.

Our own code because no markdown cleaner knows this archive's boilerplate (related-post lists,
affiliate book blocks, consulting call-to-action blocks) or its flattened one-line bodies."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from index.text import split_sentences

BlockKind = Literal["heading", "text", "table", "code"]
# Bumped when a rule change alters the text of posts that did not change: an index built by an older
# version re-chunks every post on its next ingest (unchanged chunks keep their cached vectors).
CLEANING_VERSION = 2


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str
    level: int = 0  # heading depth; 0 for content blocks


_BOLD_HEADING = re.compile(r"^\*\*([^*]{1,60})\*\*[:：]?$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")
_RELATED = re.compile(r"関連記事|あわせて読みたい|合わせて読みたい|関連する記事|おすすめ記事")
_BOOKS = re.compile(r"おすすめ書籍")
_AFFILIATE = re.compile(r"アフィリエイトリンク|アソシエイトリンク")
_CTA_ATTR = re.compile(r"\{:\s*\.consulting-cta[^{}]*\}")
_ATTR_LINE = re.compile(r"^\s*\{:[^{}]*\}\s*$")
# The lookbehind starts a match only where a run of spaces or dashes starts: from inside a run, each start
# would scan the rest of it again (quadratic on a hostile post).
_INLINE_END = re.compile(r"(?<![ \t-])[ \t]*-{2,}END-{2,}[ \t]*")
_END = re.compile(r"^\s*-*END-*\s*$")
_SHOP_LINK = re.compile(r"^\s*\[[^\]]*\]\(https?://(?:www\.)?amazon\.[^)]*\)\s*$")
_NO_SPACE_HEADING = re.compile(r"^(#{1,6})(?=[^#\s])")  # "##概要" is meant as a heading
# (trigger, pattern, replacement): the trigger test skips the regex on the many lines without markup.
_INLINE = [
    # The bracket classes exclude the opening bracket too, so scans from two openers never overlap: a post of
    # 40,000 「[」 costs one pass, not 40,000.
    ("![", re.compile(r"!\[[^\[\]\n]*\]\([^()\n]*\)"), ""),  # images
    ("](", re.compile(r"\[([^\[\]\n]+)\]\([^()\n]*\)"), r"\1"),  # links keep their text
    ("][", re.compile(r"\[([^\[\]\n]+)\]\[[^\[\]\n]*\]"), r"\1"),  # reference links
    ("<", re.compile(r"<(https?://[^<>\s]+)>"), r"\1"),  # autolinks
    ("[cite:", re.compile(r"\[cite:[^\[\]]*\]"), ""),  # generator citation residue
    ("{:", re.compile(r"\{:[^{}]*\}"), ""),  # inline kramdown attributes
    ("<", re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),  # HTML tags
    ("**", re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    ("__", re.compile(r"__(.+?)__"), r"\1"),
    ("*", re.compile(r"(?<![*A-Za-z0-9])\*(?![\s*])([^*\n]+?)(?<![\s*])\*(?![*A-Za-z0-9])"), r"\1"),
]
# A flattened body keeps its markdown inline: " --- ", " ### 見出し 本文", " - [link](...)".
_FLAT_THRESHOLD = 1500
# A shorter line is flattened too when a heading or a rule sits inside it after text: a short post saved
# as one line would otherwise keep its markup, or lose everything when its line opens with a heading
# that reads as boilerplate (関連記事). Table rows ("| --- |") are not.
_INLINE_BLOCK = re.compile(r"\S\s+(?:#{1,6}\s|-{3,}(?:\s|$))")
_PREFIX_MIN = 30  # shorter paragraphs may legitimately start another one
_SENTENCE_MIN = 15  # shorter sentences ("その通りです。") may legitimately recur
# Each starts where a run of white space starts (the lookbehind): from inside a run, every start would scan
# the rest of it again, quadratic in a run of 600,000 spaces.
_FLAT_RULES = [
    (re.compile(r"(?<!\s)\s+(-{3,})\s+"), r"\n\n\1\n\n"),
    (re.compile(r"(?<!\s)\s+(\{:[^{}]*\})"), r"\n\1\n"),
    (re.compile(r"(?<!\s)\s+(#{1,6} )"), r"\n\n\1"),
    (re.compile(r"(?<!\s)\s+((?:[-*+]|\d+\.) (?:\[|\*\*))"), r"\n\1"),
    (re.compile(r"(?<!\s)\s+(\*※)"), r"\n\n\1"),
    (re.compile(r"(?<=[。！？!?」）])\s+(?=\S)"), "\n\n"),
]
# Inside a flattened heading line, the heading ends at the first space between two non-ASCII characters.
_FLAT_HEADING_END = re.compile(r"^(#{1,6} .*?[^\x00-\x7f])\s+(?=[^\x00-\x7f])")
_HEADING_TEXT_GAP = re.compile(r"(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])")
_HEADING_MAX = 80  # longer "headings" are paragraphs that lost their line break


def unflatten(body: str) -> str:
    """Restore line structure in bodies that were saved as one very long line, or as a shorter line
    with headings or rules inside it."""
    out: list[str] = []
    for line in body.split("\n"):
        inline = _INLINE_BLOCK.search(line) is not None and not line.lstrip().startswith("|")
        if len(line) < _FLAT_THRESHOLD and not inline:
            out.append(line)
            continue
        for pattern, repl in _FLAT_RULES:
            line = pattern.sub(repl, line)
        fixed = []
        for part in line.split("\n"):
            m = _FLAT_HEADING_END.match(part) if part.startswith("#") else None
            fixed.append(f"{m.group(1)}\n\n{part[m.end() :]}" if m else part)
        out.append("\n".join(fixed))
    return "\n".join(out)


def _atx(line: str) -> tuple[int, str] | None:
    """「## 見出し ##」 → (2, "見出し"), as string code: the pattern it replaces backtracked cubically over
    a heading line of spaces."""
    hashes = len(line) - len(line.lstrip("#"))
    if hashes == 0 or (hashes == 1 and len(line) == 1):
        return None
    level = min(hashes, 6) if hashes < len(line) else min(hashes - 1, 6)  # 「###」: level 2 of text 「#」
    core = line[level:].strip()
    text = core.rstrip("#").rstrip()
    return level, text or core[:1]


def _heading(line: str) -> tuple[int, str] | None:
    line = line.strip()
    if not line.startswith(("#", "**")):
        return None
    atx = _atx(line)
    if atx:
        return atx
    m = _BOLD_HEADING.match(line)
    if m and "。" not in m.group(1):
        return 4, m.group(1)  # a bold line on its own acts as a minor heading in these posts
    return None


def _drop_boilerplate(lines: list[str]) -> list[str]:
    heads = [_heading(line) for line in lines]
    keep: list[str] = []
    i = 0
    while i < len(lines):
        line, head = lines[i], heads[i]
        if head and _RELATED.search(head[1]):
            i += 1
            while i < len(lines) and (not lines[i].strip() or _LIST_ITEM.match(lines[i])):
                i += 1
            continue
        if head and _BOOKS.search(head[1]):
            # The disclaimer closes the block; book titles below it are sub-headings, rules may sit inside.
            limit = _block_end(lines, heads, i, rules=False)
            stop = next((j for j in range(i + 1, limit) if _AFFILIATE.search(lines[j])), None)
            i = stop + 1 if stop is not None else _block_end(lines, heads, i)
            continue
        if head:
            end = _block_end(lines, heads, i)
            cta = next((j for j in range(i + 1, end) if _CTA_ATTR.search(lines[j])), None)
            if cta is not None:
                i = cta + 1
                continue
        if _CTA_ATTR.search(line) or _END.match(line) or _ATTR_LINE.match(line) or _SHOP_LINK.match(line):
            i += 1
            continue
        if _AFFILIATE.search(line) and line.lstrip("*_ ").startswith("※"):
            i += 1
            continue
        keep.append(line)
        i += 1
    return keep


def _block_end(lines: list[str], heads: list[tuple[int, str] | None], start: int, rules: bool = True) -> int:
    """Index of the first line after `start` that closes the block its heading opened."""
    opened = heads[start]
    level = opened[0] if opened else 0
    for j in range(start + 1, len(lines)):
        head = heads[j]
        if (head and head[0] <= level) or (rules and _RULE.match(lines[j])) or _END.match(lines[j]):
            return j
    return len(lines)


def strip_markup(line: str) -> str:
    for trigger, pattern, repl in _INLINE:
        if trigger in line:
            line = pattern.sub(repl, line)
    return line.strip()


def _split_heading(text: str) -> tuple[str, str]:
    """Some heading lines carry their paragraph too ("### 見出し 本文…" or "見出し: 本文…")."""
    if len(text) <= _HEADING_MAX:
        return text, ""
    m = _HEADING_TEXT_GAP.search(text, 0, _HEADING_MAX + 1)
    if m:
        return text[: m.start()], text[m.end() :]
    colon = max(text.rfind(": ", 0, _HEADING_MAX), text.rfind("：", 0, _HEADING_MAX))
    if colon > 0:
        return text[:colon], text[colon + 1 :].strip()
    return "", text  # a paragraph marked up as a heading


def _split_blocks(lines: list[str]) -> list[Block]:
    blocks: list[Block] = []
    buf: list[str] = []
    kind: BlockKind = "text"

    def flush() -> None:
        nonlocal buf
        text = "\n".join(buf).strip()
        if text:
            blocks.append(Block(kind, text))
        buf = []

    in_code = False
    for raw in lines:
        if raw.strip().startswith("```"):
            if in_code:
                buf.append(raw)
                flush()
            else:
                flush()
                kind, buf = "code", [raw]
            in_code = not in_code
            continue
        if in_code:
            buf.append(raw)
            continue
        head = _heading(raw)
        if head:
            flush()
            title, rest = _split_heading(strip_markup(head[1]))
            if title:
                blocks.append(Block("heading", title, head[0]))
            if rest:
                kind, buf = "text", [rest]
            continue
        if not raw.strip() or _RULE.match(raw):
            flush()
            continue
        is_table = raw.lstrip().startswith("|")
        if buf and (kind == "table") != is_table:
            flush()
        if not buf:
            kind = "table" if is_table else "text"
        buf.append(raw.strip() if is_table else strip_markup(raw))
    flush()
    return blocks


def _statements(text: str) -> list[str]:
    """Sentences, also cut where a space separates two Japanese characters (a title run into the
    first sentence), long enough that a repeat is a copy rather than a common phrase."""
    parts = (p for s in split_sentences(text) for p in _HEADING_TEXT_GAP.split(s))
    return [p for p in parts if len(p) >= _SENTENCE_MIN]


def _dedupe(blocks: list[Block]) -> list[Block]:
    """Keep the first occurrence of each paragraph; a later copy, or a truncated copy of an
    earlier paragraph (posts often end with a cut-off repeat), adds nothing."""
    seen: set[str] = set()
    by_start: dict[str, list[str]] = defaultdict(list)  # earlier paragraphs by their first characters
    said: set[str] = set()
    out: list[Block] = []
    for block in blocks:
        if block.kind == "heading":
            out.append(block)
            continue
        key = " ".join(block.text.split())
        start = key[:_PREFIX_MIN]
        if key in seen or (len(key) >= _PREFIX_MIN and any(p.startswith(key) for p in by_start[start])):
            continue
        sentences = _statements(key) if block.kind == "text" else []
        if sentences and all(s in said for s in sentences):
            continue  # a paragraph re-assembled from sentences already said (flattened bodies do this)
        seen.add(key)
        said.update(sentences)
        by_start[start].append(key)
        out.append(block)
    return _drop_empty_headings(out)


def _drop_empty_headings(blocks: list[Block]) -> list[Block]:
    out: list[Block] = []
    for i, block in enumerate(blocks):
        if block.kind == "heading":
            nxt = next((b for b in blocks[i + 1 :] if b.kind != "heading" or b.level <= block.level), None)
            if nxt is None or nxt.kind == "heading":
                continue
        out.append(block)
    return out


def strip_liquid(text: str) -> str:
    """Without Liquid tags ({% … %}, {{ … }}), each from its opener to the first closer after it, as string
    code: the lazy pattern it replaces scanned to the end of the post from each of 40,000 unclosed 「{%」."""
    out: list[str] = []
    i = 0
    closers = {"{%": "%}", "{{": "}}"}
    at = {o: text.find(o) for o in closers}
    while True:
        open_at = [(p, o) for o, p in at.items() if p >= 0]
        if not open_at:
            break
        start, opener = min(open_at)
        end = text.find(closers[opener], start + 2)
        if end < 0:  # no closer after this opener, so none after any later one of its kind
            at[opener] = -1
            continue
        out.append(text[i:start])
        i = end + 2
        at = {o: (p if p >= i else text.find(o, i)) if p >= 0 else -1 for o, p in at.items()}
    out.append(text[i:])
    return "".join(out)


def clean_body(body: str) -> list[Block]:
    text = strip_liquid(unflatten(body.replace("\r\n", "\n")))
    text = _INLINE_END.sub("\n\n", text)
    lines = [_NO_SPACE_HEADING.sub(r"\1 ", ln) if ln.startswith("#") else ln for ln in text.split("\n")]
    return _dedupe(_split_blocks(_drop_boilerplate(lines)))


def blocks_to_text(blocks: list[Block]) -> str:
    return "\n\n".join(f"{'#' * b.level} {b.text}" if b.kind == "heading" else b.text for b in blocks)
