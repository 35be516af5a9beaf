"""The pages: login, the triage queue, the agency inbox, an incident, the dashboard.

Server-rendered (Jinja2); `static/otklik.js` only submits the cards' forms in place, adds keyboard
shortcuts and refreshes the dashboard when its live feed (Server-Sent Events, the API's own generator
behind the session cookie) says the counters changed. Every page resolves the session to a `Caller` and uses the
access rules of `serving.auth`; an incident outside the caller's scope is 404, as in the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from serving.auth import ADMIN, Caller, resolve
from serving.deps import ClockDep, HolderDep, SessionsDep, SettingsDep
from serving.routes.stats import StatsQuery, calculator, event_stream
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
from serving.store.queue import ORDERS
from serving.store.stats import StatsRow, compute_stats
from serving.validation import MAX_COMMENT, id_in_range, text_problem, unicode_problem, url_problem
from serving.web import charts
from serving.web.cards import STATUSES, Card, card
from serving.web.directory import Directory
from serving.web.session import (
    FRAGMENT_HEADER,
    ROLE_NAMES,
    PageError,
    check_csrf,
    check_login_nonce,
    end_session,
    need,
    new_login_nonce,
    request_csrf,
    session_caller,
    set_login_nonce,
    start_session,
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

PAGE_SIZE = 50
OVERDUE_SHOWN = 20
MAX_DAYS = 366
HOME = {ADMIN: "/ui/queue", "regional_admin": "/ui/queue", "agency": "/ui/inbox",
        "federal": "/ui/dashboard", "municipal": "/ui/dashboard"}

Triage = Annotated[Caller, Depends(need("decide"))]
Inbox = Annotated[Caller, Depends(need("respond"))]
Reader = Annotated[Caller, Depends(need("read_incidents"))]
Stats = Annotated[Caller, Depends(need("read_stats"))]
Watcher = Annotated[Caller, Depends(need("read_stats", feed=True))]
Anyone = Annotated[Caller, Depends(session_caller)]
Field = Annotated[str | None, Form()]


# ---- shared pieces -----------------------------------------------------------------------------

def directory(request: Request) -> Directory:
    """The label space and regions of the bundle in use (as the API checks decisions against), kept on
    the app until the bundle changes; `annotations/` while no bundle is loaded."""
    predictor = request.app.state.models.current
    key = predictor.bundle.id if predictor else None
    cached: tuple[str | None, Directory] | None = getattr(request.app.state, "web_directory", None)
    if cached is None or cached[0] != key:
        found = (Directory(predictor.bundle.taxonomy, predictor.bundle.regions) if predictor
                 else Directory.load(request.app.state.settings.annotations_dir))
        cached = request.app.state.web_directory = (key, found)
    return cached[1]


@contextmanager
def session_of(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def render(request: Request, name: str, context: dict[str, Any], status: int = 200,
           caller: Caller | None = None) -> HTMLResponse:
    """A template with what every page needs; `back` is where a form returns to without JavaScript."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    common = {"caller": caller, "csrf": request_csrf(request), "statuses": STATUSES, "roles": ROLE_NAMES,
              "max_text": request.app.state.settings.max_text_chars, "back": here if request.method == "GET" else ""}
    return templates.TemplateResponse(request, name, {**common, **context}, status_code=status)


def make_card(request: Request, incident: Incident, clock: Clock) -> Card:
    predictor = request.app.state.models.current
    lemmatizer = predictor.lemmatizer if predictor else None
    vocabulary = predictor.bundle.classifier.featurizer.words_.vocabulary_ if predictor else ()
    return card(incident, directory(request), clock.now(), lemmatizer, vocabulary)


def scoped(session: Session, incident_id: int, caller: Caller, clock: Clock) -> Incident:
    """The incident, or the 404 page when it does not exist or is outside the caller's scope."""
    try:
        incident = get_incident(session, incident_id, clock) if id_in_range(incident_id) else None
    except IncidentNotFound:
        incident = None
    if incident is None or not caller.scope.contains(incident):
        raise PageError(404, f"Инцидент {incident_id} не найден.")
    return incident


