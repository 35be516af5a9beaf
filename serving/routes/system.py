"""Liveness, readiness, metrics, and the model in use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from model.bundle import BundleError
from serving.auth import allow
from serving.database import NOT_REACHABLE, reachable
from serving.deps import ClockDep, EngineDep, HolderDep, MetricsDep, PredictorDep
from serving.schemas import ModelInfo, Problem
from serving.store import Clock
from serving.store.leases import MONITOR, lease_of
from serving.store.sources import source_health

router = APIRouter(tags=["system"])


@router.get("/health", summary="Процесс жив")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Модель загружена, база доступна и принимает запись", responses={503: {"model": Problem}})
def ready(
    holder: HolderDep, engine: EngineDep, clock: ClockDep, request: Request, response: Response
) -> dict[str, Any]:
    database_problem = reachable(engine)
    reached = database_problem is None or not database_problem.startswith(NOT_REACHABLE)
    if reached and request.app.state.schema_error is not None:  # away at start-up: migrate now that it is back
        request.app.state.migrate()
        database_problem = request.app.state.schema_error or reachable(engine)
    checks: dict[str, Any] = {
        "model": holder.current.bundle.id if holder.current else None,
        "database": database_problem is None,
    }
    problems = []
    if holder.current is None:
        problems.append(holder.error or "model not loaded")
    if database_problem:
        problems.append(database_problem)
    down = bool(problems)
    if reached:  # a stopped source is reported, but the API itself still serves
        problems += sources_and_monitor(request, clock, checks)
    if down:
        response.status_code = 503
    return {"ready": not down, "checks": checks, "problems": problems}


def sources_and_monitor(request: Request, clock: Clock, checks: dict[str, Any]) -> list[str]:
    """Fill `checks` with the sources' health and the monitor's lease; the problems of stopped sources."""
    try:
        with request.app.state.sessions() as session:
            checks["sources"], stopped = source_health(session)
            lease = lease_of(session, MONITOR)
    except SQLAlchemyError:  # a database that reads no tables (not migrated): /ready says so already
        return []
    # which `otklik monitor` works (null: none has run or the last one exited); not alive: it died
    checks["monitor"] = lease and {"holder": lease.holder, "until": lease.expires_at.isoformat(),
                                   "alive": lease.expires_at > clock.now()}
    return stopped


@router.get("/metrics", summary="Метрики Prometheus", include_in_schema=False)
def metrics_endpoint(metrics: MetricsDep, holder: HolderDep) -> Response:
    if holder.current is not None:
        metrics.bundle.info({"id": holder.current.bundle.id})
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def model_info(predictor: Any) -> dict[str, Any]:
    meta = predictor.bundle.meta
    return {
        "id": meta["id"],
        "created_at": meta["created_at"],
        "default_region": predictor.default_region,
        "regions": list(predictor.regions),
        "labels": meta["labels"],
        "thresholds": meta["thresholds"],
        "metrics": meta.get("metrics", {}),
        "mlflow_run_id": meta.get("mlflow_run_id"),
        "versions": meta.get("versions", {}),
    }


@router.get(
    "/v1/model",
    response_model=ModelInfo,
    dependencies=[Depends(allow("read_model"))],
    summary="Модель в работе",
    responses={401: {"model": Problem}, 403: {"model": Problem}, 503: {"model": Problem}},
)
def model(predictor: PredictorDep) -> dict[str, Any]:
    return model_info(predictor)


@router.post(
    "/v1/model/reload",
    response_model=ModelInfo,
    dependencies=[Depends(allow("manage_model"))],
    summary="Перечитать var/models/current",
    responses={401: {"model": Problem}, 403: {"model": Problem}, 409: {"model": Problem}},
)
async def reload(holder: HolderDep) -> dict[str, Any]:
    try:
        predictor = await run_in_threadpool(holder.load)
    except BundleError as exc:
        current = holder.current.bundle.id if holder.current else None
        raise HTTPException(409, f"{exc} (still serving {current})") from exc
    return model_info(predictor)
