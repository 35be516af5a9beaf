"""Prediction speed and size of a model bundle, on one core.

    .venv/bin/python -m bench.predict [--bundle var/models/current] [--runs 5] [--single 1000]
                                     [--no-train] [--data ../shared/data] [--write]

Measures, on the bundle `--bundle` (default var/models/current):

- batch throughput of `Predictor.predict` (all three heads + municipality + rules), batches of 512,
  with and without the explanation, on the texts of annotations/corpus and, when the reference data
  folder exists, on real VK posts of RuSentiment (the sample of random and preselected posts that
  `training.reference` reads, hashes checked: read here, never written anywhere);
- single-post latency: `predict([post])` one post at a time with the explanation, as the API calls
  it, on posts this process has not seen yet (cold caches) and again on the same posts (warm);
- where the time of a batch goes: the stages of `Predictor.predict` timed one after another;
- load time (imports; `load_bundle`; `Predictor`; first prediction) and RSS in fresh subprocesses;
- bundle size on disk, and the wall time of one `otklik train --no-track` into a temporary
  OTKLIK_VAR_DIR / OTKLIK_MODELS_DIR (var/models/current is not touched; `--no-train` skips it).

The process pins itself to one CPU. Rates are posts per CPU second of this process (the machine is
shared: wall-clock rates are given next to them), medians of `--runs` runs with warm caches; the
first (cold) pass is reported apart. Prints one JSON object; `--write` also replaces the section
"Prediction (issue 4)" of bench/RESULTS.md (read right before writing; other sections untouched).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# One core: keep BLAS/OpenMP from starting thread pools that the pinned process cannot use anyway.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import scipy.sparse as sp

from bench.results import RESULTS, write_results
from model.bundle import Bundle, load_bundle
from model.classifier import HeadScores
from model.doc import analyze
from model.features import lemma_sequence
from model.predictor import Predictor, best
from model.records import Label, Post, Prediction
from training import reference

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Prediction (issue 4)"
DATA = ROOT.parent / "shared" / "data"  # the default; $OTKLIK_REFERENCE_DATA overrides it (training.reference)
REAL_SET = "rusentiment"
DEFAULT_BUNDLE = ROOT / "var" / "models" / "current"
MAX_CHARS = 10_000  # the API's default text limit: longer posts never reach the model
WARMUP = "Третий день нет горячей воды в Перми"

# Targets of issue 4.
TARGET_BATCH = 2_000  # posts/s on one core
TARGET_SINGLE_P99_MS = 15.0
TARGET_LOAD_S = 3.0
TARGET_TRAIN_S = 300.0

STAGES = (
    "analyze", "matcher", "featurize: lemma sequences", "featurize: word TF-IDF", "featurize: char TF-IDF",
    "featurize: word vectors", "featurize: stack", "heads", "jurisdiction", "toponyms", "explanation", "records",
)


# --- posts -------------------------------------------------------------------------------------


def corpus_texts() -> list[str]:
    texts = []
    for file in sorted((ROOT / "annotations" / "corpus").glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            text = json.loads(line).get("text")
            if isinstance(text, str) and text.strip():
                texts.append(text)
    return texts


def real_texts(data: Path | None = None) -> list[str]:
    """Texts of RuSentiment VK posts read by `training.reference` (hashes checked), if the reference data
    folder is there, at most MAX_CHARS long; kept in memory only. A changed file: ReferenceError."""
    rows = reference.load(data, names=[REAL_SET]).rows.get(REAL_SET, [])
    return [ex.text for ex in rows if len(ex.text) <= MAX_CHARS]


def as_posts(texts: Sequence[str], prefix: str) -> list[Post]:
    return [Post(id=f"{prefix}{i}", text=t) for i, t in enumerate(texts)]


def batches(posts: Sequence[Post], size: int) -> list[Sequence[Post]]:
    return [posts[i : i + size] for i in range(0, len(posts), size)]


# --- measuring ---------------------------------------------------------------------------------


def cpu_and_wall(fn: Callable[[], Any]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def passes(predictor: Predictor, posts: Sequence[Post], size: int, runs: int) -> dict[str, Any]:
    """One cold pass (first sight, with the explanation), then `runs` warm passes with and without it,
    interleaved so that both see the same machine; CPU and wall seconds of each pass."""
    parts = batches(posts, size)

    def one_pass(explain: bool) -> tuple[float, float]:
        return cpu_and_wall(lambda: [predictor.predict(part, explain=explain) for part in parts])

    cold = one_pass(True)
    warm: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(runs):
        for explain in (True, False):
            warm[explain].append(one_pass(explain))
    return {"posts": len(posts), "cold": cold, "explanation": warm[True], "no explanation": warm[False]}


def rates(posts: int, seconds: Sequence[tuple[float, float]]) -> dict[str, Any]:
    cpu = [c for c, _ in seconds]
    wall = [w for _, w in seconds]
    return {"posts": posts, "posts_per_cpu_s": round(posts / statistics.median(cpu)),
            "posts_per_wall_s": round(posts / statistics.median(wall)),
            "posts_per_cpu_s_runs": [round(posts / c) for c in cpu]}


def throughput(measured: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rates per set and explanation mode, and for all sets together (summed seconds of each run)."""
    out: dict[str, dict[str, Any]] = {}
    for name, m in measured.items():
        for mode in ("explanation", "no explanation"):
            out[f"{name}, {mode}"] = {**rates(m["posts"], m[mode]),
                                     "cold_posts_per_cpu_s": round(m["posts"] / m["cold"][0])}
    if len(measured) > 1:
        total = sum(m["posts"] for m in measured.values())
        cold = sum(m["cold"][0] for m in measured.values())
        for mode in ("explanation", "no explanation"):
            summed = [
                (sum(c for c, _ in runs), sum(w for _, w in runs))
                for runs in zip(*(m[mode] for m in measured.values()), strict=True)
            ]
            out[f"all, {mode}"] = {**rates(total, summed), "cold_posts_per_cpu_s": round(total / cold)}
    return out


