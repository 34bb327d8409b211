"""A backtest as charts: the figures of the backtest page and of the self-contained HTML report
(``healthscore backtest --html FILE``), built once from a backtest's summary.

Figures are plotly figure dicts (``data`` and ``layout``) drawn in the browser by our own
``figures.js``; the report file carries plotly's JavaScript inline, from the installed package,
so it opens offline and can be mailed.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources

from healthscore.validation.report import words
from healthscore.web.render import ENV, static_text

BAND_COLOURS = {"red": "#d64545", "yellow": "#e0a526", "green": "#2f9e6b"}
_LAYOUT = {"margin": {"l": 56, "r": 16, "t": 8, "b": 44}, "height": 300,
           "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
           "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
                    "size": 12, "color": "#3b4252"},
           "legend": {"orientation": "h", "y": 1.15, "x": 0}}


def _fig(data: list[dict], **layout) -> dict:
    return {"data": data, "layout": {**_LAYOUT, **layout}}


def figures(summary: dict, labels: dict[str, str] | None = None) -> list[dict]:
    """The report's charts: ``{"id", "title", "caption", "figure"}`` each, in reading order."""
    labels = labels or {}
    w = words(summary)
    out = []
    rocs = [({"name": "scorecard", "roc": summary.get("roc"), "auc": summary.get("auc")})] + [
        b for b in summary.get("baselines", []) if b["name"] != "scorecard"]
    traces = [{"x": [0, 1], "y": [0, 1], "name": "a coin (0.5)", "mode": "lines",
               "line": {"dash": "dot", "color": "#aab"}}]
    for b in rocs:
        if b.get("roc"):
            traces.append({"x": b["roc"]["fpr"], "y": b["roc"]["tpr"], "mode": "lines",
                           "name": f"{b['name']} (AUC {b['auc']:.3f})"})
    out.append({"id": "roc", "title": "ROC: the scorecard against the obvious",
                "caption": f"How many {w['events']} are caught (up) for how many false "
                           "alarms (right), at every threshold.",
                "figure": _fig(traces, xaxis={"title": {"text": "false positive rate"}},
                               yaxis={"title": {"text": "true positive rate"}})})
    bands = summary.get("bands", [])
    out.append({"id": "bands", "title": f"{w['Name']} rate by band",
                "caption": f"Should rise from {w['order']}.", "figure": _fig([{
                    "type": "bar", "x": [b["band"] for b in bands],
                    "y": [b["event_rate"] or 0 for b in bands],
                    "marker": {"color": [BAND_COLOURS[b["band"]] for b in bands]},
                    "text": [f"{b['events']} of {b['accounts']}" for b in bands],
                    "hovertemplate": "%{x}: %{y:.1%} (%{text})<extra></extra>"}],
                    yaxis={"tickformat": ".0%", "rangemode": "tozero"}, showlegend=False)})
    deciles = summary.get("deciles", [])
    out.append({"id": "lift", "title": "Lift by decile",
                "caption": f"Decile 1 is the {w['rank']} tenth; a lift of 3 means three times "
                           f"the average {w['name']} rate.",
                "figure": _fig([{"type": "bar", "x": [d["decile"] for d in deciles],
                                 "y": [d["lift"] or 0 for d in deciles], "name": "lift"}],
                               xaxis={"title": {"text": f"decile (1 = {w['rank']})"},
                                      "dtick": 1},
                               yaxis={"title": {"text": "lift"}}, showlegend=False)})
    cal = summary.get("calibration") or {}
    if cal.get("deciles"):
        top = max(max(d["predicted"], d["observed"]) for d in cal["deciles"]) or 1
        out.append({"id": "calibration", "title": "Calibration",
                    "caption": f"Predicted against observed {w['name']} per decile; Brier score "
                               f"{cal['brier']:.4f} (a constant guess: "
                               f"{cal['brier_constant']:.4f}).",
                    "figure": _fig([
                        {"x": [0, top], "y": [0, top], "mode": "lines", "name": "perfect",
                         "line": {"dash": "dot", "color": "#aab"}},
                        {"x": [d["predicted"] for d in cal["deciles"]],
                         "y": [d["observed"] for d in cal["deciles"]], "mode": "markers+lines",
                         "name": "deciles"}],
                        xaxis={"title": {"text": "predicted"}, "tickformat": ".0%"},
                        yaxis={"title": {"text": "observed"}, "tickformat": ".0%"})})
    km = (summary.get("survival") or {}).get("bands", [])
    if km:
        p = (summary["survival"].get("logrank") or {}).get("p_value")
        out.append({"id": "survival", "title": f"{w['without']} (Kaplan–Meier)",
                    "caption": "Days after the score." + (f" Log-rank p = {p:.2g}."
                                                         if p is not None else ""),
                    "figure": _fig([{"x": b["curve"]["days"], "y": b["curve"]["without_event"],
                                     "mode": "lines", "line": {"shape": "hv",
                                                              "color": BAND_COLOURS[b["band"]]},
                                     "name": f"{b['band']} ({b['accounts']})"} for b in km],
                                   xaxis={"title": {"text": "days"}},
                                   yaxis={"tickformat": ".0%"})})
    measures = [x for x in summary.get("measures", []) if x.get("power") is not None]
    if measures:
        names = [labels.get(x["measure"], x["measure"]) for x in measures][::-1]
        out.append({"id": "measures", "title": "Each measure alone",
                    "caption": "AUC of each measure by itself (bars) against its weight in the "
                               "score (dots): weight on a measure near 0.5 is weight the data "
                               "does not support.",
                    "figure": _fig([
                        {"type": "bar", "orientation": "h", "y": names,
                         "x": [x["power"] for x in measures][::-1], "name": "AUC alone"},
                        {"type": "scatter", "mode": "markers", "y": names,
                         "x": [x["weight"] for x in measures][::-1], "name": "weight",
                         "xaxis": "x2"}],
                        height=max(300, 22 * len(measures) + 80),
                        margin={"l": 260, "r": 16, "t": 30, "b": 44},
                        xaxis={"title": {"text": "AUC alone"}, "range": [0.4, 1]},
                        xaxis2={"overlaying": "x", "side": "top", "tickformat": ".0%",
                                "showgrid": False})})
    lines = summary.get("timelines", [])
    if lines:
        traces = []
        for t in lines:
            if not t["points"]:
                continue
            day = _day(t["event_date"])
            traces.append({"x": [(_day(p[0]) - day).days for p in t["points"]],
                           "y": [p[1] for p in t["points"]], "mode": "lines",
                           "name": t["account_id"], "opacity": 0.7,
                           "hovertemplate": t["account_id"] + ": %{y:.0f}, %{x} days<extra>"
                                            "</extra>"})
        out.append({"id": "timelines", "title": "Did the score tell the story?",
                    "caption": f"The scores of the {len(lines)} latest {w['events']} in the "
                               f"days before each {w['name']} (0 = the {w['name']}).",
                    "figure": _fig(traces, xaxis={"title": {"text": f"days before the "
                                                                    f"{w['name']}"}},
                                   yaxis={"title": {"text": "score"}, "range": [0, 100]},
                                   showlegend=False)})
    return out


def _day(value):
    if isinstance(value, str):
        return datetime.fromisoformat(value).date()
    return value


def report_html(summary: dict, labels: dict[str, str] | None = None,
                title: str | None = None) -> str:
    """The self-contained HTML report of a backtest (plotly's JavaScript and our own inline:
    it opens offline)."""
    plotly_js = (resources.files("plotly") / "package_data" / "plotly.min.js").read_text(
        encoding="utf-8")
    return ENV.get_template("backtest_report.html").render(
        s=summary, w=words(summary), figures=figures(summary, labels), labels=labels or {},
        title=title or f"Backtest of {summary['scorecard']}", plotly_js=plotly_js,
        figures_js=static_text("figures.js"), css=static_text("app.css"))
