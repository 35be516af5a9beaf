"""Pydantic schemas of the HTTP edge. Records inside the system are `model.records` dataclasses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serving.validation import Clean

Network = Literal["vk", "ok", "telegram", "x", "facebook", "instagram"]

POST_EXAMPLE: dict[str, Any] = {
    "id": "vk-123_456",
    "text": "Третий день нет горячей воды на Гайве, управляющая компания трубку не берёт!!!",
    "network": "vk",
    "region": "perm-krai",
}


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [POST_EXAMPLE]})

    id: Clean = Field(min_length=1, max_length=200, description="идентификатор поста у вызывающей стороны")
    text: str = Field(description="текст поста: видимые символы, не длиннее лимита (по умолчанию 16 384 символа)")
    network: Network | None = Field(None, description="соцсеть: vk, ok, telegram, x, facebook, instagram")
    region: Clean | None = Field(
        None, description="код региона (файл annotations/regions/<код>.yaml); по умолчанию — регион модели"
    )


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "posts": [
                        POST_EXAMPLE,
                        {"id": "ok-77", "text": "Когда в Соликамске отремонтируют дорогу на Северной? Ямы по колено"},
                    ]
                }
            ]
        },
    )

    posts: list[PostIn] = Field(min_length=1, description="от 1 до 1000 постов")


class RelevantOut(BaseModel):
    label: bool
    score: float


class TopicOut(BaseModel):
    label: str
    score: float
    top: list[tuple[str, float]] = Field(description="три самые вероятные темы: [код, вероятность], первая — label")


class AgencyOut(BaseModel):
    label: str
    score: float
    top: list[tuple[str, float]] = Field(
        description="три самых вероятных ведомства: [код, вероятность], первое — label; остальные — кому ещё "
        "может относиться жалоба"
    )
    body: str = Field(description="полное название органа, который должен ответить")


class MunicipalityOut(BaseModel):
    code: str = Field(description="ОКТМО муниципального образования")
    name: str
    others: list[str] = Field(description="другие упомянутые муниципалитеты (ОКТМО)")


class PredictionOut(BaseModel):
    id: str
    relevant: RelevantOut
    topic: TopicOut
    agency: AgencyOut
    municipality: MunicipalityOut | None
    rules: list[str]
    needs_review: bool
    explanation: dict[str, Any]
    model: str


class PredictResponse(BaseModel):
    model: str
    predictions: list[PredictionOut]


class ModelInfo(BaseModel):
    id: str
    created_at: str
    default_region: str
    regions: list[str]
    labels: dict[str, list[str]]
    thresholds: dict[str, Any]
    metrics: dict[str, Any]
    mlflow_run_id: str | None
    versions: dict[str, str]


class Problem(BaseModel):
    """Every 4xx answer: what is wrong, and where."""

    detail: str | list[dict[str, Any]]
