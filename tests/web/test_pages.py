"""The pages without a browser: login and sessions, CSRF, roles and scopes, the triage and answer
flows, the dashboard's numbers. A real app, a real store, incidents registered by the trained model."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model.predictor import Predictor
from serving.app import create_app
from serving.deps import get_clock
from serving.settings import Settings
from serving.store import ManualClock, SystemClock, create_user, get_incident, issue_token, revoke_token
from serving.web.session import SESSION_COOKIE
from tests.serving.conftest import ADMIN, make_settings
from tests.web.conftest import BEREZNIKI, DUMP, HEATING, LIGHTS, NONCE, POTHOLE, World, csrf_of, login
from training.train import TrainResult

FRAGMENT = {"X-Otklik-Fragment": "1"}
AsUser = Callable[[str], TestClient]


def version_of(web_app: FastAPI, incident_id: int) -> int:
    with web_app.state.sessions() as session:
        return get_incident(session, incident_id, SystemClock()).version


def status_of(web_app: FastAPI, incident_id: int) -> str:
    with web_app.state.sessions() as session:
        return get_incident(session, incident_id, SystemClock()).status


def counter(html: str, name: str) -> int:
    found = re.search(rf'data-counter="{name}">(\d+)<', html)
    assert found, f"no counter {name}"
    return int(found.group(1))


# ---- login, sessions, where each role lands -------------------------------------------------------

def test_without_a_session_every_page_sends_to_the_login_form(started: TestClient, world: World) -> None:
    assert started.get("/").headers["location"] == "/ui/login"
    answer = started.get("/ui/queue")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=/ui/queue"
    form = started.get("/ui/login")
    assert form.status_code == 200
    assert 'name="token"' in form.text and "Вход" in form.text


def test_login_sets_an_http_only_same_site_cookie_and_logout_ends_it(started: TestClient, world: World,
                                                                     web_app: FastAPI) -> None:
    client = TestClient(web_app, follow_redirects=False)
    answer = login(client, world.tokens["admin-perm"])
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # not production
    assert client.get("/").headers["location"] == "/ui/queue"
    page = client.get("/ui/queue")
    assert page.status_code == 200
    copied = client.cookies[SESSION_COOKIE]
    assert world.tokens["admin-perm"] not in cookie  # the cookie holds a session id, never the API token
    out = client.post("/ui/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    client.cookies.clear()  # the browser drops the expired cookie
    assert client.get("/ui/queue").status_code == 303
    # ...and a copy of the cookie taken before the logout opens nothing either: the session ended on the server
    thief = TestClient(web_app, follow_redirects=False, cookies={SESSION_COOKIE: copied})
    answer = thief.get("/ui/queue")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login?next=/ui/queue"


def test_revoking_a_token_ends_its_sessions(web_app: FastAPI, world: World) -> None:
    clock = SystemClock()
    with web_app.state.sessions() as session:
        user = create_user(session, "временный администратор", "regional_admin", clock, region="perm-krai")
        token = issue_token(session, user.id, clock)
    client = TestClient(web_app, follow_redirects=False)
    assert login(client, token).status_code == 303
    assert client.get("/ui/queue").status_code == 200
    with web_app.state.sessions() as session:
        assert revoke_token(session, token, clock)
    answer = client.get("/ui/queue")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")
    assert client.get("/ui/dashboard/stream").status_code == 401  # the live feed too


def test_a_login_opens_a_new_session_with_a_new_csrf_token(web_app: FastAPI, world: World) -> None:
    client = TestClient(web_app, follow_redirects=False)
    assert login(client, world.tokens["admin-perm"]).status_code == 303
    first_cookie, first_csrf = client.cookies[SESSION_COOKIE], csrf_of(client.get("/ui/queue").text)
    assert login(client, world.tokens["admin-perm"]).status_code == 303
    second_cookie, second_csrf = client.cookies[SESSION_COOKIE], csrf_of(client.get("/ui/queue").text)
    assert second_cookie != first_cookie and second_csrf != first_csrf
    assert client.post("/ui/logout", data={"csrf": first_csrf}).status_code == 403  # the old session's token
    old = TestClient(web_app, follow_redirects=False, cookies={SESSION_COOKIE: first_cookie})
    assert old.get("/ui/queue").status_code == 303  # the session the new login replaced has ended
    assert client.post("/ui/logout", data={"csrf": second_csrf}).status_code == 303


@pytest.mark.parametrize("path", ["/ui/login", "/ui/queue", "/ui/incidents/999999", "/ui/static/otklik.js",
                                  "/ui/dashboard?days=0", "/health", "/v1/queue"])
def test_every_answer_carries_the_security_headers(as_user: AsUser, path: str) -> None:
    answer = as_user("admin").get(path)
    assert answer.status_code in (200, 401, 404, 422), answer.status_code
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


def test_the_pages_have_no_inline_script_style_or_handler(as_user: AsUser) -> None:
    """What the Content-Security-Policy would refuse: the browser test checks Chromium reports nothing."""
    for page in (as_user("admin").get("/ui/queue?status=all"), as_user("minister").get("/ui/dashboard"),
                 as_user("perm-city").get("/ui/inbox"), as_user("admin").get("/ui/login")):
        assert page.status_code == 200
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "an inline script"
        assert not re.search(r"<style|\sstyle=", page.text), "an inline style"
        assert not re.search(r"\son[a-z]+=", page.text), "an inline event handler"
        assert "javascript:" not in page.text


@pytest.mark.parametrize("user, home", [
    ("admin", "/ui/queue"), ("admin-perm", "/ui/queue"), ("perm-city", "/ui/inbox"),
    ("minister", "/ui/dashboard"), ("perm-city-watch", "/ui/dashboard"),
])
def test_each_role_lands_on_its_page(as_user: AsUser, user: str, home: str) -> None:
    client = as_user(user)
    assert client.get("/").headers["location"] == home
    assert client.get(home).status_code == 200


def test_login_returns_to_the_page_asked_for_and_only_to_a_page(web_app: FastAPI, world: World) -> None:
    for asked, landing in (("/ui/dashboard?days=7", "/ui/dashboard?days=7"), ("//evil.example/", "/"),
                           ("https://evil.example/ui/", "/")):
        client = TestClient(web_app, follow_redirects=False)
        nonce = NONCE.search(client.get("/ui/login", params={"next": asked}).text)
        assert nonce
        answer = client.post("/ui/login", data={"token": world.tokens["minister"], "nonce": nonce.group(1),
                                                "next": asked})
        assert answer.headers["location"] == landing


def test_the_session_cookie_is_secure_in_production(trained: TrainResult, tmp_path: Path) -> None:
    settings = Settings(env="production", var_dir=tmp_path, models_dir=trained.bundle.parent, admin_token=ADMIN)
    # https: the browser sends Secure cookies (the login nonce) only there
    with TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False) as client:
        answer = login(client, ADMIN)
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_the_pages_work_while_no_model_is_loaded(tmp_path: Path) -> None:
    """Names then come from annotations/; nothing needs the model to show the queue or the statistics."""
    with TestClient(create_app(make_settings(tmp_path / "no-models", tmp_path)), follow_redirects=False) as client:
        assert login(client, ADMIN).status_code == 303
        assert "Инцидентов нет" in client.get("/ui/queue").text
        board = client.get("/ui/dashboard")
        assert board.status_code == 200 and counter(board.text, "registered") == 0


def test_pages_are_compressed_and_the_api_is_left_alone(as_user: AsUser, started: TestClient) -> None:
    page = as_user("admin").get("/ui/queue?status=all", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert page.num_bytes_downloaded * 5 < len(page.content)
    assert "content-encoding" not in started.get("/health", headers={"Accept-Encoding": "gzip"}).headers


def test_ml_staff_have_no_pages(as_user: AsUser) -> None:
    answer = as_user("data-team").get("/")
    assert answer.status_code == 403
    assert "веб-страниц нет" in answer.text


def test_a_wrong_token_or_a_form_without_its_nonce_is_refused(started: TestClient, web_app: FastAPI) -> None:
    client = TestClient(web_app, follow_redirects=False)
    bad = login(client, "otk_not-a-token")
    assert bad.status_code == 401
    assert "Неизвестный или отозванный токен" in bad.text
    assert SESSION_COOKIE not in client.cookies
    forged = TestClient(web_app, follow_redirects=False).post("/ui/login", data={"token": "x", "nonce": "guess"})
    assert forged.status_code == 403


# ---- CSRF ------------------------------------------------------------------------------------------

def test_a_form_post_without_its_csrf_token_is_refused_and_changes_nothing(
    as_user: AsUser, world: World, web_app: FastAPI
) -> None:
    client = as_user("admin-perm")
    incident = world.incidents[LIGHTS[0]]
    version = version_of(web_app, incident)
    form = {"action": "accept", "version": str(version)}
    missing = client.post(f"/ui/incidents/{incident}/decision", data=form)
    assert missing.status_code == 403
    assert "CSRF" in missing.text
    other_session = as_user("admin")  # a valid token, but of another session
    stolen = csrf_of(other_session.get("/ui/queue").text)
    wrong = client.post(f"/ui/incidents/{incident}/decision", data={**form, "csrf": stolen})
    assert wrong.status_code == 403
    assert status_of(web_app, incident) == "new" and version_of(web_app, incident) == version
    assert client.post("/ui/logout").status_code == 403


# ---- roles and scopes --------------------------------------------------------------------------------

def test_an_agency_cannot_open_the_triage_queue(as_user: AsUser) -> None:
    answer = as_user("perm-city").get("/ui/queue")
    assert answer.status_code == 403
    assert "text/html" in answer.headers["content-type"]
    assert "Доступ запрещён" in answer.text


def test_an_incident_outside_the_scope_is_404(as_user: AsUser, world: World) -> None:
    heating = world.incidents[HEATING[0]]  # suggested for the housing inspection in Berezniki, not yet routed
    assert as_user("admin-perm").get(f"/ui/incidents/{heating}").status_code == 200
    # another body, another region, another municipality, and the right body before an administrator routed it
    for user in ("perm-city", "admin-sverdlovsk", "perm-city-watch", "zhilnadzor"):
        answer = as_user(user).get(f"/ui/incidents/{heating}")
        assert answer.status_code == 404, user
        assert "не найден" in answer.text
    assert as_user("admin").get("/ui/incidents/999999").status_code == 404


def test_the_queue_of_another_region_is_empty(as_user: AsUser, world: World) -> None:
    page = as_user("admin-sverdlovsk").get("/ui/queue")
    assert page.status_code == 200
    assert "Инцидентов нет" in page.text
    assert as_user("admin-sverdlovsk").get("/ui/queue?region=perm-krai").text.count("<article") == 0


# ---- triage -------------------------------------------------------------------------------------------

def test_a_queue_card_shows_the_post_the_route_and_the_time_left(as_user: AsUser, world: World) -> None:
    page = as_user("admin-perm").get("/ui/queue?status=all")
    assert page.status_code == 200
    card = re.search(rf'<article[^>]*id="incident-{world.incidents[POTHOLE[0]]}".*?</article>', page.text, re.S)
    assert card, "the pothole's card is missing"
    html = card.group(0)
    assert '<mark class="rule">яма</mark>' in html  # the monitoring rule's word
    assert '<mark class="place">Гайве</mark>' in html  # the toponym that gave the municipality
    assert "ВКонтакте" in html and 'href="https://vk.com/wall-1_101"' in html
    assert "Дороги" in html and "Администрация города Перми" in html and "Пермь" in html
    assert re.search(r'class="conf">\d+%', html)
    assert re.search(r"осталось 2[23] ч", html)  # registered just now, 24 hours to answer
    assert "+05" in html  # the deadline in Perm's time zone
    assert 'data-key="a"' in html and 'name="topic"' in html and 'name="reason"' in html


def card_of(html: str, incident: int) -> str:
    found = re.search(rf'<article[^>]*id="incident-{incident}".*?</article>', html, re.S)
    assert found, f"no card of incident {incident}"
    return found.group(0)


def test_the_card_offers_the_agency_runners_up_as_one_click_choices(
    as_user: AsUser, world: World, web_app: FastAPI, predictor: Predictor
) -> None:
    heating = world.incidents[HEATING[0]]  # not routed by the tests before this one
    with web_app.state.sessions() as session:
        incident = get_incident(session, heating, SystemClock())
    ranked = incident.suggested.scores["agency"]
    assert incident.status == "new" and ranked[0][0] == incident.suggested.agency == "housing_inspection"
    perm = predictor.bundle.regions["perm-krai"]
    # the runners-up by falling probability, with the body's full name: a municipality's own administration
    expected = [(code, perm.body_name(code, BEREZNIKI), round(score * 100)) for code, score in ranked[1:]]
    assert "municipality" in [code for code, *_ in expected]

    html = card_of(as_user("admin-perm").get("/ui/queue").text, heating)
    choices = re.findall(r'<button type="button" class="runner-up" data-agency="([^"]+)"[^>]*>([^<]+) '
                         r'<span class="conf">([^<]+)</span>', html)
    assert [(code, body, pct) for code, body, pct in choices] == [
        (code, body, f"{pct}%" if pct else "&lt;1%") for code, body, pct in expected
    ]
    assert "Администрация города Березники" in html and "или:" in html
    agency_options = re.search(r'<select name="agency">(.*?)</select>', html, re.S)
    assert agency_options and all(f'value="{code}"' in agency_options.group(1) for code, *_ in expected)

    # readers who cannot correct the route see no choices
    reader = as_user("minister").get(f"/ui/incidents/{heating}")
    assert reader.status_code == 200 and "runner-up" not in card_of(reader.text, heating)


def test_filters_narrow_the_queue_and_a_bad_filter_names_the_parameter(as_user: AsUser, world: World) -> None:
    client = as_user("admin-perm")
    housing = client.get("/ui/queue?status=all&topic=housing").text
    assert f'id="incident-{world.incidents[HEATING[0]]}"' in housing
    assert f'id="incident-{world.incidents[POTHOLE[0]]}"' not in housing
    by_place = client.get(f"/ui/queue?status=all&municipality={BEREZNIKI}").text
    assert by_place.count("<article") == 1
    bad = client.get("/ui/queue?overdue=maybe")
    assert bad.status_code == 422 and "overdue" in bad.text
    assert client.get("/ui/queue?cursor=zzz").status_code == 422
    assert "order" in client.get("/ui/queue?order=random").text
    assert client.get("/ui/queue?status=lost").status_code == 422


def test_overdue_incidents_are_red(as_user: AsUser, world: World, web_app: FastAPI) -> None:
    later = ManualClock(SystemClock().now() + timedelta(hours=30))
    web_app.dependency_overrides[get_clock] = lambda: later
    try:
        page = as_user("admin-perm").get("/ui/queue?overdue=yes&status=all")
    finally:
        web_app.dependency_overrides.clear()
    assert page.status_code == 200
    assert 'class="card overdue"' in page.text
    assert re.search(r'class="left late"[^>]*>просрочено на [56] ч', page.text)


def test_accept_then_a_stale_version_shows_the_conflict_and_the_current_state(
    as_user: AsUser, world: World, web_app: FastAPI
) -> None:
    client = as_user("admin-perm")
    incident = world.incidents[POTHOLE[0]]
    page = client.get("/ui/queue")
    version = version_of(web_app, incident)
    form = {"csrf": csrf_of(page.text), "action": "accept", "version": str(version)}
    done = client.post(f"/ui/incidents/{incident}/decision", data=form, headers=FRAGMENT)
    assert done.status_code == 200, done.text
    assert done.text.lstrip().startswith("<article") and "Принято" in done.text
    assert 'data-status="routed"' in done.text and "Направлено" in done.text
    stale = client.post(f"/ui/incidents/{incident}/decision", data=form, headers=FRAGMENT)
    assert stale.status_code == 409
    assert "другой пользователь" in stale.text and f'data-version="{version + 1}"' in stale.text
    without_js = client.post(f"/ui/incidents/{incident}/decision", data=form)
    assert without_js.status_code == 409 and "<html" in without_js.text


def test_correct_routes_with_the_chosen_labels(as_user: AsUser, world: World, web_app: FastAPI) -> None:
    client = as_user("admin-perm")
    incident = world.incidents[DUMP[0]]
    csrf = csrf_of(client.get("/ui/queue").text)
    version = version_of(web_app, incident)
    same = {"csrf": csrf, "action": "correct", "version": str(version), "topic": "waste",
            "agency": "ecology_ministry"}
    unchanged = client.post(f"/ui/incidents/{incident}/decision", data=same, headers=FRAGMENT)
    assert unchanged.status_code == 422 and "Метки не изменены" in unchanged.text
    form = {**same, "agency": "waste_operator"}
    done = client.post(f"/ui/incidents/{incident}/decision", data={**form, "back": "/ui/queue"})
    assert done.status_code == 303 and done.headers["location"] == "/ui/queue"  # without JavaScript
    with web_app.state.sessions() as session:
        after = get_incident(session, incident, SystemClock())
    assert after.status == "routed" and after.final is not None and after.final.agency == "waste_operator"


def test_dismiss_needs_a_reason(as_user: AsUser, world: World, web_app: FastAPI) -> None:
    client = as_user("admin")
    incident = world.incidents[LIGHTS[0]]
    csrf = csrf_of(client.get("/ui/queue").text)
    form = {"csrf": csrf, "action": "dismiss", "version": str(version_of(web_app, incident))}
    refused = client.post(f"/ui/incidents/{incident}/decision", data={**form, "reason": "  "}, headers=FRAGMENT)
    assert refused.status_code == 422 and "reason" in refused.text
    too_long = client.post(f"/ui/incidents/{incident}/decision", data={**form, "reason": "x" * 2001})
    assert too_long.status_code == 422
    assert status_of(web_app, incident) == "new"


# ---- the agency ---------------------------------------------------------------------------------------

def test_the_agency_answers_from_its_inbox_and_the_dashboard_counts_it(
    as_user: AsUser, world: World, web_app: FastAPI
) -> None:
    admin = as_user("admin-perm")
    incident = world.incidents[HEATING[0]]
    csrf = csrf_of(admin.get("/ui/queue").text)
    routed = admin.post(f"/ui/incidents/{incident}/decision", headers=FRAGMENT,
                        data={"csrf": csrf, "action": "accept", "version": str(version_of(web_app, incident))})
    assert routed.status_code == 200
    board = as_user("minister").get("/ui/dashboard")
    before = counter(board.text, "answered")

    agency = as_user("zhilnadzor")
    inbox = agency.get("/ui/inbox")
    assert inbox.status_code == 200 and f'id="incident-{incident}"' in inbox.text
    assert "Инспекция государственного жилищного надзора Пермского края" in inbox.text
    csrf = csrf_of(inbox.text)
    empty = agency.post(f"/ui/incidents/{incident}/response", data={"csrf": csrf, "text": " "}, headers=FRAGMENT)
    assert empty.status_code == 422 and "text" in empty.text
    bad_url = agency.post(f"/ui/incidents/{incident}/response", headers=FRAGMENT,
                          data={"csrf": csrf, "text": "Проверим", "url": "javascript:alert(1)"})
    assert bad_url.status_code == 422 and "url" in bad_url.text
    answered = agency.post(f"/ui/incidents/{incident}/response", headers=FRAGMENT,
                           data={"csrf": csrf, "text": "Управляющей компании выдано предписание."})
    assert answered.status_code == 200 and 'data-status="answered"' in answered.text
    assert "отвечено в срок" in answered.text
    assert counter(as_user("minister").get("/ui/dashboard/live").text, "answered") == before + 1
    assert f'id="incident-{incident}"' in agency.get("/ui/inbox?status=answered").text


def test_not_ours_sends_the_incident_back_to_the_queue(as_user: AsUser, world: World, web_app: FastAPI) -> None:
    incident = world.incidents[POTHOLE[0]]  # accepted above: routed to the city of Perm
    if status_of(web_app, incident) != "routed":
        admin = as_user("admin-perm")
        admin.post(f"/ui/incidents/{incident}/decision", data={"csrf": csrf_of(admin.get("/ui/queue").text),
                   "action": "accept", "version": str(version_of(web_app, incident))})
    agency = as_user("perm-city")
    csrf = csrf_of(agency.get("/ui/inbox").text)
    version = version_of(web_app, incident)
    no_reason = agency.post(f"/ui/incidents/{incident}/reassign", headers=FRAGMENT,
                            data={"csrf": csrf, "version": str(version)})
    assert no_reason.status_code == 422
    back = agency.post(f"/ui/incidents/{incident}/reassign", headers=FRAGMENT,
                       data={"csrf": csrf, "version": str(version), "reason": "Дорога региональная: это Минтранс"})
    assert back.status_code == 200 and "не наше" in back.text
    assert status_of(web_app, incident) == "new"
    accept = agency.post(f"/ui/incidents/{incident}/decision", headers=FRAGMENT,
                         data={"csrf": csrf, "action": "accept", "version": str(version + 1)})
    assert accept.status_code == 403  # an agency does not triage


# ---- the dashboard --------------------------------------------------------------------------------------

def test_the_dashboard_is_scoped_by_role(as_user: AsUser, world: World) -> None:
    everyone = as_user("minister").get("/ui/dashboard")
    assert everyone.status_code == 200
    assert counter(everyone.text, "registered") >= len(world.incidents)
    assert "все регионы" in everyone.text and "<svg" in everyone.text and 'class="fill"' in everyone.text
    today = re.findall(r"<title>\d\d\.\d\d: зарегистрировано (\d+), отвечено \d+</title>", everyone.text)
    assert len(today) == 30 and int(today[-1]) == counter(everyone.text, "registered")  # all registered today
    city = as_user("perm-city-watch").get("/ui/dashboard").text
    assert counter(city, "registered") < counter(everyone.text, "registered")
    assert "Пермь" in city
    assert as_user("minister").get("/ui/dashboard?days=0").status_code == 422
    assert as_user("data-team").get("/ui/dashboard").status_code == 403

