"""healthscore.yaml validation: every error names the file, the line and the key."""

import pytest

from healthscore.errors import ConfigError, WorkspaceError
from healthscore.workspace import CONFIG_FILE, Workspace


def _open(ws, text):
    ws.file(CONFIG_FILE, text)
    return Workspace.open(ws.root)


def test_unknown_key_names_file_line_and_key_path(ws):
    with pytest.raises(ConfigError) as err:
        _open(ws, """\
            name: t
            sources:
              crm:
                table: accounts
                path: a.csv
                colums: {}
            """)
    problems = err.value.problems
    assert len(problems) == 1
    assert f"{CONFIG_FILE}:6" in problems[0] and "sources.crm.colums" in problems[0]
    assert "unknown key" in problems[0]


def test_unknown_table_lists_what_is_allowed(ws):
    with pytest.raises(ConfigError) as err:
        _open(ws, "name: t\nsources:\n  crm:\n    table: acounts\n    path: a.csv\n")
    msg = str(err.value)
    assert ":4" in msg and "sources.crm.table" in msg and "'accounts'" in msg


def test_canonical_column_that_does_not_exist(ws):
    with pytest.raises(ConfigError) as err:
        _open(ws, """\
            name: t
            sources:
              crm:
                table: accounts
                path: a.csv
                columns:
                  account_id: ID
                  revenue: ARR
            """)
    msg = str(err.value)
    assert "'revenue' not a column of table 'accounts'" in msg
    assert f"{CONFIG_FILE}:8: sources.crm.columns.revenue:" in msg


def test_bad_timezone_and_many_problems_at_once(ws):
    with pytest.raises(ConfigError) as err:
        _open(ws, """\
            name: t
            timezone: Mars/Olympus
            sources:
              crm: {table: accounts, path: a.csv, format: xlsx}
            """)
    problems = err.value.problems
    assert any(":2" in p and "timezone" in p and "unknown time zone" in p for p in problems)
    assert any(":4" in p and "sources.crm.format" in p for p in problems)


def test_valid_from_only_for_state_tables(ws):
    with pytest.raises(ConfigError, match="valid_from.*only applies to state tables"):
        _open(ws, """\
            name: t
            sources:
              crm: {table: accounts, path: a.csv}
              desk: {table: tickets, path: t.csv, valid_from: {column: x}}
            """)


def test_workspace_needs_an_accounts_source(ws):
    with pytest.raises(ConfigError, match="no source feeds the `accounts` table"):
        _open(ws, "name: t\nsources:\n  desk: {table: tickets, path: t.csv}\n")


def test_column_map_needs_column_or_value(ws):
    with pytest.raises(ConfigError, match="give either `column`"):
        _open(ws, """\
            name: t
            sources:
              crm:
                table: accounts
                path: a.csv
                columns:
                  plan: {map: {a: b}}
            """)


def test_yaml_syntax_error_names_the_line(ws):
    with pytest.raises(ConfigError, match=rf"{CONFIG_FILE}:4: not valid YAML.*started at line 3"):
        _open(ws, "name: t\nsources:\n  crm: [unclosed\n")


def test_duplicate_keys_are_refused(ws):
    with pytest.raises(ConfigError, match="duplicate key 'name'"):
        _open(ws, "name: a\nname: b\n")


def test_not_a_workspace(tmp_path):
    with pytest.raises(WorkspaceError, match="not a healthscore workspace"):
        Workspace.open(tmp_path)


def test_init_refuses_to_overwrite(tmp_path):
    Workspace.init(tmp_path / "w")
    with pytest.raises(WorkspaceError, match="already exists"):
        Workspace.init(tmp_path / "w")


def test_init_template_is_valid_and_documented(tmp_path):
    ws = Workspace.init(tmp_path / "acme")
    assert ws.config.name == "acme" and ws.config.sources == {}
    assert ws.store_path.exists()
    text = ws.config_path.read_text()
    assert "docs/sources.md" in text and "format: epoch_ms" in text


def test_memory_limit_is_checked_and_applied(ws):
    with pytest.raises(ConfigError, match=r"healthscore.yaml:2: memory_limit"):
        _open(ws, "name: t\nmemory_limit: lots\n")
    w = _open(ws, "name: t\nmemory_limit: 2GB\n")
    w.store(create=True).close()
    with w.store(read_only=True) as store:
        limit = store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit.replace(" ", "") in ("1.8GiB", "1.9GiB", "2.0GiB", "2GB", "1.8GB", "1.9GB")
