"""The incident API of issue 6: posts in, the administrator's queue, one incident, decisions, answers.

Store work is synchronous (sync routes run in the thread pool, off the event loop). Each route
reads only inside the caller's scope: an incident outside it is 404, a queue filter outside it an
empty page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse

from model.predictor import Predictor
from serving.auth import Caller, allow
from serving.deps import ClockDep, PredictorDep, SessionsDep, SettingsDep
from serving.incident_schemas import (
    ConflictOut,
    DecisionIn,
    IncidentOut,
    PostsIn,
    PostsOut,
    QueueOut,
    ResponseIn,
)
from serving.ingest import IncomingPost, UnknownPostRegion, Unroutable, ingest, resolve_regions
from serving.limits import problem
from serving.schemas import Problem
from serving.store import (
    Clock,
    Conflict,
    IllegalTransition,
    Incident,
    IncidentNotFound,
    InvalidCursor,
    InvalidDecision,
    Labels,
    QueueFilter,
    decide,
    get_incident,
    queue,
    respond,
)
from serving.store.queue import MAX_LIMIT
from serving.store.tables import STATUSES
from serving.validation import Clean, id_in_range, post_problems, text_problem

router = APIRouter(prefix="/v1", tags=["incidents"])



_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "нет токена или токен неизвестен"},
    403: {"model": Problem, "description": "роли не разрешено это действие"},
    503: {"model": Problem, "description": "модель не загружена или база недоступна (с заголовком Retry-After)"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "нет такого инцидента"}}


def zones(predictor: Predictor) -> Callable[[Incident], dict[str, Any]]:
    """Incident → its JSON with times in its region's time zone (UTC for a region the model lacks)."""
    tz = {code: ZoneInfo(region.timezone) for code, region in predictor.bundle.regions.items()}
    return lambda incident: incident.to_json(tz.get(incident.region))


def _visible(sessions: SessionsDep, incident_id: int, caller: Caller, clock: Clock) -> Incident:
    """The incident, or 404 also when it exists outside the caller's scope (existence does not leak)."""
    if not id_in_range(incident_id):
        raise HTTPException(404, f"no incident {incident_id}")
    try:
        with sessions() as session:
            incident = get_incident(session, incident_id, clock)
    except IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    if not caller.scope.contains(incident):
        raise HTTPException(404, f"no incident {incident_id}")
    return incident


def _change(work: Callable[[], Incident], as_json: Callable[[Incident], dict[str, Any]]) -> Any:
    """Run a store write on an incident the caller may see, and answer its refusals with 409 and the
    current state (incidents are never deleted, so a visible one cannot vanish meanwhile)."""
    try:
        return as_json(work())
    except Conflict as exc:
        return JSONResponse({"detail": str(exc), "current": as_json(exc.current)}, status_code=409)
    except IllegalTransition as exc:
        return JSONResponse(
            {"detail": str(exc), "current": as_json(exc.current), "allowed_actions": list(exc.allowed)},
            status_code=409,
        )