def choices(request: Request, caller: Caller) -> dict[str, Any]:
    """What the select boxes offer: topics, agencies, the caller's regions and their municipalities."""
    d = directory(request)
    return {
        "topics": [(code, entry.name) for code, entry in d.taxonomy.topics.items()],
        "agencies": [(code, entry.name) for code, entry in d.taxonomy.agencies.items()],
        "regions": [(code, r.name) for code, r in d.regions.items() if caller.scope.region in (None, code)],
        "municipalities": d.municipalities(caller.scope.region),
        "municipalities_of": {code: d.municipalities(code) for code in d.regions},
    }


def flag(value: str | None, name: str) -> bool | None:
    if not value:
        return None
    if value in ("yes", "no"):
        return value == "yes"
    raise PageError(422, f"Параметр {name}: ожидается yes или no, получено «{value}».")


def card_answer(request: Request, caller: Caller, clock: Clock, incident: Incident, message: str | None = None,
                status: int = 200, back: str | None = None) -> Response:
    """After a form: the card itself for otklik.js, a redirect (or the incident page on error) otherwise."""
    if request.headers.get(FRAGMENT_HEADER):
        context = {"c": make_card(request, incident, clock), "message": message, "back": back, "ok": status < 400}
        return render(request, "_card.html", {**context, **choices(request, caller)}, status, caller)
    if status < 400:
        return RedirectResponse(back if back and back.startswith("/ui/") else f"/ui/incidents/{incident.id}", 303)
    return render(request, "incident.html", {"c": make_card(request, incident, clock), "message": message, "ok": False,
                                             **choices(request, caller)}, status, caller)


# ---- login -------------------------------------------------------------------------------------

@router.get("/")
@router.get("/ui")
def home(request: Request) -> Response:
    """Each role's own page; the login form without a session."""
    caller = session_caller(request)
    if caller.role not in HOME:
        raise PageError(403, f"Для роли «{ROLE_NAMES.get(caller.role, caller.role)}» веб-страниц нет: "
                        "пользуйтесь API (/docs).")
    return RedirectResponse(HOME[caller.role], 303)


@router.get("/ui/login")
def login_form(request: Request, next: str = "") -> Response:
    return login_page(request, next)


def login_page(request: Request, next: str, message: str | None = None, status: int = 200) -> Response:
    """The form with a fresh nonce (and its cookie); `message` says why the last attempt failed."""
    nonce = new_login_nonce()
    response = render(request, "login.html", {"nonce": nonce, "next": next, "message": message}, status)
    set_login_nonce(request, response, nonce)
    return response


@router.post("/ui/login")
def login(request: Request, token: Field = None, nonce: Field = None, next: Field = None) -> Response:
    if not check_login_nonce(request, nonce):
        return login_page(request, next or "", "Форма входа устарела: попробуйте ещё раз.", 403)
    token = (token or "").strip()
    caller = resolve(token, request.app.state.settings, request.app.state.sessions) if token else None
    if caller is None:
        return login_page(request, next or "", "Неизвестный или отозванный токен.", 401)
    target = next if next and next.startswith("/ui/") and not next.startswith("/ui/login") else "/"
    response = RedirectResponse(target, 303)
    start_session(request, response, token)
    return response


@router.post("/ui/logout")
def logout(request: Request, caller: Anyone, csrf: Field = None) -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/ui/login", 303)
    end_session(request, response)
    return response


# ---- triage queue ------------------------------------------------------------------------------

