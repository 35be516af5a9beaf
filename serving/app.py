"""The app factory: builds the FastAPI app and nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from serving import scheduler
from serving.database import make_engine, make_sessions
from serving.limits import JsonBodyGuard
from serving.models import ModelHolder
from serving.observability import Metrics, configure_logging, request_middleware
from serving.problems import install as install_problems
from serving.routes import incidents, predict, stats, system
from serving.settings import Settings
from serving.shutdown import Stopping
from serving.store import upgrade
from serving.web import install as install_pages

log = logging.getLogger("otklik.app")

DESCRIPTION = """
Otklik находит жалобы граждан в соцсетях и направляет их ответственным органам.

* `POST /v1/predict` — классификация постов (релевантность, тема, ведомство, муниципалитет);
* `GET /v1/model` — модель в работе; `POST /v1/model/reload` — перечитать модель (токен администратора);
* `POST /v1/posts` — принять посты из соцсетей: сохранить один раз, классифицировать, зарегистрировать инциденты
  со сроком ответа 24 часа;
* `GET /v1/queue` — очередь инцидентов (фильтры, порядок по сроку или неуверенности модели, курсор);
  `GET /v1/incidents/{id}` — инцидент;
* `POST /v1/incidents/{id}/decision` — принять, исправить, отклонить, вернуть в очередь (с `version` инцидента:
  устаревшая версия — 409 с текущим состоянием); `POST /v1/incidents/{id}/response` — ответ ведомства;
* `GET /v1/stats` — статистика в пределах роли (группировка, окно); `GET /v1/stats/stream` — она же вживую (SSE);
* `GET /health`, `GET /ready`, `GET /metrics`.

Все методы, кроме `/health`, `/ready`, `/metrics` и `/v1/predict`, требуют `Authorization: Bearer <токен>`;
роль токена определяет, что видно и что разрешено. Времена инцидентов — в часовом поясе региона.

Ошибки ввода — HTTP 4xx с JSON `{"detail": ...}`, где сказано, какое поле и что с ним не так (сам неверный ввод
в ответе не повторяется). База недоступна или только для чтения — 503 с `Retry-After`; сервис восстанавливается сам.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging()
    holder = ModelHolder(settings.bundle_dir)
    engine = make_engine(settings.database_url)
    metrics = Metrics()
    stopping = Stopping()

    def migrate() -> None:
        try:
            upgrade(engine)
            app.state.schema_error = None
        except Exception as exc:  # the service starts and /ready says why it is not ready
            app.state.schema_error = f"database schema not upgraded: {type(exc).__name__}: {exc}".splitlines()[0]
            log.error("%s", app.state.schema_error)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(migrate)
        await run_in_threadpool(holder.try_load)
        retraining = scheduler.start(settings)  # None unless OTKLIK_RETRAIN_SCHEDULE is set
        with stopping.on_signals():
            yield
        scheduler.stop(retraining)
        engine.dispose()

    app = FastAPI(title="Otklik", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.models = holder
    app.state.engine = engine
    app.state.sessions = make_sessions(engine)
    app.state.schema_error = None
    app.state.migrate = migrate
    app.state.metrics = metrics
    app.state.stopping = stopping
    app.middleware("http")(request_middleware(metrics))
    app.add_middleware(JsonBodyGuard, max_bytes=settings.max_body_bytes)
    install_problems(app)
    app.include_router(system.router)
    app.include_router(predict.router)
    app.include_router(incidents.router)
    app.include_router(stats.router)
    install_pages(app)  # the web pages under /ui (not in the OpenAPI schema)
    return app
