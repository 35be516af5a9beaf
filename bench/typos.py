"""Robustness to misspellings: the model on the fixed test split, clean and with typos people make.

    .venv/bin/python -m bench.typos [--bundle var/models/current] [--rates 0.1 0.3] [--seed 5] [--write]

Each word of six letters or more of each test post is misspelled with probability `rate`, by one edit
drawn like a person's: a letter written by sound or a neighbouring key of the ЙЦУКЕН keyboard (40%),
a letter dropped (30%), doubled (15%), two neighbours swapped (15%). The noise is drawn here, not
from model/spelling.py: the two share the kinds of slips, not code, and the random choices
(`random.Random(seed)`) do not look at what the model can correct. `--write` puts the figures under
"Robustness to typos" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import write_results
from model.bundle import load_bundle
from model.predictor import Predictor
from training.corpus import Example, read_corpus, splits
from training.evaluate import evaluate

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Robustness to typos"
BY_SOUND = dict(zip("аоеиыиюубпвфгкдтжшзс", "оаиеиыуюпбфвкгтдшжсз", strict=True))
KEYBOARD = ("йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю")
PUNCTUATION = '.,!?:;()"«»'
MIN_LENGTH = 6


def slip(word: str, rng: random.Random) -> str:
    """`word` with one misspelling a person might make."""
    i = rng.randrange(len(word))
    kind = rng.random()
    if kind < 0.4:
        c = word[i]
        if c in BY_SOUND and rng.random() < 0.5:
            other = BY_SOUND[c]
        else:
            row = next((r for r in KEYBOARD if c in r), c)
            j = row.index(c)
            other = row[j - 1] if j > 0 and (j == len(row) - 1 or rng.random() < 0.5) else row[min(j + 1, len(row) - 1)]
        return word[:i] + other + word[i + 1 :]
    if kind < 0.7:
        return word[:i] + word[i + 1 :]
    if kind < 0.85:
        return word[:i] + word[i] + word[i:]
    if i == len(word) - 1:
        i -= 1
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def misspell(text: str, rate: float, rng: random.Random) -> str:
    out = []
    for chunk in text.split(" "):
        core = chunk.strip(PUNCTUATION)
        if len(core) >= MIN_LENGTH and core.isalpha() and rng.random() < rate:
            chunk = chunk.replace(core, slip(core.lower(), rng), 1)
        out.append(chunk)
    return " ".join(out)


def figures(predictor: Predictor, examples: list[Example]) -> dict[str, float]:
    report = evaluate(predictor, examples)
    return {
        "relevance F1": report["relevance"]["f1"],
        "relevance recall": report["relevance"]["recall"],
        "false positive rate": report["relevance"]["false_positive_rate"],
        "topic macro-F1": report["topic"]["macro_f1"],
        "agency accuracy": report["agency"]["accuracy"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=ROOT / "var" / "models" / "current")
    ap.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.3])
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = ap.parse_args()

    predictor = Predictor(load_bundle(args.bundle))
    test = splits(read_corpus(ROOT / "annotations" / "corpus"))["test"]
    columns = {"clean": figures(predictor, test)}
    for rate in args.rates:
        rng = random.Random(args.seed)
        noisy = [replace(example, text=misspell(example.text, rate, rng)) for example in test]
        columns[f"{rate:.0%} of long words misspelled"] = figures(predictor, noisy)

    names = list(columns["clean"])
    lines = [
        HEADING,
        "",
        f"Command: `.venv/bin/python -m bench.typos --rates {' '.join(map(str, args.rates))} --seed {args.seed} "
        "--write`.",
        f"Bundle: `{predictor.bundle.id}`; the fixed test split ({len(test)} posts, never trained on). Words of "
        f"{MIN_LENGTH} letters or more misspelled once each with the given probability: by sound or a neighbouring "
        "key 40%, a letter dropped 30%, doubled 15%, two swapped 15% (see the module doc).",
        "",
        "| | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
        *(f"| {name} | " + " | ".join(f"{column[name]:.3f}" for column in columns.values()) + " |" for name in names),
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_results(report, HEADING)


if __name__ == "__main__":
    main()