@router.post(
    "/posts",
    response_model=PostsOut,
    responses={**_ERRORS, 413: {"model": Problem}, 415: {"model": Problem}, 422: {"model": Problem}},
    summary="Принять посты: сохранить, классифицировать, зарегистрировать инциденты",
    description="Идемпотентно по (network, external_id): повторная отправка ничего не создаёт. "
    "Посты, подходящие под правила мониторинга региона, классифицируются; релевантные становятся инцидентами "
    "со сроком ответа 24 часа. Повтор той же жалобы в течение 48 часов присоединяется к её инциденту.",
)
def post_posts(
    body: PostsIn,
    caller: Annotated[Caller, Depends(allow("ingest"))],
    predictor: PredictorDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> dict[str, Any]:
    problems = []
    if len(body.posts) > settings.max_posts:
        problems.append(problem(["body", "posts"], f"{len(body.posts)} posts in one request; the limit is "
                                                   f"{settings.max_posts}"))
    now = clock.now()
    for i, p in enumerate(body.posts):
        problems += [problem(["body", "posts", i, name], wrong)
                     for name, wrong in post_problems(p, settings.max_text_chars, now)]
    if problems:
        raise HTTPException(422, problems)
    own = caller.scope.region
    posts = [
        IncomingPost(
            network=p.network,
            external_id=p.external_id,
            text=p.text,
            published_at=p.published_at,
            url=p.url,
            author=p.author,
            region=p.region if p.region is not None else own,  # a regional administrator posts into its region
        )
        for p in body.posts
    ]
    try:
        regions = resolve_regions(predictor, posts)
    except (UnknownPostRegion, Unroutable) as exc:
        raise HTTPException(422, [problem(["body", "posts", exc.index, "region"], str(exc))]) from None
    if own is not None:
        for i, region in enumerate(regions):
            if region != own:
                raise HTTPException(403, f"post {i} is for region {region!r}; role {caller.role!r} of {own!r} may "
                                         f"ingest only into {own!r}")
    try:
        result = ingest(sessions, predictor, clock, posts)
    except ValueError as exc:  # the store's own checks; the message names the post and the field
        raise HTTPException(422, [problem(["body", "posts"], str(exc))]) from None
    return {
        "created": [k.external_id for k in result.created],
        "duplicates": [k.external_id for k in result.duplicates],
        "incidents": [{"external_id": r.post.external_id, "incident_id": r.incident_id} for r in result.incidents],
    }


def _statuses(values: list[str] | None) -> tuple[str, ...] | None:
    """`status=new&status=routed` or `status=new,routed`; an unknown status is 422 naming the field."""
    if not values:
        return None
    wanted = tuple(s.strip() for v in values for s in v.split(",") if s.strip())
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise HTTPException(422, [problem(["query", "status"], f"unknown status {', '.join(map(repr, unknown))}; "
                                                             f"one of {', '.join(STATUSES)}")])
    return wanted or None


@router.get(
    "/queue",
    response_model=QueueOut,
    responses={**_ERRORS, 400: {"model": Problem, "description": "курсор не от этой очереди"},
               422: {"model": Problem}},
    summary="Очередь инцидентов администратора: фильтры, порядок, страницы",
    description="Видны только инциденты в пределах роли (регион, ведомство, муниципалитет); фильтр за её "
    "пределами даёт пустую страницу. Порядок: по сроку (сначала ближайший) или по неуверенности модели.",
)
def get_queue(
    caller: Annotated[Caller, Depends(allow("read_incidents"))],
    predictor: PredictorDep,
    sessions: SessionsDep,
    clock: ClockDep,
    region: Annotated[Clean | None, Query(max_length=64, description="код региона")] = None,
    status: Annotated[
        list[str] | None,
        Query(description="статус: new, routed, answered, dismissed; можно повторять или через запятую"),
    ] = None,
    topic: Annotated[Clean | None, Query(max_length=64, description="тема (итоговая или предложенная)")] = None,
    agency: Annotated[Clean | None, Query(max_length=64, description="ведомство")] = None,
    municipality: Annotated[Clean | None, Query(max_length=64, description="ОКТМО муниципалитета")] = None,
    needs_review: Annotated[bool | None, Query(description="модель не уверена")] = None,
    overdue: Annotated[bool | None, Query(description="срок ответа прошёл")] = None,
    order: Annotated[Literal["deadline", "uncertainty"], Query(description="по сроку или неуверенности")] = "deadline",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"размер страницы, 1..{MAX_LIMIT}")] = 50,
    cursor: Annotated[Clean | None, Query(max_length=512, description="next_cursor предыдущей страницы")] = None,
) -> dict[str, Any]:
    wanted = QueueFilter(region=region, status=_statuses(status), topic=topic, agency=agency,
                         municipality=municipality, needs_review=needs_review, overdue=overdue)
    narrowed = caller.scope.narrow(wanted)
    if narrowed is None:
        return {"items": [], "next_cursor": None}
    as_json = zones(predictor)
    try:
        with sessions() as session:
            page = queue(session, clock, narrowed, order=order, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        raise HTTPException(400, str(exc)) from None
    return {"items": [as_json(i) for i in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentOut,
    responses={**_ERRORS, **_NOT_FOUND},
    summary="Инцидент: пост, подсказки модели, решение, срок",
)
def get_one(
    incident_id: int,
    caller: Annotated[Caller, Depends(allow("read_incidents"))],
    predictor: PredictorDep,
    sessions: SessionsDep,
    clock: ClockDep,
) -> dict[str, Any]:
    return zones(predictor)(_visible(sessions, incident_id, caller, clock))


@router.post(
    "/incidents/{incident_id}/decision",
    response_model=IncidentOut,
    responses={**_ERRORS, **_NOT_FOUND, 409: {"model": ConflictOut}, 422: {"model": Problem}},
    summary="Решение по инциденту: принять, исправить, отклонить, вернуть в очередь",
    description="Передайте `version` инцидента, который вы видели: если его уже изменил кто-то другой, ответ 409 "
    "с текущим состоянием. accept/correct/dismiss — региональный администратор; reassign — также ведомство.",
)
def post_decision(
    incident_id: int,
    body: DecisionIn,
    caller: Annotated[Caller, Depends(allow("reassign", "decide on incidents (accept, correct, dismiss or reassign)"))],
    predictor: PredictorDep,
    sessions: SessionsDep,
    clock: ClockDep,
) -> Any:
    if body.action != "reassign" and not caller.may("decide"):  # an agency
        raise HTTPException(403, f"role {caller.role!r} may not {body.action} an incident; it may only reassign")
    _visible(sessions, incident_id, caller, clock)
    labels = Labels(topic=body.topic, agency=body.agency, municipality=body.municipality)

    def work() -> Incident:
        try:
            with sessions() as session:
                return decide(session, incident_id, body.action, body.version, caller.name, clock, labels,
                              body.reason, predictor.bundle.taxonomy, predictor.bundle.regions)
        except InvalidDecision as exc:
            raise HTTPException(422, [problem(["body", _field_of(str(exc), body)], str(exc))]) from None

    return _change(work, zones(predictor))


def _field_of(message: str, body: DecisionIn) -> str:
    """The request field an InvalidDecision is about: a code the store did not know, a missing
    reason, labels on an action that takes none; else the action itself (`correct` without labels)."""
    named = message.split(":", 1)[0]
    if named in ("topic", "agency", "municipality"):
        return named
    if body.action in ("dismiss", "reassign") and not (body.reason and body.reason.strip()):
        return "reason"
    given = [name for name in ("topic", "agency", "municipality") if getattr(body, name) is not None]
    return given[0] if given and body.action != "correct" else "action"


@router.post(
    "/incidents/{incident_id}/response",
    response_model=IncidentOut,
    responses={**_ERRORS, **_NOT_FOUND, 409: {"model": ConflictOut}, 422: {"model": Problem}},
    summary="Ответ ведомства: закрывает инцидент, фиксирует соблюдение срока",
)
def post_response(
    incident_id: int,
    body: ResponseIn,
    caller: Annotated[Caller, Depends(allow("respond"))],
    predictor: PredictorDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Any:
    if (wrong := text_problem(body.text, settings.max_text_chars)) is not None:
        raise HTTPException(422, [problem(["body", "text"], wrong)])
    _visible(sessions, incident_id, caller, clock)

    def work() -> Incident:
        with sessions() as session:
            return respond(session, incident_id, body.text, body.url, caller.name, clock)

    return _change(work, zones(predictor))