def latency(predictor: Predictor, posts: Sequence[Post]) -> dict[str, float]:
    """Milliseconds of `predict([post])` with the explanation, one post at a time: wall clock and
    CPU time of this process (the CPU figure does not include waiting for a busy machine)."""
    wall, cpu = [], []
    for post in posts:
        w, c = time.perf_counter(), time.process_time()
        predictor.predict([post], explain=True)
        cpu.append((time.process_time() - c) * 1e3)
        wall.append((time.perf_counter() - w) * 1e3)
    q = np.percentile(wall, [50, 90, 99])
    qc = np.percentile(cpu, [50, 99])
    return {"posts": len(wall), "p50_ms": round(float(q[0]), 2), "p90_ms": round(float(q[1]), 2),
            "p99_ms": round(float(q[2]), 2), "max_ms": round(max(wall), 2),
            "cpu_p50_ms": round(float(qc[0]), 2), "cpu_p99_ms": round(float(qc[1]), 2)}


def staged_predict(predictor: Predictor, posts: Sequence[Post], explain: bool, spent: dict[str, float]) -> int:
    """`Predictor.predict` taken apart, adding the CPU seconds of each stage to `spent`.

    Mirrors model/predictor.py, model/classifier.py and model/features.py step for step; the report
    compares the sum of the stages with the real `predict` so that a drift shows.
    """
    clock = time.process_time
    clf = predictor.bundle.classifier
    feat = clf.featurizer
    t = clock()

    def lap(stage: str) -> None:
        nonlocal t
        now = clock()
        spent[stage] = spent.get(stage, 0.0) + now - t
        t = now

    region_codes = [predictor.region_of(p) for p in posts]
    docs = analyze([p.text for p in posts], predictor.lemmatizer)
    lap("analyze")
    matches = predictor.matcher.match(docs)
    rule_topics = [
        frozenset(predictor.rule_topic[m.rule_id] for m in found if m.rule_id in predictor.rule_topic)
        for found in matches
    ]
    lap("matcher")
    seqs = [lemma_sequence(d) for d in docs]
    lap("featurize: lemma sequences")
    blocks = [feat.words_.transform(seqs)]
    lap("featurize: word TF-IDF")
    if feat.chars_ is not None:
        blocks.append(feat.chars_.transform(seqs) * feat.char_weight)
    lap("featurize: char TF-IDF")
    if feat.embedding_weight:
        blocks.append(sp.csr_matrix(feat.vectors_.means(docs) * feat.embedding_weight))
    lap("featurize: word vectors")
    X = sp.hstack(blocks, format="csr", dtype=np.float32)
    X_topic = clf._topic_input(X, rule_topics)
    X_rel = clf._relevance_input(X_topic, rule_topics)
    lap("featurize: stack")
    p_rel = clf.relevance.predict_proba(X_rel)[:, list(clf.relevance.classes_).index(True)]
    p_topic = clf.topic.predict_proba(X_topic)
    best_topics = clf.topic.classes_[p_topic.argmax(axis=1)]
    lap("heads")
    jurisdictions = [predictor.jurisdictions[c] for c in region_codes]
    J = np.zeros((len(docs), 2 * len(clf.agency_codes_)), dtype=np.float32)
    groups: dict[int, list[int]] = {}
    for i, jur in enumerate(jurisdictions):
        groups.setdefault(id(jur), []).append(i)
    for rows in groups.values():
        jur = jurisdictions[rows[0]]
        J[rows] = jur.features([docs[i] for i in rows], [best_topics[i] for i in rows], clf.agency_codes_)
    lap("jurisdiction")
    p_agency = clf.agency.predict_proba(clf._agency_input(X_topic, J))
    lap("heads")
    places = [predictor.gazetteers[c].find(d, p.text) for c, d, p in zip(region_codes, docs, posts, strict=True)]
    lap("toponyms")
    scores = HeadScores(relevance=p_rel, topic=p_topic, agency=p_agency, X=X_rel, J=J)
    explanations: list[dict[str, Any]] = []
    if explain:
        for i in range(len(posts)):
            e: dict[str, Any] = dict(clf.explain(scores, i, bool(p_rel[i] >= predictor.relevance_threshold)))
            e["rules"] = [{"id": m.rule_id, "spans": [list(s) for s in m.spans]} for m in matches[i]]
            place = places[i]
            e["place"] = [list(s) for s in place.spans] if place else []
            explanations.append(e)
    lap("explanation")
    out = []
    for i, post in enumerate(posts):
        region = predictor.bundle.regions[region_codes[i]]
        topic = best(clf.topic.classes_, p_topic[i])
        agency = best(clf.agency.classes_, p_agency[i])
        relevant = float(p_rel[i]) >= predictor.relevance_threshold
        place = places[i]
        review = abs(p_rel[i] - predictor.relevance_threshold) < predictor.review["relevance"] or (
            relevant and (topic.score < predictor.review["topic"] or agency.score < predictor.review["agency"])
        )
        out.append(Prediction(
            id=post.id, relevant=Label(label=relevant, score=float(p_rel[i])), topic=topic, agency=agency,
            body=region.body_name(agency.label, place.oktmo if place else None), municipality=place,
            rules=tuple(m.rule_id for m in matches[i]), needs_review=bool(review),
            explanation=explanations[i] if explain else {}, model=predictor.bundle.id,
        ))
    lap("records")
    return len(out)


