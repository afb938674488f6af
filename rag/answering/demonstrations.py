"""Worked examples the model reads before every question, as earlier turns of the same chat.

Written for this project from the fictional companies of its test archives (never from an evaluation
set). Each shows one thing the 1.5B model gets wrong without it: answering from a source that says it
in other words, taking the figure of the company and period asked about when a source gives several,
taking the date asked for when one sentence holds two, answering in English from a Japanese source with
the scale right, and refusing only when nothing bears on the question. They are identical for every
question, so they sit in the cached prompt prefix and cost nothing after the first answer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Demonstration:
    sources: tuple[tuple[str, str], ...]  # (date, quoted text)
    question: str
    lang: str  # "ja" or "en"
    short: str  # the short answer with its marker, or NOT_IN_ARCHIVE
    sentence: str = ""  # what it is, with its marker (after the short answer)
    plain: str = ""  # one sentence that states the answer (when the short answer is not asked first)


DEMONSTRATIONS = (
    Demonstration(
        (
            (
                "2025-01-10",
                "ミライAIの2024年度の売上高は120億円となり、前年度の80億円から50%増えました。"
                "主力の対話モデル「ミライLM」の利用企業数は300社に達しました。",
            ),
            ("2025-07-15", "同業のソラテックは、2025年上半期の売上高が45億円だったと発表しました。"),
        ),
        "ミライAIは2024年度にどれだけ稼いだのですか？",
        "ja",
        "120億円[1]。",
        "ミライAIの2024年度の売上高で、前年度の80億円から増えました[1]。",
        "ミライAIの2024年度の売上高は120億円で、前年度の80億円から増えました[1]。",
    ),
    Demonstration(
        (
            ("2025-08-02", "ミライ市のAI利用条例は2025年3月10日に市議会で可決され、同年7月1日に施行されました。"),
            ("2025-08-20", "条例では、行政文書の作成に生成AIを使う場合に職員の確認を義務づけています。"),
        ),
        "ミライ市のAI条例が効力を持ち始めたのはいつですか？",
        "ja",
        "2025年7月1日[1]。",
        "条例は3月10日に可決され、7月1日に施行されました[1]。",
        "ミライ市のAI条例は2025年7月1日に施行されました[1]。",
    ),
    Demonstration(
        (
            ("2025-05-20", "ソラテックは新工場に総額1,500億円を投じ、2026年の稼働を目指します。"),
            (
                "2025-06-03",
                "| モデル | 入力料金 | 出力料金 |\n| ミライLM Pro | 3ドル | 15ドル |\n"
                "| ミライLM Lite | 0.8ドル | 4ドル |",
            ),
        ),
        "How much is Soratech investing in its new factory?",
        "en",
        "150 billion yen (1,500億円) [1].",
        "Soratech aims to start the factory in 2026 [1].",
        "Soratech is investing 150 billion yen (1,500億円) in its new factory [1].",
    ),
    Demonstration(
        (
            (
                "2025-06-03",
                "| モデル | 入力料金 | 出力料金 |\n| ミライLM Pro | 3ドル | 15ドル |\n"
                "| ミライLM Lite | 0.8ドル | 4ドル |",
            ),
            ("2025-02-11", "ミライAIは2025年2月、福岡に新しい開発拠点を開設しました。"),
        ),
        "ミライLM Liteを使って文章を出力させると、料金はいくらかかりますか？",
        "ja",
        "4ドル[1]。",
        "ミライLM Liteの出力料金です[1]。",
        "ミライLM Liteの出力料金は4ドルです[1]。",
    ),
    Demonstration(
        (
            ("2025-02-11", "ミライAIは2025年2月、福岡に新しい開発拠点を開設しました。"),
            ("2025-03-30", "ソラテックの従業員数は1,200人で、うち研究開発部門が400人を占めます。"),
        ),
        "ミライAIの従業員は何人いますか？",
        "ja",
        "NOT_IN_ARCHIVE",
    ),
)


def demonstration_answer(demo: Demonstration, short_first: bool) -> str:
    """The demonstration's answer in the form the prompt asks for: the short answer, then what it is;
    or one sentence that states it."""
    if not demo.sentence:
        return demo.short
    if short_first:
        return demo.short + (" " if demo.lang == "en" else "") + demo.sentence
    return demo.plain
