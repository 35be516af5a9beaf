"""Drift: distribution distances, weekly correction rates, and when to warn."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from training.drift import correction_rates, distribution, drift_report, psi, rate_warnings, text, total_variation

NOW = datetime.fromisoformat("2026-11-28T12:00:00+00:00")  # a Saturday
THIS_MONDAY = datetime.fromisoformat("2026-11-23T00:00:00+00:00")


def test_distances() -> None:
    p = distribution(["roads", "roads", "housing", "waste"])
    assert p == {"housing": 0.25, "roads": 0.5, "waste": 0.25}
    assert total_variation(p, p) == 0 and psi(p, p) == 0
    q = distribution(["health"] * 4)
    assert total_variation(p, q) == pytest.approx(1.0)
    assert psi(p, q) > 5  # nothing in common: far past the 0.25 of a large shift
    assert 0 < psi(distribution(["roads"] * 6 + ["housing"] * 4), distribution(["roads"] * 5 + ["housing"] * 5)) < 0.1


def week(start: datetime, n: int, corrected: dict[str, int]) -> list[tuple[datetime, list[str]]]:
    """`n` decisions spread over the week starting at `start`; the first corrected[head] correct `head`."""
    return [(start + timedelta(hours=6 * i), [h for h, k in corrected.items() if i < k]) for i in range(n)]


def test_weekly_rates_are_bucketed_by_monday_and_a_doubling_warns() -> None:
    before, last = THIS_MONDAY - timedelta(weeks=1), THIS_MONDAY
    decisions = week(before, 20, {"agency": 2, "topic": 2}) + week(last, 20, {"agency": 5, "topic": 3})
    decisions.append((THIS_MONDAY - timedelta(weeks=5), ["agency"]))  # older than the window: ignored
    weekly = correction_rates(decisions, 3, NOW)
    assert [w["week"] for w in weekly] == ["2026-11-09", "2026-11-16", "2026-11-23"]
    assert [w["decisions"] for w in weekly] == [0, 20, 20]
    assert weekly[1]["correction_rate"] == {"relevance": 0.0, "topic": 0.1, "agency": 0.1, "municipality": 0.0}
    assert weekly[2]["correction_rate"]["agency"] == 0.25
    assert weekly[0]["correction_rate"]["agency"] is None
    warnings = rate_warnings(weekly)
    assert warnings == ["WARNING: agency correction rate doubled: 10.0% in the week of 2026-11-16 -> 25.0% in the "
                        "week of 2026-11-23 (20 decisions)"]  # topic went 10% -> 15%: no warning


@pytest.mark.parametrize(
    ("first", "second", "warned"),
    [
        ((20, 0), (20, 2), True),  # from nothing to 10%
        ((20, 0), (20, 0), False),
        ((20, 0), (40, 1), False),  # 2.5%: below the rate worth a warning
        ((5, 1), (5, 4), False),  # too few decisions to say anything
        ((20, 4), (20, 8), True),
    ],
)
def test_when_a_doubling_warns(first: tuple[int, int], second: tuple[int, int], warned: bool) -> None:
    decisions = (week(THIS_MONDAY - timedelta(weeks=1), first[0], {"topic": first[1]})
                 + week(THIS_MONDAY, second[0], {"topic": second[1]}))
    assert bool(rate_warnings(correction_rates(decisions, 2, NOW))) is warned


def test_the_report_warns_on_a_large_shift_and_reads_well() -> None:
    recent = {"topic": ["roads"] * 80 + ["housing"] * 20, "agency": ["municipality"] * 100}
    reference = {"topic": ["roads"] * 20 + ["housing"] * 80, "agency": ["municipality"] * 99 + ["waste_operator"]}
    report = drift_report(recent, reference, week(THIS_MONDAY, 12, {"relevance": 1}), 2, NOW)
    assert report["distributions"]["topic"]["total_variation"] == 0.6
    assert report["distributions"]["topic"]["moved_most"][0]["label"] in {"roads", "housing"}
    assert report["distributions"]["agency"]["psi"] < 0.25
    assert any(w.startswith("WARNING: topic distribution shifted") for w in report["warnings"])
    assert not any("agency distribution" in w for w in report["warnings"])
    shown = text(report)
    assert "topic: PSI" in shown and "roads 20.0%->80.0%" in shown and "2026-11-23:    12 decisions" in shown


def test_no_recent_predictions_is_said_not_guessed() -> None:
    report = drift_report({}, {"topic": ["roads"]}, [], 2, NOW)
    assert report["distributions"]["topic"]["psi"] is None and report["warnings"] == []
    assert "topic: no recent predictions to compare" in text(report)