@router.get("/ui/queue")
def triage_queue(
    request: Request,
    caller: Triage,
    clock: ClockDep,
    region: str | None = None,
    status: str = "new",
    topic: str | None = None,
    agency: str | None = None,
    municipality: str | None = None,
    needs_review: str | None = None,
    overdue: str | None = None,
    order: str = "deadline",
    cursor: str | None = None,
) -> Response:
    if order not in ORDERS:
        raise PageError(422, f"Параметр order: {' или '.join(ORDERS)}, получено «{order}».")
    if status != "all" and status not in STATUSES:
        raise PageError(422, f"Параметр status: {', '.join(STATUSES)} или all, получено «{status}».")
    for name, value in (("region", region), ("topic", topic), ("agency", agency), ("municipality", municipality),
                        ("cursor", cursor)):
        if value is not None and (wrong := unicode_problem(value)) is not None:
            raise PageError(422, f"Параметр {name}: {wrong}.")
    asked = QueueFilter(
        region=region or None,
        status=None if status == "all" else (status,),
        topic=topic or None,
        agency=agency or None,
        municipality=municipality or None,
        needs_review=flag(needs_review, "needs_review"),
        overdue=flag(overdue, "overdue"),
    )
    params = {"region": region or "", "status": status, "topic": topic or "", "agency": agency or "",
              "municipality": municipality or "", "needs_review": needs_review or "", "overdue": overdue or "",
              "order": order}
    return render(request, "queue.html", {**listing(request, caller, clock, asked, order, cursor), "params": params,
                                          **choices(request, caller)}, caller=caller)


def listing(
    request: Request, caller: Caller, clock: Clock, asked: QueueFilter, order: str, cursor: str | None
) -> dict[str, Any]:
    """One page of the caller's incidents; bad filters are the 422 page naming the parameter."""
    narrowed = caller.scope.narrow(asked)
    if narrowed is None:
        return {"cards": [], "next_cursor": None}
    try:
        with session_of(request) as session:
            page = queue(session, clock, narrowed, order=order, limit=PAGE_SIZE, cursor=cursor or None)
    except InvalidCursor:
        raise PageError(422, "Параметр cursor: ссылка на страницу устарела, откройте список заново.") from None
    except ValueError as exc:
        raise PageError(422, f"Неверный фильтр: {exc}") from None
    return {"cards": [make_card(request, i, clock) for i in page.items], "next_cursor": page.next_cursor}


# ---- agency inbox ------------------------------------------------------------------------------

@router.get("/ui/inbox")
def inbox(
    request: Request, caller: Inbox, clock: ClockDep, status: str = "routed", cursor: str | None = None
) -> Response:
    if status not in ("routed", "answered"):
        raise PageError(422, f"Параметр status: routed или answered, получено «{status}».")
    found = listing(request, caller, clock, QueueFilter(status=(status,)), "deadline", cursor)
    return render(request, "inbox.html", {**found, "status": status, "scope": scope_title(directory(request), caller),
                                          **choices(request, caller)}, caller=caller)


# ---- one incident and what can be done with it --------------------------------------------------

@router.get("/ui/incidents/{incident_id}")
def incident_page(request: Request, caller: Reader, clock: ClockDep, incident_id: int) -> Response:
    with session_of(request) as session:
        incident = scoped(session, incident_id, caller, clock)
    return render(request, "incident.html", {"c": make_card(request, incident, clock), **choices(request, caller)},
                  caller=caller)


@router.post("/ui/incidents/{incident_id}/decision")
def decision(
    request: Request,
    caller: Triage,
    clock: ClockDep,
    incident_id: int,
    csrf: Field = None,
    action: Field = None,
    version: Field = None,
    topic: Field = None,
    agency: Field = None,
    municipality: Field = None,
    reason: Field = None,
    back: Field = None,
) -> Response:
    """The administrator's accept | correct | dismiss."""
    check_csrf(request, csrf)
    if action not in ("accept", "correct", "dismiss"):
        raise PageError(422, "Поле action: accept, correct или dismiss.")
    return decide_on(request, caller, clock, incident_id, action, version, reason, back,
                     {"topic": topic, "agency": agency, "municipality": municipality})


