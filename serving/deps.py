"""Dependencies handed to routes: settings, the model in use, the database. Who may call: `serving.auth`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from model.predictor import Predictor
from serving.models import ModelHolder
from serving.observability import Metrics
from serving.settings import Settings
from serving.store import Clock, SystemClock


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.models
    return holder


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_sessions(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


_SYSTEM_CLOCK = SystemClock()


def get_clock() -> Clock:
    """The store's "now"; tests override this dependency with a ManualClock."""
    return _SYSTEM_CLOCK


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]


def get_predictor(holder: HolderDep) -> Predictor:
    predictor = holder.current
    if predictor is None:
        raise HTTPException(503, f"no model is loaded: {holder.error or 'the service is starting'}")
    return predictor


PredictorDep = Annotated[Predictor, Depends(get_predictor)]
