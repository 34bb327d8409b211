"""The engine: runs a scorecard's measures over the store's tables and hands the frame to the
pure scoring core (:mod:`healthscore.scoring`).

- :mod:`~healthscore.engine.evaluate`: the compiled DuckDB evaluation of a scorecard for any
  date, the usage roll-up grids for batches of dates, and the overrides in force;
- :mod:`~healthscore.engine.check`: a scorecard checked against the measure library (measures,
  parameters, custom expressions) before anything runs.
"""

from healthscore.engine.check import check_scorecard
from healthscore.engine.evaluate import Evaluator, active_overrides

__all__ = ["Evaluator", "active_overrides", "check_scorecard"]