@router.post("/ui/incidents/{incident_id}/reassign")
def reassign(
    request: Request,
    caller: Annotated[Caller, Depends(need("reassign"))],
    clock: ClockDep,
    incident_id: int,
    csrf: Field = None,
    version: Field = None,
    reason: Field = None,
    back: Field = None,
) -> Response:
    """"Not ours": the routed incident goes back to the queue with the agency's comment."""
    check_csrf(request, csrf)
    return decide_on(request, caller, clock, incident_id, "reassign", version, reason, back, {})


def decide_on(
    request: Request,
    caller: Caller,
    clock: Clock,
    incident_id: int,
    action: str,
    version: str | None,
    reason: str | None,
    back: str | None,
    wanted: dict[str, str | None],
) -> Response:
    if version is None or not version.isdigit():
        raise PageError(422, "Поле version: нужна версия инцидента (целое число); обновите страницу.")
    if reason is not None and len(reason) > MAX_COMMENT:
        raise PageError(422, f"Поле reason: не длиннее {MAX_COMMENT} символов.")
    if reason is not None and (wrong := unicode_problem(reason)) is not None:
        raise PageError(422, f"Поле reason: {wrong}.")
    d = directory(request)
    with session_of(request) as session:
        incident = scoped(session, incident_id, caller, clock)
        labels = Labels()
        if action == "correct":
            s = incident.suggested
            current = {"topic": s.topic, "agency": s.agency, "municipality": s.municipality}
            labels = Labels(**{k: v for k, v in wanted.items() if v and v != current[k]})
            if not labels.given():
                return card_answer(request, caller, clock, incident, "Метки не изменены: чтобы оставить "
                                   "предложенные, нажмите «Принять».", 422)
        try:
            after = decide(session, incident_id, action, int(version), caller.name, clock, labels,
                           (reason or "").strip() or None, d.taxonomy, d.regions)
        except Conflict as exc:
            return card_answer(request, caller, clock, exc.current, "Инцидент уже изменил другой пользователь "
                               f"(версия {exc.current.version}, статус «{STATUSES[exc.current.status]}»). "
                               "Ниже — текущее состояние; решите заново.", 409)
        except IllegalTransition as exc:
            return card_answer(request, caller, clock, exc.current, f"Действие невозможно: инцидент в статусе "
                               f"«{STATUSES[exc.current.status]}».", 409)
        except InvalidDecision as exc:
            return card_answer(request, caller, clock, incident, f"Решение не принято: {exc}", 422)
    done = {"accept": "Принято", "correct": "Исправлено и направлено", "dismiss": "Отклонено",
            "reassign": "Возвращено в очередь: «не наше»"}[action]
    return card_answer(request, caller, clock, after, done, 200, back)


@router.post("/ui/incidents/{incident_id}/response")
def response(
    request: Request,
    caller: Inbox,
    clock: ClockDep,
    incident_id: int,
    csrf: Field = None,
    text: Field = None,
    url: Field = None,
    back: Field = None,
) -> Response:
    check_csrf(request, csrf)
    limit = request.app.state.settings.max_text_chars
    with session_of(request) as session:
        incident = scoped(session, incident_id, caller, clock)
        text, url = (text or "").strip(), (url or "").strip() or None
        problem = None
        if not text:
            problem = "Поле text: напишите ответ."
        elif (wrong := text_problem(text, limit)) is not None:
            problem = f"Поле text: {wrong}."
        elif url is not None and (wrong := url_problem(url)) is not None:
            problem = f"Поле url: {wrong}."
        if problem:
            return card_answer(request, caller, clock, incident, problem, 422)
        try:
            after = respond(session, incident_id, text, url, caller.name, clock)
        except IllegalTransition as exc:
            return card_answer(request, caller, clock, exc.current, f"Ответ не принят: инцидент в статусе "
                               f"«{STATUSES[exc.current.status]}».", 409)
        except Conflict as exc:
            return card_answer(request, caller, clock, exc.current, "Инцидент изменился, пока вы писали ответ; "
                               "проверьте его и отправьте ответ снова.", 409)
    return card_answer(request, caller, clock, after, "Ответ отправлен", 200, back)


