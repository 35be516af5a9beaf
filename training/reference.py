"""The real reference data sets in `../shared/data/`: one reader for training, evaluation, bench and notebooks.

The sets are third-party data with personal data in them: their rows are read from that folder at
run time and never copied into this repository. What the project adds lives in `annotations/reference/`:
the labels it wrote for an unlabelled set (keyed by the set's own row key, without the text) and
`SHA256SUMS`, the hashes of every file read here, checked before a file is used.

Each set has a *use* (the data folder's README): `train` sets may train the model and serve as held-out
sources in cross-source evaluation; `eval` sets never train nor tune a threshold. Rows come back as
`Example`s whose `origin` names the source group (the unit of leave-one-source-out evaluation).

When the folder is absent, `available` is empty and training goes on with the project's corpus alone;
`OTKLIK_REFERENCE_DATA` points to another copy.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from training.corpus import CorpusError, Example

ROOT = Path(__file__).resolve().parent.parent
ANNOTATIONS = ROOT / "annotations" / "reference"
ENV = "OTKLIK_REFERENCE_DATA"
KURSK = "kursk-oblast"

csv.field_size_limit(1 << 24)


class ReferenceError(ValueError):
    """A reference file that must not be used (changed, unreadable); the message names it."""


def data_dir(explicit: str | Path | None = None, configured: str | Path | None = None) -> Path:
    """The folder of the reference sets: the one given explicitly (a command's option), else
    $OTKLIK_REFERENCE_DATA, else the training config's, else ../shared/data beside the repository."""
    return Path(explicit or os.environ.get(ENV) or configured or ROOT.parent / "shared" / "data")


def pinned_hashes(path: Path = ANNOTATIONS / "SHA256SUMS") -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.strip()] = digest
    return out


def checked(folder: Path, name: str, pins: dict[str, str] | None = None) -> Path:
    """`folder/name` after its SHA-256 matched the pinned one; a ReferenceError otherwise."""
    pins = pinned_hashes() if pins is None else pins
    path = folder / name
    if name not in pins:
        raise ReferenceError(f"{name}: no pinned hash in {ANNOTATIONS / 'SHA256SUMS'}; pin it before reading it")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != pins[name]:
        raise ReferenceError(
            f"{path}: SHA-256 {digest[:16]}… differs from the pinned {pins[name][:16]}…: the file changed; "
            "check what changed, then update annotations/reference/SHA256SUMS"
        )
    return path


# --- text clean-up -------------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]{0,300}>")
_SPACES = re.compile(r"[ \t\u00a0]+")
_LINES = re.compile(r"\s*\n\s*")


def clean_html(text: str) -> str:
    """Portal texts hold tags and entities: plain text with single spaces and line breaks."""
    text = re.sub(r"(?i)<br\s*/?>|</p>", "\n", text)
    text = html.unescape(_TAG.sub(" ", text))
    return _LINES.sub("\n", _SPACES.sub(" ", text)).strip()


def _stable_sample(items: Sequence[Example], n: int, salt: str) -> list[Example]:
    """At most n items, the same ones on every machine (ordered by a hash of id and salt)."""
    if len(items) <= n:
        return list(items)
    key = {ex.id: hashlib.blake2b(f"{salt}:{ex.id}".encode(), digest_size=8).digest() for ex in items}
    return sorted(items, key=lambda ex: key[ex.id])[:n]


