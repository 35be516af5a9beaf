"""Every store test runs on SQLite (a fresh file) and on PostgreSQL (a fresh schema in database
`test` at 127.0.0.1:5432, skipped when the server does not answer).

The model is a fake: it is the store under test, and a table of keywords makes each outcome
(relevant, not relevant, no rule matched, an always-register rule) a choice of words.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from model.matcher import Rule
from model.records import Label, Post, Prediction
from model.region import Region
from model.toponyms import Place
from serving.database import make_engine, make_sessions, scratch_schema
from serving.store import IngestResult, ManualClock, NetworkPost, ingest_posts, upgrade
from serving.store.tables import Base

PG_URL = os.environ.get("OTKLIK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = datetime.fromisoformat("2026-11-28T10:00:00+05:00")
SLA = timedelta(hours=24)


def postgres_problem() -> str | None:
    """None when the test PostgreSQL server answers, else why not."""
    url = make_url(PG_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=0.5):
            pass
    except OSError as exc:
        return f"PostgreSQL at {url.host}:{url.port} does not answer ({exc}); the SQLite variant ran"
    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"PostgreSQL at {url.host}:{url.port} refused {url.username}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@pytest.fixture(scope="session")
def postgres() -> str:
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    return PG_URL


@dataclass
class Db:
    """A migrated, empty store; `reopen` is a restart: the old engine is gone, a new one connects."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = make_sessions(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    def reopen(self) -> None:
        self.engine.dispose()
        self.engine = make_engine(self.url)
        self.sessions = make_sessions(self.engine)

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new schema in PostgreSQL's database `test`."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'otklik.db'}"
        return
    with scratch_schema(request.getfixturevalue("postgres"), "otklik_test") as url:
        yield url


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies: cheaper than migrating every time."""
    path = tmp_path_factory.mktemp("store") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres: str) -> Iterator[str]:
    """A migrated schema for the session; each test leaves it empty."""
    with scratch_schema(postgres, "otklik_test") as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A migrated, empty store."""
    if request.param == "sqlite":
        path = tmp_path / "otklik.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        store = Db(f"sqlite:///{path}", make_engine(f"sqlite:///{path}"))
        yield store
        store.engine.dispose()
        return
    url = request.getfixturevalue("migrated_postgres")
    store = Db(url, make_engine(url))
    try:
        yield store
    finally:
        store.engine.dispose()
        engine = make_engine(url)
        with engine.begin() as conn:  # the audit log's own triggers would refuse to be emptied
            conn.execute(text("ALTER TABLE decisions DISABLE TRIGGER USER"))
            conn.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} RESTART IDENTITY"))
            conn.execute(text("ALTER TABLE decisions ENABLE TRIGGER USER"))
        engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


# ---- the fake model -------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    rule: Rule
    relevant: float
    topic: str
    topic_score: float
    agency: str
    agency_score: float
    municipality: str | None = None
    needs_review: bool = False


THRESHOLD = 0.5
OUTCOMES = {
    "яма": Outcome(Rule("roads-potholes", "яма", "roads"), 0.93, "roads", 0.81, "municipality", 0.77, "57701000"),
    "батаре": Outcome(Rule("housing-heating", "батарея", "housing"), 0.88, "housing", 0.64,
                      "housing_inspection", 0.58, "57708000", needs_review=True),
    "мусор": Outcome(Rule("waste", "мусор", "waste"), 0.71, "waste", 0.9, "waste_operator", 0.95),
    "продаю": Outcome(Rule("ads", "продавать"), 0.08, "other", 0.40, "municipality", 0.50),
    "пожар": Outcome(Rule("fire", "пожар", "safety", always_register=True), 0.2, "safety", 0.5,
                     "safety_ministry", 0.6),
}


def outcome_of(text_: str) -> Outcome | None:
    lowered = text_.lower()
    return next((o for word, o in OUTCOMES.items() if word in lowered), None)


class FakeModel:
    """rules_fn and predict_fn of the store's contract; counts what it was asked."""

    bundle_id = "fake-bundle-1"

    def __init__(self) -> None:
        self.predicted: list[str] = []
        self.screened: list[str] = []

    def rules(self, posts: Sequence[Post]) -> list[list[Rule]]:
        self.screened += [p.text for p in posts]
        return [[o.rule] if (o := outcome_of(p.text)) else [] for p in posts]

    def predict(self, posts: Sequence[Post]) -> list[Prediction]:
        self.predicted += [p.text for p in posts]
        out = []
        for p in posts:
            o = outcome_of(p.text)
            assert o is not None, "the store predicted a post no rule matched"
            place = Place(o.municipality, "Пермь", ((0, 4),), ()) if o.municipality else None
            out.append(
                Prediction(
                    id=p.id,
                    relevant=Label(o.relevant >= THRESHOLD, o.relevant),
                    topic=Label(o.topic, o.topic_score, ((o.topic, o.topic_score), ("other", 0.05))),
                    agency=Label(o.agency, o.agency_score, ((o.agency, o.agency_score), ("ecology_ministry", 0.04),
                                                           ("digital_ministry", 0.01))),
                    body=f"body of {o.agency}",
                    municipality=place,
                    rules=(o.rule.id,),
                    needs_review=o.needs_review,
                    explanation={"relevance": [["яма", 0.4]]},
                    model=self.bundle_id,
                )
            )
        return out


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


def post(external_id: str, text_: str, published_at: datetime = T0, network: str = "vk",
         region: str = "perm-krai", **extra: Any) -> NetworkPost:
    fields = {"url": f"https://vk.com/wall{external_id}", "author": "Ирина", "raw": {"id": external_id, "text": text_},
              **extra}
    return NetworkPost(network=network, external_id=external_id, text=text_, published_at=published_at,
                       region=region, **fields)


@pytest.fixture
def ingest(db: Db, model: FakeModel, clock: ManualClock, regions: dict[str, Region]) -> Any:
    """ingest(posts) -> IngestResult, with the fake model, the manual clock and the real regions."""

    def run(posts: Sequence[NetworkPost]) -> IngestResult:
        with db.session() as session:
            return ingest_posts(session, posts, model.predict, model.rules, clock, regions)

    return run


# Posts named by what should become of them.
POTHOLE = "На Гайве огромная яма на дороге, третью неделю никто не чинит!!!"
HEATING = "Третий день батареи холодные в Березниках, УК трубку не берёт"
GARBAGE = "Мусор не вывозят вторую неделю, контейнеры переполнены"
AD = "Продаю велосипед, почти новый, недорого"
CHATTER = "Доброе утро всем, кто уже проснулся"
FIRE = "Горит свалка у Софрино, пожар, дым на весь поселок"
