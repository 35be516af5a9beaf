"""The champion/challenger comparison report: per head, per class, and the posts whose label changed.

Written as JSON (for tools) and Markdown (for people) to `var/reports/<challenger id>/`, not into the
bundle: a bundle's files are hash-verified, and a report added later would make it fail to load.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from model.records import Prediction
from training.corpus import Example
from training.gate import HEADS, Verdict, head_score

CHANGED_SHOWN = 30  # in the Markdown; the JSON lists every changed post


def _labels(p: Prediction) -> dict[str, Any]:
    return {
        "relevance": bool(p.relevant.label),
        "topic": p.topic.label,
        "agency": p.agency.label,
        "municipality": p.municipality.oktmo if p.municipality else None,
    }


def _gold(ex: Example) -> dict[str, Any]:
    return {"relevance": ex.relevant, "topic": ex.topic, "agency": ex.agency, "municipality": ex.municipality}


def changed_predictions(
    dataset: str, rows: Sequence[Example], champion: Sequence[Prediction], challenger: Sequence[Prediction]
) -> list[dict[str, Any]]:
    """The posts on which the two models disagree on any head, with the gold labels."""
    out = []
    for ex, old, new in zip(rows, champion, challenger, strict=True):
        before, after = _labels(old), _labels(new)
        heads = [h for h in before if before[h] != after[h]]
        if heads:
            out.append({"dataset": dataset, "id": ex.id, "text": ex.text, "heads": heads, "gold": _gold(ex),
                        "champion": before, "challenger": after})
    return out


def per_class(champion: Mapping[str, Any], challenger: Mapping[str, Any], head: str) -> dict[str, Any]:
    """F1 of each class of `head` under both models (classes either report knows)."""
    old = champion.get(head, {}).get("per_class", {})
    new = challenger.get(head, {}).get("per_class", {})
    return {
        label: {
            "support": (new.get(label) or old.get(label) or {}).get("support", 0),
            "champion_f1": old.get(label, {}).get("f1"),
            "challenger_f1": new.get(label, {}).get("f1"),
        }
        for label in sorted(set(old) | set(new))
    }


def comparison(
    champion_id: str | None,
    challenger_id: str,
    metrics: Mapping[str, Mapping[str, Mapping[str, Any]]],
    verdict: Verdict,
    changed: Sequence[Mapping[str, Any]],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """The whole report as one JSON-ready dict; `metrics[dataset]` = {"champion": report, "challenger": report}."""
    heads = {
        dataset: {
            head: {"champion": head_score(m.get("champion", {}), head), "challenger": head_score(m["challenger"], head)}
            for head in HEADS
        }
        for dataset, m in metrics.items()
    }
    classes = {
        dataset: {head: per_class(m.get("champion", {}), m["challenger"], head) for head in ("topic", "agency")}
        for dataset, m in metrics.items()
    }
    return {
        "champion": champion_id,
        "challenger": challenger_id,
        "verdict": verdict.to_json(),
        "data": dict(data),
        "heads": heads,
        "per_class": classes,
        "changed": list(changed),
        "metrics": {dataset: dict(m) for dataset, m in metrics.items()},
    }


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def markdown(report: Mapping[str, Any]) -> str:
    verdict = report["verdict"]
    lines = [
        f"# Challenger {report['challenger']} vs champion {report['champion'] or '(none)'}",
        "",
        f"**{'Promoted' if verdict['promote'] else 'Refused'}.** {verdict['reason']}",
        "",
        "Data: " + ", ".join(f"{k} {v}" for k, v in report["data"].items() if not isinstance(v, dict)) + ".",
        "",
        "| data set | head | champion | challenger | change |",
        "|---|---|---|---|---|",
    ]
    for dataset, heads in report["heads"].items():
        for head, s in heads.items():
            change = "—" if None in (s["champion"], s["challenger"]) else f"{s['challenger'] - s['champion']:+.4f}"
            old, new = _num(s["champion"]), _num(s["challenger"])
            lines.append(f"| {dataset} | {HEADS[head][2]} | {old} | {new} | {change} |")
    for dataset, heads in report["per_class"].items():
        for head, classes in heads.items():
            moved = {c: v for c, v in classes.items() if v["champion_f1"] != v["challenger_f1"]}
            if not moved:
                continue
            lines += ["", f"## {head} F1 per class on {dataset} (classes that changed)", "",
                      "| class | support | champion | challenger |", "|---|---|---|---|"]
            lines += [f"| `{c}` | {v['support']} | {_num(v['champion_f1'])} | {_num(v['challenger_f1'])} |"
                      for c, v in moved.items()]
    changed = report["changed"]
    lines += ["", f"## Posts whose predicted labels changed: {len(changed)}", ""]
    if changed:
        lines += ["| data set | id | head | gold | champion | challenger | text |", "|---|---|---|---|---|---|---|"]
        for row in changed[:CHANGED_SHOWN]:
            for head in row["heads"]:
                text = row["text"].replace("|", "/").replace("\n", " ")[:80]
                lines.append(f"| {row['dataset']} | {row['id']} | {head} | {row['gold'][head]} | "
                             f"{row['champion'][head]} | {row['challenger'][head]} | {text} |")
        if len(changed) > CHANGED_SHOWN:
            lines.append(f"\n…and {len(changed) - CHANGED_SHOWN} more in comparison.json.")
    return "\n".join(lines) + "\n"


def write_report(report: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    """comparison.json and comparison.md in `directory`; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    as_json = directory / "comparison.json"
    as_md = directory / "comparison.md"
    as_json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    as_md.write_text(markdown(report), encoding="utf-8")
    return as_json, as_md
