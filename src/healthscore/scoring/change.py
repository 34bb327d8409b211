"""Explanations of change: a score delta split exactly into per-measure contributions.

A measure's points are its effective weight times its score, and a score is the sum of its
points, so the change of a score is exactly the sum of the changes of points, whatever moved:
the measure's own value, a weight shared out again because another measure lost its data, or a
different segment variant. Each contribution is further split, exactly, into a part due to the
measure's score and a part due to its weight::

    Δpoints = w̄ · Δscore + s̄ · Δweight      (w̄, s̄: the means of the two dates)

and described in words from the raw values.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthscore.formatting import delta as fmt_points
from healthscore.formatting import raw_value as fmt_value


@dataclass(frozen=True)
class Contribution:
    """One measure's part in a change of score."""

    group: str
    measure: str
    label: str
    points: float          # change of this measure's points; all of them sum to the delta
    score_effect: float    # the part due to the measure's own score
    weight_effect: float   # the part due to its effective weight
    raw_before: float | None
    raw_after: float | None
    reason: str


def _reason(label: str, m: dict, score_effect: float, weight_effect: float) -> str:
    before, after = fmt_value(m["raw_before"]), fmt_value(m["raw_after"])
    same = before == after
    text = f"{label} {before} → {after}" if not same else f"{label} {after}"
    notes = []
    if m["override_after"] is not None and m["override_before"] != m["override_after"]:
        notes.append("overridden by a CSM")
    elif m["override_before"] is not None and m["override_after"] is None:
        notes.append("override ended")
    elif same and abs(score_effect) >= 0.05 and abs(score_effect) >= abs(weight_effect) \
            and m["score_before"] is not None and m["score_after"] is not None:
        # the same value scored differently: ranked against accounts that moved, or a
        # different variant's scoring
        notes.append(f"value unchanged, scored {m['score_before']:.0f} → "
                     f"{m['score_after']:.0f}")
    if abs(weight_effect) >= 0.05 and abs(weight_effect) > abs(score_effect):
        wb, wa = 100 * m["weight_before"], 100 * m["weight_after"]
        notes.append(f"weight {wb:.0f}% → {wa:.0f}%"
                     + (", the value unchanged" if same else ""))
    return text + (f" ({'; '.join(notes)})" if notes else "")


def explain_change(change: dict, labels: dict[str, str] | None = None) -> dict:
    """Contributions of each measure to the change between ``change['before']`` and ``'after'``.

    Returns the delta, the band change, the variant change, contributions sorted by size
    (largest first; they sum to the delta) and a one-line summary in words.
    """
    labels = labels or {}
    before, after = change["before"], change["after"]
    parts = []
    for m in change["measures"]:
        sb, sa = m["score_before"], m["score_after"]
        wb, wa = m["weight_before"], m["weight_after"]
        # A score absent on one date counts as equal to the other's: the change is the weight's.
        sb = sa if sb is None else sb
        sa = sb if sa is None else sa
        sb = 0.0 if sb is None else sb
        sa = 0.0 if sa is None else sa
        points = m["points_after"] - m["points_before"]
        score_effect = (wa + wb) / 2 * (sa - sb)
        weight_effect = points - score_effect
        label = labels.get(m["measure"], m["measure"])
        parts.append(Contribution(m["group"], m["measure"], label, points, score_effect,
                                  weight_effect, m["raw_before"], m["raw_after"],
                                  _reason(label, m, score_effect, weight_effect)))
    parts.sort(key=lambda c: (-abs(c.points), c.measure))
    delta = None
    if before["score"] is not None and after["score"] is not None:
        delta = after["score"] - before["score"]
    moved = [c for c in parts if abs(c.points) >= 0.05]
    head = (f"{fmt_points(delta)} points ({before['score']:.1f} → {after['score']:.1f}"
            if delta is not None else "score not comparable (")
    if before["band"] != after["band"]:
        head += f", {before['band']} → {after['band']}"
    head += ")"
    if before["variant"] != after["variant"]:
        head += f", variant {before['variant']} → {after['variant']}"
    detail = ", ".join(f"{c.reason} ({fmt_points(c.points)})" for c in moved[:5])
    return {
        "delta": delta,
        "before": before,
        "after": after,
        "band_change": None if before["band"] == after["band"] else
        (before["band"], after["band"]),
        "variant_change": None if before["variant"] == after["variant"] else
        (before["variant"], after["variant"]),
        "contributions": parts,
        "summary": head + (": " + detail if detail else ": no measure moved"),
    }


def with_reasons(found: dict, labels: dict[str, str]) -> dict:
    """Give each of the movers' drops and rises (``reads.movers``) its readable top reason:
    ``"Active seats (30 days) 0.62 → 0.31 (−9.1)"``."""
    for row in found["drops"] + found["rises"]:
        label = labels.get(row["top_measure"], row["top_measure"])
        row["reason"] = (f"{label} {fmt_value(row['top_raw_before'])} → "
                         f"{fmt_value(row['top_raw_after'])} "
                         f"({fmt_points(row['top_contribution'])})")
    return found
