"""What the `otklik` commands share: failing with a message, settings, the model, input posts.

The command modules (`cli`, `cli_store`, `cli_access`, `cli_monitor`, `cli_ml`) import from here, not
from each other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from serving.limits import BadJson, strict_json
from serving.settings import Settings


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"otklik: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        fail(f"bad settings: {exc}")
        raise


def open_predictor(bundle: Path | None) -> Any:
    from model.bundle import BundleError
    from serving.models import open_predictor as load

    path = bundle or settings().bundle_dir
    if not path.exists():
        fail(f"no model bundle at {path}; train one with `otklik train`")
    try:
        return load(path)
    except BundleError as exc:
        fail(str(exc))


BundleOpt = Annotated[Path | None, typer.Option("--bundle", help="bundle directory (default: var/models/current)")]


def read_posts(lines: Iterator[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or an error message) for each non-empty input line."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield n, strict_json(line)
        except BadJson as exc:
            yield n, f"line {n}: {exc}"


def post_problem(obj: Any, max_chars: int, networks: tuple[str, ...]) -> str | None:
    """What is wrong with one input post, or None."""
    if not isinstance(obj, dict):
        return "expected a JSON object with 'id' and 'text'"
    from serving.validation import text_problem, unicode_problem

    if "id" not in obj or not isinstance(obj["id"], str | int) or isinstance(obj["id"], bool):
        return "'id' is required and must be a string"
    if isinstance(obj["id"], str) and (wrong := unicode_problem(obj["id"])) is not None:
        return f"'id' {wrong}"
    text = obj.get("text")
    if not isinstance(text, str):
        return "'text' is required and must be a string"
    if (wrong := text_problem(text, max_chars)) is not None:
        return wrong
    network = obj.get("network")
    if network is not None and network not in networks:
        return f"'network' must be one of {', '.join(networks)}"
    region = obj.get("region")
    if region is not None and not isinstance(region, str):
        return "'region' must be a string"
    if region is not None and (wrong := unicode_problem(region)) is not None:
        return f"'region' {wrong}"
    return None
