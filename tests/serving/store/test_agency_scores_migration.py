"""Migration 0007: incidents stored with the agency's probability alone get the runners-up shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import insert, select

from serving.database import make_engine, make_sessions
from serving.store import upgrade
from serving.store.schema import alembic_config
from serving.store.tables import IncidentRow, PostRow

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _rows(n: int, agency: str, scores: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    post = {"id": n, "network": "vk", "external_id": str(n), "author": None, "url": None, "text": f"жалоба {n}",
            "published_at": NOW, "raw": None, "region": "perm-krai", "text_hash": f"{n:064x}", "created_at": NOW}
    incident = {"id": n, "post_id": n, "version": 1, "status": "new", "region": "perm-krai", "registered_at": NOW,
                "registered_day": date(2026, 11, 28), "deadline": NOW + timedelta(hours=24),
                "suggested_relevant": True, "suggested_topic": "roads", "suggested_agency": agency,
                "suggested_body": "администрация", "suggested_municipality": None, "scores": scores,
                "needs_review": False, "uncertainty": 0.1, "explanation": {}, "topic": "roads", "agency": agency,
                "municipality": None, "bundle_id": "old"}
    return post, incident


def _scores(engine: Any) -> dict[int, dict[str, Any]]:
    with make_sessions(engine)() as session:
        return {n: scores for n, scores in session.execute(select(IncidentRow.id, IncidentRow.scores))}


def test_old_agency_scores_take_the_runners_up_shape_and_back(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        upgrade(engine, "0006")
        topic = [["roads", 0.8], ["improvement", 0.1], ["transport", 0.05]]
        new = {"relevance": 0.9, "topic": topic, "agency": [["municipality", 0.7], ["transport_ministry", 0.2]]}
        rows = [
            _rows(1, "municipality", {"relevance": 0.9, "topic": topic, "agency": 0.94}),
            _rows(2, "transport_ministry", {"relevance": 0.8, "topic": topic, "agency": 1}),
            _rows(3, "municipality", new),  # already in the new shape: untouched
            _rows(4, "municipality", {}),  # nothing stored: untouched
        ]
        with engine.begin() as conn:
            conn.execute(insert(PostRow), [p for p, _ in rows])
            conn.execute(insert(IncidentRow), [i for _, i in rows])
        upgrade(engine)
        after = _scores(engine)
        assert after[1] == {"relevance": 0.9, "topic": topic, "agency": [["municipality", 0.94]]}
        assert after[2]["agency"] == [["transport_ministry", 1]]
        assert after[3] == new and after[4] == {}

        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), "0006")
            conn.commit()
        back = _scores(engine)
        assert back[1]["agency"] == 0.94 and back[2]["agency"] == 1
        assert back[3]["agency"] == 0.7  # the new shape's suggestion, as 0006 stored it
    finally:
        engine.dispose()
