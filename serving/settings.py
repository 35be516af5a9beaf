"""One typed settings object for everything online, read from `OTKLIK_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
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
    max_text_chars: int = Field(default=10_000, ge=1)
    max_posts: int = Field(default=1_000, ge=1)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    host: str = "127.0.0.1"
    port: int = 8000

    @model_validator(mode="after")
    def _defaults_and_safety(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'otklik.db'}"
        if not self.mlflow_uri:
            self.mlflow_uri = f"sqlite:///{self.var_dir / 'mlflow.db'}"
        if self.models_dir is None:
            self.models_dir = self.var_dir / "models"
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
