"""The backtest's metrics, pure: arrays in (did the account churn, its risk, its ARR, its band),
numbers out. No store, no clock.

Risk is ``100 - score``: a higher risk should mean a likelier churn. Every metric comes with the
counts it rests on, so a reader can tell a number from a guess.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

BANDS = ("red", "yellow", "green")
#: Fewer churners than this and the report calls its estimates unreliable.
MIN_CHURNERS = 30


def auc(churned: np.ndarray, risk: np.ndarray) -> float:
    """ROC AUC of ``risk`` for ``churned`` (NaN unless both classes are present): the chance
    that a random churner has a higher risk than a random renewer, ties counting half.

    >>> auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.4, 0.4]))
    0.875
    """
    churned = np.asarray(churned, dtype=bool)
    if churned.all() or not churned.any():
        return float("nan")
    return float(roc_auc_score(churned, np.asarray(risk, dtype=float)))


def auc_interval(churned: np.ndarray, risk: np.ndarray, clusters: np.ndarray, *,
                 resamples: int = 200, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """A ``level`` confidence interval of :func:`auc` by a bootstrap over ``clusters`` (the
    accounts: an account scored on several dates is resampled whole, as its rows are not
    independent). Deterministic for a seed; NaNs when the AUC is undefined.

    A resample draws clusters with replacement; each row then counts as often as its cluster
    was drawn, and the AUC is computed with those counts as weights (:class:`RankedRisk`), so
    a resample costs a few vector operations however many accounts there are."""
    churned = np.asarray(churned, dtype=bool)
    if churned.all() or not churned.any():
        return float("nan"), float("nan")
    _, inverse = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    ranked = RankedRisk(churned, risk)
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
    weighted share of (churner, non-churner) pairs where the churner's risk is higher, ties
    counting half (the Mann-Whitney statistic, what ``roc_auc_score`` computes)."""

    def __init__(self, churned: np.ndarray, risk: np.ndarray):
        order = np.argsort(np.asarray(risk, dtype=float), kind="stable")
        self.order = order
        self.churned = np.asarray(churned, dtype=bool)[order]
        values = np.asarray(risk, dtype=float)[order]
        self.starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])

    def auc(self, weights: np.ndarray) -> float:
        """The AUC with each observation counted ``weights`` times (NaN with a class
        missing)."""
        w = np.asarray(weights, dtype=float)[self.order]
        pos = np.add.reduceat(np.where(self.churned, w, 0.0), self.starts)
        neg = np.add.reduceat(np.where(self.churned, 0.0, w), self.starts)
        total_pos, total_neg = pos.sum(), neg.sum()
        if not total_pos or not total_neg:
            return float("nan")
        below = np.cumsum(neg) - neg  # non-churners with a lower risk
        return float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))


def by_band(churned: np.ndarray, band: np.ndarray, arr: np.ndarray) -> dict:
    """Per band: accounts, churners, churn rate, ARR and churned ARR; and whether the churn rate
    rises from green to yellow to red (``risk_rises``, None with a band empty)."""
    churned = np.asarray(churned, dtype=bool)
    arr = np.asarray(arr, dtype=float)
    rows = []
    for b in BANDS:
        mask = np.asarray(band) == b
        n, k = int(mask.sum()), int((churned & mask).sum())
        rows.append({"band": b, "accounts": n, "churned": k, "churn_rate": k / n if n else None,
                     "arr": float(arr[mask].sum()), "churned_arr": float(arr[mask & churned].sum())})
    rates = [r["churn_rate"] for r in rows]
    rises = None if any(r is None for r in rates) else bool(rates[0] >= rates[1] >= rates[2])
    return {"bands": rows, "risk_rises": rises}


def precision_recall(churned: np.ndarray, flagged: np.ndarray) -> dict:
    """Of the flagged accounts, the share that churned (precision); of the churners, the share
    flagged (recall); with the counts."""
    churned = np.asarray(churned, dtype=bool)
    flagged = np.asarray(flagged, dtype=bool)
    hits = int((churned & flagged).sum())
    return {"flagged": int(flagged.sum()), "churned": int(churned.sum()), "hits": hits,
            "precision": hits / flagged.sum() if flagged.any() else None,
            "recall": hits / churned.sum() if churned.any() else None}


def deciles(churned: np.ndarray, risk: np.ndarray, arr: np.ndarray, order: np.ndarray) -> dict:
    """Accounts ranked by risk (highest first; ties by ``order``, e.g. the account id) cut into
    ten groups as equal as can be: per decile the accounts, churners, churn rate and lift (its
    rate over the overall rate); and the top decile's lift and share of churners and churned
    ARR."""
    churned = np.asarray(churned, dtype=bool)
    arr = np.asarray(arr, dtype=float)
    n = len(churned)
    ranked = np.lexsort((np.asarray(order).astype(str), -np.asarray(risk, dtype=float)))
    base = churned.mean() if n else 0.0
    rows = []
    for d, part in enumerate(np.array_split(ranked, 10) if n else [], start=1):
        k = int(churned[part].sum())
        rate = k / len(part) if len(part) else None
        rows.append({"decile": d, "accounts": int(len(part)), "churned": k, "churn_rate": rate,
                     "lift": rate / base if rate is not None and base else None})
    top = ranked[: rows[0]["accounts"]] if rows else ranked[:0]
    churned_arr = arr[churned].sum()
    return {"deciles": rows, "top_lift": rows[0]["lift"] if rows else None,
            "top_share_of_churners": (churned[top].sum() / churned.sum()) if churned.any()
            else None,
            "top_share_of_churned_arr": (arr[top][churned[top]].sum() / churned_arr)
            if churned_arr else None}