# ---- dashboard ---------------------------------------------------------------------------------

@router.get("/ui/dashboard")
def dashboard(request: Request, caller: Stats, clock: ClockDep, days: int = 30) -> Response:
    return render(request, "dashboard.html", statistics(request, caller, clock, days), caller=caller)


@router.get("/ui/dashboard/live")
def dashboard_live(request: Request, caller: Stats, clock: ClockDep, days: int = 30) -> Response:
    """The dashboard's body alone: otklik.js fetches it when the feed announces a change."""
    return render(request, "_dashboard.html", statistics(request, caller, clock, days), caller=caller)


@router.get("/ui/dashboard/stream")
def dashboard_stream(
    request: Request, caller: Watcher, holder: HolderDep, sessions: SessionsDep, settings: SettingsDep, clock: ClockDep
) -> StreamingResponse:
    """The dashboard's live feed: the events of `GET /v1/stats/stream` for the session's caller.

    All-time totals rather than the page's window, so that a change to an older incident (one that
    falls overdue shows in the page's overdue list) is announced too; the page then fetches its body.
    No CSRF token: it changes nothing, and the SameSite cookie is not sent with another site's
    EventSource (whose script could not read the answer anyway: there is no CORS)."""
    query = StatsQuery(group_by="none", since=None, until=None, region=None, agency=None, municipality=None)
    compute = calculator(query, caller, holder, sessions, clock)
    return event_stream(request, compute, settings, compute())


def statistics(request: Request, caller: Caller, clock: Clock, days: int) -> dict[str, Any]:
    if not 1 <= days <= MAX_DAYS:
        raise PageError(422, f"Параметр days: от 1 до {MAX_DAYS}, получено {days}.")
    d = directory(request)
    scope = caller.scope
    now = clock.now()
    # Days are the regions' own: the time line ends on the latest "today" among the caller's regions
    # and starts at the earliest of their midnights `days - 1` days before.
    zones = [ZoneInfo(z) for code, z in d.zones.items() if scope.region in (None, code)] or [ZoneInfo("UTC")]
    first = max(now.astimezone(zone).date() for zone in zones) - timedelta(days=days - 1)
    since = min(datetime.combine(first, time(0), tzinfo=zone) for zone in zones)
    where = scope.narrow_stats(None, None, None) or {}  # asking for nothing is never outside the scope
    overdue_filter = scope.narrow(QueueFilter(overdue=True))
    with session_of(request) as session:

        def grouped(by: str) -> list[StatsRow]:
            return compute_stats(session, clock, group_by=by, since=since, **where)

        total = grouped("none")[0]
        by_agency, by_municipality, by_day = grouped("agency"), grouped("municipality"), grouped("day")
        overdue = queue(session, clock, overdue_filter, limit=OVERDUE_SHOWN).items if overdue_filter else ()
    return {
        "days": days,
        "total": total,
        "agencies": charts.bars(by_agency, d.agency),
        "municipalities": charts.bars(by_municipality,
                                      lambda k: d.municipality(scope.region, k) or "без муниципалитета"),
        "timeline": charts.timeline(by_day, first, days),
        "chart": {"width": charts.WIDTH, "height": charts.HEIGHT},
        "overdue": [make_card(request, i, clock) for i in overdue],
        "scope": scope_title(d, caller),
    }


def scope_title(d: Directory, caller: Caller) -> str:
    s = caller.scope
    parts = [d.region_name(s.region) if s.region else "все регионы"]
    if s.agency:
        parts.append(d.body(s.region or "", s.agency, None))
    if s.municipality:
        parts.append(d.municipality(s.region, s.municipality) or s.municipality)
    return " · ".join(parts)
