"""The churn model, pure: a penalised logistic regression on splines of each measure's value
and of its changes, plus straight terms in its score, whose per-measure contributions add up
exactly to its log-odds.

For each measure ``j`` the features are its raw value on the date and its change over 30 and
over 90 days (each a cubic B-spline on quantile knots, so a measure may matter more at one end
of its range than the other); its score (the scorecard's 0-100 reading of the value) and the
score's 30- and 90-day changes, each one straight term; and whether its value is missing. The
straight terms carry what the scorecard's author knows about a measure's good and bad range,
so a small history is not left to learn it from scratch; the splines add what the data shows
beyond it (compared on the demo, the Telco tutorial and by cross-validation: this form beat
splines alone, scores alone and straight terms alone in log-loss on the training rows, and
in AUC on the later dates). The log-odds of the event is::

    logit p = base + Σ_j c_j(x)

where ``c_j`` gathers every term of measure ``j`` and is centred on the training rows (an
average account's contribution is 0), so ``base`` is the log-odds of an average account and
each ``c_j`` says how much measure ``j`` moves this account from it. Contributions are in
log-odds ("points"): ``exp(c_j)`` multiplies the odds. Nothing here reads a store or a clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import SplineTransformer

#: The changes each measure's value is also read over (days).
CHANGES = (30, 90)
#: The parts of a measure's raw value, each a spline, in order.
PARTS = ("value",) + tuple(f"change_{d}d" for d in CHANGES)
#: The parts of a measure's score (0-100), each a straight term, in order.
SCORE_PARTS = ("score",) + tuple(f"score_change_{d}d" for d in CHANGES)


@dataclass
class FeatureFrame:
    """The model's input: for ``n`` rows and ``m`` measures, ``values[part]`` is ``(n, m)``
    (NaN where unknown) for each part of :data:`PARTS` and, optionally, of
    :data:`SCORE_PARTS` (a frame without them fits the splines alone)."""

    measures: list[str]
    values: dict[str, np.ndarray]

    @property
    def rows(self) -> int:
        return next(iter(self.values.values())).shape[0]

    def take(self, rows: np.ndarray) -> FeatureFrame:
        """The frame of ``rows`` only."""
        return FeatureFrame(self.measures, {k: v[rows] for k, v in self.values.items()})


#: A feature with fewer distinct values than this (a yes/no measure) enters the model as one
#: straight term instead of a spline: a spline needs values to bend between.
SPLINE_MIN_VALUES = 3


class _Part:
    """One feature's terms, fitted on the training rows (NaN imputed with the median): a
    cubic spline, one straight term for a two-valued feature (or any, ``straight``), none
    for a constant."""

    def __init__(self, x: np.ndarray, knots: int, straight: bool = False):
        known = x[~np.isnan(x)]
        self.fill = float(np.median(known)) if len(known) else 0.0
        distinct = len(np.unique(known))
        self.linear = distinct >= 2 and (straight or distinct < SPLINE_MIN_VALUES)
        self.scale = float(np.ptp(known)) if self.linear else 1.0
        self.spline = None
        if not self.linear and distinct >= SPLINE_MIN_VALUES:
            self.spline = SplineTransformer(n_knots=knots, degree=3, knots="quantile",
                                            extrapolation="constant")
            self.spline.fit(self._filled(x).reshape(-1, 1))

    def _filled(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), self.fill, x)

    def basis(self, x: np.ndarray) -> np.ndarray:
        if self.linear:  # on the scale of its range, like a spline's basis (0 to 1)
            return ((self._filled(x) - self.fill) / self.scale).reshape(-1, 1)
        if self.spline is None:  # a constant says nothing
            return np.zeros((len(x), 0))
        return self.spline.transform(self._filled(x).reshape(-1, 1))


@dataclass
class ChurnModel:
    """A fitted glass-box model: predict probabilities, log-odds and per-measure
    contributions that sum exactly to them."""

    measures: list[str]
    parts: dict[tuple[str, str], _Part]
    columns: list[tuple[str, str, int]]  # (measure, part or "missing", basis index)
    coef: np.ndarray
    intercept: float
    centre: np.ndarray  # (m,) mean training contribution of each measure
    penalty: float
    part_names: tuple[str, ...] = PARTS  # the parts of each measure it reads, in order

    @property
    def base(self) -> float:
        """Log-odds of an average training account (all contributions 0)."""
        return float(self.intercept + self.centre.sum())

    def _blocks(self, f: FeatureFrame, j: int) -> list[np.ndarray]:
        """Measure ``j``'s columns of the design: its parts' terms, then its missing flag."""
        measure = self.measures[j]
        return [self.parts[(measure, part)].basis(f.values[part][:, j])
                for part in self.part_names] + [
            np.isnan(f.values["value"][:, j]).astype(float).reshape(-1, 1)]

    def _raw(self, f: FeatureFrame) -> np.ndarray:
        """``(n, m)`` uncentred contribution of each measure: its columns are contiguous in
        the design, so each is its own terms times their coefficients (the whole design is
        never built: memory stays at one measure's columns)."""
        owner = np.array([self.measures.index(c[0]) for c in self.columns])
        out = np.zeros((f.rows, len(self.measures)))
        for j in range(len(self.measures)):
            coef = self.coef[owner == j]
            if len(coef):
                out[:, j] = np.hstack(self._blocks(f, j)) @ coef
        return out

    def contributions(self, f: FeatureFrame) -> np.ndarray:
        """``(n, m)`` each measure's contribution to the log-odds, centred so that
        ``base + contributions.sum(axis=1)`` is exactly :meth:`logit`."""
        return self._raw(f) - self.centre

    def logit(self, f: FeatureFrame) -> np.ndarray:
        return self.base + self.contributions(f).sum(axis=1)

    def probability(self, f: FeatureFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(f)))

    def to_json(self) -> str:
        """The fitted model as JSON: enough to read what it learnt (not to rebuild it)."""
        return json.dumps({"measures": self.measures, "base": self.base,
                           "penalty": self.penalty, "intercept": self.intercept,
                           "terms": len(self.columns)})


