"""Compiled plans: the measures' SQL is compiled once and read back by the next run, which
scores exactly the same; anything the SQL depends on changes the key, and compiles again.

The `mini` workspace of test_pipeline (two measures, one variant) on 2026-06-30.
"""

from __future__ import annotations

import ibis
import pytest
from test_pipeline import AS_OF, NOW, mini  # noqa: F401  (the fixture)

from healthscore.engine import Evaluator
from healthscore.engine.plan import Plan, plan_key
from healthscore.errors import ConfigError
from healthscore.pipeline import score
from healthscore.store.store import Store


def _evaluator(ws) -> tuple[Store, Evaluator]:
    """The store (open: close it) and an evaluator of `mini` that may read and keep plans."""
    (loaded,) = ws.open().scorecards(["mini"])
    store = ws.open().store()
    return store, Evaluator(ibis.duckdb.from_connection(store.con), loaded.scorecard,
                            store=store)


def _same(a, b) -> None:
    assert a.accounts.equals(b.accounts) and a.values.equals(b.values)
    assert a.measures.equals(b.measures)


def test_the_next_run_reads_the_plan_and_scores_the_same(mini):  # noqa: F811
    score(mini.open(), AS_OF, now=NOW)
    assert mini.query("SELECT scorecard FROM compiled_plans") == [("mini",)]
    store, ev = _evaluator(mini)
    try:
        assert ev.plan_stored  # read, not compiled
        fresh = Evaluator(ev.backend, ev.sc)  # no store: compiled here
        assert not fresh.plan_stored
        assert (ev.sql, ev.sql_accounts, ev.sql_active, ev.batch, ev.tables) == (
            fresh.sql, fresh.sql_accounts, fresh.sql_active, fresh.batch, fresh.tables)
        _same(ev.evaluate(AS_OF), fresh.evaluate(AS_OF))
    finally:
        store.close()
    # the plan survives its JSON form unchanged
    (text,) = mini.query("SELECT plan FROM compiled_plans")[0]
    plan = Plan.from_json(text)
    assert Plan.from_json(plan.to_json()) == plan


def test_a_changed_scorecard_or_table_compiles_again(mini):  # noqa: F811
    score(mini.open(), AS_OF, now=NOW)
    (first,) = mini.query('SELECT "key" FROM compiled_plans')[0]
    card = mini.root / "scorecards" / "mini.yaml"
    card.write_text(card.read_text().replace("window_days: 30", "window_days: 7"))
    score(mini.open(), AS_OF, now=NOW)
    keys = [k for (k,) in mini.query('SELECT "key" FROM compiled_plans ORDER BY created_at')]
    assert len(keys) == 2 and first in keys
    # a new column in a table the SQL reads changes the key
    with mini.open().store() as store:
        before = plan_key(store.con, "{}")
        store.con.execute("ALTER TABLE usage_events ADD COLUMN extra VARCHAR")
        assert plan_key(store.con, "{}") != before


def test_only_the_newest_plans_are_kept(mini, monkeypatch):  # noqa: F811
    monkeypatch.setattr(Store, "PLANS_KEPT", 2)
    with mini.open().store() as store:
        for k in ("a", "b", "c"):
            store.save_plan(k, "mini", '{"format": 0}')
        kept = sorted(k for (k,) in store.con.execute(
            'SELECT "key" FROM compiled_plans').fetchall())
    assert len(kept) == 2 and "c" in kept


@pytest.mark.parametrize("stored", ['{"format": 0}', '{"format": 1, "sql": 3}', '[1, 2]'])
def test_a_plan_of_another_format_or_damaged_is_compiled_again(mini, stored):  # noqa: F811
    score(mini.open(), AS_OF, now=NOW)
    with mini.open().store() as store:
        store.con.execute("UPDATE compiled_plans SET plan = ?", [stored])
    store, ev = _evaluator(mini)
    try:
        assert not ev.plan_stored
        assert Plan.from_json(store.compiled_plan(plan_key(store.con, ev.sc.model_dump_json())))
    finally:
        store.close()


def test_scoring_with_a_stored_plan_loads_neither_ibis_nor_pandas(mini):  # noqa: F811
    """The CLI's `score` on a store that holds the plan: the same snapshot as the run that
    compiled it, without importing Ibis, the measure library or pandas (about 0.8 s of the
    ~1.3 s a thousand accounts took before)."""
    import subprocess
    import sys

    score(mini.open(), AS_OF, now=NOW)
    first = mini.query("SELECT account_id, score, band FROM snapshots ORDER BY account_id")
    script = (
        "import sys\n"
        "from healthscore.cli import main\n"
        f"sys.argv = ['healthscore', 'score', '-w', {str(mini.root)!r}, '--as-of', "
        f"'{AS_OF}', '--lowest', '3']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('LOADED', sorted(m for m in ('ibis', 'pandas', 'sqlglot', "
        "'healthscore.measures.base') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert "LOADED []" in out, out
    assert "Lowest 3" in out
    again = mini.query("SELECT account_id, score, band FROM snapshots ORDER BY account_id")
    assert again == first


def test_a_scorecard_changed_after_its_plan_was_stored_is_checked_again(mini):  # noqa: F811
    """A stored plan only vouches for the definition it was compiled from: an edit that
    breaks the scorecard is reported as before, with its file and line."""
    score(mini.open(), AS_OF, now=NOW)
    card = mini.root / "scorecards" / "mini.yaml"
    card.write_text(card.read_text().replace("params: {window_days: 30}",
                                             "params: {window_dayz: 30}"))
    with pytest.raises(ConfigError) as err:
        score(mini.open(), AS_OF, now=NOW)
    assert "mini.yaml:7: groups.usage.measures.active_user_ratio.params.window_dayz" in (
        "\n".join(err.value.problems))
