"""`otklik monitor --once` for real: a subprocess with the session's trained bundle, a SQLite store in
a temporary var dir, and the fake VK (3 pages of posts) on 127.0.0.1. Run twice it registers each
complaint once; killed with SIGKILL while page 2 is being served and restarted, it loses nothing
and duplicates nothing; after an agency's answer the next run posts it as a wall comment; a failed
post-back is visible on the response and retried; a second monitor started while the first is posting
an answer does nothing and names the first (the lease), and the answer is posted once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from serving.database import make_engine, make_sessions
from serving.monitor import LEASE
from serving.store import SystemClock, decide, lease_of, queue, respond, responses_of
from serving.store.queue import QueueFilter
from serving.store.tables import IncidentRow, PostRow
from tests.conftest import ROOT
from tests.serving.connectors.conftest import T0
from tests.serving.connectors.fakes import FakeVk
from tests.serving.connectors.test_monitor_lease import commenting, first_only
from tests.serving.test_cli import COMMAND
from training.train import TrainResult

TEXTS = [
    "На Гайве огромная яма на дороге, третью неделю никто не чинит!!!",
    "Продаю велосипед, почти новый, недорого",
    "Третий день нет горячей воды на улице Ленина в Перми, управляющая компания молчит",
    "Доброе утро всем, кто уже проснулся",
    "Мусор не вывозят вторую неделю, контейнеры переполнены во дворе на Пушкина",
    "Отличный концерт вчера был в филармонии",
    "В Березниках не убирают снег во дворах, не пройти",
    "В поликлинике на Парковом не записаться к терапевту, телефон не отвечает",
    "Кто знает, во сколько открывается рынок?",
]
COMPLAINTS = sorted(f"-555_{100 + i}" for i in (0, 2, 4, 6, 7))  # what the trained model registers
SOURCES = """
[[source]]
id = "vk-perm"
network = "vk"
base_url = "{url}/method"
token_env = "OTKLIK_TEST_VK_TOKEN"
queries = ["жалоба"]
region = "perm-krai"
page_size = 3
reply = true
"""


@dataclass
class Setup:
    env: dict[str, str]
    var: Path
    vk: FakeVk

    def run(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*COMMAND, "monitor", "--once"], env=self.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=300, check=False)

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen([*COMMAND, "monitor", "--once"], env=self.env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def store(self) -> Any:
        engine = make_engine(f"sqlite:///{self.var / 'otklik.db'}")
        return engine, make_sessions(engine)

    def registered(self) -> tuple[int, list[str]]:
        engine, sessions = self.store()
        with sessions() as s:
            posts = len(s.scalars(select(PostRow.id)).all())
            found = sorted(s.scalars(select(PostRow.external_id).join(IncidentRow, IncidentRow.post_id == PostRow.id)))
        engine.dispose()
        return posts, found


@pytest.fixture
def setup(trained: TrainResult, tmp_path: Path) -> Iterator[Setup]:
    posts = [{"id": 100 + i, "owner_id": -555, "from_id": 7000 + i, "date": T0 + 60 * i, "text": text}
             for i, text in enumerate(TEXTS)]
    with FakeVk("vk-secret", posts) as vk:
        sources = tmp_path / "sources.toml"
        sources.write_text(SOURCES.format(url=vk.url), encoding="utf-8")
        outer = {k: v for k, v in os.environ.items() if not k.startswith("OTKLIK_")}
        env = {**outer, "OTKLIK_MODELS_DIR": str(trained.bundle.parent), "OTKLIK_VAR_DIR": str(tmp_path / "var"),
               "OTKLIK_SOURCES_FILE": str(sources), "OTKLIK_TEST_VK_TOKEN": "vk-secret",
               "OTKLIK_MONITOR_BACKOFF": "0.01", "OTKLIK_POSTBACK_DELAY": "0"}
        yield Setup(env, tmp_path / "var", vk)


def summary(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr[-3000:]
    out: dict[str, Any] = json.loads(run.stdout)
    return out


def test_two_runs_register_each_complaint_once(setup: Setup) -> None:
    first = summary(setup.run())["sources"][0]
    assert (first["status"], first["pages"], first["fetched"], first["created"]) == ("ok", 3, 9, 9)
    assert first["incidents"] == len(COMPLAINTS)
    second = summary(setup.run())["sources"][0]
    assert second["created"] == 0 and second["incidents"] == 0
    assert setup.registered() == (9, COMPLAINTS)


def test_killed_between_pages_and_restarted_it_loses_nothing_and_duplicates_nothing(setup: Setup) -> None:
    setup.env["OTKLIK_MONITOR_LEASE"] = "2"  # the killed monitor's lease is not released: it expires soon
    hold = setup.vk.hold(lambda r: r.params.get("start_from") == "6")  # page 3, after pages 1 and 2 are stored
    process = setup.start()
    assert hold.reached.wait(120), "the monitor never asked for page 3"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    hold.release.set()
    posts, _ = setup.registered()
    assert posts == 6  # pages 1 and 2 were committed with their cursor
    engine, sessions = setup.store()
    with sessions() as s:
        left = lease_of(s, LEASE)
    engine.dispose()
    assert left is not None and f":{process.pid}:" in left.holder
    time.sleep(max(0.0, (left.expires_at - datetime.now(UTC)).total_seconds()) + 0.1)

    requests = len(setup.vk.calls("newsfeed.search"))
    after = summary(setup.run())["sources"][0]
    resumed = setup.vk.calls("newsfeed.search")[requests]
    assert resumed.params.get("start_from") == "6"  # exactly where the stored cursor pointed
    assert after["created"] == 3
    assert setup.registered() == (9, COMPLAINTS)


def test_an_answer_is_posted_back_and_a_failed_post_back_is_retried(setup: Setup) -> None:
    summary(setup.run())
    engine, sessions = setup.store()
    clock = SystemClock()
    with sessions() as s:
        incidents = queue(s, clock, QueueFilter(), limit=2).items
        for incident in incidents:
            decide(s, incident.id, "accept", incident.version, "admin", clock)
            respond(s, incident.id, f"Ответ на обращение {incident.id}: работы назначены.", None, "agency", clock)
    setup.vk.fail_next(FakeVk.error(10, "Internal server error"), times=10,
                       when=lambda r: r.path.endswith("wall.createComment") and r.params["message"].endswith(
                           f"{incidents[1].id}: работы назначены."))
    run = summary(setup.run())
    assert run["postbacks"] == {"posted": 1, "failed": 1, "skipped": 0}
    [posted] = setup.vk.replies
    assert posted["message"] == f"Ответ на обращение {incidents[0].id}: работы назначены."
    assert f"{posted['owner_id']}_{posted['post_id']}" == incidents[0].post.external_id
    with sessions() as s:
        failed = responses_of(s, incidents[1].id)[0]
    assert failed.postback_status == "failed"
    assert "VK error 10: Internal server error" in (failed.postback_error or "")

    setup.vk.heal()  # the network is back
    assert summary(setup.run())["postbacks"] == {"posted": 1, "failed": 0, "skipped": 0}
    with sessions() as s:
        assert [responses_of(s, i.id)[0].postback_status for i in incidents] == ["posted", "posted"]
    assert len(setup.vk.replies) == 2
    engine.dispose()


def test_a_second_monitor_started_while_the_first_posts_an_answer_names_it_and_the_answer_is_posted_once(
    setup: Setup,
) -> None:
    summary(setup.run())
    engine, sessions = setup.store()
    clock = SystemClock()
    with sessions() as s:
        [incident] = queue(s, clock, QueueFilter(), limit=1).items
        decide(s, incident.id, "accept", incident.version, "admin", clock)
        respond(s, incident.id, "Яму заделают до пятницы.", None, "agency", clock)
    hold = setup.vk.hold(first_only(commenting))  # the first reply, not a second monitor's
    first = setup.start()
    try:
        assert hold.reached.wait(120), "the first monitor never posted the answer"
        second = setup.run()
        assert second.returncode == 3 and second.stdout == "", second.stderr[-3000:]
        holder = f"{socket.gethostname()}:{first.pid}:"
        assert f"otklik: another monitor ({holder}" in second.stderr
        until = datetime.fromisoformat(second.stderr.split("holds the lease until ")[-1].split(";")[0])
        # renewed just before the reply, for the default: 5 attempts × (30 s timeout + 30 s wait) > 3 × 60 s
        assert 180 < (until - datetime.now(UTC)).total_seconds() <= 300
        assert "Traceback" not in second.stderr
    finally:
        hold.release.set()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-3000:]
    assert json.loads(out)["postbacks"] == {"posted": 1, "failed": 0, "skipped": 0}
    [reply] = setup.vk.replies
    assert reply["message"] == "Яму заделают до пятницы."
    with sessions() as s:
        assert responses_of(s, incident.id)[0].postback_status == "posted"
        assert lease_of(s, LEASE) is None  # released at the end of the run
    engine.dispose()

    third = summary(setup.run())  # runs at once: nothing left to post
    assert third["lease"] == "held" and third["postbacks"] == {"posted": 0, "failed": 0, "skipped": 0}
    assert len(setup.vk.replies) == 1


def test_a_revoked_token_stops_the_source_with_a_clear_error_and_exit_code(setup: Setup) -> None:
    setup.vk.revoked = True
    run = setup.run()
    assert run.returncode == 1
    [source] = json.loads(run.stdout)["sources"]
    assert source["status"] == "stopped" and "User authorization failed" in source["error"]
    assert "token refused, source stopped" in run.stderr


@pytest.mark.parametrize(("change", "message"), [
    ({"OTKLIK_SOURCES_FILE": ""}, "no sources: set OTKLIK_SOURCES_FILE"),
    ({"OTKLIK_TEST_VK_TOKEN": ""}, "'token_env' names OTKLIK_TEST_VK_TOKEN, which is not set"),
])
def test_bad_configuration_is_a_message_and_a_non_zero_exit(setup: Setup, change: dict[str, str],
                                                            message: str) -> None:
    env = {k: v for k, v in {**setup.env, **change}.items() if v}
    run = subprocess.run([*COMMAND, "monitor", "--once"], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_without_once_it_polls_in_rounds_until_sigterm(setup: Setup) -> None:
    process = subprocess.Popen([*COMMAND, "monitor", "--interval", "0.2"], env=setup.env, cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len([r for r in setup.vk.calls("newsfeed.search") if "start_time" in r.params]) < 2:
            assert process.poll() is None and time.monotonic() < deadline, process.stderr and process.stderr.read()
            time.sleep(0.1)
        setup.vk.posts.append({"id": 300, "owner_id": -555, "from_id": 1, "date": T0 + 3600,
                               "text": "Во дворе на Пушкина 10 не горит фонарь, темно и страшно"})
        while setup.registered()[0] < 10:
            assert time.monotonic() < deadline, "the new post was not picked up by a later round"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
