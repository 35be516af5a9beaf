"""The promotion gate on hand-made reports: no head worse beyond tolerance, at least one better."""

from __future__ import annotations

from typing import Any

import pytest

from training.gate import judge


def report(relevance: float = 0.94, topic: float = 0.93, agency: float = 0.91, municipality: float = 0.98
           ) -> dict[str, Any]:
    return {"relevance": {"f1": relevance}, "topic": {"macro_f1": topic}, "agency": {"accuracy": agency},
            "municipality": {"accuracy": municipality}}


TOLERANCES = {"test": 0.01, "holdout": 0.03}
BASE = {"test": report(), "holdout": report(topic=0.75, agency=0.71)}


@pytest.mark.parametrize(
    ("challenger", "promote", "why"),
    [
        ({"test": report(topic=0.928), "holdout": report(topic=1.0, agency=1.0)}, True, "topic macro-F1 on holdout"),
        ({"test": report(agency=0.915), "holdout": report(topic=0.75, agency=0.71)}, True, "agency accuracy on test"),
        ({"test": report(relevance=0.925), "holdout": report(topic=1.0, agency=1.0)}, False,
         "relevance F1 on test: challenger 0.9250 vs champion 0.9400 (-0.0150, tolerance 0.01)"),
        ({"test": report(), "holdout": report(topic=0.70, agency=0.71)}, False, "topic macro-F1 on holdout"),
        ({"test": report(topic=0.921), "holdout": report(topic=0.76, agency=0.71)}, True, "topic macro-F1 on holdout"),
        ({"test": report(), "holdout": report(topic=0.75, agency=0.71)}, False, "better than the champion on no head"),
        ({"test": report(topic=0.925), "holdout": report(topic=0.75, agency=0.71)}, False, "on no head"),
    ],
    ids=["fixes-holdout", "better-on-test", "relevance-drop", "holdout-drop", "drop-within-tolerance", "same",
         "only-worse-within-tolerance"],
)
def test_verdicts(challenger: dict[str, Any], promote: bool, why: str) -> None:
    verdict = judge(BASE, challenger, TOLERANCES)
    assert verdict.promote is promote
    assert why in verdict.reason
    assert verdict.reason.startswith("better on" if promote else ("worse", "better than the champion on no head"))


def test_a_data_set_one_side_lacks_and_heads_without_labels_are_not_compared() -> None:
    champion = {"test": report()}
    challenger = {"test": {"relevance": {"f1": 0.95}}, "holdout": report()}
    verdict = judge(champion, challenger, TOLERANCES)
    assert [(d.dataset, d.head) for d in verdict.deltas] == [("test", "relevance")]
    assert verdict.promote


def test_nothing_comparable_is_refused() -> None:
    verdict = judge({}, {"test": report()}, TOLERANCES)
    assert not verdict.promote and "no head could be compared" in verdict.reason


def test_min_gain_sets_what_counts_as_better() -> None:
    challenger = {"test": report(topic=0.935)}
    assert judge({"test": report()}, challenger, TOLERANCES).promote
    assert not judge({"test": report()}, challenger, TOLERANCES, min_gain=0.01).promote