def breakdown(predictor: Predictor, posts: Sequence[Post], size: int, explain: bool, runs: int) -> dict[str, Any]:
    """µs per post of each stage (medians over runs) and the real `predict` for comparison."""
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        spent: dict[str, float] = {}
        for part in batches(posts, size):
            staged_predict(predictor, part, explain, spent)
        per_run.append(spent)
    stages = {s: statistics.median(r.get(s, 0.0) for r in per_run) / len(posts) * 1e6 for s in STAGES}
    total = sum(stages.values())
    parts = batches(posts, size)
    real = [cpu_and_wall(lambda: [predictor.predict(p, explain=explain) for p in parts])[0] for _ in range(runs)]
    return {
        "us_per_post": {s: round(v, 1) for s, v in stages.items()},
        "share": {s: round(v / total, 3) for s, v in stages.items()},
        "sum_us_per_post": round(total, 1),
        "predict_us_per_post": round(statistics.median(real) / len(posts) * 1e6, 1),
    }


def profile(predictor: Predictor, posts: Sequence[Post], size: int, top: int = 25) -> str:
    """cProfile of one pass (with explanation), the functions with most own time."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for part in batches(posts, size):
        predictor.predict(part, explain=True)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# --- fresh processes ---------------------------------------------------------------------------


def vm_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# Run by a fresh interpreter (`python -c`), so that the imports are timed too.
PROBE = """
import json, sys, time
t0 = time.perf_counter()
from model.bundle import load_bundle
from model.predictor import Predictor
from model.records import Post
def vm_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
t1 = time.perf_counter()
rss0 = vm_kb("VmRSS")
bundle = load_bundle(sys.argv[1])
t2 = time.perf_counter()
predictor = Predictor(bundle)
t3 = time.perf_counter()
rss_loaded = vm_kb("VmRSS")
predictor.predict([Post(id="warmup", text=sys.argv[2])], explain=True)
t4 = time.perf_counter()
print(json.dumps({
    "import_s": t1 - t0, "load_bundle_s": t2 - t1, "predictor_s": t3 - t2, "first_predict_s": t4 - t3,
    "rss_imported_mb": rss0 / 1024, "rss_loaded_mb": rss_loaded / 1024,
    "rss_after_first_predict_mb": vm_kb("VmRSS") / 1024, "hwm_mb": vm_kb("VmHWM") / 1024,
}))
"""


def load_times(bundle: Path, runs: int) -> dict[str, Any]:
    """Medians over `runs` fresh interpreters (each one also pinned to the current CPU set)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(bundle), WARMUP],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
        )
        sample = json.loads(out.stdout.strip().splitlines()[-1])
        sample["process_s"] = time.perf_counter() - start
        samples.append(sample)
    keys = samples[0].keys()
    med = {k: round(statistics.median(s[k] for s in samples), 3) for k in keys}
    med["load_s"] = round(statistics.median(s["load_bundle_s"] + s["predictor_s"] + s["first_predict_s"]
                                            for s in samples), 3)
    med["runs"] = runs
    return med


