"""Scoring: raw measure values → 0-100 measure scores → one weighted score, bands and grades.

Pure, vectorised numpy over all accounts at once; no I/O, no clock.
"""

from healthscore.scoring.combine import Combined, band, combine, grade
from healthscore.scoring.functions import score_values

__all__ = ["Combined", "band", "combine", "grade", "score_values"]
