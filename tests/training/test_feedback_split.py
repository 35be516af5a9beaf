"""Feedback labels into training rows: the latest decision wins, the test split stays unseen, the
most recent labels are held out by time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from training.corpus import CorpusError, Example
from training.retrain import split_feedback

T0 = datetime.fromisoformat("2026-11-01T10:00:00+05:00")
TRAIN = [Example("c-1", "Во дворе на Гайве третий день не горят фонари, вечером страшно", True, "improvement",
                 "municipality")]
TEST = [Example("t-1", "Автобус номер сорок два не пришёл утром, люди ждали на остановке больше часа", True,
                "transport", "municipality", split="test")]


def row(n: int, text: str, topic: str | None = "roads", hours: float = 0, decision: int | None = None,
        region: str = "perm-krai", incident: int | None = None) -> dict[str, Any]:
    return {"id": f"feedback-{incident or n}", "text": text, "relevant": topic is not None, "topic": topic,
            "agency": "municipality" if topic else None, "municipality": None, "network": "vk", "split": "train",
            "region": region, "at": (T0 + timedelta(hours=hours)).isoformat(), "decision": decision or n}


def texts(examples: Any) -> list[str]:
    return [ex.text for ex in examples]


def test_the_latest_decision_on_a_post_wins_whatever_the_order_of_the_rows() -> None:
    rows = [
        row(2, "Яма на Ленина у дома 5, машины бьют колёса", "improvement", hours=5),
        row(1, "Яма на Ленина у дома 5, машины бьют колёса", "roads", hours=1),
        # a repost decided in another incident, with other punctuation and case: the same post
        row(3, "ЯМА на Ленина у дома 5 — машины бьют колёса!!!", None, hours=3),
    ]
    fb = split_feedback(rows, TRAIN, TEST, 0.0, "perm-krai")
    assert [(ex.text, ex.topic) for ex in fb.train] == [("Яма на Ленина у дома 5, машины бьют колёса", "improvement")]
    assert fb.dropped == {"superseded": 2}


def test_ties_in_time_go_by_decision_id() -> None:
    rows = [row(1, "Нет света на улице Мира", "power", decision=8),
            row(2, "Нет света на улице Мира", "roads", decision=7)]
    assert [ex.topic for ex in split_feedback(rows, TRAIN, TEST, 0.0, "perm-krai").train] == ["power"]


def test_the_test_split_never_leaks_and_the_corpus_keeps_its_own_labels() -> None:
    rows = [
        row(1, TEST[0].text.upper(), "roads"),
        row(2, TEST[0].text.replace("больше часа", "почти час"), "roads"),  # a near-duplicate
        row(3, TRAIN[0].text, "roads"),
        row(4, "Снег на тротуарах не убирают, бабушки падают", "improvement"),
    ]
    fb = split_feedback(rows, TRAIN, TEST, 0.0, "perm-krai")
    assert texts(fb.train) == ["Снег на тротуарах не убирают, бабушки падают"]
    assert fb.dropped == {"test_split": 1, "near_test_split": 1, "in_corpus": 1}


def test_the_most_recent_labels_of_the_region_are_held_out() -> None:
    rows = [row(n, f"Жалоба номер {n}: во дворе {n} не вывозят мусор уже неделю", "waste", hours=n) for n in range(10)]
    rows.append(row(99, "В Нижнем Тагиле яма на дороге", "roads", hours=100, region="sverdlovsk-oblast"))
    fb = split_feedback(rows, TRAIN, TEST, 0.2, "perm-krai")
    assert [ex.id for ex in fb.holdout] == ["feedback-8", "feedback-9"]
    assert "feedback-99" in {ex.id for ex in fb.train}  # another region trains, but is not scored here
    assert not {ex.id for ex in fb.holdout} & {ex.id for ex in fb.train}


def test_training_rows_that_nearly_repeat_a_held_out_one_are_dropped() -> None:
    text = "Во дворе дома на Пушкина не вывозят мусор уже две недели, контейнеры переполнены"
    rows = [row(1, text, "waste", hours=1), row(2, "Другая жалоба: нет воды в доме", "housing", hours=2),
            row(3, text + " совсем", "waste", hours=3)]
    fb = split_feedback(rows, TRAIN, TEST, 0.34, "perm-krai")
    assert [ex.id for ex in fb.holdout] == ["feedback-3"]
    assert [ex.id for ex in fb.train] == ["feedback-2"]
    assert fb.dropped == {"near_holdout": 1}


def test_a_malformed_row_names_itself() -> None:
    bad = row(1, "Яма", "roads")
    del bad["relevant"]
    with pytest.raises(CorpusError, match=r"feedback row feedback-1.*'relevant'"):
        split_feedback([bad], TRAIN, TEST, 0.0, "perm-krai")


@pytest.mark.parametrize("share", [-0.1, 1.0])
def test_the_held_out_share_is_a_share(share: float) -> None:
    with pytest.raises(ValueError, match="holdout_share must be at least 0 and below 1"):
        split_feedback([], TRAIN, TEST, share, "perm-krai")
