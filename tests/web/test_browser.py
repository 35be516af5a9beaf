"""The pages in a real headless Chromium against a real `otklik serve`: an administrator accepts one
incident (keyboard shortcut) and corrects another, the agency answers, and a supervisor's open
dashboard shows the counters change by itself, pushed over its Server-Sent Events feed (not by the
polling fallback); a dashboard whose token is revoked goes to the login form when its feed
reconnects. Screenshots of every page at 1280 px and 390 px go to var/test-artifacts/web/ (the test
run's artifacts)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from model.predictor import Predictor
from serving.database import make_engine, make_sessions
from serving.store import SystemClock, revoke_token, upgrade
from tests.conftest import ROOT
from tests.serving.conftest import ADMIN
from tests.serving.server import running_server
from tests.web.conftest import DUMP, HEATING, LIGHTS, POTHOLE, World, seed
from training.train import TrainResult

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "test-artifacts" / "web"
WIDE: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
WAIT = 15_000  # ms

if not CHROMIUM.exists():
    pytest.skip("no Chromium at /usr/bin/chromium: `make test` installs it with apt-get when it can "
                "(root and network); browser tests skipped", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras: pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def served(trained: TrainResult, predictor: Predictor, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, World, Path]]:
    """A seeded store and a real server on it (its var directory: the database is in it). The feeds
    poll every second and last 3 s, so that dashboards reconnect (and check their session) during the test."""
    var = tmp_path_factory.mktemp("browser-var")
    engine = make_engine(f"sqlite:///{var / 'otklik.db'}")
    upgrade(engine)
    world = seed(make_sessions(engine), predictor, SystemClock())
    engine.dispose()
    env = {"OTKLIK_ENV": "test", "OTKLIK_VAR_DIR": str(var), "OTKLIK_MODELS_DIR": str(trained.bundle.parent),
           "OTKLIK_ADMIN_TOKEN": ADMIN, "OTKLIK_STATS_POLL_SECONDS": "1", "OTKLIK_STATS_STREAM_SECONDS": "3"}
    with running_server(env, var / "server.log") as url:
        yield url, world, var


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def no_csp_violation() -> Iterator[list[str]]:
    """Every page of a test reports to its console what the Content-Security-Policy refused: nothing."""
    CSP_REPORTS.clear()
    yield CSP_REPORTS
    assert CSP_REPORTS == [], "Chromium refused something under the Content-Security-Policy"


CSP_REPORTS: list[str] = []


def new_page(browser: Browser, viewport: ViewportSize) -> Page:
    """A page in a fresh context whose console's CSP errors go to CSP_REPORTS."""
    page = browser.new_context(viewport=viewport, locale="ru-RU").new_page()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            CSP_REPORTS.append(f"{page.url}: {message.text}")

    page.on("console", console)
    return page


