"""The training configuration (`training/configs/*.toml`), typed and checked."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "default.toml"


@dataclass(frozen=True)
class TrainConfig:
    corpus: Path
    taxonomy: Path
    regions: Path
    rules: Path
    default_region: str
    min_df: int = 1
    char_weight: float = 1.0
    embedding_weight: float = 0.6
    rule_weight: float = 0.2
    relevance_rule_weight: float = 1.0
    relevance_C: float = 10.0
    topic_C: float = 10.0
    agency_C: float = 10.0
    prior_weight: float = 1.0
    cv_folds: int = 5
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
    """Flatten the TOML sections into one TrainConfig; unknown keys are an error."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"training config {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"training config {path} is not valid TOML: {exc}") from exc
    flat: dict[str, Any] = {}
    for section, values in raw.items():
        if not isinstance(values, dict):
            raise ValueError(f"{path}: [{section}] must be a table")
        flat.update(values)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(flat) - known)
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key in ("corpus", "taxonomy", "regions", "rules"):
        if key not in flat:
            raise ValueError(f"{path}: missing [data] {key}")
        flat[key] = (root / flat[key]).resolve()
    return TrainConfig(**flat)
