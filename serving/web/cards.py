"""An incident as a card shows it: names instead of codes, local times, time left, marked text."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from model.lemma import Lemmatizer
from serving.store import Incident
from serving.validation import link
from serving.web.directory import Directory
from serving.web.highlight import Piece, highlight

# The names of `model.records.NETWORKS` as users know them.
NETWORKS = {"vk": "ВКонтакте", "ok": "Одноклассники", "telegram": "Telegram", "x": "X", "facebook": "Facebook",
            "instagram": "Instagram"}
STATUSES = {"new": "новый", "routed": "направлен", "answered": "отвечен", "dismissed": "отклонён"}


@dataclass(frozen=True)
class Choice:
    """A runner-up of the agency head: one click puts it into the correction form."""

    agency: str
    body: str
    score: float


@dataclass(frozen=True)
class Card:
    incident: Incident
    pieces: list[Piece]
    network: str
    region: str
    status: str
    published: str  # local time of the region
    deadline: str
    left: str  # "осталось 5 ч 12 мин" / "просрочено на 2 ч"
    topic: str
    topic_score: float | None
    agency: str
    agency_score: float | None
    body: str
    runners_up: tuple[Choice, ...]  # the other likely bodies, most likely first
    municipality: str | None
    relevance: float | None
    final_topic: str | None
    final_body: str | None
    final_municipality: str | None
    link: str | None = None  # the post's url when it is http(s): nothing else is rendered as a link


def duration(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days} д"] if days else []) + ([f"{hours} ч"] if hours or days else []) + [f"{mins} мин"]
    return " ".join(parts)


def time_left(incident: Incident, now: datetime) -> str:
    if incident.status == "answered":
        return "отвечено в срок" if incident.sla_met else "отвечено с опозданием"
    if incident.status == "dismissed":
        return "отклонён"
    left = incident.deadline - now
    return f"просрочено на {duration(left)}" if left.total_seconds() < 0 else f"осталось {duration(left)}"


def card(
    incident: Incident,
    directory: Directory,
    now: datetime,
    lemmatizer: Lemmatizer | None = None,
    vocabulary: Collection[str] = (),
) -> Card:
    s, region = incident.suggested, incident.region
    topics = s.scores.get("topic") or []
    # [[code, score], ...] the suggestion first (migration 0007 gave older incidents that shape)
    ranked = [(str(code), float(score)) for code, score in s.scores.get("agency") or []]
    final = incident.final
    return Card(
        incident=incident,
        pieces=highlight(incident.post.text, s.explanation, lemmatizer, vocabulary),
        network=NETWORKS.get(incident.post.network, incident.post.network),
        region=directory.region_name(region),
        status=STATUSES.get(incident.status, incident.status),
        published=f"{directory.local(region, incident.post.published_at):%d.%m.%Y %H:%M}",
        deadline=f"{directory.local(region, incident.deadline):%d.%m.%Y %H:%M %Z}",
        left=time_left(incident, now),
        topic=directory.topic(s.topic),
        topic_score=float(topics[0][1]) if topics and topics[0][0] == s.topic else None,
        agency=directory.agency(s.agency),
        agency_score=ranked[0][1] if ranked and ranked[0][0] == s.agency else None,
        body=s.body or directory.body(region, s.agency, s.municipality),
        runners_up=tuple(
            Choice(code, directory.body(region, code, s.municipality), score)
            for code, score in ranked
            if code != s.agency and code in directory.taxonomy.agencies
        ),
        municipality=directory.municipality(region, s.municipality),
        relevance=_score(s.scores.get("relevance")),
        final_topic=directory.topic(final.topic) if final else None,
        final_body=directory.body(region, final.agency, final.municipality) if final else None,
        final_municipality=directory.municipality(region, final.municipality) if final else None,
        link=link(incident.post.url),
    )


def _score(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