def log_in(browser: Browser, url: str, token: str, viewport: ViewportSize,
           requests: list[Request] | None = None) -> Page:
    """A page logged in with `token`, on its role's home; `requests` collects every request it makes."""
    page = new_page(browser, viewport)
    if requests is not None:
        page.on("request", lambda request: requests.append(request))  # a bound builtin cannot be a handler
    page.goto(f"{url}/ui/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def counter(page: Page, name: str) -> int:
    return int(page.inner_text(f"[data-counter={name}]"))


def test_triage_answer_and_a_live_dashboard_in_chromium(served: tuple[str, World, Path], browser: Browser) -> None:
    url, world, _ = served
    pothole, heating, dump, lights = (world.incidents[key] for key, _ in (POTHOLE, HEATING, DUMP, LIGHTS))

    for viewport, width in ((PHONE, 390), (WIDE, 1280)):
        login_page = new_page(browser, viewport)
        login_page.goto(f"{url}/")
        assert login_page.url.endswith("/ui/login")
        shoot(login_page, f"login-{width}")

    # A supervisor's dashboard stays open the whole time: it must update without a reload.
    requests: list[Request] = []
    board = log_in(browser, url, world.tokens["minister"], WIDE, requests)
    assert board.url.endswith("/ui/dashboard")
    registered, answered = counter(board, "registered"), counter(board, "answered")
    assert registered == len(world.incidents) and answered == 0

    admin = log_in(browser, url, world.tokens["admin-perm"], WIDE)
    assert admin.url.endswith("/ui/queue")
    assert admin.locator(f"#incident-{pothole} mark.rule").first.inner_text() == "яма"
    shoot(admin, "queue-1280")

    # Accept the first card with the keyboard: J selects it, A accepts.
    first = admin.locator("article.card").first
    assert first.get_attribute("id") == f"incident-{pothole}"
    admin.keyboard.press("j")
    admin.keyboard.press("a")
    admin.wait_for_selector(f'#incident-{pothole}[data-status="routed"]', timeout=WAIT)
    assert "Принято" in admin.inner_text(f"#incident-{pothole}")

    # Correct another: the select boxes come pre-filled with the suggestion; change the agency.
    card = admin.locator(f"#incident-{dump}")
    card.locator("details.correct summary").click()
    assert card.locator("select[name=agency]").input_value() == "ecology_ministry"
    card.locator("select[name=agency]").select_option("waste_operator")
    card.locator("button.correct-submit").click()
    admin.wait_for_selector(f'#incident-{dump}[data-status="routed"]', timeout=WAIT)
    assert "АО «Пермский региональный оператор ТКО»" in admin.inner_text(f"#incident-{dump} .final")

    # Correct with one click on a runner-up under the suggested body: it fills the agency of the correction.
    card = admin.locator(f"#incident-{heating}")
    card.locator("button.runner-up[data-agency=municipality]").click()
    assert card.locator("details.correct").get_attribute("open") is not None
    assert card.locator("select[name=agency]").input_value() == "municipality"
    card.locator("button.correct-submit").click()
    admin.wait_for_selector(f'#incident-{heating}[data-status="routed"]', timeout=WAIT)
    assert "Администрация города Березники" in admin.inner_text(f"#incident-{heating} .final")
    shoot(admin, "queue-after-decisions-1280")
    admin.goto(f"{url}/ui/incidents/{dump}")
    shoot(admin, "incident-1280")

    phone_admin = log_in(browser, url, world.tokens["admin-perm"], PHONE)
    phone_admin.goto(f"{url}/ui/queue?status=all")
    shoot(phone_admin, "queue-390")
    phone_incident = log_in(browser, url, world.tokens["admin-perm"], PHONE)
    phone_incident.goto(f"{url}/ui/incidents/{dump}")
    shoot(phone_incident, "incident-390")
    assert phone_admin.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), \
        "the queue scrolls sideways on a phone"

    # Two administrators on one incident: the second, on a stale page, sees who won and the current state.
    admin.goto(f"{url}/ui/queue")
    admin.locator(f"#incident-{lights} button.accept").click()
    admin.wait_for_selector(f'#incident-{lights}[data-status="routed"]', timeout=WAIT)
    stale = phone_admin.locator(f"#incident-{lights}")
    stale.locator("input[name=reason]").fill("не жалоба")
    stale.locator(".dismiss button").click()
    phone_admin.wait_for_selector(f'#incident-{lights}[data-status="routed"] .message.error', timeout=WAIT)
    assert "другой пользователь" in phone_admin.inner_text(f"#incident-{lights} .message")
    shoot(phone_admin, "queue-conflict-390")

    # The city of Perm answers the pothole from its inbox.
    agency = log_in(browser, url, world.tokens["perm-city"], WIDE)
    assert agency.url.endswith("/ui/inbox")
    item = agency.locator(f"#incident-{pothole}")
    assert "Администрация города Перми" in item.inner_text()
    shoot(agency, "inbox-1280")
    item.locator("textarea[name=text]").fill("Яму заделают до пятницы, подрядчику выдано задание.")
    item.locator("button.answer-submit").click()
    agency.wait_for_selector(f'#incident-{pothole}[data-status="answered"]', timeout=WAIT)
    assert "отвечено в срок" in agency.inner_text(f"#incident-{pothole}")
    phone_agency = log_in(browser, url, world.tokens["perm-city"], PHONE)
    phone_agency.goto(f"{url}/ui/inbox?status=answered")
    shoot(phone_agency, "inbox-390")

    # The open dashboard picks the answer up by itself.
    # (polled from here: a predicate evaluated in the page is an eval, which the pages' CSP refuses)
    sync_api.expect(board.locator("[data-counter=answered]")).to_have_text(str(answered + 1), timeout=WAIT)
    assert counter(board, "answered_in_time") == 1 and counter(board, "registered") == registered
    # Pushed by the feed: the polling fallback never started, and the feed was an EventSource (reconnected
    # every 3 s with the session cookie: each of its connections was accepted).
    assert board.get_attribute("#dashboard", "data-mode") == "stream"
    feeds = [r for r in requests if r.resource_type == "eventsource"]
    assert len(feeds) >= 2 and {r.url for r in feeds} == {f"{url}/ui/dashboard/stream"}
    answers = [r.response() for r in feeds[:-1]]
    assert [a.status if a else None for a in answers] == [200] * len(answers)
    shoot(board, "dashboard-1280")
    phone_board = log_in(browser, url, world.tokens["minister"], PHONE)
    shoot(phone_board, "dashboard-390")
    assert phone_board.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), \
        "the dashboard scrolls sideways on a phone"

    # The agency may not open the triage queue.
    forbidden = agency.goto(f"{url}/ui/queue")
    assert forbidden is not None and forbidden.status == 403
    shoot(agency, "forbidden-1280")


