"""The dashboard's charts as numbers a template draws: CSS bars and a server-rendered SVG time line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from serving.store.stats import StatsRow

WIDTH, HEIGHT = 720, 160  # the time line's SVG viewBox


@dataclass(frozen=True)
class Bar:
    """One group: answered in time of answered, and what is still open or overdue."""

    label: str
    row: StatsRow
    percent: int | None  # share answered in time, 0..100; None when nothing was answered


@dataclass(frozen=True)
class Day:
    day: str  # DD.MM
    registered: int
    answered: int
    x: float
    width: float
    registered_height: float
    answered_height: float


def bars(rows: Sequence[StatsRow], name: Callable[[str | None], str]) -> list[Bar]:
    """Groups by how many incidents they registered, most first."""
    ordered = sorted(rows, key=lambda r: (-r.registered, name(r.key)))
    return [
        Bar(name(r.key), r, None if r.share_in_time is None else round(100 * r.share_in_time)) for r in ordered
    ]


def timeline(rows: Sequence[StatsRow], first: date, days: int) -> list[Day]:
    """One column per day from `first`, days without incidents included, scaled to the busiest day."""
    by_day = {r.key: r for r in rows}
    top = max((r.registered for r in rows), default=0) or 1
    width = WIDTH / days
    out = []
    for i in range(days):
        day = first + timedelta(days=i)
        row = by_day.get(day.isoformat())
        registered, answered = (row.registered, row.answered) if row else (0, 0)
        out.append(
            Day(
                day=f"{day:%d.%m}",
                registered=registered,
                answered=answered,
                x=round(i * width, 2),
                width=round(width, 2),
                registered_height=round(HEIGHT * registered / top, 2),
                answered_height=round(HEIGHT * answered / top, 2),
            )
        )
    return out
