"""A sentence the source supports is still dropped when it does not answer what was asked."""

from __future__ import annotations

from rag.answering.citations import Attributor
from rag.answering.evidence import Scorer
from rag.answering.focus import Focus
from rag.answering.prompts import Source

SOURCE = Source(
    1, "a.md", "https://x/a", "動画生成AI", "2024-02-20", "",
    "OpenAIは2024年2月に動画生成AI「Sora」を発表した。Soraの悪用によるディープフェイクの懸念も指摘されている。",
)  # fmt: skip


def test_a_supported_sentence_without_the_date_asked_for_is_dropped() -> None:
    scorer = Scorer(lambda t: list(t), lambda t: 1.0)
    checker = Attributor([SOURCE], scorer, focus=Focus("Soraはいつ発表された？", scorer))
    assert checker.add("Soraの悪用によるディープフェイクの懸念も指摘されている[1]。") is None
    assert checker.off_topic and checker.cited == 0
    kept = checker.add("Soraは2024年2月に発表された[1]。")
    assert kept is not None and "2024年2月" in kept


def test_a_sentence_sharing_nothing_with_the_question_is_dropped() -> None:
    scorer = Scorer(lambda t: t.lower().replace(".", "").replace("?", "").split(), lambda t: 1.0)
    source = Source(1, "b.md", "https://x/b", "t", "2025-01-01", "", "Chip X uses HBM3 memory. Atlas revenue grew 20%.")
    checker = Attributor([source], scorer, focus=Focus("how did atlas revenue change", scorer))
    assert checker.add("Chip X uses HBM3 memory [1].") is None  # supported, but not what was asked
    assert checker.add("Atlas revenue grew 20% [1].") is not None


def test_a_question_asks_for_a_date_only_when_it_says_so() -> None:
    from rag.answering.answer_type import wanted

    assert wanted("When was Sora announced?") == "date" and wanted("Soraはいつ発表された？") == "date"
    assert wanted("What was the model's score when it ranked first?") == "any"
    assert wanted("売上高はいくらですか？") == "figure" and wanted("開発したのは誰ですか？") == "name"
