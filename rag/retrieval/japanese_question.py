"""An English question read in Japanese: the model renders it as a Japanese reader would ask it, and the
rendering, followed by the question as asked, is what is searched, scored for evidence and the key
passage, and put to the model (which still answers in English). BM25 cannot match English words to
the Japanese posts, and the scorers that pick evidence and the key passage read Japanese words; one
short prompt gives them some. The question as asked stays beside it because the 1.5B model's
renderings slip (a name transliterated wrongly, a country swapped), and the original corrects them."""

from __future__ import annotations

import threading

from index.text import language_of
from rag.llm.base import LLM, Message
from rag.llm.gate import ModelGate
from rag.llm.generate import Limits, complete

SYSTEM = (
    "Translate the English question into one natural Japanese question, as a reader of a Japanese blog "
    "about AI would ask it. Keep company, product and model names in Latin letters as written. "
    "Write large figures with 万, 億 or 兆 (10 billion dollars is 100億ドル). Reply with the Japanese question only."
)
MAX_CHARS = 300  # a rendering longer than this is the model rambling, not a question


def japanese_question(
    llm: LLM, gate: ModelGate, question: str, limits: Limits, cancel: threading.Event, who: str = ""
) -> str:
    """The Japanese rendering, or "" when the model is slow or failing, or wrote no Japanese (then
    everything reads the English question alone, as before)."""
    short = limits.shorter(96, 10.0, 20.0)
    messages = [Message("system", SYSTEM), Message("user", question)]
    text = complete(llm, gate, messages, short, cancel, who=who)
    if text is None:
        return ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    rendering = lines[0] if lines else ""
    if not rendering or len(rendering) > MAX_CHARS or language_of(rendering) != "ja":
        return ""
    return rendering
