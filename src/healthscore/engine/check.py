"""Checks of a scorecard against the measure library and the data contracts.

The pydantic models check each file's shape; this checks what needs the library: every measure
exists and its params are valid, custom measures compile, and ``when``/``within`` name accounts
columns. Every problem is reported at once, as ``file:line: key: message``.
"""

from __future__ import annotations

from healthscore.config.scorecard import LoadedScorecard, MeasureConfig
from healthscore.errors import ConfigError
from healthscore.schemas import TABLES

ACCOUNT_COLUMNS = TABLES["accounts"].column_names


def measure_problems(loaded: LoadedScorecard, loc: tuple, mid: str,
                     cfg: MeasureConfig) -> list[str]:
    where = loaded.where(*loc)
    key = ".".join(map(str, loc))
    problems = []
    if cfg.custom is not None:
        from healthscore.measures.custom import check_custom

        problems += [f"{where}: {key}.custom.{p}" for p in check_custom(cfg.custom)]
    else:
        from healthscore.measures.base import get_measure

        name = cfg.measure or mid
        try:
            spec = get_measure(name)
        except ConfigError as exc:
            return [f"{loaded.where(*loc, 'measure') if cfg.measure else where}: {key}: "
                    f"{exc.message} ({exc.hint})"]
        try:
            spec.parse_params(cfg.params)
        except ConfigError as exc:
            problems += [f"{loaded.where(*loc, 'params')}: {key}.{p}" for p in exc.problems]
    if cfg.scoring.percentile and cfg.scoring.percentile.within not in (None, *ACCOUNT_COLUMNS):
        problems.append(f"{loaded.where(*loc, 'scoring')}: {key}.scoring.percentile.within: "
                        f"{cfg.scoring.percentile.within!r} is not an accounts column; use one "
                        f"of {', '.join(ACCOUNT_COLUMNS)}")
    return problems


def check_scorecard(loaded: LoadedScorecard) -> None:
    """Raise one ConfigError listing every problem of ``loaded`` (nothing if it is sound)."""
    sc = loaded.scorecard
    problems: list[str] = []
    for gname, group in sc.groups.items():
        for mid, cfg in group.measures.items():
            problems += measure_problems(loaded, ("groups", gname, "measures", mid), mid, cfg)
    for vname, variant in sc.variants.items():
        for column in variant.when:
            if column not in ACCOUNT_COLUMNS:
                problems.append(f"{loaded.where('variants', vname, 'when', column)}: "
                                f"variants.{vname}.when.{column}: not an accounts column; use "
                                f"one of {', '.join(ACCOUNT_COLUMNS)}")
        resolved = sc.resolve(vname)
        base_ids = {m for _, m, _ in sc.resolve().measures()}
        for gname, mid, cfg in resolved.measures():
            if mid not in base_ids:  # new in the variant: check it where it is written
                problems += measure_problems(
                    loaded, ("variants", vname, "groups", gname, "measures", mid), mid, cfg)
    if problems:
        raise ConfigError(f"{loaded.path}: scorecard {sc.name!r} has problems",
                          problems=problems, hint="see docs/scorecards.md and docs/measures.md")
