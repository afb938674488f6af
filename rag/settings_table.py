"""The README's configuration table, generated from `Settings` so that the two cannot drift apart
(tests/test_settings_table.py fails on any difference).

    python -m rag.settings_table                # print the table
    python -m rag.settings_table --write README.md  # replace the table in the README
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from pydantic.fields import FieldInfo

from rag.settings import Settings

HEADER = ("| variable | default | meaning |", "| --- | --- | --- |")
# The README's table: the header row up to the first line that is not a table row.
_TABLE = re.compile(r"^\| variable \| default \| meaning \|\n(?:\|.*\n?)*", re.M)


def variable(name: str) -> str:
    """The environment variable of a field."""
    return f"{Settings.model_config.get('env_prefix', '')}{name}".upper()


def default_text(field: FieldInfo) -> str:
    """A default as it would be written in the environment; unset and empty alike as a dash."""
    value = field.get_default(call_default_factory=True)
    if value is None or value == "" or value == []:
        return "–"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def row(name: str, field: FieldInfo) -> str:
    meaning = (field.description or "").replace("|", "\\|")  # a bare | would start a new cell
    return f"| `{variable(name)}` | {default_text(field)} | {meaning} |"


def table() -> str:
    return "\n".join([*HEADER, *(row(name, field) for name, field in Settings.model_fields.items())]) + "\n"


def readme_table(text: str) -> str:
    """The configuration table as the README holds it (empty when it has none)."""
    found = _TABLE.search(text)
    return found.group(0) if found else ""


def main() -> None:
    parser = argparse.ArgumentParser(description="The RAG_* settings as a markdown table.")
    parser.add_argument("--write", type=Path, metavar="README", help="replace the table in this file")
    args = parser.parse_args()
    if args.write is None:
        print(table(), end="")
        return
    text = args.write.read_text(encoding="utf-8")
    if not readme_table(text):
        raise SystemExit(f"error: {args.write} has no '{HEADER[0]}' table to replace")
    args.write.write_text(_TABLE.sub(lambda _: table(), text, count=1), encoding="utf-8")


if __name__ == "__main__":
    main()
