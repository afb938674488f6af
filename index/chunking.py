"""Cleaned blocks → chunks of about 400–600 characters that never cut a Japanese sentence.

Our own code because llama-index's SentenceSplitter counts tokens with an English tokenizer and
splits on "." and spaces, which Japanese text does not have."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from index.cleaning import Block, split_sentences

# Bump when cleaning or chunking rules change, so every post is re-chunked. A rule of this code, not a
# setting: it travels with the sizes in `as_dict()`, which the index manifest keeps and compares.
CHUNKING_VERSION = 1


@dataclass(frozen=True)
class ChunkingConfig:
    """The sizes come from the caller's settings (`rag.settings.Settings.chunking_config()`)."""

    min_chars: int
    max_chars: int
    overlap_chars: int

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "version": CHUNKING_VERSION}


@dataclass(frozen=True)
class Chunk:
    source: str  # the post's file name
    ordinal: int  # position within the post
    heading: tuple[str, ...]  # heading path, outermost first
    text: str

    def embed_text(self, title: str) -> str:
        """What the embedder sees: the post title and heading path give a chunk its context."""
        path = " > ".join(self.heading)
        return f"{title}\n{path}\n{self.text}" if path else f"{title}\n{self.text}"

    def embed_hash(self, title: str) -> str:
        return hashlib.sha256(self.embed_text(title).encode()).hexdigest()[:32]


def _hard_cut(sentence: str, size: int) -> list[str]:
    """Only for one sentence longer than the maximum: cut at a comma or space when one is near."""
    pieces: list[str] = []
    while len(sentence) > size:
        window = sentence[:size]
        cut = max(window.rfind("、"), window.rfind("，"), window.rfind(" "), window.rfind(","))
        cut = cut + 1 if cut >= size // 2 else size
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    if sentence:
        pieces.append(sentence)
    return pieces


def _units(block: Block, cfg: ChunkingConfig) -> list[str]:
    """The pieces a block may be packed as: whole when it fits, else sentences (or table rows)."""
    if len(block.text) <= cfg.max_chars:
        return [block.text]
    if block.kind in ("table", "code"):
        lines = block.text.split("\n")
        head = "\n".join(lines[:2]) if block.kind == "table" else ""
        rows = lines[2:] if head else lines
        units, cur = [], head
        for row in rows:  # each part of a long table repeats its header row
            if cur and len(cur) + len(row) + 1 > cfg.max_chars and cur != head:
                units.append(cur)
                cur = head
            cur = f"{cur}\n{row}" if cur else row
        return [*units, cur] if cur and cur != head else units
    out: list[str] = []
    for sentence in split_sentences(block.text):
        out.extend(_hard_cut(sentence, cfg.max_chars) if len(sentence) > cfg.max_chars else [sentence])
    return out


class _Packer:
    def __init__(self, source: str, cfg: ChunkingConfig) -> None:
        self.source, self.cfg = source, cfg
        self.chunks: list[Chunk] = []
        self.parts: list[str] = []
        self.heading: tuple[str, ...] = ()  # heading path of the chunk being built
        self.section: tuple[str, ...] = ()  # heading path of the newest section
        self.fresh_section = False

    def size(self) -> int:
        return sum(len(p) for p in self.parts) + max(len(self.parts) - 1, 0)

    def emit(self, overlap: bool) -> None:
        if self.parts:
            self.chunks.append(Chunk(self.source, len(self.chunks), self.heading, "\n".join(self.parts)))
        self.parts = self._overlap_tail() if overlap and self.parts else []
        self.heading = self.section

    def _overlap_tail(self) -> list[str]:
        """The last whole sentences of the previous chunk, within the overlap budget (never a table
        row or code line, and never the whole chunk)."""
        if self.parts[-1].startswith(("|", "```")):
            return []
        sentences = split_sentences("\n".join(self.parts))
        tail: list[str] = []
        for sentence in reversed(sentences[1:]):
            if sum(map(len, tail)) + len(sentence) > self.cfg.overlap_chars:
                break
            tail.insert(0, sentence)
        return ["".join(tail)] if tail else []

    def start_section(self, heading: tuple[str, ...]) -> None:
        if self.size() >= self.cfg.min_chars:
            self.emit(overlap=False)
        self.section = heading
        if not self.parts:
            self.heading = heading
        self.fresh_section = True

    def add(self, unit: str) -> None:
        if self.fresh_section and self.parts:
            # A small previous section shares this chunk when both fit; the heading stays visible.
            marker = f"【{self.section[-1]}】" if self.section else ""
            if self.size() + len(marker) + len(unit) + 2 <= self.cfg.max_chars:
                self.parts.extend([marker, unit] if marker else [unit])
                self.fresh_section = False
                return
            self.emit(overlap=False)
        self.fresh_section = False
        if self.parts and self.size() + 1 + len(unit) > self.cfg.max_chars:
            self.emit(overlap=True)
            if self.parts and self.size() + 1 + len(unit) > self.cfg.max_chars:
                self.parts = []
        self.parts.append(unit)


def chunk_blocks(source: str, blocks: list[Block], cfg: ChunkingConfig) -> list[Chunk]:
    packer = _Packer(source, cfg)
    path: list[tuple[int, str]] = []
    for block in blocks:
        if block.kind == "heading":
            while path and path[-1][0] >= block.level:
                path.pop()
            path.append((block.level, block.text))
            packer.start_section(tuple(text for _, text in path))
            continue
        for unit in _units(block, cfg):
            packer.add(unit)
    packer.emit(overlap=False)
    return packer.chunks
