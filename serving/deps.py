"""Dependencies handed to routes: settings, the model in use, the caller's token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from model.predictor import Predictor
from serving.models import ModelHolder
from serving.observability import Metrics
from serving.settings import Settings

bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer <token>`")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.models
    return holder


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
EngineDep = Annotated[Engine, Depends(get_engine)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_predictor(holder: HolderDep) -> Predictor:
    predictor = holder.current
    if predictor is None:
        raise HTTPException(503, f"no model is loaded: {holder.error or 'the service is starting'}")
    return predictor


PredictorDep = Annotated[Predictor, Depends(get_predictor)]


def require_admin(settings: SettingsDep, credentials: Credentials) -> None:
    if credentials is None:
        raise HTTPException(401, "missing token: send `Authorization: Bearer <token>`",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), settings.admin_token.encode()):
        raise HTTPException(403, "this token may not do that")


def require_token_in_production(settings: SettingsDep, credentials: Credentials) -> None:
    """`/v1/predict` is open in development and needs a token when OTKLIK_ENV=production."""
    if settings.env == "production":
        require_admin(settings, credentials)


AdminDep = Depends(require_admin)
