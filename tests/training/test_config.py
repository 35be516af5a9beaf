"""The training configuration: the default loads with its paths resolved; a mistake is refused at load time
naming the file, the section and the key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.conftest import ROOT
from training.config import DEFAULT_CONFIG, TrainConfig, load_config

DEFAULT = DEFAULT_CONFIG.read_text(encoding="utf-8")


def test_the_default_config_loads_with_paths_resolved_against_the_root() -> None:
    cfg = load_config(DEFAULT_CONFIG, ROOT)
    assert cfg.corpus == (ROOT / "annotations" / "corpus").resolve() and cfg.corpus.is_absolute()
    assert (cfg.default_region, cfg.topic_C, cfg.cv_folds, cfg.feedback_since) == ("perm-krai", 10.0, 5, "")
    assert cfg.params()["topic_C"] == "10.0"


def test_an_integer_is_a_valid_float_setting(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(DEFAULT.replace("topic_C = 10.0", "topic_C = 3"), encoding="utf-8")
    cfg = load_config(path, ROOT)
    assert cfg.topic_C == 3.0 and isinstance(cfg.topic_C, float)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("topic_C = 10.0", 'topic_C = "10"', "[heads] topic_C: Input should be a valid number, got '10'"),
    ("cv_folds = 5", "cv_folds = 2.5", "[heads] cv_folds: Input should be a valid integer, got 2.5"),
    ("cv_folds = 5", "cv_folds = true", "[heads] cv_folds: Input should be a valid integer, got True"),
    ("seed = 0", 'seed = "0"', "[run] seed: Input should be a valid integer, got '0'"),
    ('experiment = "otklik"', "experiment = 1", "[run] experiment: Input should be a valid string, got 1"),
    ('corpus = "annotations/corpus"', "corpus = 3", "[data] corpus: Input is not a valid path"),
    ('corpus = "annotations/corpus"', "", "missing setting corpus (in [data])"),
    ("cv_folds = 5", "cv_folds = 5\ncolour = 1", "unknown setting(s) colour; known: agency_C"),
    ("seed = 0", "seed = 0\n[extra]\nseed = 1", "seed is set twice, in [run] and [extra]"),
    ("[data]", "top = 1\n[data]", "[top] must be a table"),
    ("[data]", "[data", "is not valid TOML"),
])
def test_a_wrong_setting_is_refused_naming_the_file_section_and_key(tmp_path: Path, old: str, new: str,
                                                                    message: str) -> None:
    path = tmp_path / "train.toml"
    assert old in DEFAULT
    path.write_text(DEFAULT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_config(path, ROOT)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"absent\.toml does not exist"):
        load_config(tmp_path / "absent.toml", ROOT)


def test_a_config_changed_in_code_is_checked_too() -> None:
    cfg = load_config(DEFAULT_CONFIG, ROOT)
    assert replace(cfg, cv_folds=3).cv_folds == 3
    with pytest.raises(ValidationError, match="cv_folds"):
        replace(cfg, cv_folds="3")
    with pytest.raises(ValidationError, match="topic_C"):
        TrainConfig(corpus=cfg.corpus, taxonomy=cfg.taxonomy, regions=cfg.regions, rules=cfg.rules,
                    default_region="perm-krai", topic_C="10")  # type: ignore[arg-type]
