"""Records that travel along the data path: a post in, a prediction out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from model.toponyms import Place

NETWORKS = ("vk", "ok", "telegram", "x", "facebook", "instagram")


@dataclass(frozen=True)
class Post:
    """What the model needs of a post; `region` is a region code or None for the default."""

    id: str
    text: str
    network: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Label:
    """One head's decision: the label, its calibrated probability, the runners-up."""

    label: Any
    score: float
    top: tuple[tuple[str, float], ...] = ()

    def top_json(self) -> list[list[Any]]:
        """The runners-up as `[[code, score], ...]`, the label alone when there are none."""
        return [[code, round(score, 4)] for code, score in (self.top or ((self.label, self.score),))]


@dataclass(frozen=True)
class Prediction:
    id: str
    relevant: Label
    topic: Label
    agency: Label
    body: str
    municipality: Place | None
    rules: tuple[str, ...]
    needs_review: bool
    explanation: dict[str, Any] = field(default_factory=dict)
    model: str = ""

    def to_json(self) -> dict[str, Any]:
        """The wire shape shared by `otklik predict` and `POST /v1/predict`."""
        return {
            "id": self.id,
            "relevant": {"label": bool(self.relevant.label), "score": round(self.relevant.score, 4)},
            "topic": {
                "label": self.topic.label,
                "score": round(self.topic.score, 4),
                "top": self.topic.top_json(),
            },
            "agency": {
                "label": self.agency.label,
                "score": round(self.agency.score, 4),
                "top": self.agency.top_json(),
                "body": self.body,
            },
            "municipality": (
                {
                    "code": self.municipality.oktmo,
                    "name": self.municipality.name,
                    "others": list(self.municipality.others),
                }
                if self.municipality
                else None
            ),
            "rules": list(self.rules),
            "needs_review": self.needs_review,
            "explanation": self.explanation,
            "model": self.model,
        }
