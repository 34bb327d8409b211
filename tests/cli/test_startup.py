"""Start-up: ``import healthscore``, ``healthscore --help`` and the light verbs load none of the
dataframe stack; verbs load on demand, yet every one is listed, documented and runs.

Behaviour, not timing: each check runs in a fresh interpreter and looks at ``sys.modules``.
The times are measured by ``python -m bench.startup``.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import healthscore
from healthscore.cli import app
from healthscore.cli.app import VERBS, load_verbs
from healthscore.workspace import Workspace

#: What a light start must not import: the dataframe stack and the heavy optional parts.
HEAVY = ("ibis", "pandas", "pyarrow", "numpy", "duckdb", "sklearn", "fastapi", "plotly")
SRC = str(Path(healthscore.__file__).resolve().parents[1])

runner = CliRunner()


def fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter (this checkout's healthscore); it ends by printing
    ``loaded(...)``: the heavy modules it imported."""
    prelude = ("import json, sys\n"
               f"def loaded(): print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (
        SRC, os.environ.get("PYTHONPATH"))))}
    done = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_healthscore_loads_no_dataframe_stack():
    assert fresh("import healthscore\nloaded()") == []


def test_public_names_resolve_on_first_use():
    assert fresh("import healthscore\n"
                 "assert 'healthscore.pipeline' not in sys.modules\n"
                 "from healthscore.pipeline import score\n"
                 "assert healthscore.score is score and healthscore.Workspace.open\n"
                 "loaded()") != []
    assert set(healthscore.__all__) <= set(dir(healthscore))
    for name in ("score", "scores", "Workspace", "Store", "generate_demo", "TABLES"):
        assert getattr(healthscore, name) is not None
    with pytest.raises(AttributeError, match="no_such_name"):
        healthscore.no_such_name  # noqa: B018


def test_help_loads_no_verb():
    assert fresh("from healthscore.cli import main\n"
                 "assert main(['--help']) == 0\n"
                 "assert not [m for m in sys.modules if m.startswith('healthscore.cli.')\n"
                 "            and m not in ('healthscore.cli.app', 'healthscore.cli.common')]\n"
                 "loaded()") == []


def test_status_reads_the_store_without_the_dataframe_stack(tmp_path):
    Workspace.init(tmp_path / "ws")
    found = fresh("from healthscore.cli import main\n"
                  f"assert main(['status', '-w', {str(tmp_path / 'ws')!r}]) == 0\n"
                  "loaded()")
    assert found == ["duckdb"]


def test_score_help_loads_no_pipeline():
    assert "ibis" not in fresh("from healthscore.cli import main\n"
                               "assert main(['score', '--help']) == 0\n"
                               "assert 'healthscore.pipeline' not in sys.modules\n"
                               "loaded()")


def test_the_verb_table_matches_the_verbs():
    """VERBS lists each command a verb module registers, with the first paragraph of its help
    (what Typer's command list shows), so ``--help`` reads as when every verb was imported."""
    registered = {}
    for module in {v.module for v in VERBS.values()}:
        for name, command in load_verbs(module).items():
            summary = inspect.cleandoc(command.help).split("\n\n")[0].strip()
            registered[name] = (module, summary, command.short_help, command.hidden,
                                command.deprecated, bool(getattr(command, "rich_help_panel",
                                                                 None)))
    assert registered == {name: (v.module, v.summary, None, False, False, False)
                          for name, v in VERBS.items()}


def test_every_listed_verb_loads_and_shows_its_help():
    listed = runner.invoke(app, ["--help"])
    assert listed.exit_code == 0
    for name in VERBS:
        assert f" {name} " in listed.output, name
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage: " in result.output and name in result.output


def test_an_unknown_verb_is_a_usage_error_with_a_suggestion():
    result = runner.invoke(app, ["stauts"])
    assert result.exit_code == 2
    assert "No such command 'stauts'" in result.output and "'status'" in result.output


def test_the_startup_bench_times_each_row(tmp_path):
    """``python -m bench.startup`` once over on a fresh workspace, so that it does not rot."""
    Workspace.init(tmp_path / "ws")
    done = subprocess.run([sys.executable, "-m", "bench.startup", "-w", str(tmp_path / "ws"),
                           "--repeat", "1", "--quiet-wait", "0"], cwd=Path(SRC).parent,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for row in ("python -c pass", "a bare Typer app --help", "import healthscore",
                "healthscore --help", "healthscore status -w DIR", "healthscore score --help"):
        assert f"| {row}" in done.stdout, row
