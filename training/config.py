"""The training configuration (`training/configs/*.toml`), typed and checked when it is loaded.

TrainConfig is a pydantic dataclass in strict mode: a value of the wrong type (`topic_C = "10"`) is
refused at load time with the file, the section and the key, not deep inside scikit-learn. Paths are
the one exception (a string is accepted); they are resolved against the project root by `load_config`.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "default.toml"
PATHS = ("corpus", "taxonomy", "regions", "rules")

DataPath = Annotated[Path, Field(strict=False)]


@dataclass(frozen=True, config=ConfigDict(strict=True, extra="forbid"))
class TrainConfig:
    corpus: DataPath
    taxonomy: DataPath
    regions: DataPath
    rules: DataPath
    default_region: str
    # the real reference sets (read at training time, never copied; $OTKLIK_REFERENCE_DATA overrides;
    # "" trains on the corpus alone)
    reference_data: str = ""
    min_df: int = 1
    max_features: int = 60_000
    char_weight: float = 1.0
    embedding_weight: float = 0.6
    rule_weight: float = 0.2
    relevance_rule_weight: float = 1.0
    relevance_C: float = 10.0
    topic_C: float = 10.0
    agency_C: float = 10.0
    prior_weight: float = 1.0
    cv_folds: int = 5
    n_jobs: int = 2
    relevance_precision: float = 0.95
    relevance_max_fpr: float = 0.05
    review_accuracy: float = 0.92
    seed: int = 0
    experiment: str = "otklik"
    registered_model: str = "otklik"
    feedback_since: str = ""
    min_feedback: int = 50
    holdout_share: float = 0.2
    gate_tolerance: float = 0.01
    gate_holdout_tolerance: float = 0.03
    gate_min_gain: float = 0.0

    def params(self) -> dict[str, Any]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


def load_config(path: Path = DEFAULT_CONFIG, root: Path = Path(".")) -> TrainConfig:
    """Flatten the TOML sections into one TrainConfig; unknown keys and wrong types are an error."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"training config {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"training config {path} is not valid TOML: {exc}") from exc
    flat: dict[str, Any] = {}
    section_of: dict[str, str] = {}
    for section, values in raw.items():
        if not isinstance(values, dict):
            raise ValueError(f"training config {path}: [{section}] must be a table")
        for key, value in values.items():
            if key in flat:
                raise ValueError(f"training config {path}: {key} is set twice, in [{section_of[key]}] and [{section}]")
            flat[key] = value
            section_of[key] = section
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(flat) - known)
    if unknown:
        raise ValueError(f"training config {path}: unknown setting(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known))}")
    try:
        cfg = TrainConfig(**flat)
    except ValidationError as exc:
        problems = [_problem(e, section_of) for e in exc.errors()]
        raise ValueError(f"training config {path}: " + "; ".join(problems)) from None
    resolved: dict[str, Any] = {key: (root / getattr(cfg, key)).resolve() for key in PATHS}
    if cfg.reference_data:
        resolved["reference_data"] = str((root / cfg.reference_data).resolve())
    return replace(cfg, **resolved)


def _problem(error: Any, section_of: dict[str, str]) -> str:
    key = str(error["loc"][0]) if error["loc"] else "?"
    if error["type"] == "missing":
        return f"missing setting {key}" + (" (in [data])" if key in PATHS else "")
    return f"[{section_of.get(key, '?')}] {key}: {error['msg']}, got {error['input']!r}"