def bundle_size(bundle: Path) -> dict[str, Any]:
    files = {str(p.relative_to(bundle)): p.stat().st_size for p in sorted(bundle.rglob("*")) if p.is_file()}
    return {"total_mb": round(sum(files.values()) / 2**20, 2),
            "pipeline_mb": round(files.get("pipeline.joblib", 0) / 2**20, 2), "files": len(files)}


def train_time(timeout: float) -> dict[str, Any]:
    """One `otklik train --no-track` into a temporary var/models dir; wall and CPU seconds."""
    otklik = Path(sys.executable).with_name("otklik")
    cmd = [str(otklik), "train", "--no-track"] if otklik.exists() else [
        sys.executable, "-m", "serving.cli", "train", "--no-track"]
    with tempfile.TemporaryDirectory(prefix="otklik-bench-train-") as tmp:
        env = {**os.environ, "OTKLIK_VAR_DIR": tmp, "OTKLIK_MODELS_DIR": str(Path(tmp) / "models")}
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.pop(var, None)  # train as a user would, not pinned
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        # not pinned to our one CPU either: the child gets every CPU of the machine
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                             preexec_fn=lambda: os.sched_setaffinity(0, range(os.cpu_count() or 1)))
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            raise RuntimeError(f"otklik train failed ({out.returncode}): {out.stderr[-2000:]}")
        written = sorted(p.name for p in (Path(tmp) / "models").iterdir() if p.is_dir() and not p.is_symlink())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = [line for line in out.stdout.splitlines() if line.startswith("test split")]
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "bundle": written[0] if written else None,
            "report": summary[0] if summary else ""}


# --- report ------------------------------------------------------------------------------------


