"""Dates in the dashboard, in a real browser: the date picker, links that keep the date, a date
without scores, an account not scored or churned by then, the API agreeing with the page."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from healthscore import read
from healthscore.formatting import money
from healthscore.workspace import Workspace
from web_site import (
    _column,
    _plot_traces,
    _shot,
    needs_chromium,
)

pytestmark = needs_chromium


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
    and the scorecards, backtests and alerts pages drop the date on purpose (they are not of
    a date), the date picker's links change it (and are checked on their own), the scorecard
    switch changes the scorecard but keeps the date."""
    hrefs = page.eval_on_selector_all(
        "header nav a:not([href^='/scorecards']):not([href^='/backtests'])"
        ":not([href^='/alerts']), main a[href^='/']:not(#asof-form a):not([href^='/alerts'])",
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
