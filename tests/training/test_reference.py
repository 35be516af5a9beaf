"""The reference-data reader: hashes checked, the folder may be absent, the project's labels are complete."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from model.taxonomy import load_taxonomy
from training import reference
from training.config import DEFAULT_CONFIG, load_config
from training.train import load_reference

ROOT = Path(__file__).resolve().parents[2]
DATA = reference.data_dir()
needs_data = pytest.mark.skipif(not (DATA / "troitsk_appeals").is_dir(),
                                reason=f"the reference data folder {DATA} is absent (set OTKLIK_REFERENCE_DATA)")


def test_an_absent_folder_trains_on_the_corpus_alone_and_says_so(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(reference.ENV, str(tmp_path / "nowhere"))
    cfg = load_config(DEFAULT_CONFIG, ROOT)
    said: list[str] = []
    assert load_reference(cfg, said.append) is None
    assert said == [f"no reference data in {tmp_path / 'nowhere'}: training on the corpus alone"]
    loaded = reference.load(tmp_path / "nowhere")
    assert loaded.rows == {} and set(loaded.missing) == {s.name for s in reference.SETS}


def test_every_file_read_is_pinned_and_a_pin_is_a_sha256() -> None:
    pins = reference.pinned_hashes()
    assert pins and all(len(digest) == 64 and int(digest, 16) >= 0 for digest in pins.values())
    assert any(name.startswith("tg_news/") for name in pins)


@needs_data
def test_a_changed_file_is_refused_with_its_name(tmp_path: Path) -> None:
    shutil.copytree(DATA / "troitsk_appeals", tmp_path / "troitsk_appeals")
    with (tmp_path / "troitsk_appeals" / "appeals.csv").open("a", encoding="utf-8") as fh:
        fh.write("\n")
    with pytest.raises(reference.ReferenceError, match=r"troitsk_appeals/appeals.csv: SHA-256 .* differs"):
        reference.load(tmp_path, names=["troitsk_appeals"])


@needs_data
def test_an_unpinned_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(reference.ReferenceError, match="no pinned hash"):
        reference.checked(DATA, "troitsk_appeals/appeals.csv", pins={})


@needs_data
def test_the_sets_read_as_the_readme_says() -> None:
    loaded = reference.load()
    kursk = loaded.rows["kursk_appeals"]
    assert len(kursk) > 1900 and all(ex.relevant and ex.topic and ex.agency for ex in kursk)
    assert all(ex.region == reference.KURSK and "<" not in ex.text[:1] for ex in kursk)
    assert not any(ex.agency and ex.agency.startswith("other:") for ex in kursk)
    negatives = [ex for name in ("tg_news", "uk_feedback", "rusentiment", "sensitive_topics")
                 for ex in loaded.rows[name]]
    assert negatives and not any(ex.relevant for ex in negatives)
    assert {ex.origin for ex in loaded.rows["tg_news"]} == set(reference.NEWS_GROUPS)
    # eval-only sets never reach training
    train_origins = {ex.origin for ex in loaded.examples("train")}
    assert not train_origins & {"rusentiment_test", "sensitive_topics_eval"}
    assert {ex.origin for ex in loaded.examples("eval")} == {"rusentiment_test", "sensitive_topics_eval"}
    # the same rows on every run (samples are ordered by hashes, not by chance)
    again = reference.load(names=["tg_news"])
    assert [ex.id for ex in again.rows["tg_news"]] == [ex.id for ex in loaded.rows["tg_news"]]


def test_html_of_portal_texts_is_cleaned() -> None:
    assert reference.clean_html("<p>Яма&nbsp;на&nbsp;дороге</p><br/>второй  день &laquo;ямы&raquo;") == \
        "Яма на дороге\nвторой день «ямы»"


def test_every_troitsk_label_is_complete_and_in_the_taxonomy() -> None:
    taxonomy = load_taxonomy(ROOT / "annotations" / "taxonomy.yaml")
    labels = reference.troitsk_labels()
    assert len(labels) == 1005
    for link, row in labels.items():
        assert link.startswith("http://appeal.admtroitsk.ru/") and set(row) == {"link", "relevant", "topic", "agency"}
        if row["relevant"]:
            assert row["topic"] in taxonomy.topics and row["agency"] in taxonomy.agencies, link
        else:
            assert row["topic"] is None and row["agency"] is None, link


@needs_data
def test_every_troitsk_message_is_labelled_by_its_link() -> None:
    with (DATA / "troitsk_appeals" / "appeals.csv").open(encoding="utf-8", newline="") as fh:
        links = [row["link"] for row in csv.DictReader(fh)]
    assert sorted(links) == sorted(reference.troitsk_labels())
