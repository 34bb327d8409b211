"""The scorecards section's preview page in a real browser: pick a draft, see the band
transitions and the movers, and that the store is untouched."""

from __future__ import annotations

import hashlib

from web_site import _shot, needs_chromium

pytestmark = needs_chromium


def test_preview_a_draft_from_the_scorecards_page(site, demo_root, page, shots):
    """A draft of `health` with the red band raised to 60 (in scorecards/drafts/, not read as
    a scorecard): the page lists it, the preview shows accounts moving into red and no
    store byte changes. A pasted file with an unknown measure shows its line and key."""
    draft = demo_root / "scorecards" / "drafts" / "health-next.yaml"
    draft.parent.mkdir(exist_ok=True)
    text = (demo_root / "scorecards" / "health.yaml").read_text(encoding="utf-8")
    assert "bands: {red: 50, yellow: 65}" in text
    draft.write_text(text.replace("bands: {red: 50, yellow: 65}", "bands: {red: 60, yellow: 75}"),
                     encoding="utf-8")
    store = demo_root / "healthscore.duckdb"
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    page.goto(f"{site.url}/scorecards")
    page.click("#preview-link")
    page.select_option("#preview-file", "scorecards/drafts/health-next.yaml")
    page.click("#preview-form button[type=submit]")
    page.wait_for_selector("#preview-result")
    headline = page.inner_text("#preview-headline")
    assert "change band" in headline
    moved_into_red = page.inner_text("#preview-matrix tbody tr:nth-child(2) td:nth-child(2)")
    assert moved_into_red.strip()  # yellow → red: accounts between 50 and 60 now
    assert page.locator("#preview-movers tbody tr").count() >= 1
    _shot(page, shots, "scorecard-preview")
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before
    page.fill("#preview-yaml", "name: health\ngroups:\n  x:\n    measures:\n      nope:\n"
                               "        scoring: {linear: {from: 0, to: 1}}\n")
    page.click("#preview-form button[type=submit]")
    page.wait_for_selector("#preview-errors")
    errors = page.inner_text("#preview-errors")
    assert "pasted.yaml:5" in errors and "unknown measure 'nope'" in errors
