"""The names the pages show instead of codes: topics, agencies, bodies, municipalities, time zones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from model.region import Region, load_regions
from model.taxonomy import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class Directory:
    """The taxonomy and the region directories."""

    taxonomy: Taxonomy
    regions: Mapping[str, Region]

    @classmethod
    def load(cls, annotations: Path) -> Directory:
        taxonomy = load_taxonomy(annotations / "taxonomy.yaml")
        return cls(taxonomy, load_regions(annotations / "regions", taxonomy))

    def topic(self, code: str | None) -> str:
        entry = self.taxonomy.topics.get(code or "")
        return entry.name if entry else (code or "—")

    def agency(self, code: str | None) -> str:
        entry = self.taxonomy.agencies.get(code or "")
        return entry.name if entry else (code or "—")

    def region_name(self, code: str) -> str:
        region = self.regions.get(code)
        return region.name if region else code

    def body(self, region: str, agency: str, oktmo: str | None) -> str:
        """The full name of the body that answers; the agency's generic name when the directory lacks it."""
        try:
            return self.regions[region].body_name(agency, oktmo)
        except KeyError:
            return self.agency(agency)

    def municipality(self, region: str | None, oktmo: str | None) -> str | None:
        """The municipality's name; with no region, looked up in every region."""
        if oktmo is None:
            return None
        for code in [region] if region else list(self.regions):
            try:
                return self.regions[code].municipality(oktmo).name
            except KeyError:
                continue
        return oktmo

    def municipalities(self, region: str | None) -> list[tuple[str, str]]:
        """(OKTMO, name) of the region's municipalities (every region's when None), by name."""
        chosen = [self.regions[region]] if region is not None and region in self.regions else self.regions.values()
        return sorted(((m.oktmo, m.name) for r in chosen for m in r.municipalities), key=lambda kv: kv[1])

    @cached_property
    def zones(self) -> dict[str, str]:
        """Region code -> IANA time zone: where a day starts in the statistics."""
        return {code: region.timezone for code, region in self.regions.items()}

    def local(self, region: str, moment: datetime) -> datetime:
        """`moment` in the region's time zone (UTC for an unknown region, or at the edge of the calendar)."""
        try:
            return moment.astimezone(ZoneInfo(self.zones.get(region, "UTC")))
        except OverflowError:
            return moment
