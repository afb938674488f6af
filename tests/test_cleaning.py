from __future__ import annotations

from index.cleaning import Block, blocks_to_text, clean_body, unflatten
from index.posts import Post, SiteConfig, parse_post

from .conftest import DATA


def text_of(body: str) -> str:
    return blocks_to_text(clean_body(body))


def sample(name: str) -> Post:
    path = next((DATA / "archive" / "_posts").glob(name))
    return parse_post(path.name, path.read_bytes(), SiteConfig.load(DATA / "archive"))


def test_related_post_lists_are_dropped() -> None:
    body = "本文です。\n\n## 関連記事\n\n- [A](/a/)\n- [B](/b/)\n\n続きの本文。\n\n### あわせて読みたい\n- [C](/c/)\n"
    assert text_of(body) == "本文です。\n\n続きの本文。"


def test_affiliate_book_block_is_dropped_up_to_its_disclaimer() -> None:
    body = (
        "前の段落。\n\n## この記事に関連するおすすめ書籍\n\n### [本](https://www.amazon.co.jp/dp/1/?tag=x-22)\n\n"
        "紹介文\n\n[Amazonで詳しく見る →](https://www.amazon.co.jp/dp/1/)\n\n---\n\n"
        "*※ 本ページのリンクにはアフィリエイトリンクが含まれます。*\n\n後の段落。"
    )
    assert text_of(body) == "前の段落。\n\n後の段落。"


def test_call_to_action_blocks_are_dropped() -> None:
    body = (
        "本文。\n\n---\n\n## AI導入のご相談を承っています\n\n相談はこちら。\n\n"
        "[無料相談を申し込む](/contact/)\n{: .consulting-cta-link}\n\n---\n\n## まとめ\n\n結論。"
    )
    assert text_of(body) == "本文。\n\n## まとめ\n\n結論。"


def test_end_markers_liquid_tags_and_kramdown_attributes_are_dropped() -> None:
    body = "一。\n\n{% include ads.html %}\n\n二。\n{: .notice}\n\n---END---\n\n三。 ---END---"
    assert text_of(body) == "一。\n\n二。\n\n三。"


def test_images_go_and_links_keep_their_text() -> None:
    body = "![図](/a.png)\n\n詳しくは[解説記事](/2025/09/03/x/)と<https://example.com>を参照。**強調**も*斜体*も外す。"
    assert text_of(body) == "詳しくは解説記事とhttps://example.comを参照。強調も斜体も外す。"


def test_repeated_sections_are_kept_once() -> None:
    para = "同じ段落が繰り返し現れることがある。"
    body = f"## 見出し\n\n{para}\n\n別の段落。\n\n{para}\n\n## 見出し\n\n{para}\n"
    assert text_of(body) == f"## 見出し\n\n{para}\n\n別の段落。"


def test_a_truncated_copy_of_an_earlier_paragraph_is_dropped() -> None:
    para = "生成AIの導入は多くの企業で試行段階から本番運用へと移りつつあり、課題は正確性の確保に移っている。"
    body = f"{para}\n\n別の話題。\n\n{para[:40]}"
    assert text_of(body) == f"{para}\n\n別の話題。"


def test_headings_without_a_space_are_still_headings() -> None:
    assert clean_body("##概要\n\n本文。")[0] == Block("heading", "概要", 2)


def test_a_bold_line_on_its_own_is_a_minor_heading() -> None:
    assert clean_body("**投資家の方々へ：見極め方**\n\n本文。")[0] == Block("heading", "投資家の方々へ：見極め方", 4)


def test_tables_stay_one_block() -> None:
    blocks = clean_body("前。\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n後。")
    assert [b.kind for b in blocks] == ["text", "table", "text"]
    assert blocks[1].text == "| a | b |\n|---|---|\n| 1 | 2 |"


def test_a_one_line_body_is_split_into_paragraphs_and_headings() -> None:
    line = (
        "最初の文です。 二つ目の文です。 ### 小見出し 見出しの後の本文です。 --- ### あわせて読みたい - [A](/a/) " * 40
    )
    blocks = clean_body(line)
    assert Block("heading", "小見出し", 3) in blocks
    assert {b.text for b in blocks if b.kind == "text"} == {
        "最初の文です。",
        "二つ目の文です。",
        "見出しの後の本文です。",
    }


def test_a_short_one_line_post_is_split_where_headings_and_rules_sit_inside_it() -> None:
    body = "最初の文です。 二つ目の文です。 ### 小見出し 見出しの後の本文です。 --- ### あわせて読みたい - [A](/a/)"
    assert text_of(body) == "最初の文です。\n\n二つ目の文です。\n\n### 小見出し\n\n見出しの後の本文です。"


def test_a_short_one_line_post_opening_with_a_heading_keeps_its_content() -> None:
    # read as one heading line, the whole post went with its closing boilerplate
    body = "## 概要 最初の文です。 二つ目の文です。 --- *※本記事にはアフィリエイトリンクを含みます*"
    assert text_of(body) == "## 概要\n\n最初の文です。\n\n二つ目の文です。"


def test_table_separator_rows_are_not_read_as_rules() -> None:
    assert text_of("| 項目 | 値 |\n| --- | --- |\n| 売上 | 10 |") == "| 項目 | 値 |\n| --- | --- |\n| 売上 | 10 |"


def test_unflatten_leaves_ordinary_lines_alone() -> None:
    assert unflatten("短い行。 次の文。") == "短い行。 次の文。"


def test_the_sample_post_keeps_its_content_and_loses_its_boilerplate() -> None:
    text = blocks_to_text(clean_body(sample("2025-08-29-1-*.md").body))
    assert "1兆2,000億円" in text and "37.5%" in text
    for junk in ("関連記事", "consulting", "アフィリエイト", "Amazon", "END", "{%", "](", "market-chart"):
        assert junk not in text
    assert text.count("54%が何らかの業務で") == 1


def test_the_flattened_sample_post_is_cleaned_like_a_normal_one() -> None:
    text = blocks_to_text(clean_body(sample("2025-09-03-1-*.md").body))
    assert text.count("推論コストを約60%削減") == 1
    assert "### 量子化の効果" in text
    assert "あわせて読みたい" not in text and "アソシエイト" not in text and "サービス詳細" not in text


def test_a_paragraph_reassembled_from_sentences_already_said_is_dropped() -> None:
    a = "量子化でメモリ使用量はおよそ4分の1になりました。"
    b = "精度の低下は多くの業務タスクで1ポイント未満でした。"
    body = f"タイトル {a}{b}\n\n別の段落です。\n\n{b}{a}"
    assert text_of(body) == f"タイトル {a}{b}\n\n別の段落です。"
