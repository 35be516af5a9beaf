"""Statistics for dashboards (issue 7): `GET /v1/stats` and its live feed `GET /v1/stats/stream`.

Each caller sees only their scope: the scope narrows the filters, and a filter outside it gives no
rows. The live feed polls the database (the one source of truth, so any number of workers agree)
and pushes the counters whenever they change; between changes it sends heartbeat comments, which
also reveal a client that went away.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from model.predictor import Predictor
from serving.auth import Caller, allow
from serving.deps import ClockDep, HolderDep, SessionsDep, SettingsDep
from serving.limits import problem
from serving.models import ModelHolder
from serving.schemas import Problem
from serving.settings import Settings
from serving.shutdown import Stopping
from serving.store import Clock
from serving.store.stats import GROUPS, compute_stats
from serving.validation import MAX_CODE, Clean, Instant

router = APIRouter(prefix="/v1", tags=["statistics"])
log = logging.getLogger("otklik.stats")

GROUP_PATTERN = f"^({'|'.join(GROUPS)})$"
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "нет токена или токен неизвестен"},
    403: {"model": Problem, "description": "роли не разрешено смотреть статистику"},
    422: {"model": Problem, "description": "неверный параметр; в ответе сказано какой"},
    503: {"model": Problem, "description": "база недоступна (с заголовком Retry-After)"},
}


class StatsRowOut(BaseModel):
    key: str | None = Field(description="значение группы (регион, ОКТМО, ведомство, тема, день ГГГГ-ММ-ДД); null — "
                                        "без группировки или муниципалитет не определён")
    registered: int = Field(description="зарегистрировано инцидентов")
    answered: int = Field(description="получили ответ")
    answered_in_time: int = Field(description="ответ в срок")
    overdue_now: int = Field(description="открыты, и срок уже прошёл")
    dismissed: int = Field(description="отклонены")
    open: int = Field(description="открыты (new, routed)")
    share_in_time: float | None = Field(description="доля ответов в срок среди отвеченных")
    median_hours_to_answer: float | None = Field(description="медиана времени до ответа, часы")
    p90_hours_to_answer: float | None = Field(description="90-й процентиль времени до ответа, часы")
    accepted_unchanged: dict[str, float | None] = Field(
        description="доля решённых инцидентов, где подсказка модели принята без изменений: topic, agency, municipality"
    )


class StatsOut(BaseModel):
    group_by: str
    since: datetime | None
    until: datetime | None
    generated_at: datetime = Field(description="момент расчёта (UTC)")
    rows: list[StatsRowOut]


@dataclass(frozen=True)
class StatsQuery:
    """The parameters both endpoints share."""

    group_by: str
    since: datetime | None
    until: datetime | None
    region: str | None
    agency: str | None
    municipality: str | None


def stats_query(
    group_by: Annotated[str, Query(pattern=GROUP_PATTERN, description="группировка: " + ", ".join(GROUPS))] = "none",
    since: Annotated[Instant | None, Query(description="зарегистрированы не раньше (ISO 8601 с поясом)")] = None,
    until: Annotated[Instant | None, Query(description="зарегистрированы раньше (ISO 8601 с поясом)")] = None,
    region: Annotated[Clean | None, Query(max_length=MAX_CODE, description="код региона")] = None,
    agency: Annotated[Clean | None, Query(max_length=MAX_CODE, description="код ведомства")] = None,
    municipality: Annotated[Clean | None, Query(max_length=MAX_CODE, description="ОКТМО муниципалитета")] = None,
) -> StatsQuery:
    if since is not None and until is not None and since >= until:
        raise HTTPException(422, [problem(["query", "until"], "until must be later than since")])
    return StatsQuery(group_by, since, until, region, agency, municipality)


StatsQueryDep = Annotated[StatsQuery, Depends(stats_query)]


def check_codes(query: StatsQuery, predictor: Predictor | None) -> None:
    """422 naming the parameter for a code the model's directory does not know (unchecked without a model)."""
    if predictor is None:
        return
    regions = predictor.bundle.regions
    problems = []
    if query.region is not None and query.region not in regions:
        problems.append(problem(["query", "region"], f"unknown region {query.region!r}; known: {', '.join(regions)}"))
    if query.agency is not None:
        try:
            predictor.bundle.taxonomy.check_agency(query.agency, "agency")
        except ValueError as exc:
            problems.append(problem(["query", "agency"], str(exc)))
    if query.municipality is not None:
        known = {m.oktmo for code, r in regions.items() if query.region in (None, code) for m in r.municipalities}
        if query.municipality not in known:
            problems.append(problem(["query", "municipality"],
                                    f"{query.municipality!r} is not an OKTMO code of "
                                    f"{query.region or 'any known region'}"))
    if problems:
        raise HTTPException(422, problems)


