"""Putting a bundle into service (promotion, rollback) in one step: `current`, the `champion` alias, a reload.

`var/models/current` is switched atomically (`model.bundle.set_current`); the switch is appended to
`var/models/history.jsonl`, which is how `otklik model rollback` knows what served before. Moving the
registry alias and telling the server to reload come after the switch and only warn when they fail:
the switch is what serving reads, and a server that is down loads `current` when it starts.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model.bundle import BundleError, read_meta, set_current, verify_bundle
from training.registry import Registry

HISTORY = "history.jsonl"

# Told after every switch; returns None when serving reloaded, else a warning to show.
Reload = Callable[[], str | None]


@dataclass(frozen=True)
class Switch:
    bundle: str
    previous: str | None
    warnings: tuple[str, ...]


def current_id(models_dir: Path) -> str | None:
    link = models_dir / "current"
    return link.resolve().name if link.exists() else None


def history(models_dir: Path) -> list[dict[str, Any]]:
    path = models_dir / HISTORY
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def switch(
    models_dir: Path,
    bundle_dir: Path,
    action: str,
    reason: str,
    registry: Registry | None = None,
    reload: Reload | None = None,
) -> Switch:
    """Serve `bundle_dir`: verify it, switch `current`, log the switch, move the alias, tell serving."""
    meta = verify_bundle(bundle_dir)  # never point `current` at a bundle the server would refuse
    previous = current_id(models_dir)
    set_current(models_dir, bundle_dir)
    entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "action": action, "bundle": meta["id"],
             "previous": previous, "reason": reason}
    with (models_dir / HISTORY).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    warnings = []
    if registry is not None:
        try:
            registry.set_champion(str(meta["id"]))
        except Exception as exc:  # the registry is bookkeeping: serving already switched
            warnings.append(f"registry: {exc}")
    if reload is not None and (problem := reload()):
        warnings.append(problem)
    return Switch(str(meta["id"]), previous, tuple(warnings))


def rollback_target(models_dir: Path, version: str | None = None, registry: Registry | None = None) -> Path:
    """The bundle to roll back to: `version` (a bundle id, or a registry version number), else the
    one that served before the current bundle was promoted, else the newest older bundle."""
    if version is not None:
        bundle_id = version
        if version.isdigit():
            if registry is None:
                raise BundleError(f"{version} looks like a registry version, but no registry is configured")
            found = registry.bundle_of(version)
            if found is None:
                raise BundleError(f"registry version {version} of {registry.name!r} does not exist or names no bundle")
            bundle_id = found
        target = models_dir / bundle_id
        if Path(bundle_id).name != bundle_id or not target.is_dir():
            raise BundleError(f"no bundle {bundle_id} in {models_dir}; see `otklik model list`")
        return target
    now = current_id(models_dir)
    for entry in reversed(history(models_dir)):
        if entry["action"] == "promote" and entry["bundle"] == now and entry["previous"]:
            return models_dir / entry["previous"]
    ids = [str(meta["id"]) for meta in bundles(models_dir)]
    if now in ids and ids.index(now) > 0:
        return models_dir / ids[ids.index(now) - 1]
    raise BundleError(f"nothing to roll back to: no bundle in {models_dir} is older than {now}; "
                      "name one (see `otklik model list`)")


def bundles(models_dir: Path) -> list[dict[str, Any]]:
    """The metadata of every bundle directory in `models_dir`, oldest first (unreadable ones skipped)."""
    out = []
    for path in sorted(models_dir.iterdir()) if models_dir.is_dir() else []:
        if path.is_dir() and not path.is_symlink() and not path.name.endswith(".partial"):
            try:
                out.append(read_meta(path))
            except BundleError:
                continue
    return sorted(out, key=lambda m: str(m.get("created_at", "")))


def http_reload(url: str, token: str, timeout: float = 60.0) -> Reload:
    """A Reload that POSTs /v1/model/reload at `url` with the admin token."""

    def reload() -> str | None:
        request = urllib.request.Request(
            url.rstrip("/") + "/v1/model/reload", method="POST", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            return None
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            return f"serving at {url} refused the reload ({exc.code}): {detail}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return (f"serving at {url} not reached ({reason}); it loads var/models/current when it starts, "
                    f"or call POST {url.rstrip('/')}/v1/model/reload")

    return reload