def _dedup(rows: Iterable[Example]) -> list[Example]:
    seen: set[str] = set()
    out = []
    for ex in rows:
        key = re.sub(r"\W+", " ", ex.text.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            out.append(ex)
    return out


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _tsv_map(path: Path, key: str) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {row[key]: row for row in csv.DictReader(fh, delimiter="\t")}


# --- the sets -------------------------------------------------------------------------------------------

Reader = Callable[[Path, dict[str, str]], list[Example]]


def read_kursk(folder: Path, pins: dict[str, str]) -> list[Example]:
    """Kursk appeals: complaints with topic and body, mapped onto our codes by the set's own maps.

    Bodies of no type of ours (`other:*` in agency_map.tsv) are left out, as the data README says.
    """
    topics = _tsv_map(checked(folder, "kursk_appeals/topic_map.tsv", pins), "thematika")
    bodies = _tsv_map(checked(folder, "kursk_appeals/agency_map.tsv", pins), "body")
    out = []
    for row in _read_csv(checked(folder, "kursk_appeals/train.csv", pins)):
        topic_row, body_row = topics.get(row["Тематика"]), bodies.get(row["Ответственное лицо"])
        if topic_row is None or body_row is None:
            raise ReferenceError(f"kursk_appeals row {row['id']}: topic or body missing from the maps")
        agency = body_row["agency"]
        text = clean_html(row["Текст Сообщения"])
        if agency.startswith("other:") or not text:
            continue
        relevant = topic_row["relevant"].strip().lower() == "true"
        out.append(Example(
            id=f"kursk:{row['id']}", text=text, relevant=relevant,
            topic=topic_row["topic"] if relevant else None, agency=agency if relevant else None,
            origin="kursk", region=KURSK, source=f"kursk_appeals/train.csv id {row['id']}",
        ))
    return out


def troitsk_labels(path: Path = ANNOTATIONS / "troitsk_appeals.jsonl") -> dict[str, dict[str, object]]:
    """The project's labels for the Troitsk messages, keyed by `link`."""
    out: dict[str, dict[str, object]] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            row = json.loads(line)
            if row["link"] in out:
                raise CorpusError(f"{path}:{n}: duplicate link")
            out[row["link"]] = row
    return out


def read_troitsk(folder: Path, pins: dict[str, str]) -> list[Example]:
    """Messages to a town head, labelled by the project (annotations/reference/troitsk_appeals.jsonl)."""
    labels = troitsk_labels()
    out = []
    for row in _read_csv(checked(folder, "troitsk_appeals/appeals.csv", pins)):
        label = labels.get(row["link"])
        if label is None:
            raise ReferenceError(f"troitsk_appeals: message {row['link']} has no label in {ANNOTATIONS}")
        title, body = row["title"].strip(), clean_html(row["text"])
        text = f"{title}. {body}" if title and not body.startswith(title) else body
        out.append(Example(
            id=f"troitsk:{row['link']}", text=text, relevant=bool(label["relevant"]),
            topic=label.get("topic"), agency=label.get("agency"),  # type: ignore[arg-type]
            origin="troitsk", source=f"troitsk_appeals/appeals.csv {row['link']}",
        ))
    return out


# Telegram channels by kind: city and incident news are the hard near-misses (fires, accidents, outages),
# national news and tech the easy ones. The group is the unit held out in cross-source evaluation.
NEWS_GROUPS = {
    "news_city": ("1001003313758", "1001125816841", "1001699803165", "1001747110091", "1001259695380",
                  "1001100158992"),
    "news_national": ("1001003921752", "1001101170442", "1001117628569", "1001136626166", "1001166834860",
                      "1001237513492", "1001288489154", "1001394050290", "1001754252633"),
    "news_tech": ("1001000724666", "1001032086354", "1001039626561", "1001044298783", "1001138587070",
                  "1001465826763", "1001966291562"),
}
NEWS_PER_CHANNEL = {"news_city": 450, "news_national": 180, "news_tech": 60}


def read_news(folder: Path, pins: dict[str, str]) -> list[Example]:
    out: list[Example] = []
    for group, channels in NEWS_GROUPS.items():
        for channel in channels:
            name = f"tg_news/{channel}_messages.json"
            rows = json.loads(checked(folder, name, pins).read_text(encoding="utf-8"))
            posts = _dedup(
                Example(id=f"tg:{channel}:{r['message_id']}", text=r["text"].strip(), relevant=False,
                        origin=group, source=f"{name} message {r['message_id']}")
                for r in rows if isinstance(r.get("text"), str) and len(r["text"].strip()) >= 20
            )
            out += _stable_sample(posts, NEWS_PER_CHANNEL[group], channel)
    return out


UK_FEEDBACK_ROWS = 800


def read_uk_feedback(folder: Path, pins: dict[str, str]) -> list[Example]:
    """Residents' comments on closed housing requests rated 4-5: thanks, not complaints. The few
    low-rated ones are unlabelled grievances and are left out."""
    rows = _read_csv(checked(folder, "uk_feedback/comments.csv", pins))
    posts = _dedup(
        Example(id=f"uk:{r['id']}", text=r["comment"].strip(), relevant=False, origin="uk_feedback",
                source=f"uk_feedback/comments.csv id {r['id']}")
        for r in rows if r["rating"] in ("4", "5") and r["comment"].strip()
    )
    return _stable_sample(posts, UK_FEEDBACK_ROWS, "uk")


RUSENTIMENT_ROWS = 4000
SENSITIVE_ROWS = 2000


def _rusentiment(folder: Path, pins: dict[str, str], files: Sequence[str], origin: str, n: int | None) -> list[Example]:
    posts: list[Example] = []
    for name in files:
        for i, r in enumerate(_read_csv(checked(folder, f"rusentiment/{name}", pins))):
            if (r.get("text") or "").strip():
                posts.append(Example(id=f"{name}:{i}", text=r["text"].strip(), relevant=False, origin=origin,
                                     source=f"rusentiment/{name} row {i + 2}"))
    posts = _dedup(posts)
    return posts if n is None else _stable_sample(posts, n, origin)


def read_rusentiment(folder: Path, pins: dict[str, str]) -> list[Example]:
    """Ordinary VKontakte posts (random and preselected; not the authors' test split)."""
    files = ("rusentiment_random_posts.csv", "rusentiment_preselected_posts.csv")
    return _rusentiment(folder, pins, files, "rusentiment", RUSENTIMENT_ROWS)


def read_rusentiment_test(folder: Path, pins: dict[str, str]) -> list[Example]:
    return _rusentiment(folder, pins, ("rusentiment_test.csv",), "rusentiment_test", None)


SENSITIVE = "sensitive_topics/Version1_sensitive_topics_"


def _sensitive(folder: Path, pins: dict[str, str], part: str, origin: str, n: int | None) -> list[Example]:
    """Angry posts about crime, politics, religion... Rows marked `social_injustice` may be complaints
    to a body: they are left out of the negatives."""
    name = f"{SENSITIVE}{part}.csv"
    posts = []
    for i, r in enumerate(_read_csv(checked(folder, name, pins))):
        if (r.get("social_injustice") or "0").strip() == "1" or not (r.get("text") or "").strip():
            continue
        posts.append(Example(id=f"{origin}:{i}", text=r["text"].strip(), relevant=False, origin=origin,
                             source=f"{name} row {i + 2}"))
    posts = _dedup(posts)
    return posts if n is None else _stable_sample(posts, n, origin)


def read_sensitive(folder: Path, pins: dict[str, str]) -> list[Example]:
    return _sensitive(folder, pins, "Sensitive_topics_crowdsource_only", "sensitive_topics", SENSITIVE_ROWS)


def read_sensitive_eval(folder: Path, pins: dict[str, str]) -> list[Example]:
    return (_sensitive(folder, pins, "val", "sensitive_topics_eval", None)
            + _sensitive(folder, pins, "test", "sensitive_topics_eval", None))


@dataclass(frozen=True)
class ReferenceSet:
    name: str
    folder: str  # under the data folder: the set is available when it exists
    use: str  # "train" or "eval"
    read: Reader


SETS: tuple[ReferenceSet, ...] = (
    ReferenceSet("kursk_appeals", "kursk_appeals", "train", read_kursk),
    ReferenceSet("troitsk_appeals", "troitsk_appeals", "train", read_troitsk),
    ReferenceSet("tg_news", "tg_news", "train", read_news),
    ReferenceSet("uk_feedback", "uk_feedback", "train", read_uk_feedback),
    ReferenceSet("rusentiment", "rusentiment", "train", read_rusentiment),
    ReferenceSet("sensitive_topics", "sensitive_topics", "train", read_sensitive),
    ReferenceSet("rusentiment_test", "rusentiment", "eval", read_rusentiment_test),
    ReferenceSet("sensitive_topics_eval", "sensitive_topics", "eval", read_sensitive_eval),
)


@dataclass(frozen=True)
class Loaded:
    """What was read: rows per set, and which sets were missing (and why)."""

    folder: Path
    rows: dict[str, list[Example]]
    missing: dict[str, str]

    def examples(self, use: str = "train") -> list[Example]:
        return [ex for s in SETS if s.use == use for ex in self.rows.get(s.name, [])]

    def summary(self) -> dict[str, object]:
        return {
            "folder": str(self.folder),
            "sets": {name: dict(Counter(ex.origin for ex in rows)) for name, rows in self.rows.items()},
            "missing": dict(self.missing),
        }


def load(folder: Path | None = None, use: str | None = None, names: Sequence[str] | None = None) -> Loaded:
    """Read the sets of one use (or all) that are present; hashes checked, a changed file is an error."""
    base = data_dir(folder)
    pins = pinned_hashes()
    rows: dict[str, list[Example]] = {}
    missing: dict[str, str] = {}
    for s in SETS:
        if (use is not None and s.use != use) or (names is not None and s.name not in names):
            continue
        if not (base / s.folder).is_dir():
            missing[s.name] = f"{base / s.folder} does not exist"
            continue
        rows[s.name] = s.read(base, pins)
    return Loaded(folder=base, rows=rows, missing=missing)

