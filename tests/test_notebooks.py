"""The notebooks run: each is executed as a script against the bundle trained for this session."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import jupytext
import pytest

from tests.conftest import ROOT
from training import reference
from training.train import TrainResult

NOTEBOOK = ROOT / "notebooks" / "error_analysis.py"
REAL_LIMIT = 3000  # enough real posts to exercise the section, few enough to keep the suite fast
HEADLINE = re.compile(
    r"^headline: relevance F1 (?P<relevance>[\d.]+) · topic macro-F1 (?P<topic>[\d.]+) · "
    r"agency accuracy (?P<agency>[\d.]+) · municipality accuracy (?P<municipality>[\d.]+)$",
    re.M,
)


@pytest.fixture(scope="module")
def error_analysis(trained: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The notebook's output, run from its own folder as Jupyter would."""
    env = {
        **os.environ,
        "OTKLIK_NOTEBOOK_BUNDLE": str(trained.bundle),
        "OTKLIK_NOTEBOOK_REAL_LIMIT": str(REAL_LIMIT),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, str(NOTEBOOK)],
        cwd=NOTEBOOK.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"the notebook failed:\n{done.stderr[-4000:]}"
    return done.stdout


def test_error_analysis_is_a_percent_notebook() -> None:
    nb = jupytext.read(NOTEBOOK)
    kinds = [cell.cell_type for cell in nb.cells]
    assert kinds.count("markdown") >= 5 and kinds.count("code") >= 5


def test_error_analysis_imports_only_model_and_training() -> None:
    project = {"model", "training", "serving", "bench", "tests"}
    imported = re.findall(r"^(?:from|import) (\w+)", NOTEBOOK.read_text(encoding="utf-8"), re.M)
    assert {name for name in imported if name in project} <= {"model", "training"}


def test_error_analysis_reproduces_the_bundle_metrics(error_analysis: str, trained: TrainResult) -> None:
    found = HEADLINE.search(error_analysis)
    assert found, error_analysis[:2000]
    test = trained.meta["metrics"]["test"]
    expected = {
        "relevance": test["relevance"]["f1"],
        "topic": test["topic"]["macro_f1"],
        "agency": test["agency"]["accuracy"],
        "municipality": test["municipality"]["accuracy"],
    }
    assert {k: float(v) for k, v in found.groupdict().items()} == pytest.approx(expected, abs=5e-5)
    assert f"bundle {trained.meta['id']}" in error_analysis
    assert "warning: the test split changed" not in error_analysis


def test_error_analysis_shows_every_section(error_analysis: str) -> None:
    for heading in ("class", "→", "relevance false positives", "expected calibration error", "review threshold",
                    "threshold precision  recall"):
        assert heading in error_analysis, heading
    assert error_analysis.count("review threshold") == 3
    assert error_analysis.count("← bundle") == 3


def test_error_analysis_measures_real_posts_when_present(error_analysis: str) -> None:
    if not (reference.data_dir() / "rusentiment").is_dir():
        assert "real data: skipped" in error_analysis
        pytest.skip("the shared RuSentiment posts are not on this machine")
    found = re.search(r"^real data: rusentiment_test: FP rate ([\d.]+)% \((\d+) of (\d+)\)", error_analysis, re.M)
    assert found, error_analysis[-3000:]
    rate, fp, total = float(found[1]), int(found[2]), int(found[3])
    assert total == min(REAL_LIMIT, len(reference.load(names=["rusentiment_test"]).rows["rusentiment_test"]))
    assert 0 <= fp <= total
    assert rate == pytest.approx(100 * fp / total, abs=0.005)