def calculator(
    query: StatsQuery, caller: Caller, holder: ModelHolder, sessions: sessionmaker[Session], clock: Clock
) -> Callable[[], dict[str, Any]]:
    """A function computing the caller's statistics as JSON, after the parameters were checked."""
    predictor = holder.current
    check_codes(query, predictor)
    filters = caller.scope.narrow_stats(query.region, query.agency, query.municipality)

    def compute() -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        if filters is not None:
            with sessions() as session:
                found = compute_stats(session, clock, group_by=query.group_by, since=query.since, until=query.until,
                                      **filters)
            rows = [row.to_json() for row in found]
        return {"group_by": query.group_by, "since": query.since, "until": query.until,
                "generated_at": clock.now(), "rows": rows}

    return compute


@router.get(
    "/stats",
    response_model=StatsOut,
    responses=_ERRORS,
    summary="Статистика инцидентов в пределах роли",
    description="Зарегистрировано, отвечено, в срок, просрочено сейчас, отклонено, открыто; доля ответов в срок; "
    "медиана и 90-й процентиль времени ответа; доля подсказок модели, принятых без изменений. Группировка по "
    "региону, муниципалитету, ведомству, теме или дню (в часовом поясе региона); окно — по времени регистрации. "
    "Фильтр за пределами роли даёт пустой список.",
)
def get_stats(
    query: StatsQueryDep,
    caller: Annotated[Caller, Depends(allow("read_stats"))],
    holder: HolderDep,
    sessions: SessionsDep,
    clock: ClockDep,
) -> dict[str, Any]:
    return calculator(query, caller, holder, sessions, clock)()


@router.get(
    "/stats/stream",
    responses={**_ERRORS, 200: {"content": {"text/event-stream": {}},
                                "description": "события `stats` (JSON как у GET /v1/stats) и комментарии-пульс"}},
    response_class=StreamingResponse,
    summary="Живая статистика: Server-Sent Events при каждом изменении счётчиков",
    description="Сразу присылает событие `stats` с текущими счётчиками, затем новое событие при каждом их изменении "
    "(база опрашивается раз в OTKLIK_STATS_POLL_SECONDS секунд); между изменениями — комментарии `: heartbeat`. "
    "Поток закрывается через OTKLIK_STATS_STREAM_SECONDS секунд; EventSource переподключается сам.",
)
async def stream_stats(
    request: Request,
    query: StatsQueryDep,
    caller: Annotated[Caller, Depends(allow("read_stats"))],
    holder: HolderDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> StreamingResponse:
    compute = calculator(query, caller, holder, sessions, clock)
    return event_stream(request, compute, settings, await run_in_threadpool(compute))


def event_stream(request: Request, compute: Callable[[], dict[str, Any]], settings: Settings,
                 first: dict[str, Any]) -> StreamingResponse:
    """The live feed of `compute`'s statistics, opening with `first` (computed before the answer starts,
    so a database that is away is a 503, not a stream of errors); the dashboard page serves its own
    through it too."""
    return StreamingResponse(
        stats_events(compute, settings.stats_poll_seconds, request.is_disconnected, settings.stats_stream_seconds,
                     request.app.state.stopping, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def stats_events(
    compute: Callable[[], dict[str, Any]],
    poll_seconds: float,
    disconnected: Callable[[], Awaitable[bool]],
    max_seconds: float,
    stopping: Stopping,
    first: dict[str, Any] | None = None,
) -> AsyncIterator[str]:
    """Server-Sent Events: `stats` when the rows change, a heartbeat comment otherwise, until the client
    goes, `max_seconds` have passed or the worker is stopping; a planned end is announced by an `end` event
    (`{"reason": "lifetime" | "stopping"}`). Then the client reconnects (EventSource does it by itself after
    `retry`), which checks its token again, so a revoked token loses its feed within `max_seconds`."""
    last: list[dict[str, Any]] | None = None
    pending = first
    events = 0
    ends = time.monotonic() + max_seconds
    yield f"retry: {int(poll_seconds * 1000)}\n\n"
    try:
        while time.monotonic() < ends and not stopping.is_set() and not await disconnected():
            try:
                payload = pending if pending is not None else await run_in_threadpool(compute)
                pending = None
            except SQLAlchemyError as exc:  # the database may come back: say so and keep the dashboard connected
                log.warning("stats stream: %s", exc)
                yield f"event: error\ndata: {json.dumps({'detail': 'statistics unavailable: database error'})}\n\n"
            else:
                if payload["rows"] != last:
                    last = payload["rows"]
                    events += 1
                    yield f"event: stats\ndata: {StatsOut.model_validate(payload).model_dump_json()}\n\n"
                else:
                    yield ": heartbeat\n\n"
            await stopping.pause(max(0.0, min(poll_seconds, ends - time.monotonic())))
        if not await disconnected():
            reason = "stopping" if stopping.is_set() else "lifetime"
            yield f"event: end\ndata: {json.dumps({'reason': reason})}\n\n"
    finally:  # the client went: the stream is cancelled or sees the disconnect
        log.info("stats stream ended", extra={"events": events})
