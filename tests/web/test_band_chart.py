"""The bands-over-time chart draws a gap where dates were not scored."""

from __future__ import annotations

from datetime import date, timedelta

from healthscore.web.pages import band_chart


def test_a_stretch_of_unscored_dates_is_a_gap_not_a_straight_line():
    """Scored daily on Jan 1-3 and Jan 10-11: the usual step is 1 day, the 7-day hole is more
    than twice that, so one break (None in every band) sits midway, on Jan 6 12:00 → the date
    Jan 6; weekly scores (step 7) are not broken up."""
    days = [date(2026, 1, d) for d in (1, 2, 3, 10, 11)]
    chart = band_chart([{"as_of": d, "red": 1, "yellow": 2, "green": 3} for d in days])
    assert chart["dates"] == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-06",
                              "2026-01-10", "2026-01-11"]
    assert chart["red"] == [1, 1, 1, None, 1, 1] and chart["green"][3] is None
    weekly = [date(2026, 1, 1) + timedelta(days=7 * k) for k in range(5)]
    assert None not in band_chart([{"as_of": d, "red": 0, "yellow": 0, "green": 1}
                                   for d in weekly])["red"]
