"""The backtest's metrics, pure: arrays in (did the event happen — a churn, or an expansion —,
the account's rank for it, its ARR, its band), numbers out. No store, no clock.

The rank (``risk``) is what should be higher before the event: ``100 - score`` for churn, the
score itself for expansion. Every metric comes with the counts it rests on, so a reader can
tell a number from a guess.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

BANDS = ("red", "yellow", "green")
#: Fewer events (churns, expansions) than this and the report calls its estimates unreliable.
MIN_EVENTS = 30


def auc(event: np.ndarray, risk: np.ndarray) -> float:
    """ROC AUC of ``risk`` for ``event`` (NaN unless both classes are present): the chance
    that a random account with the event (e.g. a churner) ranks higher than a random one
    without it (a renewer), ties counting half.

    >>> auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.4, 0.4]))
    0.875
    """
    event = np.asarray(event, dtype=bool)
    if event.all() or not event.any():
        return float("nan")
    return float(roc_auc_score(event, np.asarray(risk, dtype=float)))


def auc_interval(event: np.ndarray, risk: np.ndarray, clusters: np.ndarray, *,
                 resamples: int = 200, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """A ``level`` confidence interval of :func:`auc` by a bootstrap over ``clusters`` (the
    accounts: an account scored on several dates is resampled whole, as its rows are not
    independent). Deterministic for a seed; NaNs when the AUC is undefined.

    A resample draws clusters with replacement; each row then counts as often as its cluster
    was drawn, and the AUC is computed with those counts as weights (:class:`RankedRisk`), so
    a resample costs a few vector operations however many accounts there are."""
    event = np.asarray(event, dtype=bool)
    if event.all() or not event.any():
        return float("nan"), float("nan")
    _, inverse = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    ranked = RankedRisk(event, risk)
    k = int(inverse.max()) + 1
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        counts = np.bincount(rng.integers(0, k, k), minlength=k)
        value = ranked.auc(counts[inverse])
        if not np.isnan(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))


class RankedRisk:
    """Observations sorted by risk once, for weighted AUCs in linear time: the AUC is the
    weighted share of (event, non-event) pairs where the event's risk is higher, ties
    counting half (the Mann-Whitney statistic, what ``roc_auc_score`` computes)."""

    def __init__(self, event: np.ndarray, risk: np.ndarray):
        order = np.argsort(np.asarray(risk, dtype=float), kind="stable")
        self.order = order
        self.event = np.asarray(event, dtype=bool)[order]
        values = np.asarray(risk, dtype=float)[order]
        self.starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])

    def auc(self, weights: np.ndarray) -> float:
        """The AUC with each observation counted ``weights`` times (NaN with a class
        missing)."""
        w = np.asarray(weights, dtype=float)[self.order]
        pos = np.add.reduceat(np.where(self.event, w, 0.0), self.starts)
        neg = np.add.reduceat(np.where(self.event, 0.0, w), self.starts)
        total_pos, total_neg = pos.sum(), neg.sum()
        if not total_pos or not total_neg:
            return float("nan")
        below = np.cumsum(neg) - neg  # non-events with a lower risk
        return float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))


def by_band(event: np.ndarray, band: np.ndarray, arr: np.ndarray,
            toward: str = "red") -> dict:
    """Per band: accounts, events, event rate, ARR and the events' ARR; and whether the event
    rate rises band by band toward ``toward`` (red for churn, green for expansion:
    ``bands_ordered``, None with a band empty)."""
    event = np.asarray(event, dtype=bool)
    arr = np.asarray(arr, dtype=float)
    rows = []
    for b in BANDS:
        mask = np.asarray(band) == b
        n, k = int(mask.sum()), int((event & mask).sum())
        rows.append({"band": b, "accounts": n, "events": k, "event_rate": k / n if n else None,
                     "arr": float(arr[mask].sum()), "event_arr": float(arr[mask & event].sum())})
    rates = [r["event_rate"] for r in rows]
    if toward == "green":
        rates = rates[::-1]
    ordered = None if any(r is None for r in rates) else bool(rates[0] >= rates[1] >= rates[2])
    return {"bands": rows, "bands_ordered": ordered}


def precision_recall(event: np.ndarray, flagged: np.ndarray) -> dict:
    """Of the flagged accounts, the share with the event (precision); of the events, the share
    flagged (recall); with the counts."""
    event = np.asarray(event, dtype=bool)
    flagged = np.asarray(flagged, dtype=bool)
    hits = int((event & flagged).sum())
    return {"flagged": int(flagged.sum()), "events": int(event.sum()), "hits": hits,
            "precision": hits / flagged.sum() if flagged.any() else None,
            "recall": hits / event.sum() if event.any() else None}


def deciles(event: np.ndarray, risk: np.ndarray, arr: np.ndarray, order: np.ndarray) -> dict:
    """Accounts ranked by ``risk`` (highest first; ties by ``order``, e.g. the account id) cut
    into ten groups as equal as can be: per decile the accounts, events, event rate and lift
    (its rate over the overall rate); and the top decile's lift and share of the events and of
    their ARR."""
    event = np.asarray(event, dtype=bool)
    arr = np.asarray(arr, dtype=float)
    n = len(event)
    ranked = np.lexsort((np.asarray(order).astype(str), -np.asarray(risk, dtype=float)))
    base = event.mean() if n else 0.0
    rows = []
    for d, part in enumerate(np.array_split(ranked, 10) if n else [], start=1):
        k = int(event[part].sum())
        rate = k / len(part) if len(part) else None
        rows.append({"decile": d, "accounts": int(len(part)), "events": k, "event_rate": rate,
                     "lift": rate / base if rate is not None and base else None})
    top = ranked[: rows[0]["accounts"]] if rows else ranked[:0]
    event_arr = arr[event].sum()
    return {"deciles": rows, "top_lift": rows[0]["lift"] if rows else None,
            "top_share_of_events": (event[top].sum() / event.sum()) if event.any() else None,
            "top_share_of_event_arr": (arr[top][event[top]].sum() / event_arr)
            if event_arr else None}


def calibration(event: np.ndarray, risk: np.ndarray, order: np.ndarray,
                method: str = "logistic regression of churn on risk (100 - score)") -> dict:
    """Scores mapped to probabilities of the event by a logistic fit of the event on ``risk``
    (one feature, scikit-learn's ``LogisticRegression``, unpenalised; ``method`` names it in
    the report), then per decile of risk the mean predicted probability beside the observed
    rate, and the Brier score (mean squared gap between the probability and what happened;
    lower is better, the event rate times one minus it is what a constant guess scores)."""
    from sklearn.linear_model import LogisticRegression

    event = np.asarray(event, dtype=bool)
    risk = np.asarray(risk, dtype=float)
    if event.all() or not event.any():
        return {"fit": None, "deciles": [], "brier": None, "brier_constant": None}
    model = LogisticRegression(C=np.inf).fit(risk.reshape(-1, 1), event)
    p = model.predict_proba(risk.reshape(-1, 1))[:, 1]
    ranked = np.lexsort((np.asarray(order).astype(str), -risk))
    rows = []
    for d, part in enumerate(np.array_split(ranked, 10), start=1):
        if len(part):
            rows.append({"decile": d, "accounts": int(len(part)),
                         "predicted": float(p[part].mean()),
                         "observed": float(event[part].mean())})
    base = event.mean()
    return {"fit": {"method": method, "intercept": float(model.intercept_[0]),
                    "slope": float(model.coef_[0][0])},
            "deciles": rows, "brier": float(np.mean((p - event) ** 2)),
            "brier_constant": float(base * (1 - base))}


def survival_by_band(days: np.ndarray, event: np.ndarray, band: np.ndarray,
                     at: tuple[int, ...] = (30, 60, 90)) -> dict:
    """Kaplan–Meier curves per band (lifelines' ``KaplanMeierFitter``): days from the score to
    the event, or to the end of the horizon for the others (censored there); the share still
    without the event (for churn: still a customer) ``at`` those days, the curve itself, and
    the log-rank test across bands."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    days = np.asarray(days, dtype=float)
    event = np.asarray(event, dtype=bool)
    band = np.asarray(band, dtype=object)
    curves = []
    for b in BANDS:
        mask = band == b
        if not mask.any():
            continue
        km = KaplanMeierFitter().fit(days[mask], event[mask], label=b)
        sf = km.survival_function_[b]
        curves.append({"band": b, "accounts": int(mask.sum()),
                       "without_event": {str(t): float(km.predict(t)) for t in at},
                       "curve": {"days": [float(x) for x in sf.index],
                                 "without_event": [float(x) for x in sf.to_numpy()]}})
    test = None
    present = np.isin(band, BANDS)
    if len(curves) > 1 and event[present].any():
        result = multivariate_logrank_test(days[present], band[present], event[present])
        test = {"statistic": float(result.test_statistic), "p_value": float(result.p_value)}
    return {"bands": curves, "logrank": test}


def lead_times(events: list[dict], at: tuple[int, ...] = (60, 90)) -> dict:
    """How early the score warned: for each event (``{"event_date", "first_flag",
    "first_move"}``: the first snapshot in the flag band — red before a churn, green before an
    expansion — and the first move of the set size toward the event in the look-back before
    it, or None), the days from the first flag (and the first move) to the event; their
    medians, and the share of events flagged at least ``at`` days ahead."""
    flag = [(c["event_date"] - c["first_flag"]).days for c in events if c["first_flag"]]
    move = [(c["event_date"] - c["first_move"]).days for c in events if c["first_move"]]
    n = len(events)
    return {"events": n, "ever_flagged": len(flag),
            "median_days_from_first_flag": float(np.median(flag)) if flag else None,
            "median_days_from_first_move": float(np.median(move)) if move else None,
            "flagged_ahead": {str(t): (sum(1 for d in flag if d >= t) / n) if n else None
                              for t in at}}


def roc_points(event: np.ndarray, risk: np.ndarray, most: int = 200) -> dict | None:
    """The ROC curve (false and true positive rates), thinned to about ``most`` points for
    charts; None when the AUC is undefined."""
    from sklearn.metrics import roc_curve

    event = np.asarray(event, dtype=bool)
    if event.all() or not event.any():
        return None
    fpr, tpr, _ = roc_curve(event, np.asarray(risk, dtype=float))
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(most, len(fpr))).round().astype(int))
    return {"fpr": [float(x) for x in fpr[keep]], "tpr": [float(x) for x in tpr[keep]]}
