"""The sources file (TOML, named by OTKLIK_SOURCES_FILE): which networks to watch, where, with which token.

Tokens are best given as `token_env`, the name of an environment variable, so that the file itself
holds no secret. See `sources.example.toml` for every field.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.records import NETWORKS
from serving.settings import Settings

NETWORK_KINDS = (*NETWORKS, "jsonl")
MAX_TEXT_CHARS: int = Settings.model_fields["max_text_chars"].default
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_FIELDS = {
    "id", "network", "base_url", "token", "token_env", "secret", "secret_env", "app_key", "account",
    "queries", "communities", "region", "enabled", "reply", "page_size", "path", "api_version", "lookback",
}


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
    unknown = set(item) - _FIELDS
    if unknown:
        raise SourcesError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")

    def text(name: str, required: bool = False) -> str:
        value = item.get(name, "")
        if not isinstance(value, str) or (required and not value):
            raise SourcesError(f"{where}: '{name}' must be a non-empty string")
        return value

    def strings(name: str) -> tuple[str, ...]:
        value = item.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise SourcesError(f"{where}: '{name}' must be a list of non-empty strings")
        return tuple(value)

    def flag(name: str, default: bool) -> bool:
        value = item.get(name, default)
        if not isinstance(value, bool):
            raise SourcesError(f"{where}: '{name}' must be true or false")
        return value

    def secret(name: str) -> str:
        if name in item and f"{name}_env" in item:
            raise SourcesError(f"{where}: give '{name}' or '{name}_env', not both")
        if f"{name}_env" in item:
            variable = text(f"{name}_env", required=True)
            if not env.get(variable):
                raise SourcesError(f"{where}: '{name}_env' names {variable}, which is not set")
            return env[variable]
        return text(name)

    source_id = text("id", required=True)
    if not _ID.match(source_id):
        raise SourcesError(f"{where}: 'id' must be lower-case letters, digits, '_', '.', '-' (up to 64)")
    network = text("network", required=True)
    if network not in NETWORK_KINDS:
        raise SourcesError(f"{where}: 'network' must be one of {', '.join(NETWORK_KINDS)}")
    page_size = item.get("page_size", 100)
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= 1000:
        raise SourcesError(f"{where}: 'page_size' must be an integer from 1 to 1000")
    lookback = item.get("lookback", 60)
    if not isinstance(lookback, int) or isinstance(lookback, bool) or not 0 <= lookback <= 86_400:
        raise SourcesError(f"{where}: 'lookback' must be whole seconds from 0 to 86400")
    region = item.get("region")
    if region is not None and not isinstance(region, str):
        raise SourcesError(f"{where}: 'region' must be a region code, e.g. perm-krai")
    enabled = flag("enabled", True)
    config = SourceConfig(
        id=source_id, network=network, base_url=text("base_url"), token=secret("token") if enabled else "",
        secret=secret("secret") if enabled else "", app_key=text("app_key"), account=text("account"),
        queries=strings("queries"), communities=strings("communities"), region=region, enabled=enabled,
        reply=flag("reply", False), page_size=page_size, api_version=text("api_version"),
        path=Path(text("path")) if item.get("path") else None, lookback=lookback, max_text_chars=max_text_chars,
    )
    if network == "jsonl":
        if config.path is None:
            raise SourcesError(f"{where}: a jsonl source needs 'path'")
    elif not config.base_url.startswith(("http://", "https://")):
        raise SourcesError(f"{where}: 'base_url' must be an http(s) URL, e.g. https://api.vk.com/method")
    if enabled and network != "jsonl" and not config.token:
        raise SourcesError(f"{where}: no token: set 'token_env' to the environment variable holding it")
    return config
