"""Pydantic schemas of the incident API (issue 6): posts in, incidents, the queue, decisions, responses.

The wire format is fixed by the issue (other tools depend on it); limits are explicit here, and the
ones that depend on settings or on the model (text length, batch size, region) are checked by the route.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serving.schemas import Network
from serving.validation import (
    MAX_AUTHOR,
    MAX_CODE,
    MAX_COMMENT,
    MAX_EXTERNAL_ID,
    MAX_ID,
    MAX_URL,
    Clean,
    Instant,
    Link,
)

INCOMING_EXAMPLE: dict[str, Any] = {
    "network": "vk",
    "external_id": "-123_456",
    "text": "На Гайве огромная яма на дороге, третью неделю никто не чинит!!!",
    "published_at": "2026-11-28T10:00:00+05:00",
    "url": "https://vk.com/wall-123_456",
    "author": "Ирина Петрова",
    "region": "perm-krai",
}


class IncomingPostIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [INCOMING_EXAMPLE]})

    network: Network = Field(description="соцсеть: vk, ok, telegram, x, facebook, instagram")
    external_id: Clean = Field(
        min_length=1,
        max_length=MAX_EXTERNAL_ID,
        description="идентификатор поста в соцсети; пара (network, external_id) уникальна",
    )
    text: str = Field(description="текст поста: видимые символы, не длиннее лимита (по умолчанию 16 384 символа)")
    published_at: Instant = Field(
        description="время публикации с часовым поясом, ISO 8601; не раньше 2000-01-01 и не позже суток от текущего"
    )
    url: Link | None = Field(None, max_length=MAX_URL, description="ссылка на пост: http:// или https://")
    author: Clean | None = Field(None, max_length=MAX_AUTHOR, description="автор поста")
    region: Clean | None = Field(
        None,
        max_length=MAX_CODE,
        description="код региона; по умолчанию — единственный регион модели, при нескольких — по топонимам поста "
        "(для регионального администратора — его регион)",
    )


class PostsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "posts": [
                        INCOMING_EXAMPLE,
                        {
                            "network": "telegram",
                            "external_id": "ekb_news/9812",
                            "text": "В Екатеринбурге на Уралмаше вторую неделю не вывозят мусор",
                            "published_at": "2026-11-28T09:15:00+05:00",
                        },
                    ]
                }
            ]
        },
    )

    posts: list[IncomingPostIn] = Field(min_length=1, description="от 1 до 1000 постов (лимит OTKLIK_MAX_POSTS)")


class RegisteredOut(BaseModel):
    external_id: str
    incident_id: int = Field(description="инцидент поста: новый или тот, к которому присоединён повтор")


class PostsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"created": ["-123_456", "ekb_news/9812"], "duplicates": [],
                          "incidents": [{"external_id": "-123_456", "incident_id": 17}]}]
        }
    )

    created: list[str] = Field(description="external_id сохранённых впервые постов")
    duplicates: list[str] = Field(
        description="external_id постов, которые уже были сохранены (или повторены в запросе)"
    )
    incidents: list[RegisteredOut] = Field(description="посты, ставшие инцидентами или присоединённые к инциденту")


class IncidentPostOut(BaseModel):
    network: str
    external_id: str
    url: str | None
    text: str
    published_at: str


class SuggestedOut(BaseModel):
    topic: str
    agency: str
    body: str = Field(description="полное название органа, который должен ответить")
    municipality: str | None = Field(description="ОКТМО муниципального образования")
    scores: dict[str, Any] = Field(
        description="уверенность модели: relevance — вероятность жалобы; topic и agency — [[код, вероятность], …], "
        "первым предложенное, за ним следующие по вероятности"
    )
    needs_review: bool = Field(description="модель не уверена: нужна проверка человеком")
    explanation: dict[str, Any] = Field(description="почему модель так решила: слова, правила, упоминания мест")


class FinalOut(BaseModel):
    topic: str
    agency: str
    municipality: str | None


class IncidentOut(BaseModel):
    """Времена — в часовом поясе региона инцидента."""

    id: int
    version: int = Field(description="версия: передаётся в решении, чтобы не затереть чужое решение")
    status: Literal["new", "routed", "answered", "dismissed"]
    post: IncidentPostOut
    registered_at: str
    deadline: str = Field(description="срок ответа: время регистрации + 24 часа (настройка региона)")
    overdue: bool = Field(description="срок прошёл, а ответа нет (вычисляется по часам в момент запроса)")
    suggested: SuggestedOut
    final: FinalOut | None = Field(description="метки, подтверждённые администратором")
    answered_at: str | None
    sla_met: bool | None = Field(description="ответ дан в срок")


class QueueOut(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None = Field(description="курсор следующей страницы; null — страница последняя")


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "accept", "version": 1},
                {"action": "correct", "version": 1, "agency": "transport_ministry"},
                {"action": "dismiss", "version": 1, "reason": "Реклама, не жалоба"},
                {"action": "reassign", "version": 2, "reason": "Не наш участок: дорога региональная"},
            ]
        },
    )

    action: Literal["accept", "correct", "dismiss", "reassign"] = Field(
        description="accept — принять подсказки; correct — исправить метки; dismiss — не жалоба (с причиной); "
        "reassign — «не наше», вернуть в очередь (с комментарием)"
    )
    version: int = Field(ge=1, le=MAX_ID, description="версия инцидента, которую видел пользователь")
    topic: Clean | None = Field(None, max_length=MAX_CODE, description="новая тема (только для correct)")
    agency: Clean | None = Field(None, max_length=MAX_CODE, description="новое ведомство (только для correct)")
    municipality: Clean | None = Field(None, max_length=MAX_CODE, description="ОКТМО (только для correct)")
    reason: Clean | None = Field(None, max_length=MAX_COMMENT,
                                 description="причина (обязательна для dismiss и reassign)")


class ResponseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"text": "Яма на ул. Мира будет заделана до 5 декабря.", "url": "https://vk.com/wall-1_99"}]
        },
    )

    text: str = Field(min_length=1, description="ответ ведомства; не длиннее лимита (по умолчанию 16 384 символа)")
    url: Link | None = Field(None, max_length=MAX_URL, description="ссылка на опубликованный ответ: http:// или https://")


class ConflictOut(BaseModel):
    """409: инцидент изменился или действие невозможно в его статусе; `current` — состояние сейчас."""

    detail: str
    current: IncidentOut
    allowed_actions: list[str] | None = Field(None, description="допустимые действия (при недопустимом переходе)")
