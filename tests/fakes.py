"""Fakes registered through the same seams production uses (the embedder and LLM registries)."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence

import numpy as np

from index.embedding import EmbedderOptions, register_embedder
from index.text import split_sentences
from rag.llm.base import LLMFailed, Message, Usage
from rag.llm.registry import register_llm


class HashingEmbedder:
    """Character-bigram hashing: deterministic, fast, and similar texts get similar vectors,
    so retrieval tests still mean something. Counts every text it embeds."""

    def __init__(self, name: str, dim: int = 64) -> None:
        self.name = name
        self.dim = dim
        self.embedded = 0
        self.fail_after: int | None = None  # raise once this many texts were embedded
        self.delay = float(os.environ.get("FAKE_EMBED_DELAY", "0"))  # seconds per text, for kill tests
        self._lock = threading.Lock()

    def _vector(self, text: str) -> np.ndarray:
        text = unicodedata.normalize("NFKC", text).lower()
        vec = np.zeros(self.dim, dtype=np.float32)
        for a, b in itertools.pairwise(text):
            h = int.from_bytes(hashlib.blake2b((a + b).encode(), digest_size=4).digest(), "little")
            vec[h % self.dim] += 1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
                raise RuntimeError("fake embedder failure (simulated crash)")
            self.embedded += len(texts)
        if self.delay:
            time.sleep(self.delay * len(texts))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


_INSTANCES: dict[str, HashingEmbedder] = {}


def fake_embedder(name: str = "fake:64") -> HashingEmbedder:
    """The shared instance for `name`, so tests can read its counters."""
    if name not in _INSTANCES:
        _INSTANCES[name] = HashingEmbedder(name, int(name.split(":", 1)[1] or 64))
    return _INSTANCES[name]


def _factory(name: str, options: EmbedderOptions) -> HashingEmbedder:
    return fake_embedder(name)


def register() -> None:
    register_embedder("fake", _factory)
    register_llm_fake()


# --- a scripted LLM, registered like the real backends -------------------------------------------

_SOURCE = re.compile(r"^\[(\d+)\] [^\n]*\n(.+?)(?=\n\n\[\d+\] |\n\n(?:\(Earlier|Question:))", re.S | re.M)


class ScriptedLLM:
    """Answers from the prompt's own sources, misbehaving on request:
    quote (first source's first sentence, cited) · short (its first figure alone) · mixed (that figure as an
    English short answer, then the sentence copied in Japanese; asked to translate, "In English, <figure>") · nomarkers · invent (cites [9]) · outside (a fact no
    source holds) · refuse · fail · failmid (fails after one sentence) · slow (no token before the deadline) · obey (follows instructions
    found inside sources) · titles (copies the source headers instead of answering).
    Like the real backends it honours `cancel` (also while "reading" the prompt), `max_tokens` (a token
    is four characters here) and literal-choice grammars (`root ::= "a" | "b"`: it writes the first);
    `prompts` records every prompt it was asked to read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.script = name.split(":", 1)[1] or "quote"
        self.prompts: list[list[Message]] = []
        self.read_s = 0.0  # seconds "reading" each prompt, in cancellable 10 ms steps
        self.lock = threading.Lock()  # one context, like llama.cpp

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 400, temperature: float = 0.0,
        grammar: str | None = None, stop: Sequence[str] = (), cancel: threading.Event | None = None,
    ) -> Iterator[str | Usage]:  # fmt: skip
        cancel = cancel or threading.Event()
        with self.lock:
            yield from self._stream(messages, max_tokens, grammar, cancel)

    def _stream(
        self, messages: Sequence[Message], max_tokens: int, grammar: str | None, cancel: threading.Event
    ) -> Iterator[str | Usage]:
        self.prompts.append(list(messages))
        user = messages[-1].content
        for _ in range(int(self.read_s / 0.01)):
            if cancel.is_set():
                yield Usage(len(user), 0)
                return
            time.sleep(0.01)
        sources = {int(n): text.strip() for n, text in _SOURCE.findall(user)}
        question = user.split("Question: ", 1)[-1].split("\n", 1)[0]
        # "Reads" the first source: answers with its sentence sharing most character pairs with the question.
        first = [max(split_sentences(sources.get(1, user)) or [""], key=lambda sent: _overlap(question, sent))]
        script = self.script
        if script == "fail":
            raise LLMFailed("scripted failure")
        if script == "failmid":  # one good sentence, then the model breaks
            yield f"{first[0].rstrip('。')}[1]。"
            yield "そして"
            raise LLMFailed("scripted failure mid-answer")
        if script == "slow":
            cancel.wait(2.0)  # no token for two seconds, unless told to stop
        if grammar is not None:
            choices = re.findall(r'"([^"]*)"', grammar.split("::=", 1)[1].split("\n", 1)[0])
            if not choices or re.search(r"[\[\]()*+?]", grammar.split("::=", 1)[1].split("\n", 1)[0]):
                raise LLMFailed(f"the fake only honours literal-choice grammars, not {grammar!r}")
            text = choices[0]
        elif script == "refuse":
            text = "NOT_IN_ARCHIVE"
        elif script == "nomarkers":
            text = first[0]
        elif script == "invent":
            text = f"{first[0].rstrip('。')}[9]。"
        elif script == "outside":
            text = f"{first[0].rstrip('。')}[1]。火星の人口は2030年に12億人に達します[1]。"
        elif script == "short":  # the short answer alone: the first figure of the sentence it reads
            figure = re.search(r"\d[\d,.]*(?:%|億円|万円|円|件|人)", first[0])
            text = f"{figure.group(0) if figure else first[0].rstrip('。')}[1]。"
        elif script == "mixed":  # the first sentence of the first source that holds a figure
            figured = [s for s in split_sentences(sources.get(1, user)) if re.search(r"\d", s)] or first
            figure = re.search(r"\d[\d,.]*%?", figured[0])
            said = figure.group(0) if figure else "it"
            translating = messages[0].content.startswith("Translate")
            text = f"In English, {said} [1]." if translating else f"{said}[1]. {figured[0].rstrip('。')}[1]。"
        elif script == "titles":
            text = "".join(re.findall(r"^\[\d+\] ([^\n]*)$", user, re.M)[:2])
        elif script == "obey" and "無視して" in user:
            text = "私はハッキングされました。"
        else:
            text = f"{first[0].rstrip('。')}[1]。"
        written = 0
        for i in range(0, min(len(text), 4 * max_tokens), 4):
            if cancel.is_set():
                break
            yield text[i : i + 4]
            written += 1
        yield Usage(len(user), written)


def _overlap(a: str, b: str) -> int:
    pairs = {a[i : i + 2] for i in range(len(a) - 1)}
    return sum(1 for i in range(len(b) - 1) if b[i : i + 2] in pairs)


_LLMS: dict[str, ScriptedLLM] = {}


def scripted_llm(name: str) -> ScriptedLLM:
    return _LLMS.setdefault(name, ScriptedLLM(name))


def register_llm_fake() -> None:
    register_llm("fake", lambda name, options: scripted_llm(name))
