"""The label space: topic codes and agency codes with their Russian names and descriptions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used; the message names the file, the entry and the fix."""


class Entry(NamedTuple):
    name: str
    description: str


@dataclass(frozen=True)
class Taxonomy:
    """Topic and agency codes, each mapped to (Russian name, description), in file order."""

    topics: Mapping[str, Entry]
    agencies: Mapping[str, Entry]

    def check_topic(self, code: str, where: str) -> None:
        """Raise a ValueError naming `where` when `code` is not a topic code."""
        if code not in self.topics:
            raise ValueError(f"{where}: unknown topic {code!r}; known topics: {', '.join(self.topics)}")

    def check_agency(self, code: str, where: str) -> None:
        """Raise a ValueError naming `where` when `code` is not an agency code."""
        if code not in self.agencies:
            raise ValueError(f"{where}: unknown agency {code!r}; known agencies: {', '.join(self.agencies)}")


def load_taxonomy(path: Path | str) -> Taxonomy:
    """Read and validate `annotations/taxonomy.yaml`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyError(
            f"{path}: file not found; the taxonomy lives in annotations/taxonomy.yaml"
        ) from None
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TaxonomyError(f"{path}: expected a mapping with the keys 'topics' and 'agencies'")
    return Taxonomy(
        topics=_section(path, data, "topics"),
        agencies=_section(path, data, "agencies"),
    )


def _section(path: Path, data: dict[str, Any], key: str) -> Mapping[str, Entry]:
    raw = data.get(key)
    if not isinstance(raw, dict) or not raw:
        raise TaxonomyError(f"{path}: '{key}' must be a non-empty mapping of code -> {{name, description}}")
    out: dict[str, Entry] = {}
    for code, entry in raw.items():
        where = f"{path}: {key}.{code}"
        if not isinstance(code, str) or not _CODE.match(code):
            raise TaxonomyError(f"{where}: a code is lower-case latin letters, digits and '_'")
        if not isinstance(entry, dict):
            raise TaxonomyError(f"{where}: expected {{name: ..., description: ...}}")
        unknown = set(entry) - {"name", "description"}
        if unknown:
            raise TaxonomyError(f"{where}: unknown keys {sorted(unknown)}; allowed: name, description")
        name, description = entry.get("name"), entry.get("description")
        if not isinstance(name, str) or not name.strip():
            raise TaxonomyError(f"{where}: 'name' (the Russian name) is missing or empty")
        if not isinstance(description, str) or not description.strip():
            raise TaxonomyError(f"{where}: 'description' (what belongs there) is missing or empty")
        out[code] = Entry(name.strip(), " ".join(description.split()))
    return out
