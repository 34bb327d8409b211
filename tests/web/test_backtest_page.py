"""The backtests in a real browser: the scorecards page links a version to its latest backtest,
the backtests list and page draw the report's charts, and the HTML report file opens offline."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from conftest import NOW, copy_workspace
from healthscore import pipeline
from healthscore.workspace import Workspace
from web_site import (
    Server,
    _shot,
    needs_chromium,
)

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def backtested(demo_root, tmp_path_factory) -> tuple[Path, object]:
    """A copy of the demo workspace with `expansion` scored too, one backtest of `health`
    (against churn) and one of `expansion` (against expansions) recorded (the other tests'
    workspace stays as it is)."""
    root = tmp_path_factory.mktemp("web") / "backtested"
    copy_workspace(demo_root, root)  # served by this process: copied elsewhere
    ws = Workspace.open(root)
    pipeline.backfill(ws, date(2026, 4, 1), date(2026, 5, 31), step=2, now=NOW,
                      scorecards=["expansion"])
    found = pipeline.backtest(ws, "health", horizon=60, every=14)
    pipeline.backtest(ws, "expansion", horizon=60, every=14)
    return root, found


def test_the_backtest_page_and_the_html_report(backtested, page, shots, tmp_path):
    """The backtests page lists the recorded run; its page shows the AUC the run stored and
    draws every chart with plotly served by this server; the self-contained report file opens
    offline (file://, nothing fetched) and draws the same charts."""
    from healthscore.validation.report import jsonable
    from healthscore.web.report import figures, report_html

    root, found = backtested
    server = Server(root)
    try:
        page.goto(server.url + "/scorecards")  # each version links to its latest backtest
        link = page.locator("a.backtest-link")
        hrefs = {link.nth(i).get_attribute("href") for i in range(link.count())}
        assert len(hrefs) == 2 and f"/backtests/{found.run_id}" in hrefs
        page.goto(server.url + "/backtests")
        rows = page.locator("#backtests tbody tr")
        assert rows.count() == 2  # newest first: expansion, then health
        assert [rows.nth(i).locator("td.target").inner_text() for i in range(2)] == [
            "expansion", "churn"]
        _shot(page, shots, "backtests")
        rows.nth(0).locator("a").click()
        page.locator(".js-plotly-plot").first.wait_for(timeout=20000)
        assert "Expansion by band" in page.locator("main").inner_text()
        assert page.locator(".stat-green .label").text_content() == "Green flags"
        page.goto(server.url + "/backtests")
        rows.nth(1).locator("a").click()
        page.wait_for_url(re.compile(rf"/backtests/{found.run_id}$"))
        summary = jsonable(found.summary)
        expected = f"{summary['auc']:.3f}" if summary["auc"] is not None else "–"
        assert page.locator("#auc").inner_text() == expected
        n = len(figures(summary))
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length == {n}",
                               timeout=20000)
        bands = page.locator("#band-table tbody tr")
        assert [bands.nth(i).locator("td").first.inner_text() for i in range(3)] == [
            "red", "yellow", "green"]
        _shot(page, shots, "backtest")
        report = tmp_path / "report.html"
        report.write_text(report_html(summary, title="Backtest report"), encoding="utf-8")
        page.goto(report.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length == {n}",
                               timeout=20000)
        assert page.locator("#auc").inner_text() == expected
        _shot(page, shots, "backtest-report")
    finally:
        server.stop()
