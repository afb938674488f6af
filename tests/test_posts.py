from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from index.posts import MalformedPost, Post, SiteConfig, Skipped, parse_date, parse_post, post_url, read_posts, slugify

from .conftest import DATA

SITE = SiteConfig(url="https://blog.example.jp", timezone="Asia/Tokyo")
TOKYO = ZoneInfo("Asia/Tokyo")


def post(front: str, body: str = "本文です。", source: str = "2025-09-01-1-test.md") -> Post:
    return parse_post(source, f"---\n{front}\n---\n\n{body}\n".encode(), SITE)


def test_slug_keeps_letters_of_any_script_digits_and_jekyll_punctuation() -> None:
    assert slugify("1-生成ai市場の拡大") == "1-生成ai市場の拡大"
    assert slugify("AI's (new) plan+v2;ok=@x") == "AI's-(new)-plan+v2;ok=@x"


def test_slug_turns_other_runs_into_one_dash_and_trims_them() -> None:
    assert slugify("  Hello, world!  ") == "Hello,-world!"
    assert slugify("a / b ? c") == "a-b-c"
    assert slugify("「見出し」：本文") == "見出し-本文"


def test_slug_keeps_case() -> None:
    assert slugify("OpenAI-GPT") == "OpenAI-GPT"


def test_dates_with_both_offsets_become_aware_datetimes() -> None:
    assert parse_date("2025-09-09 08:40:13 +0000", TOKYO) == datetime(2025, 9, 9, 8, 40, 13, tzinfo=UTC)
    nine = timezone(timedelta(hours=9))
    assert parse_date("2025-09-09 08:40:13 +0900", TOKYO) == datetime(2025, 9, 9, 8, 40, 13, tzinfo=nine)
    assert parse_date("2025-09-09T08:40:13Z", TOKYO).utcoffset() == timedelta(0)


def test_naive_dates_are_in_the_site_timezone() -> None:
    assert parse_date("2025-09-09 08:40", TOKYO).tzinfo == TOKYO
    assert parse_date("2025-09-09", TOKYO) == datetime(2025, 9, 9, tzinfo=TOKYO)


def test_url_uses_the_date_in_the_site_timezone_not_the_file_name_date() -> None:
    when = parse_date("2025-08-29 21:30:00 +0000", TOKYO)  # 06:30 on the 30th in Tokyo
    url = post_url("2025-08-29-1-生成ai市場.md", when, SITE)
    assert url == "https://blog.example.jp/2025/08/30/1-生成ai市場/"


def test_url_of_an_nfd_file_name_is_nfc_and_the_source_id_stays_as_on_disk() -> None:
    name = unicodedata.normalize("NFD", "2025-09-01-2-ガイド.md")
    p = post("title: x\ndate: 2025-09-01 09:00:00 +0900", source=name)
    assert p.source == name
    assert p.url == "https://blog.example.jp/2025/09/01/2-ガイド/"


def test_front_matter_becomes_a_post() -> None:
    p = post(
        'title: "タイトル"\ndate: 2025-09-01 09:00:00 +0900\ncategories: ["技術解説"]\n'
        'tags: ["LLM", "量子化"]\nauthor: "編集部"\nexcerpt: "抜粋"\ndescription: "説明"'
    )
    assert (p.title, p.categories, p.tags, p.author, p.excerpt, p.description) == (
        "タイトル",
        ("技術解説",),
        ("LLM", "量子化"),
        "編集部",
        "抜粋",
        "説明",
    )
    assert p.content_hash


def test_text_is_nfc_normalized() -> None:
    p = post("title: " + unicodedata.normalize("NFD", "ガイド") + "\ndate: 2025-09-01", body="ジェミニ")
    assert p.title == "ガイド" and unicodedata.is_normalized("NFC", p.body)


def test_config_is_read_from_the_archive_root() -> None:
    site = SiteConfig.load(DATA / "archive")
    assert (site.url, site.permalink, site.timezone) == (
        "https://blog.example.jp",
        "/:year/:month/:day/:title/",
        "Asia/Tokyo",
    )


def test_without_config_jekyll_defaults_apply(tmp_path: Path) -> None:
    assert SiteConfig.load(tmp_path) == SiteConfig()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"---\ntitle: 'x\n---\n\nbody", "bad YAML"),
        (b"---\ntitle: x\n---\n\nbody", "no date"),
        (b"---\ntitle: x\ndate: 2025-01-01\n---\n\n  \n", "empty body"),
        ("---\ntitle: x\ndate: 2025-01-01\n---\n\n本文".encode("shift_jis"), "not UTF-8"),
        (b"no front matter at all", "no YAML front matter"),
        (b"---\ntitle: x\ndate: someday\n---\n\nbody", "unreadable date"),
    ],
)
def test_malformed_posts_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedPost, match=reason):
        parse_post("x.md", raw, SITE)


def test_reading_an_archive_yields_posts_and_skips_with_reasons() -> None:
    items = list(read_posts(DATA / "malformed"))
    assert [type(i) for i in items].count(Post) == 1
    assert {i.source: i.reason for i in items if isinstance(i, Skipped)} == {
        "2025-09-20-1-bad-yaml.md": "bad YAML front matter at line 4",
        "2025-09-21-1-no-date.md": "no date in front matter",
        "2025-09-22-1-empty-body.md": "empty body",
        "2025-09-23-1-shift-jis.md": "not UTF-8 (byte 64)",
    }


def test_two_sample_posts_claim_the_same_url_and_both_are_kept() -> None:
    posts = [p for p in read_posts(DATA / "archive") if isinstance(p, Post)]
    regulation = [p for p in posts if "ai規制の動向" in p.source]
    assert len(regulation) == 2
    assert regulation[0].url == regulation[1].url == "https://blog.example.jp/2025/09/05/1-ai規制の動向/"
