"""The canonical contracts: complete, self-consistent, and documented in docs/data.md."""

from pathlib import Path

from healthscore.schemas import TABLES, render_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "data.md"


def test_docs_data_md_is_rendered_from_the_contracts():
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/data.md is out of date: run `python -m healthscore.schemas > docs/data.md`")


def test_all_thirteen_tables_of_the_product_exist():
    assert set(TABLES) == {
        "accounts", "users", "usage_events", "tickets", "surveys", "invoices", "touchpoints",
        "trainings", "advocacy", "contacts", "outcomes", "pulses", "renewals"}


def test_keys_checks_and_kinds_are_consistent():
    for t in TABLES.values():
        names = t.column_names
        assert len(names) == len(set(names)), t.name
        assert all(k in names for k in t.key), t.name
        assert (t.kind == "event") == (not t.key), t.name
        assert all(k in t.required for k in t.key), f"{t.name}: keys must be required"
        for chk in t.checks:
            assert chk.column in names and (chk.other is None or chk.other in names)
            assert all(w in names for w in chk.when)
        for c in t.columns:
            assert c.description and c.example, f"{t.name}.{c.name} needs docs and an example"


def test_every_column_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    for t in TABLES.values():
        assert f"## {t.name}" in text
        for c in t.columns:
            assert f"| `{c.name}` |" in text


def test_every_table_names_its_time_column():
    for t in TABLES.values():
        assert t.time in t.column_names
        assert t.column(t.time).type in ("date", "timestamp")
