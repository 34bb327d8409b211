"""Proof: does the score predict churn (or expansion)? Backtests of stored scores against the
outcomes that followed them (:mod:`.backtest`), with metrics that carry their counts
(:mod:`.metrics`); weights fitted to the outcomes (:mod:`.weights`) and a churn-probability
model (:mod:`.predict`).

Nothing is imported here: scikit-learn and SciPy would otherwise cost every command that
touches this package (``healthscore --help`` among them) time and memory. Import from the
modules: ``from healthscore.validation.backtest import backtest``.
"""
