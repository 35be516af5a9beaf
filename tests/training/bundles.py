"""Copies of the session bundle under other ids and dates: bundles to list, promote and roll back to
without training (meta.json is outside the hashed files, so a copy still verifies)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from model.bundle import META, Bundle


def copy_bundle(bundle: Bundle, models: Path, new_id: str, created_at: str) -> Path:
    target = models / new_id
    shutil.copytree(bundle.path, target)
    meta = json.loads((target / META).read_text(encoding="utf-8"))
    meta.update(id=new_id, created_at=created_at)
    (target / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return target
