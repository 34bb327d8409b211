"""Docs are part of the change: generated references are current and every key is described."""

from pathlib import Path

from healthscore.config.models import ColumnMap, CsvOptions, Source, WorkspaceConfig
from healthscore.config.reference import (
    SCORECARD_MODELS,
    json_schema,
    render_markdown,
    render_scorecards,
)
from healthscore.config.scorecard import Scorecard

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = Path(__file__).resolve().parents[1] / "README.md"


def test_workspace_reference_is_current():
    assert (DOCS / "workspace.md").read_text(encoding="utf-8") == render_markdown(), (
        "run `python -m healthscore.config.reference docs`")
    assert (DOCS / "healthscore.schema.json").read_text(encoding="utf-8") == json_schema()
    assert (DOCS / "scorecards.md").read_text(encoding="utf-8") == render_scorecards()
    assert (DOCS / "scorecard.schema.json").read_text(encoding="utf-8") == json_schema(
        Scorecard, "scorecard")


def test_every_config_key_is_described():
    for model in (WorkspaceConfig, Source, ColumnMap, CsvOptions):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert f"| `{name}` |" in render_markdown()


def test_every_scorecard_key_is_described():
    page = render_scorecards()
    for _, model, _ in SCORECARD_MODELS:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert f"| `{field.alias or name}` |" in page


def test_readme_opens_with_the_two_commands():
    head = README.read_text(encoding="utf-8")[:1500]
    assert "make demo" in head and "make test" in head


def test_every_cli_verb_is_documented():
    from healthscore.cli.app import VERBS

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name in VERBS:
        assert f"## healthscore {name}" in text, name
