"""A region directory: its bodies, municipalities, toponyms and default jurisdiction.

One YAML file per region in `annotations/regions/` (the schema is commented in `perm-krai.yaml`).
Loading validates everything a typo could break (codes against the taxonomy, OKTMO codes, duplicate
names, query syntax) and says which file, which entry and what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from model.query import QuerySyntaxError, parse
from model.taxonomy import Taxonomy, load_taxonomy

MUNICIPALITY = "municipality"  # the agency code resolved to the named municipality's administration
KINDS = ("городской округ", "муниципальный округ", "муниципальный район")

_OKTMO = re.compile(r"^\d{8}$")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TOP_KEYS = {
    "code",
    "name",
    "timezone",
    "sla_hours",
    "generic_municipal_body",
    "aliases",
    "non_municipal_names",
    "bodies",
    "municipalities",
    "jurisdiction",
}
_MUNICIPALITY_KEYS = {"oktmo", "name", "kind", "body", "variants", "settlements", "demonyms"}
_RULE_KEYS = {"id", "agency", "topics", "query"}


class RegionError(ValueError):
    """A region file that cannot be used; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class Body:
    agency: str
    name: str
    short: str


@dataclass(frozen=True)
class Municipality:
    oktmo: str
    name: str
    kind: str
    body: str
    variants: tuple[str, ...]
    settlements: tuple[str, ...]
    demonyms: tuple[str, ...]


@dataclass(frozen=True)
class JurisdictionRule:
    """Posts of one of `topics` (any topic when empty) whose text matches `query` go to `agency`."""

    id: str
    agency: str
    topics: tuple[str, ...]
    query: str | None


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    timezone: str
    sla_hours: float
    bodies: Mapping[str, Body]
    municipalities: tuple[Municipality, ...]
    jurisdiction: tuple[JurisdictionRule, ...]
    default_agency: str
    generic_municipal_body: str = "Администрация муниципального образования"
    aliases: tuple[str, ...] = ()  # names of the region itself (Прикамье): no municipality
    non_municipal_names: tuple[str, ...] = ()  # look like a municipality but are not (Пермский район)

    def municipality(self, oktmo: str) -> Municipality:
        for m in self.municipalities:
            if m.oktmo == oktmo:
                return m
        raise KeyError(
            f"region {self.code!r} has no municipality with OKTMO {oktmo!r}; "
            f"add it to annotations/regions/{self.code}.yaml or fix the code"
        )

    def body_name(self, agency: str, oktmo: str | None) -> str:
        """The concrete body: a regional body's full name, or the named municipality's administration."""
        if agency == MUNICIPALITY:
            return self.municipality(oktmo).body if oktmo else self.generic_municipal_body
        body = self.bodies.get(agency)
        if body is None:
            raise KeyError(
                f"region {self.code!r} has no body for agency {agency!r}; "
                f"known: {', '.join(sorted(self.bodies))}"
            )
        return body.name


def load_regions(folder: Path | str, taxonomy: Taxonomy | None = None) -> dict[str, Region]:
    """Every `*.yaml` region file in `folder`, by region code."""
    folder = Path(folder)
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise RegionError(f"{folder}: no region files (*.yaml) found")
    taxonomy = taxonomy or _default_taxonomy(folder / "any.yaml")
    return {region.code: region for region in (load_region(f, taxonomy) for f in files)}