def test_a_dashboard_whose_token_is_revoked_goes_to_the_login_form(served: tuple[str, World, Path],
                                                                   browser: Browser) -> None:
    """The feed's next connection is refused (401): the page goes to the login form once, no loop."""
    url, world, var = served
    token = world.tokens["perm-city-watch"]
    requests: list[Request] = []
    board = log_in(browser, url, token, WIDE, requests)
    assert board.url.endswith("/ui/dashboard")
    board.wait_for_selector("#dashboard[data-mode=stream]", timeout=WAIT)
    engine = make_engine(f"sqlite:///{var / 'otklik.db'}")  # the server's store
    try:
        with make_sessions(engine)() as session:
            revoke_token(session, token, SystemClock())
    finally:
        engine.dispose()
    board.wait_for_url(re.compile(r"/ui/login\?next=%2Fui%2Fdashboard$"), timeout=WAIT)
    assert board.locator("#token").is_visible()
    feeds = [r for r in requests if r.resource_type == "eventsource"]
    # The session's end is seen as a 401: by the feed's next connection, or, when a connection opened
    # just before the revocation, by the fetch of the body its first event asked for.
    refused = [r.url for r in requests if "/ui/dashboard/" in r.url and (x := r.response()) and x.status == 401]
    assert refused and refused[-1].split("?")[0].endswith(("/ui/dashboard/stream", "/ui/dashboard/live")), refused
    board.wait_for_timeout(3000)  # longer than the feed's retry: nothing reconnects from the login form
    assert [r for r in requests if r.resource_type == "eventsource"] == feeds


def test_a_csp_violation_would_be_seen(served: tuple[str, World, Path], browser: Browser,
                                       no_csp_violation: list[str]) -> None:
    """The check above can fail: an inline style put into a page is refused, and the console says so."""
    url, world, _ = served
    board = log_in(browser, url, world.tokens["minister"], WIDE)
    board.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    board.wait_for_timeout(500)
    assert len(no_csp_violation) == 1 and "style-src" in no_csp_violation[0], no_csp_violation
    no_csp_violation.clear()
