"""healthscore's benchmarks: our scoring vs hand-written DuckDB SQL vs plain pandas.

Run ``python -m bench run --size S`` from the repository root; see ``bench/RESULTS.md``.
"""
