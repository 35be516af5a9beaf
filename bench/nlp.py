"""NLP core speed: normalization, tokens, lemmas and 5,000 compiled monitoring queries, one core.

    .venv/bin/python -m bench.nlp [--posts 20000] [--queries 5000] [--runs 5] [--write]

Posts are synthetic short social posts (~30 words, Zipf-distributed words, with the noise the
normalizer handles: capitals, ё, elongated words, URLs, mentions, hashtags, emoji). The word list
comes from `annotations/corpus/*.jsonl` when present, topped up from pymorphy3's dictionary; queries
mix every operator of the language over lemmas of that list, plus the rules in `annotations/rules/`.
Figures are medians over `--runs` runs with warm caches; the first (cold) pass is reported apart.
`--write` puts the figures under "NLP core (issue 3)" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import write_results
from model.doc import analyze
from model.lemma import Lemmatizer
from model.matcher import COMPILED, Matcher, Rule
from model.normalize import normalize, normalize_split
from model.tokens import tokenize

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## NLP core (issue 3)"

# The head of the Zipf distribution: function words and everyday words, no topic words.
FREQUENT = [
    "и",
    "в",
    "не",
    "на",
    "что",
    "я",
    "с",
    "а",
    "по",
    "это",
    "как",
    "у",
    "но",
    "так",
    "к",
    "же",
    "все",
    "уже",
    "за",
    "о",
    "из",
    "мы",
    "от",
    "вы",
    "бы",
    "когда",
    "нет",
    "только",
    "ну",
    "еще",
    "до",
    "был",
    "кто",
    "там",
    "если",
    "или",
    "их",
    "даже",
    "ни",
    "было",
    "для",
    "вот",
    "при",
    "они",
    "где",
    "без",
    "сколько",
    "можно",
    "почему",
    "опять",
    "снова",
    "который",
    "очень",
    "год",
    "день",
    "неделю",
    "месяц",
    "нам",
    "нас",
    "наш",
    "наши",
    "сегодня",
    "вчера",
    "завтра",
    "люди",
    "человек",
    "время",
    "раз",
    "тоже",
    "просто",
    "вообще",
    "тут",
    "сейчас",
    "потом",
    "надо",
    "нужно",
    "хочу",
    "знаю",
    "думаю",
    "сказал",
    "говорят",
    "всем",
]
HEAD = 2_000  # query words come from below this rank
NOISE_TAGS = ["ЖКХ", "ямынадорогах", "Пермь", "мусор", "доброеутро"]
NOISE_EMOJI = ["😡", "🔥🔥", "👍", "😢😢😢", "❤️"]


def corpus_texts() -> list[str]:
    """Post texts of annotations/corpus/*.jsonl (real-looking complaints and chatter), if present."""
    texts = []
    for file in sorted((ROOT / "annotations" / "corpus").glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            try:
                text = json.loads(line).get("text")
            except (json.JSONDecodeError, AttributeError):
                continue
            if isinstance(text, str):
                texts.append(text)
    return texts


def vocabulary(rng: random.Random, lemmatizer: Lemmatizer, corpus: list[str], size: int = 150_000) -> list[str]:
    """Word forms ranked by made-up frequency: FREQUENT, then dictionary and corpus words mixed."""
    dawg = lemmatizer.morph.dictionary.words
    letters = "абвгдежзиклмнопрстуфхцчшщэюя"
    # Three-letter prefixes, a few forms each: a wide spread of lemmas, not one paradigm's forms.
    prefixes = [a + b + c for a in letters for b in letters for c in letters]
    pool: list[str] = []
    for prefix in prefixes:
        keys = [k for k in itertools.islice(dawg.iterkeys(prefix), 60) if k.isalpha()]
        pool += rng.sample(keys, min(len(keys), 8))
    pool += sorted({t.text for text in corpus for t in tokenize(normalize(text)) if t.kind == "word"})
    rng.shuffle(pool)
    return list(dict.fromkeys([*FREQUENT, *pool]))[:size]


def posts(rng: random.Random, words: list[str], corpus: list[str], n: int, length: int = 30) -> list[str]:
    """A stream of `n` posts: a third real-looking corpus posts, the rest synthetic chatter."""
    weights = list(itertools.accumulate(1.0 / (rank + 10) for rank in range(len(words))))
    out = []
    for _ in range(n):
        if corpus and rng.random() < 1 / 3:
            out.append(rng.choice(corpus))
            continue
        k = max(5, int(rng.gauss(length, 8)))
        ws = rng.choices(words, cum_weights=weights, k=k)
        ws[0] = ws[0].capitalize()
        if rng.random() < 0.10:
            i = rng.randrange(k)
            if ws[i][-1] in "аеиоуыэюя":
                ws[i] += ws[i][-1] * rng.randint(2, 5)  # elongated
        if rng.random() < 0.08:
            ws.append(f"https://vk.com/wall-{rng.randint(1, 10**8)}")
        if rng.random() < 0.08:
            ws.insert(0, f"[id{rng.randint(1, 10**8)}|Иван],")
        if rng.random() < 0.10:
            ws.append("#" + rng.choice(NOISE_TAGS))
        if rng.random() < 0.10:
            ws.append(rng.choice(NOISE_EMOJI))
        text = " ".join(ws)
        if rng.random() < 0.3:
            text = text.replace("е", "ё", 1)
        out.append(text + rng.choice(["!", "!!!", ".", "?", "..."]))
    return out


def queries(rng: random.Random, words: list[str], lemmatizer: Lemmatizer, n: int) -> list[Rule]:
    rules = _annotation_rules()
    # Monitoring words are topical, not everyday words: lemmas of the forms ranked below 2,000.
    frequent = {lemma for w in words[:HEAD] for lemma in lemmatizer.lemmas(w)}
    lemmas = list(dict.fromkeys(lemmatizer.lemma(w) for w in words[HEAD:]))
    lemmas = [w for w in lemmas if w not in frequent and re.fullmatch(r"[а-я]{3,}", w)]

    long = [w for w in lemmas if len(w) >= 8]

    def word() -> str:
        return rng.choice(lemmas)

    def long_word() -> str:
        return rng.choice(long)

    kinds = ["word"] * 30 + ["or"] * 25 + ["phrase"] * 10 + ["prefix"] * 5 + ["not"] * 15 + ["near"] * 15
    while len(rules) < n:
        kind = rng.choice(kinds)
        if kind == "word":
            q = word()
        elif kind == "or":
            q = " OR ".join(word() for _ in range(rng.randint(3, 6)))
        elif kind == "phrase":
            q = f'"{word()} {word()}"'
        elif kind == "prefix":
            q = long_word()[: rng.randint(5, 7)] + "*"
        elif kind == "not":
            q = f"({word()} OR {word()}) {word()} -{word()}"
        else:
            q = f"({word()} OR {long_word()[:6]}*) NEAR/{rng.randint(2, 5)} ({word()} OR {word()})"
        rules.append(Rule(id=f"q{len(rules)}", query=q))
    return rules[:n]


def _annotation_rules() -> list[Rule]:
    folder = ROOT / "annotations" / "rules"
    if not any(folder.glob("*.y*ml")):
        return []
    try:
        from model.rules import load_rules

        return load_rules(folder)
    except Exception as exc:  # a broken rules file must not stop the benchmark
        print(f"note: annotations/rules not used: {exc}", file=sys.stderr)
        return []


def rate(fn: Callable[[], object], count: int, runs: int, clock: Callable[[], float] = time.process_time) -> float:
    """Median items/s of `fn` over `runs` runs, by CPU time of this process (one core) by default:
    the machine is shared, and wall time would also count the time other processes took."""
    rates = []
    for _ in range(runs):
        t = clock()
        fn()
        rates.append(count / (clock() - t))
    return statistics.median(rates)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_directory(lemmatizer: Lemmatizer) -> str:
    """Load the region directories (and their gazetteers) so that RSS includes them."""
    folder = ROOT / "annotations" / "regions"
    try:
        from model.region import load_regions

        regions = load_regions(folder)
    except Exception as exc:
        return f"not loaded ({exc.__class__.__name__})"
    try:
        from model.toponyms import Gazetteer

        globals()["_gazetteers"] = [Gazetteer(r, lemmatizer) for r in regions.values()]
        return f"{len(regions)} regions with gazetteers"
    except Exception as exc:
        globals()["_regions"] = regions
        return f"{len(regions)} regions (gazetteer not loaded: {exc.__class__.__name__})"


def batches(items: list, size: int = 512) -> list[list]:  # type: ignore[type-arg]
    return [items[i : i + size] for i in range(0, len(items), size)]


def stream(texts: list[str], lemmatizer: Lemmatizer, matcher: Matcher, compiled: bool = True) -> list[int]:
    """The firehose path: batches of 512 posts analyzed and matched; returns matches per post."""
    out = []
    for batch in batches(texts):
        out += [len(m) for m in matcher.match(analyze(batch, lemmatizer, compiled), compiled=compiled)]
    return out


def stream_with_lemmas(texts: list[str], lemmatizer: Lemmatizer, matcher: Matcher) -> None:
    """`stream`, and then every post's lemmas and tokens gathered, as the classifiers need them."""
    for batch in batches(texts):
        docs = analyze(batch, lemmatizer)
        matcher.match(docs)
        for doc in docs:
            doc.lemmas  # noqa: B018 (computed on first access)
            doc.tokens  # noqa: B018


# One end-to-end run in a fresh process, with the `model` package of the checkout in argv[1]: the
# posts and queries come pickled in argv[2]; prints the median posts/s (CPU time) of argv[3] runs.
_E2E = """
import pickle, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from model.doc import analyze
from model.lemma import Lemmatizer
from model.matcher import Matcher, Rule
with open(sys.argv[2], "rb") as f:
    texts, rules = pickle.load(f)
lemmatizer = Lemmatizer()
matcher = Matcher([Rule(*r) for r in rules], lemmatizer)
def stream():
    for i in range(0, len(texts), 512):
        matcher.match(analyze(texts[i : i + 512], lemmatizer))
stream()
rates = []
for _ in range(int(sys.argv[3])):
    t = time.process_time()
    stream()
    rates.append(len(texts) / (time.process_time() - t))
print(statistics.median(rates))
"""


def versus(baseline: Path, texts: list[str], rules: list[Rule], runs: int) -> tuple[float, float]:
    """End-to-end posts/s of the baseline checkout's `model` and of this one, each in its own
    process, taking turns `runs` times (medians): the same machine load for both."""
    import pickle

    with tempfile.NamedTemporaryFile(suffix=".pickle") as f:
        pickle.dump((texts, [(r.id, r.query, r.topic, r.always_register) for r in rules]), f)
        f.flush()
        found: dict[Path, list[float]] = {baseline: [], ROOT: []}
        for _ in range(runs):
            for checkout, rates in found.items():
                out = subprocess.run(
                    [sys.executable, "-c", _E2E, str(checkout), f.name, "1"],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                rates.append(float(out.stdout))
    return statistics.median(found[baseline]), statistics.median(found[ROOT])


def gc_seconds(fn: Callable[[], object]) -> tuple[float, float]:
    """CPU seconds `fn` took, and how many of them the garbage collector took."""
    spent = [0.0, 0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            spent[1] = time.process_time()
        else:
            spent[0] += time.process_time() - spent[1]

    gc.callbacks.append(callback)
    try:
        t = time.process_time()
        fn()
        total = time.process_time() - t
    finally:
        gc.callbacks.remove(callback)
    return total, spent[0]


def stage_split(texts: list[str], lemmatizer: Lemmatizer, matcher: Matcher, runs: int) -> dict[str, float]:
    """Median CPU seconds per post of each stage of `analyze` + `match`, timed inside one stream."""
    from model.doc import _analyze_normalized

    names = ["normalize", "tokens (chunk cache)", f"match {len(matcher.rules):,} queries"]
    samples: dict[str, list[float]] = {name: [] for name in names}
    clock = time.process_time
    for _ in range(runs):
        spent = dict.fromkeys(names, 0.0)
        for batch in batches(texts):
            t0 = clock()
            normalized = [normalize_split(x) for x in batch]
            t1 = clock()
            docs = _analyze_normalized(normalized, lemmatizer)
            t2 = clock()
            matcher.match(docs)
            t3 = clock()
            for name, seconds in zip(names, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                spent[name] += seconds
        for name in names:
            samples[name].append(spent[name] / len(texts))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=5_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    ap.add_argument(
        "--baseline", type=Path, help="another checkout (`git archive COMMIT model | tar -x -C DIR`): compare"
    )
    ap.add_argument("--baseline-name", default="the baseline", help="how to name the baseline in the report")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    rss_start = rss_mb()
    lemmatizer = Lemmatizer()
    lemmatizer.lemma("старт")
    rss_morph = rss_mb()
    directory = load_directory(lemmatizer)
    corpus = corpus_texts()
    words = vocabulary(rng, lemmatizer, corpus)
    texts = posts(rng, words, corpus, args.posts)
    rules = queries(rng, words, lemmatizer, args.queries)
    lemmatizer = Lemmatizer()  # forget the words the generators looked up: the first pass is cold
    t = time.perf_counter()
    matcher = Matcher(rules, lemmatizer)
    compile_s = time.perf_counter() - t
    rss_loaded = rss_mb()
    n_words = sum(1 for text in texts[:2000] for tok in tokenize(normalize(text)) if tok.kind == "word")
    words_per_post = n_words / min(2000, len(texts))

    t = time.process_time()
    per_post = stream(texts, lemmatizer, matcher)
    cold = len(texts) / (time.process_time() - t)
    matched = sum(1 for n in per_post if n) / len(texts)

    figures = {
        "end to end: analyze + match, batches of 512 (posts/s)": rate(
            lambda: stream(texts, lemmatizer, matcher), len(texts), args.runs
        ),
        "end to end, wall clock (posts/s)": rate(
            lambda: stream(texts, lemmatizer, matcher), len(texts), args.runs, time.perf_counter
        ),
        "end to end, then every post's lemmas and tokens gathered (posts/s)": rate(
            lambda: stream_with_lemmas(texts, lemmatizer, matcher), len(texts), args.runs
        ),
    }
    if COMPILED:
        figures["end to end with the Python loops, `compiled=False` (posts/s)"] = rate(
            lambda: stream(texts, lemmatizer, matcher, compiled=False), len(texts), args.runs
        )
    e2e = figures["end to end: analyze + match, batches of 512 (posts/s)"]
    rss_stream = rss_mb()
    annotation_rules = [r for r in rules if not r.id.startswith("q")]
    if annotation_rules:
        project = Matcher(annotation_rules, lemmatizer)
        stream(texts, lemmatizer, project)
        figures[f"end to end with only the {len(annotation_rules)} annotations/rules (posts/s)"] = rate(
            lambda: stream(texts, lemmatizer, project), len(texts), args.runs
        )
    # Where a post's CPU time goes, stage by stage inside the same stream.
    split = stage_split(texts, lemmatizer, matcher, args.runs)
    flat = [t.text for doc in analyze(texts[:5000], lemmatizer) for t in doc.tokens]
    figures |= {
        "lemma cache hit, lemmas_of (words/s)": rate(lambda: lemmatizer.lemmas_of(flat), len(flat), args.runs),
        "lemma cache hit, lemmas() per word (words/s)": rate(
            lambda: [lemmatizer.lemmas(w) for w in flat], len(flat), args.runs
        ),
    }
    total_s, gc_s = gc_seconds(lambda: stream(texts, lemmatizer, matcher))
    # The same stream with the garbage collector tuned as a long-running worker may do it.
    gc.collect()
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    figures["end to end after gc.freeze(), gc.set_threshold(50_000, 20, 100) (posts/s)"] = rate(
        lambda: stream(texts, lemmatizer, matcher), len(texts), args.runs
    )
    gc.set_threshold(*threshold)
    gc.unfreeze()
    # How matching scales with the number of queries (same posts, already analyzed).
    docs = [analyze(b, lemmatizer) for b in batches(texts[:5000])]
    scaling = []
    for n in (500, args.queries, 4 * args.queries):
        some = queries(random.Random(args.seed + 1), words, lemmatizer, n)
        scaled = Matcher(some, lemmatizer)
        for b in docs:
            scaled.match(b)
        clock = time.process_time
        t = clock()
        found = [scaled.match(b) for b in docs]
        seconds = (clock() - t) / sum(len(b) for b in docs)
        matching = statistics.mean(len(m) for batch in found for m in batch)
        scaling.append((n, seconds, matching))
    del docs
    compared = versus(args.baseline, texts, rules, args.runs) if args.baseline else None
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    bound = max(split, key=lambda k: split[k])
    total = sum(split.values())
    share = " (a third drawn from annotations/corpus)" if corpus else ""

    lines = [
        HEADING,
        "",
        f"Command: `.venv/bin/python -m bench.nlp --posts {args.posts} --queries {args.queries} "
        f"--runs {args.runs}` (one process, one core; medians of {args.runs} runs, warm caches).",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average during the run {load} (shared machine: rates "
        "are per CPU second of this process unless marked wall clock).",
        f"Posts: {len(texts):,}{share}, {words_per_post:.1f} words/post on average; "
        f"vocabulary {len(words):,} word forms; {len(rules):,} queries "
        f"({len(_annotation_rules())} from annotations/rules), compiled in {compile_s:.2f} s.",
        f"Matches: {matched:.1%} of posts match at least one query, "
        f"{statistics.mean(per_post):.2f} matching queries per post.",
        "Per-post loops of analysis and matching: "
        + ("compiled (model/_matchloop.c, built by `pip install -e .`)." if COMPILED
           else "Python (model/_matchloop.c is not built here: no compiler at install time)."),
        "",
        "| stage | rate |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:,.0f} |" for name, value in figures.items()]
    lines += [
        f"| cold first pass, empty caches: analyze + match (posts/s) | {cold:,.0f} |",
        "",
        "Where the CPU time of a post goes (the stages timed one after another inside the stream):",
        "",
        "| stage | µs/post | share | posts/s if it ran alone |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {seconds * 1e6:.1f} | {seconds / total:.0%} | {1 / seconds:,.0f} |"
        for name, seconds in split.items()
    ]
    lines += [
        "",
        "Matching against more queries (5,000 of the posts, analyzed beforehand):",
        "",
        "| queries | µs/post | matching queries per post |",
        "|---|---|---|",
    ]
    lines += [f"| {n:,} | {seconds * 1e6:.1f} | {matching:.2f} |" for n, seconds, matching in scaling]
    lines += [
        "",
        f"RSS: {rss_start:.0f} MB at start, {rss_morph:.0f} MB with pymorphy3 loaded, "
        f"{rss_loaded:.0f} MB with the directory ({directory}) and {len(rules):,} queries compiled "
        f"(and the benchmark's posts and vocabulary), {rss_stream:.0f} MB after streaming "
        "(lemma and surface caches warm).",
        "",
        *(
            [
                f"Before and after, measured in the same run (end to end, each in a fresh process, taking "
                f"turns {args.runs} times, medians): the `model` package of {args.baseline_name} "
                f"{compared[0]:,.0f} posts/s, this checkout {compared[1]:,.0f} posts/s: "
                f"{compared[1] / compared[0]:.2f}×.",
                "",
            ]
            if compared
            else []
        ),
        f"Bounding stage: {bound} ({split[bound] / total:.0%} of the CPU time of a post). "
        f"The garbage collector took {gc_s / total_s:.0%} of one end-to-end stream "
        f"({gc_s / len(texts) * 1e6:.1f} µs/post), spread over the stages above.",
        "",
        f"Target: >= 20,000 posts/s end to end on one core: {e2e:,.0f} posts/s, "
        + ("met." if e2e >= 20_000 else "missed."),
        "",
        "Notes. The queries are dense: every query word is a real lemma of the posts' vocabulary, so",
        "a post triggers several queries and pays for their evaluation and spans; the project's own",
        "rules alone cost less (and real posts match far less often: see the real-data section).",
        "`analyze` looks each whitespace-separated chunk of the normalized text up once in a",
        "per-lemmatizer cache holding its tokens' texts, lemmas, offsets and kinds (hashtags included,",
        "split into words once per distinct chunk); `Doc.tokens` and `Doc.lemmas` are gathered from it",
        "on first use, since matching needs neither on its cache hits and most posts of a real stream",
        "go no further (the classifiers' path pays for them: the row 'then every post's lemmas and",
        "tokens gathered'). The loop over posts whose chunks are cached is C, and so is the matcher's",
        "per-post loop (model/_matchloop.c): a unit lookup per",
        "word in the surface-form cache, the occurrence lists, the candidate rules, the spans of",
        "one-word and OR-of-words rules (most rules) and the requirements of the others (both sides",
        "of a NEAR, every word of a phrase); only rules that pass them are evaluated by their trees in",
        "Python. The compiled loops and the Python loops give the same Docs and matches (tests/model:",
        "test_equivalence against a straightforward analysis and a naive evaluation, a hypothesis test of",
        "the two matching loops). The spans",
        "and `RuleMatch` tuples it makes leave the garbage collector's care at once. Normalization",
        "is a few guarded regular-expression passes; most of its time on a plain post is `str.split`",
        "and the test for letters repeated three times. On the first pass, each new word the dictionary",
        "does not know (six letters or more) is also looked up as its likely typos (model/spelling.py).",
        "A long-running worker may also call",
        "`gc.freeze()` once its model is loaded (the row 'after gc.freeze()').",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_results(report, HEADING)


if __name__ == "__main__":
    main()
