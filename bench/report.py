"""The Markdown table of one run, with the project's goals checked."""

from __future__ import annotations

from bench.run import IMPLS, Results, machine

#: The project's goals for one-day scoring at size M.
GOAL_VS_SQL = 1.5      # healthscore ≤ 1.5 × the hand-written SQL
GOAL_VS_PANDAS = 10.0  # healthscore ≥ 10 × faster than pandas
GOAL_RSS_GIB = 8.0     # peak memory ≤ 8 GiB
GOAL_BACKFILL = 10.0   # a 365-day daily backfill ≤ 10 × one day


def _f(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


def markdown(r: Results) -> str:
    m = machine()
    sql_wall, sql_work = r.median("DuckDB SQL", "wall_s"), r.median("DuckDB SQL", "work_s")
    cli_wall = r.median("healthscore CLI", "wall_s")
    api_wall, api_work = r.median("healthscore API", "wall_s"), r.median("healthscore API",
                                                                          "work_s")
    pandas_wall = r.median("pandas", "wall_s")
    lines = [
        f"**Size {r.size}**: {r.company.accounts:,} accounts generated, "
        f"{r.accounts_stored:,} in the store, **{r.usage_events:,} usage_events rows**; "
        f"**{r.accounts_scored:,} accounts scored** as of {r.as_of} "
        f"(`health`, 17 measures, 3 variants). {r.repeat} repeat(s), "
        f"{'after a warm-up round' if r.warmup else 'no warm-up'}, medians (peak RSS: the "
        f"largest). {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}, DuckDB "
        f"{m['duckdb']}, Ibis {m['ibis']}, pandas {m['pandas']}; healthscore at "
        f"{m['healthscore_commit']}.",
        "",
        "| what | wall s | work s | CPU s | peak RSS MiB | wall vs SQL | pandas vs it |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    ing = r.company.ingest
    lines.append(f"| ingest of the company from files (once) | {_f(ing.wall_s)} | – | "
                 f"{_f(ing.cpu_s)} | {_f(ing.peak_rss_mib, 0)} | – | – |")
    for impl in IMPLS:
        wall = r.median(impl, "wall_s")
        lines.append(
            f"| {impl} | {_f(wall)} | {_f(r.median(impl, 'work_s'))} | "
            f"{_f(r.median(impl, 'cpu_s'))} | {_f(r.median(impl, 'peak_rss_mib'), 0)} | "
            f"{_ratio(wall, sql_wall)} | {_ratio(pandas_wall, wall)} |")
    bf = r.backfill
    if bf is not None:
        lines.append(f"| healthscore backfill, {r.backfill_days} days daily (once) | "
                     f"{_f(bf.wall_s)} | – | {_f(bf.cpu_s)} | {_f(bf.peak_rss_mib, 0)} | – | – |")
    rss = max([(r.median(i, "peak_rss_mib") or 0) for i in ("healthscore CLI",
                                                             "healthscore API")]
              + [bf.peak_rss_mib if bf else 0]) / 1024
    vs_sql = cli_wall / sql_wall if cli_wall and sql_wall else None
    vs_pandas = pandas_wall / cli_wall if cli_wall and pandas_wall else None
    sql_ok = vs_sql is not None and vs_sql <= GOAL_VS_SQL
    pandas_ok = vs_pandas is not None and vs_pandas >= GOAL_VS_PANDAS
    lines += [
        "",
        "*wall*: the child process from start to exit (interpreter start-up and imports "
        "included); *work*: measured inside the child around the scoring call alone "
        "(the CLI reports none); *CPU*: user + sys of the child. Other processes on the "
        f"machine used at most {r.others_cpu_s():.1f} CPU s during any one timed run "
        f"(ingest: {ing.others_cpu_s:.1f}).",
        "",
        f"- healthscore CLI / SQL (wall): **{_ratio(cli_wall, sql_wall)}** "
        f"({_goal(r.size, f'≤ {GOAL_VS_SQL}×', sql_ok)}); "
        f"API work / SQL work: {_ratio(api_work, sql_work)}; API wall / SQL wall: "
        f"{_ratio(api_wall, sql_wall)}",
        f"- pandas / healthscore CLI (wall): **{_ratio(pandas_wall, cli_wall)}** "
        f"({_goal(r.size, f'≥ {GOAL_VS_PANDAS:g}×', pandas_ok)})",
        *([f"- backfill of {r.backfill_days} days / one day (CLI wall): "
           f"**{_ratio(bf.wall_s, cli_wall)}** "
           f"({_goal(r.size, f'≤ {GOAL_BACKFILL:g}×', bool(cli_wall) and bf.wall_s / cli_wall <= GOAL_BACKFILL)}); "
           f"{bf.wall_s / r.backfill_days:.2f} s per date"] if bf else []),
        f"- healthscore peak RSS: **{rss:.2f} GiB** "
        f"({_goal(r.size, f'≤ {GOAL_RSS_GIB:g} GiB', rss <= GOAL_RSS_GIB)})",
        "- checks: " + "; ".join(f"{k} = healthscore on {v['accounts']:,} accounts and "
                                  f"{v['measure_rows']:,} measure rows"
                                  for k, v in r.checks.items()),
    ]
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _goal(size: str, text: str, ok: bool) -> str:
    """The verdict on a goal; the goals are set for size M only."""
    return f"goal at M {text}: {_met(ok)}" if size == "M" else f"the goal, {text}, is for M"