def code_version() -> str:
    """The commit the benchmark ran on, and the files of model/, serving/, training/ changed since."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout

    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        changed = [line[3:] for line in git("status", "--porcelain", "--", "model", "serving", "training").splitlines()]
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not head:
        return "unknown (no git)"
    return f"commit {head}" + (f" with uncommitted changes in {', '.join(changed)}" if changed else "")


def uptime() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict(ok: bool) -> str:
    return "meets" if ok else "misses"


def notes(r: dict[str, Any]) -> list[str]:
    """The bounding stages, and which costs are paid per call rather than per post, from the figures."""
    batch, single = r["breakdown"]["us_per_post"], r["breakdown_single"]["us_per_post"]
    top_batch = max(batch, key=lambda k: batch[k])
    top_single = max(single, key=lambda k: single[k])
    out = [
        f"Bounding stage: {top_batch} in batches ({r['breakdown']['share'][top_batch]:.0%} of the CPU time), "
        f"{top_single} for a single post ({r['breakdown_single']['share'][top_single]:.0%})."
    ]
    per_call = {s: single[s] - batch[s] for s in single if single[s] > 5 * max(batch[s], 1.0) and single[s] > 200}
    if per_call:
        shown = ", ".join(f"{s} {single[s]:,.0f} µs vs {batch[s]:,.0f}" for s in per_call)
        out.append(
            "Paid per call, not per post (single post vs per post in batches of 512): " + shown + ". These are "
            "fixed costs of each call into scikit-learn/scipy, and they set the single-post latency."
        )
    return out


def section(r: dict[str, Any], command: str) -> str:
    posts = r["posts"]
    real = (f" and {posts['real']:,} of the {posts['real_available']:,} real VK posts (RuSentiment random and "
            "preselected) that `training.reference` reads (read, never written)") if posts["real"] else (
        " (no reference data folder: no real posts)")
    lines = [
        HEADING,
        "",
        f"Command: `{command}` (pinned to one CPU; rates are posts per CPU second of the benchmark "
        f"process, medians of {r['runs']} runs with warm caches; wall-clock rates beside them).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"load average {r['load_before']} before, {r['load_after']} after (shared machine: wall clock "
        "includes waiting for the CPU).",
        f"Code: {r.get('code', 'unknown')}. Bundle: `{r['bundle']}`; features: {r['featurizer']}.",
        f"Posts: {posts['corpus']:,} texts of annotations/corpus{real}; {posts['mean_chars_corpus']:.0f} and "
        f"{posts['mean_chars_real']:.0f} characters on average; {r['single']['cold']['posts']:,} of them held out "
        "for the single-post latency.",
        "",
        f"| batch prediction, batches of {r['batch']} | posts/s (CPU) | posts/s (wall) | "
        "first pass, cold caches, explanation (CPU) |",
        "|---|---|---|---|",
    ]
    for name, t in r["throughput"].items():
        lines.append(f"| {name} | {t['posts_per_cpu_s']:,} | {t['posts_per_wall_s']:,} | "
                     f"{t['cold_posts_per_cpu_s']:,} |")
    key = "all" if "all, explanation" in r["throughput"] else "corpus"
    with_expl = r["throughput"][f"{key}, explanation"]["posts_per_cpu_s"]
    without = r["throughput"][f"{key}, no explanation"]["posts_per_cpu_s"]
    s = r["single"]
    lines += [
        "",
        "Single post, `predict([post])` with the explanation, as the API calls it (ms):",
        "",
        "| posts | p50 | p90 | p99 | max | CPU p50 | CPU p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, key_ in (("never seen by the process (cold caches)", "cold"), ("the same again (warm)", "warm")):
        x = s[key_]
        lines.append(f"| {x['posts']:,} {label} | {x['p50_ms']} | {x['p90_ms']} | {x['p99_ms']} | {x['max_ms']} | "
                     f"{x['cpu_p50_ms']} | {x['cpu_p99_ms']} |")
    ld = r["load"]
    size = r["size"]
    lines += [
        "",
        f"Load, fresh process (median of {ld['runs']}): imports {ld['import_s']} s, `load_bundle` "
        f"{ld['load_bundle_s']} s (hashes + unpickling), `Predictor` {ld['predictor_s']} s, first prediction "
        f"{ld['first_predict_s']} s (loads the navec vectors); load = the last three = **{ld['load_s']} s**; "
        f"the whole process {ld['process_s']} s.",
        f"RSS (VmRSS, fresh process): {ld['rss_imported_mb']:.0f} MB after the imports, "
        f"{ld['rss_loaded_mb']:.0f} MB after `load_bundle` + `Predictor`, "
        f"**{ld['rss_after_first_predict_mb']:.0f} MB** after the first prediction (peak {ld['hwm_mb']:.0f} MB); "
        f"the benchmark process after all its runs (caches warm, its posts held): {r['rss_end_mb']:.0f} MB.",
        f"Bundle on disk: **{size['total_mb']} MB** in {size['files']} files (pipeline.joblib "
        f"{size['pipeline_mb']} MB, joblib compress=3).",
    ]
    if r.get("train"):
        t = r["train"]
        lines.append(f"`otklik train --no-track` (one run, temporary OTKLIK_VAR_DIR, both CPUs): **{t['wall_s']} s** "
                     f"wall, {t['cpu_s']} s CPU; {t['report']}.")
    lines += ["", "Where the CPU time goes (stages of `predict` timed one after another, µs per post):", "",
              "| stage | batches of 512 | share | single post | share |", "|---|---|---|---|---|"]
    b, b1 = r["breakdown"], r["breakdown_single"]
    lines += [
        f"| {stage} | {us:,.1f} | {b['share'][stage]:.0%} | {b1['us_per_post'][stage]:,.1f} | "
        f"{b1['share'][stage]:.0%} |"
        for stage, us in b["us_per_post"].items()
    ]
    lines += [
        f"| sum of the stages | {b['sum_us_per_post']:,.1f} | | {b1['sum_us_per_post']:,.1f} | |",
        f"| the real `predict` | {b['predict_us_per_post']:,.1f} | | {b1['predict_us_per_post']:,.1f} | |",
    ]
    cold_p99 = s["cold"]["p99_ms"]
    lines += [
        "",
        "Against the targets of issue 4:",
        "",
        f"- batch >= {TARGET_BATCH:,} posts/s on one core: {with_expl:,} with the explanation "
        f"({with_expl / TARGET_BATCH:.2f}x the target), {without:,} without ({without / TARGET_BATCH:.2f}x): "
        f"{verdict(with_expl >= TARGET_BATCH)} with, {verdict(without >= TARGET_BATCH)} without;",
        f"- single-post p99 <= {TARGET_SINGLE_P99_MS:.0f} ms: {cold_p99} ms cold, {s['warm']['p99_ms']} ms warm "
        f"(CPU {s['cold']['cpu_p99_ms']} / {s['warm']['cpu_p99_ms']} ms): {verdict(cold_p99 <= TARGET_SINGLE_P99_MS)};",
        f"- load < {TARGET_LOAD_S:.0f} s: {ld['load_s']} s: {verdict(ld['load_s'] < TARGET_LOAD_S)}"
        + (";" if r.get("train") else "."),
    ]
    if r.get("train"):
        lines.append(f"- `otklik train` < 5 minutes: {r['train']['wall_s']} s: "
                     f"{verdict(r['train']['wall_s'] < TARGET_TRAIN_S)}.")
    lines += ["", *notes(r)]
    return "\n".join(lines) + "\n"


def featurizer_summary(bundle: Bundle) -> str:
    f = bundle.classifier.featurizer
    parts = [f"lemma 1-2-gram TF-IDF ({len(f.words_.vocabulary_):,} features)"]
    if f.chars_ is not None:
        parts.append(f"char 2-5-gram TF-IDF of lemmas x{f.char_weight} "
                     f"({len(f.chars_.vectorizer.vocabulary_):,} features)")
    if f.embedding_weight:
        parts.append(f"mean navec vector x{f.embedding_weight}")
    return " + ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    ap.add_argument("--data", type=Path, default=DATA,
                    help="the reference data folder ($OTKLIK_REFERENCE_DATA overrides it)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--single", type=int, default=1000, help="posts for the single-post latency")
    ap.add_argument("--load-runs", type=int, default=5)
    ap.add_argument("--real-posts", type=int, default=8000,
                    help="real VK posts to sample for the batch runs (0: all the reader gives, about 4,000)")
    ap.add_argument("--no-train", action="store_true", help="skip timing `otklik train`")
    ap.add_argument("--train-timeout", type=float, default=900.0)
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one pass to stderr")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = ap.parse_args()
    bundle_dir = args.bundle.resolve()
    if not (bundle_dir / "meta.json").is_file():
        sys.exit(f"no model bundle at {args.bundle}; train one with `otklik train` or pass --bundle DIR")

    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})
    load_before = uptime()
    log = lambda m: print(f"· {m}", file=sys.stderr)  # noqa: E731

    log("loading")
    bundle = load_bundle(bundle_dir)
    predictor = Predictor(bundle)
    predictor.predict([Post(id="warmup", text=WARMUP)])
    # as the API worker does after loading: the model's objects are never collected
    gc.collect()
    gc.freeze()

    rng = random.Random(args.seed)
    corpus = corpus_texts()
    try:
        real = real_texts(args.data)
    except reference.ReferenceError as e:
        sys.exit(f"reference data not usable: {e}")
    n_real_all = len(real)
    if args.real_posts and len(real) > args.real_posts:
        real = rng.sample(real, args.real_posts)
    # the single-post posts are held out of the batch runs so that their first pass is a first sight
    pool = [("corpus", t) for t in corpus] + [("real", t) for t in real]
    rng.shuffle(pool)
    n_single = min(args.single, len(pool) // 4)
    single_posts = [Post(id=f"s{i}", text=t) for i, (_, t) in enumerate(pool[:n_single])]
    rest = pool[n_single:]
    sets = {name: [Post(id=f"{name}{i}", text=t) for i, (k, t) in enumerate(rest) if k == name]
            for name in ("corpus", "real")}
    sets = {name: posts for name, posts in sets.items() if posts}

    log(f"single-post latency, {len(single_posts)} posts never seen")
    cold_single = latency(predictor, single_posts)
    measured = {}
    for name, posts in sets.items():
        log(f"throughput: {name} ({len(posts):,} posts), {args.runs} runs")
        measured[name] = passes(predictor, posts, args.batch, args.runs)
    results = throughput(measured)
    log("single-post latency, warm")
    warm_single = latency(predictor, single_posts)
    log("stage breakdown")
    mixed = [Post(id=f"m{i}", text=t) for i, (_, t) in enumerate(rest)]
    split = breakdown(predictor, mixed, args.batch, True, 3)
    split_single = breakdown(predictor, single_posts, 1, True, 1)
    if args.profile:
        print(profile(predictor, mixed, args.batch), file=sys.stderr)
    rss_end = vm_kb("VmRSS") / 1024

    os.sched_setaffinity(0, cpus)
    log(f"load time, {args.load_runs} fresh processes")
    loads = load_times(bundle_dir, args.load_runs)
    train = None
    if not args.no_train:
        log("otklik train --no-track (about two minutes)")
        train = train_time(args.train_timeout)

    report: dict[str, Any] = {
        "bundle": bundle.id,
        "code": code_version(),
        "featurizer": featurizer_summary(bundle),
        "runs": args.runs,
        "batch": args.batch,
        "load_before": load_before,
        "load_after": uptime(),
        "posts": {
            "corpus": len(corpus), "real": len(real), "real_available": n_real_all,
            "mean_chars_corpus": statistics.mean(map(len, corpus)) if corpus else 0.0,
            "mean_chars_real": statistics.mean(map(len, real)) if real else 0.0,
        },
        "throughput": results,
        "single": {"cold": cold_single, "warm": warm_single},
        "breakdown": split,
        "breakdown_single": split_single,
        "load": loads,
        "rss_end_mb": round(rss_end, 1),
        "size": bundle_size(bundle_dir),
        "train": train,
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.write:
        shown = [] if bundle_dir == DEFAULT_BUNDLE.resolve() else [f"--bundle {shlex.quote(str(args.bundle))}"]
        flags = [f"--runs {args.runs}", f"--single {args.single}", f"--real-posts {args.real_posts}"]
        flags += ["--no-train"] if args.no_train else []
        command = " ".join([".venv/bin/python -m bench.predict", *shown, *flags, "--write"])
        write_results(section(report, command), HEADING)
        log(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
