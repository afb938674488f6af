"""No single post can stop an ingest: each broken post is skipped with one warning naming the file and
why, and everything else is indexed (through the CLI, on tests/data/broken plus files made here)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .conftest import DATA
from .test_ingest import cli


def broken_archive(tmp_path: Path) -> Path:
    archive = tmp_path / "archive"
    shutil.copytree(DATA / "broken", archive)
    posts = archive / "_posts"
    (posts / "2025-03-03-1-huge.md").write_text(
        "---\ntitle: 大きすぎる記事\ndate: 2025-03-03\n---\n\n" + "あ" * 4000, encoding="utf-8"
    )  # 12 kB, over the limit the test sets below
    shutil.copy(DATA / "malformed/_posts/2025-09-23-1-shift-jis.md", posts / "2025-03-04-1-shift-jis.md")
    outside = tmp_path / "secret.md"
    outside.write_text("---\ntitle: 外\ndate: 2025-03-05\n---\n\nアーカイブの外にあるファイル。\n", encoding="utf-8")
    os.symlink(outside, posts / "2025-03-05-1-link-outside.md")
    return archive


def test_broken_posts_are_skipped_one_warning_each_and_the_rest_ingested(tmp_path: Path) -> None:
    proc = cli("ingest", str(broken_archive(tmp_path)), "--index", str(tmp_path / "idx"), "--json",
               env={"RAG_MAX_POST_BYTES": "8192"})  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert summary["posts_seen"] == 8 and summary["posts_added"] == 1 and summary["posts_skipped"] == 7
    warnings = [line for line in err.splitlines() if "skipped " in line]
    assert len(warnings) == 7
    reasons = {
        "2025-02-30-1-unquoted-impossible-date.md": "bad value in front matter",
        "2025-02-30-2-quoted-impossible-date.md": "impossible date",
        "2025-03-01-1-alias-bomb.md": "YAML aliases",
        "2025-03-02-1-bad-hour.md": "impossible date",
        "2025-03-03-1-huge.md": "RAG_MAX_POST_BYTES",
        "2025-03-04-1-shift-jis.md": "not UTF-8",
        "2025-03-05-1-link-outside.md": "outside the archive",
    }
    for name, why in reasons.items():
        assert any(name in w and why in w for w in warnings), (name, warnings)


def test_an_archive_with_broken_posts_is_searchable_for_the_rest(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    limit = {"RAG_MAX_POST_BYTES": "8192"}
    assert cli("ingest", str(broken_archive(tmp_path)), "--index", str(index), env=limit).wait(120) == 0
    proc = cli("search", "画像生成AIの利用者", "--index", str(index), "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert [h["source"] for h in json.loads(out)["hits"]] == ["2025-02-28-1-good.md"]
