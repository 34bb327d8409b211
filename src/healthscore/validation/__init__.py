"""Proof: does the score predict churn (or expansion)? Backtests of stored scores against the
outcomes that followed them (:mod:`.backtest`), with metrics that carry their counts
(:mod:`.metrics`)."""

from healthscore.validation.backtest import TARGETS, Backtest, Target, backtest, sample_dates

__all__ = ["TARGETS", "Backtest", "Target", "backtest", "sample_dates"]
