"""Questions about the service itself (「このサービスは何の記事を検索できますか？」, "what can I ask?", "how
recent is the archive?") get a short help answer from the index: the archive's name, how many posts and
from when to when, its main categories, and what readers often ask. No model call, and no citation of a
post that happens to share a word with the question."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from index.docstore import PostMeta
from index.text import Lang

_ABOUT_JA = re.compile(
    r"(?:この|本)(?:サービス|チャット|ボット|ツール|アシスタント)(?:は|で|って|では|の|に)|"
    r"(?:あなた|きみ|君)(?:は|って)(?:誰|だれ|何|なに)|(?:あなた|きみ|君)に(?:は)?何を(?:聞|質問)|"
    r"(?:何|なに|どんな|どの)(?:の|な)?(?:記事|こと)(?:を|が|について)(?:検索|質問|聞|調べ)(?:でき|られ|れ)|"
    r"(?:いつ|何年|何月)(?:から|まで)の記事|^(?:この(?:ブログ|サイト|アーカイブ)の)?記事は(?:いつ|何件|何本|どれくらい)|"
    r"(?:アーカイブ|データ)は(?:いつ|何件|どれくらい)"
)
_ABOUT_EN = re.compile(
    r"\b(?:what|which) (?:can|could|should) (?:i|we) (?:ask|search)\b|"
    r"\bwhat (?:is|are) (?:this (?:service|chat|bot|tool|site)|you)\b|\bwho are you\b|"
    r"\bwhat do you (?:know|cover|search)\b|"
    r"\bhow (?:recent|old|new|up to date) is (?:the|this|your) (?:archive|data|blog|service)\b|"
    r"\bwhat (?:posts|articles|archive) (?:can|do) (?:you|i)\b|\bhow (?:do|can) i use (?:this|you)\b",
    re.I,
)
_SHORT = 60  # characters: a question about the service is short; a long one merely mentions it


def is_about_service(question: str) -> bool:
    text = question.strip()
    return len(text) <= _SHORT and bool(_ABOUT_JA.search(text) or _ABOUT_EN.search(text))


@dataclass(frozen=True)
class ArchiveFacts:
    name: str
    posts: int
    first: str  # YYYY-MM-DD in the site's timezone
    last: str
    categories: list[str]  # the most frequent first


def archive_facts(posts: Sequence[PostMeta], tz: ZoneInfo, name: str = "", most: int = 5) -> ArchiveFacts:
    if not name and posts:
        name = urlsplit(posts[0].url).netloc
    days = sorted(p.date.astimezone(tz).date().isoformat() for p in posts)
    counts = Counter(c for p in posts for c in p.categories)
    return ArchiveFacts(name or "this archive", len(posts), days[0] if days else "", days[-1] if days else "",
                        [c for c, _ in counts.most_common(most)])  # fmt: skip


def help_text(facts: ArchiveFacts, suggestions: Sequence[str], lang: Lang) -> str:
    if lang == "en":
        text = (
            f"I answer questions from the posts of {facts.name}: {facts.posts:,} Japanese posts on AI, from "
            f"{facts.first} to {facts.last}, mostly {', '.join(facts.categories[:3])}. Each answer cites the "
            "posts it rests on; when the posts do not answer a question, I say so."
        )
        if suggestions:
            text += " Readers often ask: " + " / ".join(suggestions)
        return text
    text = (
        f"{facts.name}の記事（{facts.posts:,}件、{_ja(facts.first)}〜{_ja(facts.last)}）をもとに、AIに関する質問に"
        f"出典つきで答えます。主なカテゴリは{('、'.join(facts.categories[:3]))}です。記事に答えがないときは、そうお伝えします。"
    )
    if suggestions:
        text += "よくある質問：" + "／".join(suggestions)
    return text


def _ja(day: str) -> str:
    if not day:
        return ""
    y, m, d = day.split("-")
    return f"{int(y)}年{int(m)}月{int(d)}日"
