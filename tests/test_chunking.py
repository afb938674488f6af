from __future__ import annotations

import itertools
import re

from index.chunking import Chunk, ChunkingConfig, chunk_blocks, split_sentences
from index.cleaning import Block, clean_body
from index.posts import Post, read_posts

from .conftest import DATA

CFG = ChunkingConfig(min_chars=400, max_chars=600, overlap_chars=80)
SENTENCE = "生成AIの導入が進み、業務の進め方が変わりつつあります。"  # 28 characters


def paragraph(n: int, sentence: str = SENTENCE) -> Block:
    return Block("text", sentence * n)


def test_sentences_end_at_japanese_and_western_marks_and_line_breaks() -> None:
    assert split_sentences("一つ目。二つ目！三つ目？「四つ目。」five! six?\n七") == [
        "一つ目。",
        "二つ目！",
        "三つ目？",
        "「四つ目。」",
        "five!",
        "six?",
        "七",
    ]


def test_chunks_stay_within_the_maximum_and_never_cut_a_sentence() -> None:
    chunks = chunk_blocks("p.md", [paragraph(60)], CFG)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk.text) <= CFG.max_chars
        assert chunk.text.replace("\n", "").replace(SENTENCE, "") == ""


def test_consecutive_chunks_overlap_by_a_whole_sentence() -> None:
    chunks = chunk_blocks("p.md", [Block("text", "".join(f"第{i}の文です。" for i in range(200)))], CFG)
    assert len(chunks) > 2
    for a, b in itertools.pairwise(chunks):
        carried = b.text.split("\n")[0]
        assert a.text.replace("\n", "").endswith(carried)
        assert 0 < len(carried) <= CFG.overlap_chars and carried.endswith("。")


def test_a_sentence_longer_than_the_maximum_is_cut_at_a_comma() -> None:
    long = "、".join(["長い節が続きます"] * 120) + "。"
    chunks = chunk_blocks("p.md", [Block("text", long)], CFG)
    assert all(len(c.text) <= CFG.max_chars for c in chunks)
    assert all(c.text.endswith(("、", "。")) for c in chunks)
    assert "".join(c.text for c in chunks) == long


def test_a_table_that_fits_stays_whole() -> None:
    table = "| a | b |\n|---|---|\n" + "\n".join(f"| {i} | 値{i} |" for i in range(20))
    chunks = chunk_blocks("p.md", [paragraph(5), Block("table", table), paragraph(5)], CFG)
    assert any(table in c.text for c in chunks)


def test_a_table_too_big_to_fit_is_split_by_rows_repeating_its_header() -> None:
    table = "| 項目 | 値 |\n|---|---|\n" + "\n".join(f"| 行{i} | {'x' * 30} |" for i in range(60))
    chunks = chunk_blocks("p.md", [Block("table", table)], CFG)
    assert len(chunks) > 1
    assert all(c.text.startswith("| 項目 | 値 |\n|---|---|\n") for c in chunks)
    rows = [r for c in chunks for r in c.text.split("\n")[2:]]
    assert rows == table.split("\n")[2:]


def test_each_chunk_knows_its_heading_path() -> None:
    blocks = [
        Block("heading", "市場", 2),
        paragraph(16),
        Block("heading", "国内", 3),
        paragraph(16),
        Block("heading", "展望", 2),
        paragraph(16),
    ]
    chunks = chunk_blocks("p.md", blocks, CFG)
    assert [c.heading for c in chunks] == [("市場",), ("市場", "国内"), ("展望",)]
    assert all(c.source == "p.md" for c in chunks)
    assert [c.ordinal for c in chunks] == [0, 1, 2]


def test_small_sections_share_a_chunk_and_keep_their_heading_visible() -> None:
    blocks = [Block("heading", "A", 2), paragraph(2), Block("heading", "B", 2), paragraph(2)]
    (chunk,) = chunk_blocks("p.md", blocks, CFG)
    assert chunk.heading == ("A",)
    assert "【B】" in chunk.text


def test_the_embedded_text_starts_with_title_and_heading_path() -> None:
    chunk = Chunk("p.md", 0, ("市場", "国内"), "本文。")
    assert chunk.embed_text("記事タイトル") == "記事タイトル\n市場 > 国内\n本文。"
    assert Chunk("p.md", 0, (), "本文。").embed_text("T") == "T\n本文。"


def test_sample_archive_chunks_are_sized_and_complete() -> None:
    posts = [p for p in read_posts(DATA / "archive") if isinstance(p, Post)]
    assert len(posts) >= 9  # the sample archive, read
    checked = 0
    for post in posts:
        chunks = chunk_blocks(post.source, clean_body(post.body), CFG)
        assert chunks, post.source
        assert all(0 < len(c.text) <= CFG.max_chars for c in chunks)
        # every sentence of the cleaned post is in some chunk
        text = "".join(c.text for c in chunks)
        for block in clean_body(post.body):
            if block.kind == "text":
                for s in split_sentences(block.text):
                    assert re.sub(r"\s", "", s) in re.sub(r"\s", "", text)
                    checked += 1
    assert checked > 50  # the loop above saw the archive's sentences
