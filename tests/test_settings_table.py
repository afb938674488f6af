"""The README's configuration table says what `Settings` holds: every variable, no other, each with its
real default and a description (`python -m rag.settings_table --write README.md` regenerates it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.settings import Settings
from rag.settings_table import default_text, readme_table, table, variable

README = Path(__file__).parents[1] / "README.md"
_CELL = re.compile(r"(?<!\\)\|")  # a cell border, not an escaped bar inside a description


def documented() -> dict[str, tuple[str, str]]:
    """The README's rows: variable → (default, meaning), as written."""
    rows: dict[str, tuple[str, str]] = {}
    for line in readme_table(README.read_text(encoding="utf-8")).splitlines()[2:]:
        cells = [c.strip() for c in _CELL.split(line)[1:-1]]
        assert len(cells) == 3, f"a row of the README's table has {len(cells)} cells, not 3: {line}"
        name, default, meaning = cells[0].strip("`"), cells[1], cells[2]
        assert name not in rows, f"{name} is documented twice"
        rows[name] = (default, meaning)
    return rows


FIELDS = {variable(name): field for name, field in Settings.model_fields.items()}


def test_the_readme_has_a_configuration_table() -> None:
    assert documented(), "README.md has no '| variable | default | meaning |' table"


def test_every_setting_is_documented_and_nothing_else() -> None:
    rows = documented()
    missing, extra = sorted(FIELDS.keys() - rows.keys()), sorted(rows.keys() - FIELDS.keys())
    assert not missing, f"settings missing from README.md's table: {missing}"
    assert not extra, f"README.md documents variables Settings does not have: {extra}"


def test_each_documented_default_is_the_real_one() -> None:
    wrong = {
        name: (written, default_text(FIELDS[name]))
        for name, (written, _) in documented().items()
        if name in FIELDS and written != default_text(FIELDS[name])
    }
    assert not wrong, f"README.md's defaults (written, real) differ from Settings: {wrong}"


def test_every_setting_has_a_one_line_description() -> None:
    lacking = [name for name, field in FIELDS.items() if not (field.description or "").strip()]
    assert not lacking, f"settings without a description: {lacking}"
    assert not [name for name, field in FIELDS.items() if "\n" in (field.description or "")]


def test_the_readme_table_is_the_generated_one() -> None:
    """Descriptions and order too: run `python -m rag.settings_table --write README.md` to fix."""
    assert readme_table(README.read_text(encoding="utf-8")) == table()


@pytest.mark.parametrize("name", sorted(n for n, f in FIELDS.items() if default_text(f) != "–"))
def test_a_documented_default_written_to_the_environment_gives_the_default(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table shows values as they are written in the environment; read back, each is the default."""
    field = FIELDS[name]
    monkeypatch.setenv(name, default_text(field).strip("`"))
    attribute = name.removeprefix("RAG_").lower()
    assert getattr(Settings(_env_file=None), attribute) == field.get_default(call_default_factory=True)
