"""Every regular expression of the project that can see post or request text, found by reading the code,
and the hostile texts that make a backtracking pattern take quadratic or worse time.

Patterns come from two places: compiled patterns held by any module of index/, rag/ and api/ (also
inside lists, tuples and dicts), and literal patterns passed to re.sub/search/match/... in their
source. Each is run over each hostile text in a child process, so a pattern that never returns is
killed and reported instead of hanging the test run."""

from __future__ import annotations

import ast
import importlib
import multiprocessing as mp
import pkgutil
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("index", "rag", "api")
SIZE = 100_000
LIMIT_S = 0.5
_CALLS = {"compile", "sub", "subn", "search", "match", "fullmatch", "findall", "finditer", "split"}

# Runs of one character or one short token: what a backtracking pattern stumbles over (a run of spaces
# between two letters, thousands of 「{%」 or 「[」, a code line of figures). Each is also tried with a
# letter at both ends, so a pattern that needs the run to end in something else backtracks over all of it.
UNITS = (
    " ", "\n", "\t", "　", "#", "# ", "-", "--", "*", "**", "_", "[", "]", "[a", "![", "(", "{", "{%", "{{", "{:",
    "<", "<|", "</", "<a ", "|", "| ", "1", "1 ", "1,", "1.", "1円 ", "12億", "1兆", "a", "a ", "A", "あ", "あ ",
    "。", "、", ":", "!", "?", ".", "$", "¥", "~", "〜", "「", "（", "ignore ", "AIは", "say ", "http://", "www.",
    "a.com ", "END", "--END", "2025年", "第", "Q1 ", "https://a/", "\\[", "@", "=", "aa-", "1-",
)  # fmt: skip


def hostile_texts() -> Iterator[tuple[str, str]]:
    for unit in UNITS:
        run = unit * (SIZE // len(unit))
        yield f"{unit!r} x {len(run) // len(unit)}", run
        yield f"a + {unit!r} x {len(run) // len(unit)} + b", "a" + run[: SIZE - 2] + "b"


def _flags(node: ast.expr | None) -> int:
    """re.I | re.M written in the call; anything else counts as no flags."""
    if node is None:
        return 0
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "re":
        return int(getattr(re, node.attr, 0))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _flags(node.left) | _flags(node.right)
    return 0


def literal_patterns(path: Path) -> Iterator[tuple[str, re.Pattern[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        f = node.func
        if not (isinstance(f.value, ast.Name) and f.value.id == "re" and f.attr in _CALLS and node.args):
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            flags_arg = next((k.value for k in node.keywords if k.arg == "flags"), None)
            if flags_arg is None and f.attr == "compile" and len(node.args) > 1:
                flags_arg = node.args[1]
            try:
                yield f"{path.relative_to(ROOT)}:{node.lineno}", re.compile(first.value, _flags(flags_arg))
            except re.error:
                continue


def _held(value: Any, depth: int = 0) -> Iterator[re.Pattern[str]]:
    if isinstance(value, re.Pattern):
        yield value
    elif depth < 3 and isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _held(item, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for item in value.values():
            yield from _held(item, depth + 1)


def project_patterns() -> dict[str, re.Pattern[str]]:
    """Every pattern, by where it was found; one entry per distinct (pattern, flags)."""
    found: dict[tuple[str, int], tuple[str, re.Pattern[str]]] = {}
    for package in PACKAGES:
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            try:
                module = importlib.import_module(info.name)
            except Exception:  # a module needing an optional dependency: its literals are still read below
                continue
            for name, value in vars(module).items():
                for pattern in _held(value):
                    if isinstance(pattern.pattern, str):
                        found.setdefault((pattern.pattern, pattern.flags), (f"{info.name}.{name}", pattern))
        for path in sorted((ROOT / package).rglob("*.py")):
            for where, pattern in literal_patterns(path):
                found.setdefault((pattern.pattern, pattern.flags), (where, pattern))
    return dict(found.values())


def _worst(pattern: str, flags: int, out: Any) -> None:
    compiled = re.compile(pattern, flags)
    for label, text in hostile_texts():
        started = time.perf_counter()
        for _ in compiled.finditer(text):
            pass
        compiled.fullmatch(text)
        out.put((label, time.perf_counter() - started))
    out.put(None)


def slowest(pattern: re.Pattern[str], give_up_s: float = 10.0) -> tuple[str, float]:
    """The hostile text this pattern takes longest over, and how long (give_up_s when it never returned)."""
    context = mp.get_context("fork")
    out: Any = context.Queue()
    child = context.Process(target=_worst, args=(pattern.pattern, pattern.flags, out), daemon=True)
    child.start()
    worst = ("", 0.0)
    deadline = time.monotonic() + give_up_s
    last = ""
    try:
        while True:
            try:
                item = out.get(timeout=max(0.01, deadline - time.monotonic()))
            except Exception:
                return (f"after {last or 'the start'}", give_up_s)
            if item is None:
                return worst
            last = item[0]
            if item[1] > worst[1]:
                worst = item
            deadline = time.monotonic() + give_up_s
    finally:
        child.kill()
        child.join()


def hostile_post(body: str, title: str = "題") -> bytes:
    """A post file of this body, dated and titled like the archive's."""
    return f'---\ntitle: "{title}"\ndate: 2025-09-01 10:00:00 +0900\n---\n{body}\n'.encode()


# Post bodies that stalled `rag ingest` before its patterns were rewritten (issue 18).
HOSTILE_BODIES = {
    "heading-of-spaces.md": "#" + " " * 5000 + "x",
    "spaces-between-letters.md": "a" + " " * 600_000 + "b",
    "liquid-openers.md": "{%" * 40_000,
    "brackets.md": "[" * 40_000,
    "figures-line.md": "1円 " * 75_000,
    "links.md": "[a](" * 30_000,
    "dashes.md": "-" * 100_000 + "END",
    "emphasis.md": "**a" * 40_000,
    "attributes.md": "{:" * 40_000,
}