def _parts(f: FeatureFrame) -> tuple[str, ...]:
    """The parts ``f`` holds, in model order."""
    return PARTS + tuple(p for p in SCORE_PARTS if p in f.values)


#: The penalties :func:`choose_penalty` tries.
PENALTIES = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
#: Rows the penalty's cross-validation reads at most (a sample of accounts beyond it).
CV_ROWS = 40_000


def choose_penalty(f: FeatureFrame, event: np.ndarray, groups: np.ndarray, *,
                   folds: int = 5, knots: int = 4, seed: int = 0) -> tuple[float, dict]:
    """The penalty of :data:`PENALTIES` with the lowest mean log-loss in a ``folds``-fold
    cross-validation over accounts (``groups``: an account's rows stay in one fold), on the
    training rows only; and the mean log-loss of each."""
    from sklearn.model_selection import GroupKFold

    event = np.asarray(event, dtype=bool)
    groups = np.asarray(groups).astype(str)
    rows = np.arange(len(event))
    if len(rows) > CV_ROWS:  # whole accounts, drawn once, so large portfolios stay fast
        rng = np.random.default_rng(seed)
        accounts = np.unique(groups)
        share = CV_ROWS / len(rows)
        chosen = set(rng.choice(accounts, max(2, int(len(accounts) * share)), replace=False))
        rows = rows[np.isin(groups, list(chosen))]
    losses = {p: [] for p in PENALTIES}
    splitter = GroupKFold(n_splits=min(folds, len(np.unique(groups[rows]))))
    for fit_rows, test_rows in splitter.split(rows, groups=groups[rows]):
        a, b = rows[fit_rows], rows[test_rows]
        if event[a].all() or not event[a].any():
            continue
        for p in PENALTIES:
            model = fit_model(f.take(a), event[a], penalty=p, knots=knots)
            q = np.clip(model.probability(f.take(b)), 1e-9, 1 - 1e-9)
            y = event[b]
            losses[p].append(float(-np.mean(y * np.log(q) + (~y) * np.log(1 - q))))
    mean = {p: float(np.mean(v)) for p, v in losses.items() if v}
    if not mean:
        return 10.0, {}
    return min(mean, key=mean.get), mean


def fit_model(f: FeatureFrame, event: np.ndarray, *, penalty: float = 10.0, knots: int = 4
              ) -> ChurnModel:
    """Fit the model on ``f``'s rows and their ``event`` (L2 penalty ``penalty``: the inverse
    of scikit-learn's ``C``; larger is smoother; :func:`choose_penalty` picks one).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> v = rng.uniform(0, 1, (500, 2))
    >>> f = FeatureFrame(["a", "b"], {"value": v, "change_30d": np.zeros((500, 2)),
    ...                               "change_90d": np.zeros((500, 2))})
    >>> churn = rng.uniform(0, 1, 500) > v[:, 0]
    >>> model = fit_model(f, churn)
    >>> c = model.contributions(f)
    >>> bool(np.allclose(model.base + c.sum(axis=1), model.logit(f)))
    True
    >>> bool(np.abs(c[:, 0]).mean() > 3 * np.abs(c[:, 1]).mean())
    True
    """
    event = np.asarray(event, dtype=bool)
    if event.all() or not event.any():
        raise ValueError("the rows need both outcomes (events and non-events) to fit on")
    parts, columns, blocks = {}, [], []
    for j, measure in enumerate(f.measures):
        for part in _parts(f):
            p = _Part(f.values[part][:, j], knots, straight=part in SCORE_PARTS)
            parts[(measure, part)] = p
            b = p.basis(f.values[part][:, j])
            blocks.append(b)
            columns += [(measure, part, k) for k in range(b.shape[1])]
        blocks.append(np.isnan(f.values["value"][:, j]).astype(float).reshape(-1, 1))
        columns.append((measure, "missing", 0))
    x = np.hstack(blocks)
    fitted = LogisticRegression(C=1.0 / penalty, max_iter=2000).fit(x, event)
    model = ChurnModel(list(f.measures), parts, columns, fitted.coef_[0].copy(),
                       float(fitted.intercept_[0]), np.zeros(len(f.measures)), penalty,
                       _parts(f))
    model.centre = model._raw(f).mean(axis=0)
    return model
