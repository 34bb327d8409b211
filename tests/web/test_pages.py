"""The dashboard's pages in a real browser: portfolio, accounts, account, pulse entry and its
protection, scorecards, an empty workspace, a busy store, odd account ids, body limits."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from healthscore import read
from healthscore.workspace import Workspace
from web_site import (
    NOW,
    XSS,
    _column,
    _free_port,
    _oracle,
    _plot_traces,
    _shot,
    needs_chromium,
)

pytestmark = needs_chromium


def test_portfolio_page(site, page, shots, demo_root):
    response = page.goto(site.url + "/")
    assert response.status == 200
    assert page.locator("h1").inner_text().startswith("Portfolio")
    summary = page.locator(".stat")
    assert summary.count() == 4
    oracle = _oracle(demo_root, per_page=500)
    counts = {b: sum(1 for r in oracle["rows"] if r["band"] == b) for b in read.BANDS}
    for i, b in enumerate(read.BANDS):
        assert summary.nth(i).locator(".big").inner_text() == f"{counts[b]:,}"
    assert "2026-05-31" in page.locator(".asof").inner_text()
    assert _plot_traces(page, "#band-chart") == 3
    assert page.evaluate("document.querySelector('#band-chart').data[0].x.length") == 31
    assert page.locator("#drops tbody tr").count() > 0
    _shot(page, shots, "portfolio")
    # The ARR-at-risk card opens the accounts it counts.
    at_risk = page.locator("#at-risk .sub").first.inner_text()
    page.click("#at-risk")
    page.wait_for_selector("h1")
    n = int(re.match(r"([\d,]+) red or yellow", at_risk).group(1).replace(",", ""))
    assert page.locator("#accounts tbody tr").count() == n if n else \
        page.get_by_text("No accounts match").is_visible()


def _number(text: str) -> float:
    return float(text.split("\n")[0].replace(",", "").replace("−", "-").strip("▲▼▶ "))


def test_accounts_sort_filter_search_paginate(site, page, shots, demo_root):
    oracle = _oracle(demo_root, per_page=500)["rows"]
    page.goto(site.url + "/accounts?per_page=20")
    assert page.locator("#total").inner_text() == str(len(oracle))
    scores = [_number(t) for t in _column(page, 2)]
    assert len(scores) == 20 and scores == sorted(scores)
    _shot(page, shots, "accounts")
    # Page 2 continues where page 1 stopped.
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"page=2"))
    assert "Page 2 of 3" in page.locator(".pager").inner_text()
    ids = [t.split("\n")[-1] for t in _column(page, 1)]
    assert ids == [r["account_id"] for r in oracle[20:40]]
    # Sort by ARR, then toggle to descending.
    page.click("th a[data-sort=arr]")
    page.wait_for_url(re.compile(r"sort=arr"))
    page.click("th a[data-sort=arr]")
    page.wait_for_url(re.compile(r"desc=1"))
    arr = [_number(t) for t in _column(page, 5)]
    assert arr == sorted(arr, reverse=True)
    assert arr[0] == max(r["arr"] for r in oracle)
    # Filter: red and yellow, one segment, via the form.
    page.goto(site.url + "/accounts")
    page.check("input[name=band][value=red]")
    page.check("input[name=band][value=yellow]")
    page.select_option("select[name=segment]", "smb")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"segment=smb"))
    expected = [r for r in oracle if r["band"] in ("red", "yellow") and r["segment"] == "smb"]
    assert page.locator("#total").inner_text() == str(len(expected))
    assert set(_column(page, 3)) <= {"red", "yellow"}
    assert set(_column(page, 7)) == {"smb"}
    _shot(page, shots, "accounts-filtered")
    # Renewal window and CSM.
    csm = oracle[0]["csm"]
    page.goto(site.url + f"/accounts?csm={csm}&renewal_within=180")
    expected = [r for r in oracle if r["csm"] == csm and r["days_to_renewal"] is not None
                and 0 <= r["days_to_renewal"] <= 180]
    assert int(page.locator("#total").inner_text()) == len(expected)
    # Search by a part of a name, ignoring case.
    word = oracle[3]["name"].split()[0]
    page.goto(site.url + "/accounts")
    page.fill("input[name=q]", word.upper())
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"q="))
    names = [t.split("\n")[0] for t in _column(page, 1)]
    assert names and all(word.lower() in n.lower() for n in names)
    assert len(names) == sum(1 for r in oracle if word.lower() in r["name"].lower())
    # Nothing matches: a clear empty state, not an error.
    page.goto(site.url + "/accounts?q=zzzz-no-such-account")
    assert page.get_by_text("No accounts match").is_visible()
    # Bad input names the field.
    response = page.goto(site.url + "/accounts?sort=name;drop&renewal_within=7")
    assert response.status == 400
    assert "sort" in page.locator("h1").inner_text()


def test_account_page_chart_breakdown_and_why(site, page, shots, demo_root):
    page.goto(site.url + "/accounts?sort=delta_30d")
    first = page.locator("a.acct").first
    name = first.inner_text()
    first.click()
    page.wait_for_selector("#account-name")
    assert page.locator("#account-name").inner_text() == name
    assert _plot_traces(page, "#score-chart") == 1
    points = page.evaluate("document.querySelector('#score-chart').data[0].y.length")
    assert points == 31
    shown = float(page.locator("#score").inner_text())
    assert shown == pytest.approx(
        page.evaluate("document.querySelector('#score-chart').data[0].y.slice(-1)[0]"),
        abs=0.05)
    rows = page.locator("#breakdown tr.measure")
    assert rows.count() >= 10
    # The points of the measures add up to the score.
    points_col = page.locator("#breakdown tr.measure td:nth-child(5)").all_inner_texts()
    assert sum(float(p) for p in points_col) == pytest.approx(shown, abs=0.1 * len(points_col))
    why = page.locator("#why").inner_text()
    assert "2026-05-01 → 2026-05-31" in why and "points" in why
    for heading in ("Tickets", "NPS and surveys", "Touchpoints", "Invoices"):
        assert page.locator("#activity h3", has_text=heading).count() == 1
    _shot(page, shots, "account")


def test_add_a_pulse(site, page, shots, demo_root):
    page.goto(site.url + "/accounts/ACC-000010")
    page.select_option("select[name=value]", "red")
    page.fill("input[name=author]", "maria.lopez")
    page.fill("textarea[name=comment]", "Champion left; <b>budget</b> frozen")
    page.fill("input[name=expires]", "2027-01-31")
    page.click("#pulse-form button[type=submit]")
    page.wait_for_url(re.compile(r"added=pulse"))
    assert page.locator(".flash").is_visible()
    first = page.locator("#pulses tbody tr").first.inner_text()
    assert "Champion left; <b>budget</b> frozen" in first and "1/5" in first
    assert "2027-01-31" in first
    _shot(page, shots, "account-pulse")
    with Workspace.open(demo_root).store(read_only=True) as store:
        stored = store.con.execute(
            "SELECT value, author, comment, expires_at, _source FROM pulses WHERE account_id = "
            "'ACC-000010' AND author = 'maria.lopez'").fetchall()
    assert stored == [(1, "maria.lopez", "Champion left; <b>budget</b> frozen",
                       datetime(2027, 1, 31), "manual")]


def _token(client: httpx.Client, path: str) -> str:
    html = client.get(path).text
    return re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)


def test_pulse_form_errors_are_shown_on_the_page(site):
    with httpx.Client(base_url=site.url) as client:
        token = _token(client, "/accounts/ACC-000011")
        response = client.post("/accounts/ACC-000011/pulses",
                               data={"token": token, "value": "purple", "author": "",
                                     "comment": "x", "expires": "31/01/2027"},
                               headers={"Origin": site.url})
        assert response.status_code == 400
        for message in ("value: choose red, yellow, green or 1-5",
                        "author: say who gives this pulse", "expires: &#39;31/01/2027&#39; is "
                        "not a date"):
            assert message in response.text
        # A past expiry is refused by the store's own rule, and shown.
        response = client.post("/accounts/ACC-000011/pulses",
                               data={"token": token, "value": "4", "author": "ann",
                                     "expires": "2020-01-01"}, headers={"Origin": site.url})
        assert response.status_code == 400 and "expire before it is given" in response.text
        # A good one redirects (303) to the account page.
        response = client.post("/accounts/ACC-000011/pulses",
                               data={"token": token, "value": "4", "author": "ann"},
                               headers={"Origin": site.url})
        assert response.status_code == 303
        assert response.headers["location"] == "/accounts/ACC-000011?added=pulse#pulses"


class _Attacker(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = textwrap.dedent(f"""
            <form id="f" method="post" action="{self.target}">
              <input name="value" value="1"><input name="author" value="mallory">
              <input name="token" value="{'0' * 64}">
            </form><script>document.getElementById('f').submit()</script>""").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_cross_site_posts_are_refused(site, browser, demo_root):
    target = site.url + "/accounts/ACC-000012/pulses"
    with httpx.Client(base_url=site.url) as client:
        assert client.post(target, data={"value": "1", "author": "x"}).status_code == 403
        token = _token(client, "/accounts/ACC-000012")  # a genuine cookie and token ...
        response = client.post(target, data={"token": token, "value": "1", "author": "x"},
                               headers={"Origin": "http://evil.example"})
        assert response.status_code == 403  # ... sent from another site
        assert "another site" in response.text
        wrong = client.post(target, data={"token": "0" * 64, "value": "1", "author": "x"})
        assert wrong.status_code == 403
    # A real page on another origin that posts the form as soon as it loads.
    _Attacker.target = target
    evil = HTTPServer(("127.0.0.1", _free_port()), _Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site.url + "/accounts/ACC-000012")  # the victim has a session cookie
        with page.expect_response(lambda r: r.url == target) as posted:
            page.goto(f"http://localhost:{evil.server_address[1]}/")
        assert posted.value.status == 403
    finally:
        context.close()
        evil.shutdown()
    with Workspace.open(demo_root).store(read_only=True) as store:
        assert store.con.execute("SELECT count(*) FROM pulses WHERE account_id = 'ACC-000012' "
                                 "AND _source = 'manual'").fetchall() == [(0,)]


def test_script_in_an_account_name_stays_text(site, page, shots):
    page.goto(site.url + "/accounts?q=script")
    link = page.locator("a.acct")
    assert link.count() == 1 and link.inner_text() == XSS
    link.click()
    page.wait_for_selector("#account-name")
    assert page.locator("#account-name").inner_text() == XSS
    assert page.title().startswith(XSS)
    assert page.evaluate("document.querySelectorAll('main script:not([type])').length") == 0
    page.wait_for_load_state("load")  # leaving while plotly.min.js loads would abort it
    page.goto(site.url + "/")  # movers may list it too
    csp = httpx.get(site.url + "/").headers["content-security-policy"]
    assert "script-src 'self'" in csp
    _shot(page, shots, "account-xss")


def test_scorecards_page(site, page, shots):
    page.goto(site.url + "/scorecards")
    assert page.locator("section.scorecard").count() == 2
    health = page.locator("#sc-health")
    assert "red below 50" in health.inner_text()
    assert health.locator("details.variant").count() == 3
    assert health.locator("table.versions tbody tr").count() == 1
    assert "31" in health.locator("table.versions").inner_text()
    assert "Never used to score yet" in page.locator("#sc-expansion").inner_text()
    assert "Active seats (30 days)" in health.inner_text()
    _shot(page, shots, "scorecards")


def test_empty_workspace_says_no_data_yet(empty_site, page, shots, empty_root):
    for path, name in (("/", "empty-portfolio"), ("/accounts", "empty-accounts"),
                       ("/scorecards", "empty-scorecards")):
        response = page.goto(empty_site.url + path)
        assert response.status == 200, path
        assert page.get_by_text(re.compile("No (data|scorecards) yet")).first.is_visible(), path
        _shot(page, shots, name)
    response = page.goto(empty_site.url + "/accounts/ACC-1")
    assert response.status == 404 and "No account" in page.locator("h1").inner_text()
    # A workspace with a scorecard but no scores yet.
    demo = Path(__file__).parents[2] / "src/healthscore/demo/scorecards/health.yaml"
    (empty_root / "scorecards").mkdir(exist_ok=True)
    shutil.copy(demo, empty_root / "scorecards/health.yaml")
    try:
        for path in ("/", "/accounts"):
            page.goto(empty_site.url + path)
            assert page.get_by_text("has no scores yet").is_visible(), path
        _shot(page, shots, "no-scores-yet")
    finally:
        shutil.rmtree(empty_root / "scorecards")


def test_a_running_job_gives_503_not_500(empty_site, empty_root):
    """A page that has to open the store while another process holds it answers 503. The
    account page always opens it (an account's attributes are not cached); /scorecards, once
    visited (test_empty_workspace_says_no_data_yet), is answered from the read cache without
    opening the file, and keeps answering 200 until the job writes."""
    store = Workspace.open(empty_root).store_path
    # a job opens the store as every command does: it waits for the file, and the server
    # (which may hold it open for reading since the last request) lets go when it waits
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from healthscore.store import Store; "
         f"s = Store({str(store)!r}, wait=30); print('ready', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        response = httpx.get(empty_site.url + "/accounts/ACC-1")
        assert response.status_code == 503
        assert "being updated" in response.text and response.headers["retry-after"] == "5"
    finally:
        holder.communicate("\n", timeout=30)
    assert httpx.get(empty_site.url + "/accounts/ACC-1").status_code == 404  # no such account
    assert httpx.get(empty_site.url + "/scorecards").status_code == 200


def test_an_account_id_with_a_slash_has_a_page_and_takes_pulses(site, demo_root):
    """Links quote "/" as %2F, which the server decodes: the account page and its pulse form
    must still reach the account instead of "No such page"."""
    import json

    from healthscore.sources.records import ingest_records

    weird = "acme/eu 1é"
    with Workspace.open(demo_root).store() as store:
        ingest_records(store, "accounts", [json.dumps({"account_id": weird, "name": "Acme EU"})],
                       now=NOW)
    path = "/accounts/" + quote(weird, safe="")
    with httpx.Client(base_url=site.url) as client:
        page = client.get(path)
        assert page.status_code == 200 and "Acme EU" in page.text
        token = _token(client, path)
        response = client.post(path + "/pulses", headers={"Origin": site.url},
                               data={"token": token, "value": "green", "author": "ann"})
        assert response.status_code == 303, response.text
        assert response.headers["location"] == path + "?added=pulse#pulses"
    with Workspace.open(demo_root).store(read_only=True) as store:
        assert store.con.execute("SELECT value FROM pulses WHERE account_id = ?",
                                 [weird]).fetchall() == [(5,)]


def test_a_form_body_over_the_limit_gets_413_not_500(site):
    """A chunked form post over api.max_body_mb (10 MiB) is refused while it is read (413);
    one field over Starlette's 1 MiB field limit is its 400 — both pages, never a 500."""
    def chunks(field: int, count: int):
        for i in range(count):
            yield f"f{i}=".encode() + b"a" * field + b"&"

    url = site.url + "/accounts/ACC-000011/pulses"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = httpx.post(url, content=chunks(900 * 1024, 12), headers=form, timeout=60)
    assert response.status_code == 413
    assert "over the limit" in response.text
    response = httpx.post(url, content=chunks(2 * 1024 * 1024, 1), headers=form, timeout=60)
    assert response.status_code == 400
    assert "maximum size" in response.text


# -- the date picker: every page on an earlier scored date -------------------------------------
# Expected values come from the DuckDB file itself (_sql), not from healthscore.read, which the
# pages use: the snapshots of the health scorecard's current version on a date.
