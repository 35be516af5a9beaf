"""Drift: are recent posts unlike the training data, and are administrators correcting the model more?

Two signals. The topic and agency distributions of recent complaints (the model's predictions) against
the training data's, as total variation distance and PSI (population stability index; by the usual
rule of thumb below 0.1 is stable, 0.1-0.25 a moderate shift, above 0.25 a large one). And per head,
the share of triage decisions per week that corrected it; a head whose correction rate doubles from
one week to the next gets a WARNING line.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

HEADS = ("relevance", "topic", "agency", "municipality")
PSI_LARGE = 0.25
SMOOTHING = 1e-4  # a class absent on one side would make PSI infinite
MIN_WEEKLY_DECISIONS = 10  # fewer decisions in a week than this: its rate is noise, no warning
MIN_WARNED_RATE = 0.05  # a rate doubling from 1% to 2% is not worth waking anyone


def distribution(labels: Iterable[str]) -> dict[str, float]:
    counts = Counter(labels)
    total = sum(counts.values())
    return {label: count / total for label, count in sorted(counts.items())} if total else {}


def total_variation(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def psi(actual: Mapping[str, float], expected: Mapping[str, float]) -> float:
    total = 0.0
    for k in set(actual) | set(expected):
        a, e = max(actual.get(k, 0.0), SMOOTHING), max(expected.get(k, 0.0), SMOOTHING)
        total += (a - e) * math.log(a / e)
    return total


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 of the moment's week, in the moment's time zone."""
    day = moment - timedelta(days=moment.weekday())
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def correction_rates(
    decisions: Sequence[tuple[datetime, Sequence[str]]], weeks: int, now: datetime
) -> list[dict[str, Any]]:
    """Per week (oldest first, the last `weeks` weeks up to `now`): decisions and, per head, the share
    of them that corrected it. `decisions` are (when, heads corrected) of accept/correct/dismiss."""
    first = week_start(now) - timedelta(weeks=weeks - 1)
    buckets: dict[datetime, list[Sequence[str]]] = {first + timedelta(weeks=i): [] for i in range(weeks)}
    for at, corrected in decisions:
        start = week_start(at.astimezone(now.tzinfo))
        if start in buckets:
            buckets[start].append(corrected)
    out = []
    for start, rows in buckets.items():
        n = len(rows)
        rates = {head: round(sum(head in c for c in rows) / n, 4) if n else None for head in HEADS}
        out.append({"week": start.date().isoformat(), "decisions": n, "correction_rate": rates})
    return out


def rate_warnings(weekly: Sequence[Mapping[str, Any]]) -> list[str]:
    """A line per head and week whose correction rate at least doubled since the week before."""
    out = []
    for before, after in pairwise(weekly):
        if min(before["decisions"], after["decisions"]) < MIN_WEEKLY_DECISIONS:
            continue
        for head in HEADS:
            old, new = before["correction_rate"][head], after["correction_rate"][head]
            if new >= MIN_WARNED_RATE and new >= 2 * old:
                out.append(f"WARNING: {head} correction rate doubled: {old:.1%} in the week of {before['week']} "
                           f"-> {new:.1%} in the week of {after['week']} ({after['decisions']} decisions)")
    return out


def drift_report(
    recent: Mapping[str, Sequence[str]],
    reference: Mapping[str, Sequence[str]],
    decisions: Sequence[tuple[datetime, Sequence[str]]],
    weeks: int,
    now: datetime,
) -> dict[str, Any]:
    """`recent[head]` / `reference[head]`: the labels of recent complaints and of the training data."""
    heads: dict[str, Any] = {}
    warnings = []
    for head in ("topic", "agency"):
        p, q = distribution(recent.get(head, ())), distribution(reference.get(head, ()))
        tv = round(total_variation(p, q), 4) if p and q else None
        index = round(psi(p, q), 4) if p and q else None
        moved = sorted(set(p) | set(q), key=lambda k: (-abs(p.get(k, 0.0) - q.get(k, 0.0)), k))[:5]
        shift = {"recent": len(recent.get(head, ())), "reference": len(reference.get(head, ())),
                 "total_variation": tv, "psi": index,
                 "moved_most": [{"label": k, "recent": round(p.get(k, 0.0), 4), "reference": round(q.get(k, 0.0), 4)}
                                for k in moved]}
        if index is not None and index > PSI_LARGE:
            warnings.append(f"WARNING: {head} distribution shifted: PSI {index:.3f} > {PSI_LARGE} "
                            f"(total variation {tv:.3f})")
        heads[head] = shift
    weekly = correction_rates(decisions, weeks, now)
    warnings += rate_warnings(weekly)
    return {"since": weekly[0]["week"] if weekly else None, "distributions": heads, "weekly": weekly,
            "warnings": warnings}


def text(report: Mapping[str, Any]) -> str:
    """The report for people: distribution shift per head, the weekly correction rates, warnings."""
    lines = [f"Drift since the week of {report['since']}:"]
    for head, s in report["distributions"].items():
        if s["psi"] is None:
            missing = "no recent predictions" if not s["recent"] else "no reference labels"
            lines.append(f"  {head}: {missing} to compare")
            continue
        moved = ", ".join(f"{m['label']} {m['reference']:.1%}->{m['recent']:.1%}" for m in s["moved_most"][:3])
        lines.append(f"  {head}: PSI {s['psi']:.3f}, total variation {s['total_variation']:.3f} over "
                     f"{s['recent']} recent complaints (moved most: {moved})")
    lines.append("Correction rate per week (relevance / topic / agency / municipality):")
    for week in report["weekly"]:
        rates = " / ".join("—" if week["correction_rate"][h] is None else f"{week['correction_rate'][h]:.1%}"
                           for h in HEADS)
        lines.append(f"  {week['week']}: {week['decisions']:>5} decisions  {rates}")
    lines += report["warnings"]
    return "\n".join(lines)
