"""Cross-source evaluation, before and after: how each head does on real sources it did not train on.

    .venv/bin/python -m bench.crossval [--report var/reports/cross_source.json] [--before FILE] [--write]

*After*: the report of `otklik evaluate --suite real` (each source held out in turn; the all-sources
model on the synthetic test split and the eval-only sets), read from `--report` or computed here.
*Before*: a model trained on the project's corpus alone (no reference data), scored on every real
source and eval-only set (none of them trained it), read from `--before` or computed here. Prints one
JSON object; `--write` puts the side-by-side table under "Cross-source evaluation" in bench/RESULTS.md.
Only figures are written: no row of the reference sets.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import RESULTS, write_results
from model.lemma import Lemmatizer
from model.region import load_regions
from training.config import DEFAULT_CONFIG, load_config
from training.crossval import cross_source, figures, load_sources, predictor_for

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Cross-source evaluation (real data)"
TARGETS = {  # the bar, per held-out source
    "kursk": {"relevance_recall": 0.90, "topic_accuracy": 0.85, "topic_macro_f1": 0.70, "agency_accuracy": 0.85},
    "troitsk": {"relevance_recall": 0.90},
    "news_city": {"false_positive_rate": 0.03},
    "news_national": {"false_positive_rate": 0.03},
    "news_tech": {"false_positive_rate": 0.03},
    "rusentiment_test": {"false_positive_rate": 0.01},
}
COLUMNS = ("relevance_recall", "false_positive_rate", "relevance_f1", "topic_accuracy", "topic_macro_f1",
           "agency_accuracy", "agency_macro_f1")


def corpus_only(progress: Any) -> dict[str, Any]:
    """The model the corpus alone trains, scored on every real source and eval-only set."""
    cfg = load_config(DEFAULT_CONFIG, ROOT)
    src = load_sources(cfg, progress)
    model = predictor_for(replace(cfg, reference_data=""), src.corpus_train, load_regions(cfg.regions), Lemmatizer(),
                          progress)
    held = {group: figures(model, [ex for ex in src.real if ex.origin == group])
            for group in sorted({ex.origin for ex in src.real})}
    return {"synthetic_test": figures(model, src.corpus_test), "held_out": held,
            "eval_only": {name: figures(model, rows) for name, rows in src.eval_only.items()}}


def _cell(fig: dict[str, Any] | None, key: str) -> str:
    value = (fig or {}).get(key)
    if value is None:
        return "–"
    return f"{value:.1%}" if key == "false_positive_rate" else f"{value:.3f}"


def _verdict(name: str, fig: dict[str, Any] | None) -> str:
    bar = TARGETS.get(name)
    if not bar or not fig:
        return ""
    missed = [k for k, v in bar.items() if fig.get(k) is not None and (
        fig[k] > v if k == "false_positive_rate" else fig[k] < v)]
    return "misses " + ", ".join(missed) if missed else "meets the bar"


def section(before: dict[str, Any], after: dict[str, Any], command: str) -> str:
    lines = [
        HEADING, "",
        f"Command: `{command}`. Each real source is scored by a model that did not train on it: *before*, "
        "the model trained on the project's corpus alone; *after*, the shipped configuration trained on every "
        "other source (leave-one-source-out). The synthetic test split and the eval-only sets are scored by "
        "the model trained on all sources. Recall is the share of a source's complaints predicted relevant, "
        "FP the share of its other posts.", "",
        "| source | rows | " + " | ".join(f"{c} before → after" for c in COLUMNS) + " | bar |",
        "|---|---|" + "---|" * len(COLUMNS) + "---|",
    ]
    rows: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = [
        ("synthetic_test", before.get("synthetic_test"), after.get("synthetic_test"))]
    rows += [(g, before["held_out"].get(g), fig) for g, fig in after["held_out"].items()]
    rows += [(n, before["eval_only"].get(n), fig) for n, fig in after.get("eval_only", {}).items()]
    for name, b, a in rows:
        cells = [f"{_cell(b, c)} → {_cell(a, c)}" if (b or {}).get(c) is not None or (a or {}).get(c) is not None
                 else "–" for c in COLUMNS]
        lines.append(f"| {name} | {(a or b or {}).get('rows', '–')} | " + " | ".join(cells) +
                     f" | {_verdict(name, a)} |")
    lines += ["", f"Relevance threshold of the all-sources model: {after.get('thresholds', {}).get('relevance')}."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", type=Path, help="a report of `otklik evaluate --suite real` (else computed)")
    ap.add_argument("--before", type=Path, help="a saved corpus-only report (else computed)")
    ap.add_argument("--save-before", type=Path, help="write the corpus-only report there")
    ap.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    args = ap.parse_args()

    def progress(message: str) -> None:
        print(f"· {message}", file=sys.stderr)

    before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else corpus_only(progress)
    if args.save_before:
        args.save_before.write_text(json.dumps(before, ensure_ascii=False, indent=1), encoding="utf-8")
    after = (json.loads(args.report.read_text(encoding="utf-8")) if args.report
             else cross_source(load_config(DEFAULT_CONFIG, ROOT), progress=progress))
    print(json.dumps({"before": before, "after": after}, ensure_ascii=False, indent=1))
    if args.write:
        shown = [f"--report {args.report}"] if args.report else []
        write_results(section(before, after, " ".join([".venv/bin/python -m bench.crossval", *shown, "--write"])),
                      HEADING)
        print(f"wrote {HEADING[3:]!r} to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
