"""Reading a post under a time budget: front matter, cleaning and chunking run in a child process, and a
post that takes longer than `RAG_POST_SECONDS` is skipped with a warning naming it while the rest of the
archive goes in.

Every pattern that sees post text is written to run in linear time (tests/test_hostile_input.py); the
budget keeps the promise for whatever nobody thought of. A child process, not a thread: Python's `re`
and the YAML reader hold the interpreter lock for a whole call, so a stalled read in the server's own
process (`rag serve --watch`, `POST /v1/admin/ingest`) would stop every request, /healthz included."""

from __future__ import annotations

import contextlib
import pickle
import select
import subprocess
import sys
from dataclasses import dataclass
from typing import BinaryIO

from index.chunking import Chunk, ChunkingConfig, chunk_blocks
from index.cleaning import clean_body
from index.posts import MalformedPost, Post, SiteConfig, parse_post


class PostTooSlow(MalformedPost):
    """A post whose reading did not finish within the budget."""


@dataclass(frozen=True)
class Read:
    post: Post
    chunks: list[Chunk]
    notes: tuple[str, ...]  # what was cut from it (a title, a line too long), for the log


def read_post(source: str, raw: bytes, site: SiteConfig, cfg: ChunkingConfig) -> Read:
    notes: list[str] = []
    post = parse_post(source, raw, site, notes)
    return Read(post, chunk_blocks(post.source, clean_body(post.body), cfg), tuple(notes))


def _reply_loop(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The child's loop: (site, cfg) first, then (source, raw) per post; one reply each."""
    site, cfg = pickle.load(stdin)
    while True:
        try:
            source, raw = pickle.load(stdin)
        except EOFError:
            return
        try:
            reply: tuple[str, object] = ("ok", read_post(source, raw, site, cfg))
        except MalformedPost as exc:
            reply = ("malformed", str(exc))
        except Exception as exc:  # an author's typo must cost that post only
            reply = ("failed", f"{type(exc).__name__}: {exc}")
        pickle.dump(reply, stdout)
        stdout.flush()


class PostReader:
    """One child process reading posts in turn; replaced when a post runs over the budget."""

    def __init__(self, site: SiteConfig, cfg: ChunkingConfig, seconds: float) -> None:
        self.site, self.cfg, self.seconds = site, cfg, seconds
        self._child: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PostReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        # A fresh interpreter, not a fork: nothing of a server's threads or of the caller's __main__ in it.
        child = subprocess.Popen(
            [sys.executable, "-c", "from index.reading import serve; serve()"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert child.stdin is not None
        pickle.dump((self.site, self.cfg), child.stdin)
        child.stdin.flush()
        self._child = child
        return child

    def read(self, source: str, raw: bytes) -> Read:
        if self.seconds <= 0:  # no budget asked for: read here
            return read_post(source, raw, self.site, self.cfg)
        child = self._child or self._start()
        assert child.stdin is not None and child.stdout is not None
        try:
            pickle.dump((source, raw), child.stdin)
            child.stdin.flush()
            ready, _, _ = select.select([child.stdout], [], [], self.seconds)
            if not ready:
                self._kill()
                raise PostTooSlow(f"reading it took over {self.seconds:g} s (RAG_POST_SECONDS); skipped")
            status, value = pickle.load(child.stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self._kill()
            raise MalformedPost(f"the reader stopped on it ({type(exc).__name__})") from None
        if status == "ok":
            return value
        raise MalformedPost(value)

    def _kill(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait(5)
            for pipe in (self._child.stdin, self._child.stdout):
                if pipe is not None:
                    pipe.close()
        self._child = None

    def close(self) -> None:
        if self._child is not None and self._child.stdin is not None:
            with contextlib.suppress(OSError):
                self._child.stdin.close()  # the child's loop ends at the end of its input
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._child.wait(2)
        self._kill()


def serve() -> None:
    """The child's entry: replies on standard output, anything printed goes to standard error."""
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not break the replies
    _reply_loop(sys.stdin.buffer, replies)
