"""The sources file (TOML, named by OTKLIK_SOURCES_FILE): which networks to watch, where, with which token.

Tokens are best given as `token_env`, the name of an environment variable, so that the file itself
holds no secret. See `sources.example.toml` for every field.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from model.records import NETWORKS
from serving.settings import Settings

NETWORK_KINDS = (*NETWORKS, "jsonl")
MAX_TEXT_CHARS: int = Settings.model_fields["max_text_chars"].default


class SourcesError(ValueError):
    """The sources file is wrong; the message names the source and the field."""


@dataclass(frozen=True)
class SourceConfig:
    """One watched source. `queries` are search queries (VK, X, Instagram hashtags), `communities`
    the monitored communities, groups, pages or chats; `account` the network's own account id
    where the API needs one (Instagram business account)."""

    id: str
    network: str
    base_url: str = ""
    token: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)  # OK's application secret key
    app_key: str = ""
    account: str = ""
    queries: tuple[str, ...] = ()
    communities: tuple[str, ...] = ()
    region: str | None = None
    enabled: bool = True
    reply: bool = False
    page_size: int = 100
    path: Path | None = None  # jsonl: the file to import
    api_version: str = ""
    lookback: int = 60  # VK: seconds searched again before the last sweep's newest post (the index lags)
    max_text_chars: int = MAX_TEXT_CHARS  # Settings.max_text_chars, handed over by load_sources


NonEmpty = Annotated[str, Field(min_length=1)]


class SourceEntry(BaseModel):
    """One `[[source]]` table as written in the file. Each field's description is what it must be: the
    error message says it (`'page_size' must be an integer from 1 to 1000`)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
                    description="lower-case letters, digits, '_', '.', '-' (up to 64)")
    network: str = Field(description=f"one of {', '.join(NETWORK_KINDS)}")
    base_url: str = Field("", pattern=r"^(https?://\S+)?$",
                          description="an http(s) URL, e.g. https://api.vk.com/method")
    token: str | None = Field(None, description="a string")
    token_env: NonEmpty | None = Field(None, description="the name of an environment variable")
    secret: str | None = Field(None, description="a string")
    secret_env: NonEmpty | None = Field(None, description="the name of an environment variable")
    app_key: str = Field("", description="a string")
    account: str = Field("", description="a string")
    queries: list[NonEmpty] = Field([], description="a list of non-empty strings")
    communities: list[NonEmpty] = Field([], description="a list of non-empty strings")
    region: str | None = Field(None, description="a region code, e.g. perm-krai")
    enabled: bool = Field(True, description="true or false")
    reply: bool = Field(False, description="true or false")
    page_size: int = Field(100, ge=1, le=1000, description="an integer from 1 to 1000")
    path: NonEmpty | None = Field(None, description="the path of a JSONL file")
    api_version: str = Field("", description="a string")
    lookback: int = Field(60, ge=0, le=86_400, description="whole seconds from 0 to 86400")

    @field_validator("network")
    @classmethod
    def _known_network(cls, value: str) -> str:
        if value not in NETWORK_KINDS:
            raise ValueError("unknown network")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("token", "secret"):
            if getattr(self, name) is not None and getattr(self, f"{name}_env") is not None:
                raise ValueError(f"give '{name}' or '{name}_env', not both")
        if self.network == "jsonl":
            if self.path is None:
                raise ValueError("a jsonl source needs 'path'")
        elif not self.base_url:
            raise ValueError(f"'base_url' must be {SourceEntry.model_fields['base_url'].description}")
        return self


def load_sources(path: Path, env: Mapping[str, str] | None = None, max_text_chars: int = MAX_TEXT_CHARS,
                 ) -> list[SourceConfig]:
    """Every `[[source]]` of the file, checked; tokens read from the environment now."""
    env = os.environ if env is None else env
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesError(f"sources file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"sources file {path}: not valid TOML: {exc}") from None
    extra = set(data) - {"source"}
    if extra:
        raise SourcesError(f"sources file {path}: unknown top-level key(s) {', '.join(sorted(extra))}; "
                           "each source is a [[source]] table")
    raw = data.get("source", [])
    if not isinstance(raw, list):
        raise SourcesError(f"sources file {path}: 'source' must be an array of tables ([[source]])")
    sources = [_source(item, n, path, env, max_text_chars) for n, item in enumerate(raw)]
    seen: set[str] = set()
    for s in sources:
        if s.id in seen:
            raise SourcesError(f"sources file {path}: source id {s.id!r} is used twice")
        seen.add(s.id)
    return sources


def _source(item: Any, n: int, path: Path, env: Mapping[str, str], max_text_chars: int) -> SourceConfig:
    where = f"sources file {path}: source {n + 1}"
    if not isinstance(item, dict):
        raise SourcesError(f"{where}: expected a table")
    if isinstance(item.get("id"), str):
        where += f" ({item['id']})"
    try:
        entry = SourceEntry.model_validate(item)
    except ValidationError as exc:
        raise SourcesError(f"{where}: {_problems(exc)}") from None

    def secret(name: str) -> str:
        variable = getattr(entry, f"{name}_env")
        if variable is None:
            return str(getattr(entry, name) or "")
        if not env.get(variable):
            raise SourcesError(f"{where}: '{name}_env' names {variable}, which is not set")
        return env[variable]

    enabled = entry.enabled
    config = SourceConfig(
        id=entry.id, network=entry.network, base_url=entry.base_url, token=secret("token") if enabled else "",
        secret=secret("secret") if enabled else "", app_key=entry.app_key, account=entry.account,
        queries=tuple(entry.queries), communities=tuple(entry.communities), region=entry.region,
        enabled=enabled, reply=entry.reply, page_size=entry.page_size, api_version=entry.api_version,
        path=Path(entry.path) if entry.path else None, lookback=entry.lookback, max_text_chars=max_text_chars,
    )
    if enabled and entry.network != "jsonl" and not config.token:
        raise SourcesError(f"{where}: no token: set 'token_env' to the environment variable holding it")
    return config


def _problems(exc: ValidationError) -> str:
    """Pydantic's errors as the file's author reads them: unknown fields together, then each field's rule.
    Values are not repeated: a misplaced token must not end up in a log."""
    unknown = sorted(str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden")
    problems = [f"unknown field(s) {', '.join(unknown)}"] if unknown else []
    for e in exc.errors():
        if e["type"] == "extra_forbidden":
            continue
        if not e["loc"]:  # a rule across fields: its message is the whole story
            problems.append(str(e["msg"]).removeprefix("Value error, "))
            continue
        name = str(e["loc"][0])
        rule = SourceEntry.model_fields[name].description
        text = f"'{name}' must be {rule}"
        if text not in problems:
            problems.append(text)
    return "; ".join(problems)