def load_region(path: Path | str, taxonomy: Taxonomy | None = None) -> Region:
    """Read and validate one region file; the taxonomy defaults to `../taxonomy.yaml`."""
    path = Path(path)
    taxonomy = taxonomy or _default_taxonomy(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegionError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise RegionError(f"{path}: not valid YAML: {exc}") from None
    return _Reader(path, taxonomy).region(data)


def _default_taxonomy(region_file: Path) -> Taxonomy:
    candidate = region_file.parent.parent / "taxonomy.yaml"
    if not candidate.exists():
        raise RegionError(
            f"{region_file}: no taxonomy given and {candidate} does not exist; "
            "pass load_region(path, taxonomy) or keep regions/ next to taxonomy.yaml"
        )
    return load_taxonomy(candidate)


class _Reader:
    """Validates one file's parsed YAML; every error names `path` and the entry."""

    def __init__(self, path: Path, taxonomy: Taxonomy) -> None:
        self.path = path
        self.taxonomy = taxonomy

    def fail(self, where: str, message: str) -> RegionError:
        return RegionError(f"{self.path}: {where}: {message}")

    def region(self, data: Any) -> Region:
        if not isinstance(data, dict):
            raise self.fail("top level", "expected a mapping (code, name, timezone, bodies, ...)")
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise self.fail("top level", f"unknown keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
        code = self.text(data, "code", "top level")
        if code != self.path.stem:
            raise self.fail("code", f"{code!r} must equal the file name {self.path.stem!r}")
        timezone = self.text(data, "timezone", "top level")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                "timezone", f"{timezone!r} is not an IANA time zone (e.g. Asia/Yekaterinburg)"
            ) from None
        sla = data.get("sla_hours", 24)
        if isinstance(sla, bool) or not isinstance(sla, int | float) or sla <= 0:
            raise self.fail("sla_hours", f"{sla!r} must be a positive number of hours")
        municipalities = self.municipalities(data.get("municipalities"))
        default, rules = self.jurisdiction(data.get("jurisdiction"))
        generic = data.get("generic_municipal_body", Region.generic_municipal_body)
        if not isinstance(generic, str) or not generic.strip():
            raise self.fail("generic_municipal_body", "must be a non-empty string")
        return Region(
            code=code,
            name=self.text(data, "name", "top level"),
            timezone=timezone,
            sla_hours=float(sla),
            bodies=self.bodies(data.get("bodies")),
            municipalities=municipalities,
            jurisdiction=rules,
            default_agency=default,
            generic_municipal_body=generic.strip(),
            aliases=self.names(data, "aliases", "top level"),
            non_municipal_names=self.names(data, "non_municipal_names", "top level"),
        )

    def text(self, entry: dict[str, Any], key: str, where: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"'{key}' is missing or not a non-empty string")
        return value.strip()

    def names(self, entry: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = entry.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(where, f"'{key}' must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def bodies(self, raw: Any) -> dict[str, Body]:
        if not isinstance(raw, dict):
            raise self.fail("bodies", "expected a mapping agency code -> {name, short}")
        out: dict[str, Body] = {}
        for agency, entry in raw.items():
            where = f"bodies.{agency}"
            if agency == MUNICIPALITY:
                raise self.fail(where, "municipal bodies belong to each municipality's 'body', not here")
            self.check(lambda a=agency, w=where: self.taxonomy.check_agency(a, w))
            if not isinstance(entry, dict):
                raise self.fail(where, "expected {name: full official name, short: short name}")
            name = self.text(entry, "name", where)
            out[agency] = Body(agency, name, str(entry.get("short") or name).strip())
        missing = [a for a in self.taxonomy.agencies if a != MUNICIPALITY and a not in out]
        if missing:
            raise self.fail("bodies", f"no body for agencies {missing}; add one entry per agency code")
        return out

    def check(self, call: Any) -> None:
        try:
            call()
        except ValueError as exc:
            raise RegionError(f"{self.path}: {exc}") from None

    def municipalities(self, raw: Any) -> tuple[Municipality, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail("municipalities", "expected a non-empty list")
        out: list[Municipality] = []
        owner: dict[str, str] = {}  # every place name (lower case, е for ё) -> the municipality naming it
        for i, entry in enumerate(raw):
            where = f"municipalities[{i}]"
            if not isinstance(entry, dict):
                raise self.fail(where, "expected a mapping with oktmo, name, kind, body, variants, ...")
            oktmo = str(entry.get("oktmo", ""))
            where = f"municipalities[{i}] ({entry.get('name', oktmo)})"
            unknown = set(entry) - _MUNICIPALITY_KEYS
            if unknown:
                raise self.fail(
                    where, f"unknown keys {sorted(unknown)}; allowed: {sorted(_MUNICIPALITY_KEYS)}"
                )
            if not _OKTMO.match(oktmo):
                raise self.fail(
                    where, f'oktmo {entry.get("oktmo")!r} must be 8 digits in quotes, e.g. "57701000"'
                )
            if any(m.oktmo == oktmo for m in out):
                raise self.fail(where, f"oktmo {oktmo} is listed twice")
            kind = self.text(entry, "kind", where)
            if kind not in KINDS:
                raise self.fail(where, f"kind {kind!r} must be one of {list(KINDS)}")
            name = self.text(entry, "name", where)
            municipality = Municipality(
                oktmo=oktmo,
                name=name,
                kind=kind,
                body=self.text(entry, "body", where),
                variants=self.names(entry, "variants", where) or (name,),
                settlements=self.names(entry, "settlements", where),
                demonyms=self.names(entry, "demonyms", where),
            )
            for place in (*municipality.variants, *municipality.settlements, *municipality.demonyms):
                key = place.lower().replace("ё", "е")
                if owner.get(key, name) != name:
                    raise self.fail(
                        where, f"{place!r} is also listed under {owner[key]}; keep it in one place"
                    )
                owner[key] = name
            out.append(municipality)
        return tuple(out)

    def jurisdiction(self, raw: Any) -> tuple[str, tuple[JurisdictionRule, ...]]:
        if not isinstance(raw, dict):
            raise self.fail("jurisdiction", "expected {default: agency, rules: [...]}")
        default = raw.get("default", MUNICIPALITY)
        self.check(lambda: self.taxonomy.check_agency(default, "jurisdiction.default"))
        rules_raw = raw.get("rules") or []
        if not isinstance(rules_raw, list):
            raise self.fail("jurisdiction.rules", "expected a list of {id, agency, topics, query}")
        rules: list[JurisdictionRule] = []
        for i, entry in enumerate(rules_raw):
            where = f"jurisdiction.rules[{i}]"
            if not isinstance(entry, dict):
                raise self.fail(where, "expected {id, agency, topics, query}")
            rule_id = self.text(entry, "id", where)
            where = f"jurisdiction rule {rule_id!r}"
            if not _RULE_ID.match(rule_id):
                raise self.fail(where, "an id is lower-case latin letters, digits, '-' and '_'")
            if any(r.id == rule_id for r in rules):
                raise self.fail(where, "this id is used twice")
            unknown = set(entry) - _RULE_KEYS
            if unknown:
                raise self.fail(where, f"unknown keys {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
            agency = self.text(entry, "agency", where)
            self.check(lambda a=agency, w=where: self.taxonomy.check_agency(a, w))
            topics = entry.get("topics") or []
            if not isinstance(topics, list):
                raise self.fail(where, "'topics' must be a list of topic codes (empty: any topic)")
            for topic in topics:
                self.check(lambda t=topic, w=where: self.taxonomy.check_topic(t, w))
            query = entry.get("query")
            if query is not None:
                if not isinstance(query, str) or not query.strip():
                    raise self.fail(where, "'query' must be a query string or null (the topic alone decides)")
                query = " ".join(query.split())
                try:
                    parse(query)
                except QuerySyntaxError as exc:
                    raise self.fail(where, f"query syntax error: {exc}") from None
            if not topics and query is None:
                raise self.fail(where, "a rule with no topics needs a query, or it would catch every post")
            rules.append(JurisdictionRule(rule_id, agency, tuple(topics), query))
        return default, tuple(rules)
