"""The annotated corpus: reading, validating and describing `annotations/corpus/*.jsonl`."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from model.records import NETWORKS
from model.region import Region
from model.taxonomy import Taxonomy

SPLITS = ("train", "test")
NEAR_DUPLICATE_SHARE = 0.7
_WORD = re.compile(r"\w+")


class CorpusError(ValueError):
    """A corpus that must not be trained on; the message names the file, line and fix."""


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    relevant: bool | None  # None only in evaluation files that do not label relevance
    topic: str | None = None
    agency: str | None = None
    municipality: str | None = None
    network: str | None = None
    split: str = "train"
    augmented: bool = False
    source: str = ""  # where the row was read (file and line): for messages
    origin: str = "corpus"  # the source group: the unit held out in cross-source evaluation
    region: str | None = None  # the region whose directory routes it; None: the default region

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("source")
        row.pop("origin")
        if not self.augmented:
            row.pop("augmented")
        if self.region is None:
            row.pop("region")
        return row


def parse_row(row: Any, where: str, corpus: bool = True) -> Example:
    """One JSONL row -> Example; a CorpusError that says which field is wrong.

    Corpus rows need `id`, `text` and `relevant`; evaluation rows (`corpus=False`) need only `text`.
    """
    if not isinstance(row, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for name in ("id", "text", "relevant") if corpus else ("text",):
        if name not in row:
            raise CorpusError(f"{where}: missing required field {name!r}")
    if not isinstance(row["text"], str) or not row["text"].strip():
        raise CorpusError(f"{where}: 'text' must be a non-empty string")
    relevant = row.get("relevant")
    if not corpus and relevant is None and (row.get("topic") or row.get("agency")):
        relevant = True  # a row labelled with a topic or agency is a complaint
    if not (isinstance(relevant, bool) or (relevant is None and not corpus)):
        raise CorpusError(f"{where}: 'relevant' must be true or false, got {relevant!r}")
    split = row.get("split", "train")
    if split not in SPLITS:
        raise CorpusError(f"{where}: 'split' must be one of {SPLITS}, got {split!r}")
    network = row.get("network")
    if network is not None and network not in NETWORKS:
        raise CorpusError(f"{where}: 'network' must be one of {NETWORKS}, got {network!r}")
    for name in ("topic", "agency", "municipality"):
        if row.get(name) is not None and not isinstance(row[name], str):
            raise CorpusError(f"{where}: {name!r} must be a string or null, got {row[name]!r}")
    return Example(
        id=str(row.get("id", where)),
        text=row["text"],
        relevant=relevant,
        topic=row.get("topic"),
        agency=row.get("agency"),
        municipality=row.get("municipality"),
        network=network,
        split=split,
        augmented=bool(row.get("augmented", False)),
        source=where,
        region=row["region"] if isinstance(row.get("region"), str) else None,  # feedback rows name theirs
    )


def read_jsonl(path: Path, corpus: bool = True) -> list[Example]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
            out.append(parse_row(row, where, corpus))
    return out


def read_eval_jsonl(path: Path) -> tuple[list[Example], bool]:
    """Rows with `text` and any of `relevant`, `topic`, `agency`, `municipality`.

    Also says whether municipality labels are present: a file that never names the field is not
    scored on it.
    """
    rows = read_jsonl(Path(path), corpus=False)
    with Path(path).open(encoding="utf-8") as fh:
        has_municipality = any('"municipality"' in line for line in fh)
    return rows, has_municipality


def read_corpus(folder: Path) -> list[Example]:
    files = sorted(Path(folder).glob("*.jsonl"))
    if not files:
        raise CorpusError(f"no *.jsonl files in {folder}")
    return [ex for path in files for ex in read_jsonl(path)]


def label_problems(examples: Iterable[Example], taxonomy: Taxonomy, region: Region) -> list[str]:
    """Labels outside the taxonomy, incomplete relevant rows, unknown municipalities, bad splits."""
    problems = []
    seen: dict[str, str] = {}
    municipalities = {m.oktmo for m in region.municipalities}
    for ex in examples:
        if ex.id in seen:
            problems.append(f"{ex.source}: duplicate id {ex.id!r} (first at {seen[ex.id]})")
        seen.setdefault(ex.id, ex.source)
        if ex.relevant:
            if ex.topic is None or ex.agency is None:
                problems.append(f"{ex.source}: relevant row {ex.id!r} needs both 'topic' and 'agency'")
        elif ex.topic or ex.agency or ex.municipality:
            problems.append(f"{ex.source}: not-relevant row {ex.id!r} must have no topic/agency/municipality")
        if ex.topic is not None and ex.topic not in taxonomy.topics:
            problems.append(f"{ex.source}: topic {ex.topic!r} is not in the taxonomy")
        if ex.agency is not None and ex.agency not in taxonomy.agencies:
            problems.append(f"{ex.source}: agency {ex.agency!r} is not in the taxonomy")
        if ex.municipality is not None and ex.municipality not in municipalities:
            problems.append(
                f"{ex.source}: municipality {ex.municipality!r} is not an OKTMO code of {region.code}"
            )
        if ex.augmented and ex.split != "train":
            problems.append(f"{ex.source}: augmented row {ex.id!r} is in split {ex.split!r} (train only)")
    return problems


@dataclass(frozen=True)
class Minimums:
    relevant: int = 1000
    not_relevant: int = 500
    per_topic: int = 40
    per_agency: int = 25
    municipalities: int = 20
    test: int = 300
    keyword_negatives_share: float = 0.5


def counts(examples: Iterable[Example]) -> dict[str, Any]:
    """Per-class counts of the hand-written rows (augmented rows counted apart)."""
    rows = [ex for ex in examples if not ex.augmented]
    relevant = [ex for ex in rows if ex.relevant]
    return {
        "rows": len(rows),
        "augmented": sum(1 for ex in examples if ex.augmented),
        "relevant": len(relevant),
        "not_relevant": len(rows) - len(relevant),
        "split": dict(sorted(Counter(ex.split for ex in rows).items())),
        "topic": dict(sorted(Counter(ex.topic for ex in relevant).items())),
        "agency": dict(sorted(Counter(ex.agency for ex in relevant).items())),
        "municipality": dict(sorted(Counter(ex.municipality or "none" for ex in relevant).items())),
        "network": dict(sorted(Counter(ex.network or "none" for ex in rows).items())),
    }


def minimum_problems(
    examples: Sequence[Example], taxonomy: Taxonomy, minimums: Minimums = Minimums()
) -> list[str]:
    c = counts(examples)
    problems = []
    if c["relevant"] < minimums.relevant:
        problems.append(f"{c['relevant']} relevant rows, need {minimums.relevant}")
    if c["not_relevant"] < minimums.not_relevant:
        problems.append(f"{c['not_relevant']} not-relevant rows, need {minimums.not_relevant}")
    for code in taxonomy.topics:
        if c["topic"].get(code, 0) < minimums.per_topic:
            problems.append(f"topic {code}: {c['topic'].get(code, 0)} rows, need {minimums.per_topic}")
    for code in taxonomy.agencies:
        if c["agency"].get(code, 0) < minimums.per_agency:
            problems.append(f"agency {code}: {c['agency'].get(code, 0)} rows, need {minimums.per_agency}")
    named = len([k for k in c["municipality"] if k != "none"])
    if named < minimums.municipalities:
        problems.append(f"{named} municipalities named, need {minimums.municipalities}")
    if c["split"].get("test", 0) < minimums.test:
        problems.append(f"{c['split'].get('test', 0)} test rows, need {minimums.test}")
    return problems


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower().replace("ё", "е"))
    if len(words) < 3:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(zip(words, words[1:], words[2:], strict=False))


def near_duplicates(
    left: Sequence[Example], right: Sequence[Example] | None = None, share: float = NEAR_DUPLICATE_SHARE
) -> list[tuple[Example, Example, float]]:
    """Pairs whose word 3-grams overlap by more than `share` of the smaller post's 3-grams.

    With `right` None, pairs inside `left`; otherwise pairs across the two.
    """
    within = right is None
    right = left if right is None else right
    right_sh = [shingles(ex.text) for ex in right]
    index: dict[tuple[str, ...], list[int]] = {}
    for j, sh in enumerate(right_sh):
        for g in sh:
            index.setdefault(g, []).append(j)
    pairs = []
    for i, ex in enumerate(left):
        sh = shingles(ex.text)
        if not sh:
            continue
        hits: Counter[int] = Counter()
        for g in sh:
            hits.update(index.get(g, ()))
        for j, common in hits.items():
            if within and j <= i:
                continue
            smaller = min(len(sh), len(right_sh[j]))
            if smaller and common / smaller > share:
                pairs.append((ex, right[j], common / smaller))
    return pairs


def data_hash(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: e.id):
        digest.update(json.dumps(ex.to_json(), ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()


def splits(examples: Iterable[Example]) -> Mapping[str, list[Example]]:
    out: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for ex in examples:
        out[ex.split].append(ex)
    return out
