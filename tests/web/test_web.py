"""The dashboard in a real browser: a real uvicorn serving a small scored demo workspace (and an
empty one), driven by Debian's Chromium through Playwright.

Screenshots of every page go to ``$HS_SCREENSHOTS`` (default ``test-artifacts/screenshots`` in
the repository); the run's summary prints the folder.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import uvicorn

from conftest import screenshot_folder
from healthscore import pipeline, read
from healthscore.demo import generate_demo
from healthscore.formatting import money
from healthscore.server import create_app
from healthscore.sources import ingest
from healthscore.workspace import Workspace

CHROMIUM = "/usr/bin/chromium"
NOW = datetime(2026, 6, 1, 6, 0)
XSS = "<script>alert(1)</script>"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing (make test installs it with apt)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real uvicorn serving ``create_app(root)`` on a free port, in a background thread."""

    def __init__(self, root: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(root), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    """A 50-account demo company scored with `health` every other day over April-May 2026
    (31 dates), with one account renamed to a script tag."""
    root = tmp_path_factory.mktemp("web") / "demo"
    generate_demo(root, accounts=50, seed=3, end=date(2026, 6, 1))
    ws = Workspace.open(root)
    ingest(ws, now=NOW)
    with ws.store() as store:  # a hostile name, as a CRM export could carry it
        store.con.execute("UPDATE accounts SET name = ? WHERE account_id = 'ACC-000002'", [XSS])
    pipeline.backfill(ws, date(2026, 4, 1), date(2026, 5, 31), step=2, now=NOW,
                     scorecards=["health"])
    return root


@pytest.fixture(scope="module")
def site(demo_root):
    server = Server(demo_root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def empty_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("web") / "empty"
    Workspace.init(root, name="acme")
    return root


@pytest.fixture(scope="module")
def empty_site(empty_root):
    server = Server(empty_root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = screenshot_folder()
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")  # also named in the run's summary (conftest.py)
    return folder


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.failed = []
    page.on("requestfailed", lambda r: page.failed.append(r.url))
    yield page
    assert page.dialogs == [], "a script ran a dialog"
    assert page.errors == [], "JavaScript errors on the page"
    assert page.failed == [], "requests failed (nothing may come from outside this server)"
    context.close()


def _shot(page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _oracle(root: Path, **kw) -> dict:
    ws = Workspace.open(root)
    with read.open_reader(ws) as r:
        return read.accounts(r, read.card(ws, "health"), **kw)


def _plot_traces(page, selector: str) -> int:
    page.wait_for_selector(f"{selector}.js-plotly-plot .main-svg", timeout=15000)
    return page.evaluate(f"document.querySelector('{selector}').data.length")


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


def _column(page, index: int) -> list[str]:
    return page.locator(f"#accounts tbody tr td:nth-child({index})").all_inner_texts()


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
    from urllib.parse import quote

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

EARLIER = date(2026, 4, 15)  # a scored date (every other day from 2026-04-01)
UNSCORED = date(2026, 4, 14)  # between two scored dates


def _sql(root: Path, sql: str, params: list | tuple = ()) -> list[tuple]:
    """The rows of ``sql`` on the workspace's store, opened read-only."""
    with Workspace.open(root).store(read_only=True) as store:
        return store.con.execute(sql, list(params)).fetchall()


def _version(root: Path) -> str:
    """The health scorecard's current version: the one the pages read."""
    return read.card(Workspace.open(root), "health").version


#: The snapshots of the health scorecard's version given as the first parameter.
HEALTH = "FROM snapshots WHERE scorecard = 'health' AND version = ?"


def _scored_dates(root: Path) -> list[date]:
    return [d for (d,) in _sql(root, f"SELECT DISTINCT as_of {HEALTH} ORDER BY 1",
                               [_version(root)])]


def _band_ids(root: Path, day: date) -> dict[str, list[str]]:
    """The accounts of each band on ``day``, by account id."""
    rows = _sql(root, f"SELECT band, list(account_id ORDER BY account_id) {HEALTH} "
                      "AND as_of = ? GROUP BY band", [_version(root), day])
    found = dict(rows)
    return {b: found.get(b, []) for b in read.BANDS}


def _score(root: Path, account_id: str, day: date) -> float | None:
    rows = _sql(root, f"SELECT score {HEALTH} AND as_of = ? AND account_id = ?",
                [_version(root), day, account_id])
    return rows[0][0] if rows else None


def _params(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


def _links_losing(page, **kept: str) -> list[str]:
    """The page's links (navigation and content) whose query lost one of ``kept``; the brand
    and the scorecards and backtests pages drop the date on purpose (they are not of a date),
    the date picker's links change it (and are checked on their own), the scorecard switch
    changes the scorecard but keeps the date."""
    hrefs = page.eval_on_selector_all(
        "header nav a:not([href^='/scorecards']):not([href^='/backtests']), "
        "main a[href^='/']:not(#asof-form a)",
        "els => els.map(e => e.getAttribute('href'))")
    lost = [h for h in hrefs if any(_params(h).get(k) != [v] for k, v in kept.items())]
    switch = page.eval_on_selector_all("header .switch a",
                                       "els => els.map(e => e.getAttribute('href'))")
    return lost + [h for h in switch if _params(h).get("as_of") != [kept["as_of"]]]


def _nearest_hint(dates: list[date], day: date) -> str:
    """What a 404 for ``day`` must say: how many dates are scored, the first and the last, and
    the two scored dates on either side of ``day``."""
    near = [d for d in dates if d < day][-2:] + [d for d in dates if d > day][:2]
    return (f"{len(dates)} dates are scored, {dates[0]} to {dates[-1]}; nearest: "
            + ", ".join(str(d) for d in near))


def test_an_earlier_date_from_the_picker_carries_to_accounts_and_an_account(
        site, page, shots, demo_root):
    """Pick 2026-04-15 in the portfolio's date picker: the portfolio, the band card's account
    list and an account's page all show that date, their links keep it, and "latest" leads
    back to 2026-05-31.

    Expected values are SQL on the store (``HEALTH`` = the health scorecard's current
    version), e.g. the band cards::

        SELECT band, list(account_id) FROM snapshots
        WHERE scorecard = 'health' AND version = ? AND as_of = '2026-04-15' GROUP BY band

    the neighbouring dates are the scored dates before and after it in ``SELECT DISTINCT
    as_of``, and the account's score is its ``snapshots.score`` on the date, to one decimal.
    """
    day = EARLIER.isoformat()
    dates = _scored_dates(demo_root)
    i = dates.index(EARLIER)
    before, after, latest = dates[i - 1], dates[i + 1], dates[-1]
    assert (before, after, latest) == (date(2026, 4, 13), date(2026, 4, 17), date(2026, 5, 31))
    bands = _band_ids(demo_root, EARLIER)
    now = _band_ids(demo_root, latest)
    assert bands != now  # else a page ignoring the date would pass

    page.goto(site.url + "/?scorecard=health")
    assert page.locator("#as-of").inner_text() == str(latest)
    page.fill("#as_of", day)
    page.click("#asof-form button[type=submit]")
    page.wait_for_url(re.compile(rf"as_of={day}"))
    assert _params(page.url) == {"scorecard": ["health"], "as_of": [day]}
    assert page.locator("#as-of").inner_text() == day
    assert page.input_value("#as_of") == day
    for b in read.BANDS:
        assert page.locator(f".stat-{b} .big").inner_text() == f"{len(bands[b]):,}", b
    total = sum(len(ids) for ids in bands.values())
    assert f"{total:,} accounts" in page.locator(".asof").inner_text()
    assert _plot_traces(page, "#band-chart") == 3
    assert page.evaluate("document.querySelector('#band-chart').data[0].x.slice(-1)[0]") == day
    assert _links_losing(page, scorecard="health", as_of=day) == []
    _shot(page, shots, "portfolio-as-of")
    # The neighbouring scored dates, one click away each.
    assert _params(page.get_attribute("#asof-prev", "href")) == {
        "scorecard": ["health"], "as_of": [str(before)]}
    page.click("#asof-prev")
    page.wait_for_url(re.compile(rf"as_of={before}"))
    assert page.locator("#as-of").inner_text() == str(before)
    assert page.get_attribute("#asof-next", "href").endswith(f"as_of={day}")
    page.click("#asof-next")
    page.wait_for_url(re.compile(rf"as_of={day}"))
    assert _params(page.get_attribute("#asof-next", "href"))["as_of"] == [str(after)]

    # A band card lists that date's accounts of the band.
    band = "red"
    page.click(f".stat-{band}")
    page.wait_for_url(re.compile(r"/accounts\?"))
    assert _params(page.url) == {"scorecard": ["health"], "as_of": [day], "band": [band]}
    assert page.locator("#total").inner_text() == str(len(bands[band]))
    assert sorted(t.split("\n")[-1] for t in _column(page, 1)) == bands[band]
    assert set(_column(page, 3)) == {band}
    assert page.input_value("#as_of") == day
    assert _links_losing(page, scorecard="health", as_of=day) == []
    assert _params(page.get_attribute("#asof-next", "href")) == {
        "scorecard": ["health"], "band": [band], "as_of": [str(after)]}  # the filter stays
    _shot(page, shots, "accounts-as-of")

    # An account of the list, scored on both dates with different scores: its page shows
    # the score of the date.
    account_id = next(a for a in bands[band]
                      if (s := _score(demo_root, a, latest)) is not None
                      and f"{s:.1f}" != f"{_score(demo_root, a, EARLIER):.1f}")
    page.click(f"a.acct[href^='/accounts/{quote(account_id, safe='')}?']")
    page.wait_for_selector("#account-name")
    assert _params(page.url) == {"scorecard": ["health"], "as_of": [day]}
    assert page.locator("#score").inner_text() == f"{_score(demo_root, account_id, EARLIER):.1f}"
    assert f"health · {day}" in page.locator(".scorebox").inner_text()
    assert page.locator("#breakdown h2 small").inner_text() == day
    assert page.locator("#not-scored-then, #churned, #no-score").count() == 0
    _plot_traces(page, "#score-chart")
    assert page.evaluate("document.querySelector('#score-chart').data[0].x.slice(-1)[0]") == day
    assert page.input_value("#as_of") == day
    assert _links_losing(page, scorecard="health", as_of=day) == []
    _shot(page, shots, "account-as-of")

    # Back to the portfolio (the date stays), then to the latest date.
    page.click("header nav a:text-is('Portfolio')")
    page.wait_for_url(re.compile(rf"/\?.*as_of={day}"))
    assert page.locator("#as-of").inner_text() == day
    page.click("#asof-latest")
    page.wait_for_url(lambda url: "as_of" not in url)
    assert _params(page.url) == {"scorecard": ["health"]}
    assert page.locator("#as-of").inner_text() == str(latest)
    for b in read.BANDS:
        assert page.locator(f".stat-{b} .big").inner_text() == f"{len(now[b]):,}", b
    assert page.locator("#asof-latest, #asof-next").count() == 0
    assert page.get_attribute("#asof-prev", "href").endswith(f"as_of={dates[-2]}")


def test_a_date_without_a_snapshot_is_a_404_naming_the_scored_dates(
        site, page, shots, demo_root):
    """A date between two scored dates, before the first or after the last: the portfolio and
    the accounts list answer 404 and say which dates exist. Expected: ``SELECT DISTINCT as_of``
    of the health scorecard's current version (count, first, last, two on either side)."""
    dates = _scored_dates(demo_root)
    assert UNSCORED not in dates
    # Typed into the picker: the browser sends it (it lies between min and max).
    page.goto(site.url + "/")
    page.fill("#as_of", UNSCORED.isoformat())
    with page.expect_navigation() as sent:
        page.click("#asof-form button[type=submit]")
    assert sent.value.status == 404
    assert page.locator("h1").inner_text() == f"no health snapshot on {UNSCORED}"
    assert _nearest_hint(dates, UNSCORED) in page.locator(".hint").inner_text()
    assert "2026-04-13, 2026-04-15" in page.locator(".hint").inner_text()
    _shot(page, shots, "as-of-not-scored")
    # A date after the last scored one: the picker refuses it, a typed URL gets the 404.
    assert page.goto(site.url + "/").status == 200
    assert page.eval_on_selector(
        "#as_of", "e => { e.value = '2026-07-01'; return e.checkValidity(); }") is False
    for path, day in ((f"/accounts?band=red&as_of={UNSCORED}", UNSCORED),
                      ("/?as_of=2026-07-01", date(2026, 7, 1)),
                      ("/accounts?scorecard=health&as_of=2026-03-01", date(2026, 3, 1))):
        response = page.goto(site.url + path)
        assert response.status == 404, path
        assert page.locator("h1").inner_text() == f"no health snapshot on {day}", path
        assert _nearest_hint(dates, day) in page.locator(".hint").inner_text(), path


def test_an_account_on_a_date_it_was_not_scored_says_so(site, page, shots, demo_root):
    """The account page on a date without its snapshot shows ``#not-scored-then``: its latest
    score before that date (``max(as_of) <= date`` in SQL), or, for an account first scored
    later (``min(as_of) > date``), that it has none — never "the scorecard has no scores"."""
    version = _version(demo_root)
    [(account_id, last)] = _sql(demo_root, f"SELECT account_id, max(as_of) {HEALTH} "
                                "AND account_id = 'ACC-000010' AND as_of <= ? GROUP BY 1",
                                [version, UNSCORED])
    page.goto(site.url + f"/accounts/{account_id}?as_of={UNSCORED}")
    assert page.locator("#not-scored-then").inner_text() == (
        f"Not scored on {UNSCORED}: showing its latest score before, on {last}.")
    assert page.locator("#score").inner_text() == f"{_score(demo_root, account_id, last):.1f}"
    assert page.input_value("#as_of") == str(UNSCORED)
    assert page.get_attribute("#asof-prev", "href").endswith(f"as_of={last}")

    later = _sql(demo_root, f"SELECT account_id, min(as_of) {HEALTH} GROUP BY 1 "
                 "HAVING min(as_of) > ? ORDER BY 1 LIMIT 1", [version, EARLIER])
    assert later, "the demo has no account first scored after 2026-04-15"
    [(account_id, _first)] = later
    page.goto(site.url + f"/accounts/{account_id}?as_of={EARLIER}")
    assert page.locator("#not-scored-then").inner_text() == (
        f"Not scored on {EARLIER}: it has no health score on or before that date.")
    assert page.locator("#score").count() == 0
    assert page.get_by_text("has no scores yet").count() == 0
    _shot(page, shots, "account-not-scored-then")
    page.click("#no-score a")
    page.wait_for_url(lambda url: "as_of" not in url)
    latest = _scored_dates(demo_root)[-1]
    assert page.locator("#score").inner_text() == f"{_score(demo_root, account_id, latest):.1f}"


def test_a_churned_account_says_when_it_churned_and_was_last_scored(
        site, page, shots, demo_root):
    """An account whose current ``accounts`` row has ``churned_at`` and which was scored before
    it churned. Expected, in SQL::

        SELECT a.account_id, a.churned_at, max(s.as_of)
        FROM accounts a JOIN snapshots s USING (account_id)
        WHERE a._valid_to IS NULL AND a.churned_at IS NOT NULL
          AND s.scorecard = 'health' AND s.version = ?
        GROUP BY ALL HAVING min(s.as_of) < a.churned_at
    """
    found = _sql(demo_root, """
        SELECT a.account_id, a.churned_at, max(s.as_of)
        FROM accounts a JOIN snapshots s USING (account_id)
        WHERE a._valid_to IS NULL AND a.churned_at IS NOT NULL
          AND s.scorecard = 'health' AND s.version = ?
        GROUP BY ALL HAVING min(s.as_of) < a.churned_at ORDER BY 1 LIMIT 1
    """, [_version(demo_root)])
    assert found, "the demo (50 accounts, seed 3) has no account scored before it churned"
    [(account_id, churned, last)] = found
    latest = _scored_dates(demo_root)[-1]
    assert last < latest  # not scored since it churned
    notice = f"Churned on {churned}, last scored on {last}."
    for query in ("", f"?as_of={latest}", f"?as_of={churned + (churned - last)}"):
        page.goto(site.url + f"/accounts/{account_id}{query}")
        assert page.locator("#churned").inner_text() == notice, query
        assert page.locator("#not-scored-then").count() == 0, query
        assert page.locator("#score").inner_text() == f"{_score(demo_root, account_id, last):.1f}"
        assert f"health · {last}" in page.locator(".scorebox").inner_text(), query
    _shot(page, shots, "account-churned")
    # Before it churned, its page is an ordinary one, and the list of that date has it.
    page.goto(site.url + f"/accounts/{account_id}?as_of={last}")
    assert page.locator("#churned, #not-scored-then").count() == 0
    assert page.locator("#score").inner_text() == f"{_score(demo_root, account_id, last):.1f}"
    page.goto(site.url + f"/accounts?as_of={last}&q={account_id}")
    assert page.locator("#total").inner_text() == "1"
    page.goto(site.url + f"/accounts?q={account_id}")
    assert page.get_by_text("No accounts match").is_visible()


def test_the_api_and_the_page_agree_on_a_date(site, page, demo_root):
    """GET /api/v1/portfolio?as_of=2026-04-15 and the portfolio page of that date show the same
    accounts and ARR per band, total and ARR at risk; on a date without a snapshot both answer
    404 with the same list of dates."""
    api = httpx.get(site.url + "/api/v1/portfolio", params={"as_of": str(EARLIER)})
    assert api.status_code == 200
    body = api.json()
    page.goto(site.url + f"/?as_of={EARLIER}")
    assert body["as_of"] == page.locator("#as-of").inner_text() == str(EARLIER)
    for b in body["bands"]:
        card = page.locator(f".stat-{b['band']}")
        assert card.locator(".big").inner_text() == f"{b['accounts']:,}", b["band"]
        assert f"ARR {money(b['arr'])}" in card.inner_text(), b["band"]
    assert f"{body['accounts']:,} accounts" in page.locator(".asof").inner_text()
    assert page.locator("#at-risk .big").inner_text() == money(body["at_risk"]["arr"])
    assert page.locator("#at-risk .sub").first.inner_text().startswith(
        f"{body['at_risk']['accounts']:,} red or yellow")
    # The band counts are the store's too (the oracle of the tests above).
    assert [b["accounts"] for b in body["bands"]] == [
        len(ids) for ids in _band_ids(demo_root, EARLIER).values()]
    missing = httpx.get(site.url + "/api/v1/portfolio", params={"as_of": str(UNSCORED)})
    assert missing.status_code == 404
    assert page.goto(site.url + f"/?as_of={UNSCORED}").status == 404
    assert missing.json()["errors"][0]["hint"] == page.locator(".hint").inner_text()


@pytest.fixture(scope="module")
def backtested(demo_root, tmp_path_factory) -> tuple[Path, object]:
    """A copy of the demo workspace with one backtest of `health` recorded (the other tests'
    workspace stays as it is)."""
    root = tmp_path_factory.mktemp("web") / "backtested"
    shutil.copytree(demo_root, root)
    found = pipeline.backtest(Workspace.open(root), "health", horizon=60, every=14)
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
        assert link.count() == 1 and link.get_attribute("href") == f"/backtests/{found.run_id}"
        page.goto(server.url + "/backtests")
        row = page.locator("#backtests tbody tr")
        assert row.count() == 1 and f"#{found.run_id}" in row.inner_text()
        _shot(page, shots, "backtests")
        row.locator("a").click()
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