def calibration(churned: np.ndarray, risk: np.ndarray, order: np.ndarray) -> dict:
    """Scores mapped to churn probabilities by a logistic fit of churn on risk (one feature,
    scikit-learn's ``LogisticRegression``, unpenalised), then per decile of risk the mean
    predicted probability beside the observed churn rate, and the Brier score (mean squared
    gap between the probability and what happened; lower is better, the churn rate times one
    minus it is what a constant guess scores)."""
    from sklearn.linear_model import LogisticRegression

    churned = np.asarray(churned, dtype=bool)
    risk = np.asarray(risk, dtype=float)
    if churned.all() or not churned.any():
        return {"fit": None, "deciles": [], "brier": None, "brier_constant": None}
    model = LogisticRegression(C=np.inf).fit(risk.reshape(-1, 1), churned)
    p = model.predict_proba(risk.reshape(-1, 1))[:, 1]
    ranked = np.lexsort((np.asarray(order).astype(str), -risk))
    rows = []
    for d, part in enumerate(np.array_split(ranked, 10), start=1):
        if len(part):
            rows.append({"decile": d, "accounts": int(len(part)),
                         "predicted": float(p[part].mean()),
                         "observed": float(churned[part].mean())})
    base = churned.mean()
    return {"fit": {"method": "logistic regression of churn on risk (100 - score)",
                    "intercept": float(model.intercept_[0]), "slope": float(model.coef_[0][0])},
            "deciles": rows, "brier": float(np.mean((p - churned) ** 2)),
            "brier_constant": float(base * (1 - base))}


def survival_by_band(days: np.ndarray, churned: np.ndarray, band: np.ndarray,
                     at: tuple[int, ...] = (30, 60, 90)) -> dict:
    """Kaplan–Meier retention per band (lifelines' ``KaplanMeierFitter``): days from the score
    to the churn, or to the end of the horizon for the others (censored there); the share still
    a customer ``at`` those days, the curve itself, and the log-rank test across bands."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    days = np.asarray(days, dtype=float)
    churned = np.asarray(churned, dtype=bool)
    band = np.asarray(band, dtype=object)
    curves = []
    for b in BANDS:
        mask = band == b
        if not mask.any():
            continue
        km = KaplanMeierFitter().fit(days[mask], churned[mask], label=b)
        sf = km.survival_function_[b]
        curves.append({"band": b, "accounts": int(mask.sum()),
                       "retained": {str(t): float(km.predict(t)) for t in at},
                       "curve": {"days": [float(x) for x in sf.index],
                                 "retained": [float(x) for x in sf.to_numpy()]}})
    test = None
    present = np.isin(band, BANDS)
    if len(curves) > 1 and churned[present].any():
        result = multivariate_logrank_test(days[present], band[present], churned[present])
        test = {"statistic": float(result.test_statistic), "p_value": float(result.p_value)}
    return {"bands": curves, "logrank": test}


def lead_times(churns: list[dict], at: tuple[int, ...] = (60, 90)) -> dict:
    """How early the score warned: for each churn (``{"churn_date", "first_red",
    "first_drop"}``, the first red snapshot and the first drop of the set size in the look-back
    before it, or None), the days from the first red (and the first drop) to the churn; their
    medians, and the share of churners red at least ``at`` days ahead."""
    red = [(c["churn_date"] - c["first_red"]).days for c in churns if c["first_red"]]
    drop = [(c["churn_date"] - c["first_drop"]).days for c in churns if c["first_drop"]]
    n = len(churns)
    return {"churners": n, "ever_red": len(red),
            "median_days_from_first_red": float(np.median(red)) if red else None,
            "median_days_from_first_drop": float(np.median(drop)) if drop else None,
            "flagged_ahead": {str(t): (sum(1 for d in red if d >= t) / n) if n else None
                              for t in at}}


def roc_points(churned: np.ndarray, risk: np.ndarray, most: int = 200) -> dict | None:
    """The ROC curve (false and true positive rates), thinned to about ``most`` points for
    charts; None when the AUC is undefined."""
    from sklearn.metrics import roc_curve

    churned = np.asarray(churned, dtype=bool)
    if churned.all() or not churned.any():
        return None
    fpr, tpr, _ = roc_curve(churned, np.asarray(risk, dtype=float))
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(most, len(fpr))).round().astype(int))
    return {"fpr": [float(x) for x in fpr[keep]], "tpr": [float(x) for x in tpr[keep]]}
