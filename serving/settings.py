"""One typed settings object for everything online, read from `OTKLIK_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ADMIN_TOKEN = "otklik-dev-admin-token"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OTKLIK_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")
    annotations_dir: Path = Path("annotations")
    database_url: str = ""  # default: sqlite under var_dir
    mlflow_uri: str = ""  # default: sqlite under var_dir
    models_dir: Path | None = None  # default: var_dir/models
    admin_token: str = DEV_ADMIN_TOKEN
    max_text_chars: int = Field(default=16_384, ge=1)  # a post's or an answer's text; VK's own limit
    max_posts: int = Field(default=1_000, ge=1)
    # 1,000 posts of 16,384 Cyrillic characters are 33 MB as UTF-8 JSON (100 MB if every letter is escaped).
    max_body_bytes: int = Field(default=48 * 1024 * 1024, ge=1024)
    stats_poll_seconds: float = Field(default=5.0, gt=0, le=300)  # how often /v1/stats/stream reads the counters
    stats_stream_seconds: float = Field(default=300.0, gt=0)  # then the stream ends and the client reconnects
    # on SIGTERM a worker ends its event streams at once and gives other requests this long to finish
    shutdown_seconds: int = Field(default=5, ge=1, le=300)
    host: str = "127.0.0.1"
    port: int = 8000
    # the monitoring loop (`otklik monitor`): sources, retries, answers posted back
    sources_file: Path | None = None  # TOML; see serving/connectors/sources.example.toml
    monitor_interval: float = Field(default=60.0, gt=0)  # seconds between rounds
    monitor_max_pages: int = Field(default=100, ge=1)  # per source and round
    monitor_retries: int = Field(default=5, ge=1, le=20)  # attempts of one HTTP call (429, 5xx, network)
    monitor_backoff: float = Field(default=0.5, ge=0)  # first retry wait, doubling, with jitter
    monitor_backoff_max: float = Field(default=30.0, ge=0)  # a longer Retry-After waits for the next round
    monitor_lease: float | None = Field(default=None, gt=0)  # s; None: 3 × interval, ≥ a call retried to the end
    postback: bool = True  # post agencies' answers back to the networks; off: marked skipped
    postback_attempts: int = Field(default=5, ge=1, le=100)
    postback_delay: float = Field(default=60.0, ge=0)  # seconds before the first retry, doubling
    # retraining (`otklik retrain`, and on a schedule inside `otklik serve`; see serving/scheduler.py)
    retrain_schedule: str = ""  # "" or "off", "daily HH:MM" (UTC), "every 6h" / "every 90m"
    retrain_min_feedback: int | None = Field(default=None, ge=0)  # new labels needed; None: the training config's
    reload_url: str = ""  # where a promotion tells serving to reload; default: http://host:port

    @field_validator("retrain_schedule")
    @classmethod
    def _retrain_schedule(cls, value: str) -> str:
        from serving.scheduler import parse_schedule  # the one parser; imported late, it imports Settings

        parse_schedule(value)  # a ValueError names the variable and the forms it takes
        return value

    @model_validator(mode="after")
    def _defaults_and_safety(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'otklik.db'}"
        if not self.mlflow_uri:
            self.mlflow_uri = f"sqlite:///{self.var_dir / 'mlflow.db'}"
        if self.models_dir is None:
            self.models_dir = self.var_dir / "models"
        if not self.reload_url:
            self.reload_url = f"http://{self.host}:{self.port}"
        if self.env == "production" and self.admin_token == DEV_ADMIN_TOKEN:
            raise ValueError(
                "OTKLIK_ENV=production with the default admin token: set OTKLIK_ADMIN_TOKEN to a secret"
            )
        return self

    @property
    def bundle_dir(self) -> Path:
        assert self.models_dir is not None
        return self.models_dir / "current"


@lru_cache
def get_settings() -> Settings:
    return Settings()
