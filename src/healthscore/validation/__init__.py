"""Proof: does the score predict churn? Backtests of stored scores against the outcomes that
followed them (:mod:`.backtest`), with metrics that carry their counts (:mod:`.metrics`)."""

from healthscore.validation.backtest import Backtest, backtest, sample_dates

__all__ = ["Backtest", "backtest", "sample_dates"]
