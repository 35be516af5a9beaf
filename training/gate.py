"""The promotion gate: a challenger replaces the champion only when it is no worse anywhere and better somewhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# head -> (section of an `evaluate` report, metric, how people call it)
HEADS: dict[str, tuple[str, str, str]] = {
    "relevance": ("relevance", "f1", "relevance F1"),
    "topic": ("topic", "macro_f1", "topic macro-F1"),
    "agency": ("agency", "accuracy", "agency accuracy"),
    "municipality": ("municipality", "accuracy", "municipality accuracy"),
}


@dataclass(frozen=True)
class Delta:
    """One head on one data set: both models' scores and the tolerance the challenger had."""

    dataset: str
    head: str
    champion: float
    challenger: float
    tolerance: float

    @property
    def change(self) -> float:
        return round(self.challenger - self.champion, 4)

    def describe(self) -> str:
        return (f"{HEADS[self.head][2]} on {self.dataset}: challenger {self.challenger:.4f} vs champion "
                f"{self.champion:.4f} ({self.change:+.4f}, tolerance {self.tolerance})")


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str
    deltas: tuple[Delta, ...]
    worse: tuple[Delta, ...]
    better: tuple[Delta, ...]

    def to_json(self) -> dict[str, Any]:
        def rows(ds: tuple[Delta, ...]) -> list[dict[str, Any]]:
            return [{"dataset": d.dataset, "head": d.head, "champion": d.champion, "challenger": d.challenger,
                     "change": d.change, "tolerance": d.tolerance} for d in ds]

        return {"promote": self.promote, "reason": self.reason, "deltas": rows(self.deltas),
                "worse": rows(self.worse), "better": rows(self.better)}


def head_score(report: Mapping[str, Any], head: str) -> float | None:
    """The gate's metric of `head` in an `evaluate` report, or None when the data had no labels for it."""
    section, metric, _ = HEADS[head]
    value = report.get(section, {}).get(metric)
    return None if value is None else float(value)


def judge(
    champion: Mapping[str, Mapping[str, Any]],
    challenger: Mapping[str, Mapping[str, Any]],
    tolerances: Mapping[str, float],
    min_gain: float = 0.0,
) -> Verdict:
    """Compare two models' `evaluate` reports per data set (`{"test": report, "holdout": report}`).

    Refused when any head on any data set drops by more than that data set's tolerance, or when no
    head on any data set gains more than `min_gain`: a retrained model that changes nothing measurable
    is not worth a swap."""
    deltas = []
    for dataset, tolerance in tolerances.items():
        if dataset not in champion or dataset not in challenger:
            continue
        for head in HEADS:
            old, new = head_score(champion[dataset], head), head_score(challenger[dataset], head)
            if old is not None and new is not None:
                deltas.append(Delta(dataset, head, old, new, tolerance))
    worse = tuple(d for d in deltas if d.change < -d.tolerance)
    better = tuple(d for d in deltas if d.change > min_gain)
    if not deltas:
        return Verdict(False, "no head could be compared (no labelled data)", (), (), ())
    if worse:
        reason = "worse than the champion beyond tolerance: " + "; ".join(d.describe() for d in worse)
        return Verdict(False, reason, tuple(deltas), worse, better)
    if not better:
        return Verdict(False, f"better than the champion on no head (min gain {min_gain})",
                       tuple(deltas), worse, better)
    reason = "better on " + "; ".join(d.describe() for d in better)
    return Verdict(True, reason, tuple(deltas), worse, better)
