"""The prediction API under load: a real `otklik serve` on 127.0.0.1 and a bounded load generator.

    .venv/bin/python -m bench.api [--bundle var/models/current] [--runs 3] [--rate 100] [--seconds 20]
                                 [--batch-rate 3] [--curve 25,50] [--throughput-seconds 10] [--clients 8] [--write]

Starts `otklik serve` (uvicorn, `--workers 1`, then `--workers 2`) on a free 127.0.0.1 port with
OTKLIK_MODELS_DIR at the bundle's models directory and OTKLIK_VAR_DIR in a temporary directory, and
drives `POST /v1/predict` from this process (asyncio + httpx, keep-alive connections):

- latency, open loop: one post per request at `--rate` requests/s for `--seconds` s (requests are
  sent on schedule whatever the answers do; at most `--max-in-flight` outstanding, the rest are
  counted as dropped), then batches of 100 posts at `--batch-rate` requests/s; p50/p90/p99 from
  sending to the whole answer, the same measured from the scheduled time (what a caller waits when
  the load generator falls behind), errors, and the server's own view (its Prometheus histogram);
- throughput, closed loop: `--clients` concurrent clients send back to back for
  `--throughput-seconds` s, one post per request and 100 posts per request, with 1 and 2 workers;
- CPU seconds of the load generator and of the server processes, and RSS of every worker;
- when `wrk` is installed (Debian's package `wrk`), the single-post throughput again with it: a
  compiled load generator leaves the server most of the two cores, so the 2-worker/1-worker ratio
  measures the server rather than what the Python load generator leaves over.

Posts: the texts of annotations/corpus and, when the shared data folder exists, the real VK posts
of RuSentiment (read into memory and sent only to 127.0.0.1; never written anywhere). Figures are
medians over `--runs` runs. Prints one JSON object; `--write` also replaces the section
"Prediction API (issue 5)" of bench/RESULTS.md (read right before writing; other sections untouched).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import numpy as np

from bench.predict import DATA, DEFAULT_BUNDLE, code_version, corpus_texts, real_texts, uptime
from bench.results import write_results

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Prediction API (issue 5)"
PATH = "/v1/predict"
BATCH = 100
HARD_LIMIT_S = 1800.0  # the whole benchmark, whatever happens
START_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 30.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
BENCH_TOKEN = "otklik-bench-operator-token"  # the operator token of the served process

# Targets of issue 5.
TARGET_P50_MS = 10.0
TARGET_P99_MS = 30.0
TARGET_BATCH_P99_MS = 150.0
TARGET_SCALING = 1.7


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (the threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    workers: int
    log: Path

    def worker_pids(self) -> list[int]:
        """The processes that answer requests: the server itself with one worker, else its spawned children."""
        if self.workers == 1:
            return [self.proc.pid]
        return [pid for pid in proc_children(self.proc.pid) if "spawn_main" in cmdline(pid)]

    def all_pids(self) -> list[int]:
        return [self.proc.pid, *proc_children(self.proc.pid)]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.all_pids())

    def exceptions(self) -> dict[str, int]:
        """Unhandled exceptions in the server's log: "ExceptionType: message (project file:line in function)"."""
        return exceptions_in(self.log.read_text(errors="replace"))

    def loaded(self) -> int:
        """How many workers have logged that their bundle is loaded."""
        return self.log.read_text(errors="replace").count('"bundle loaded"')


FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)$')


def exceptions_in(log: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line != "Traceback (most recent call last):":
            continue
        where = ""
        for follow in lines[i + 1 :]:
            frame = FRAME.match(follow)
            if frame:
                path = Path(frame["file"])
                if ROOT in path.parents and ".venv" not in path.parts:
                    where = f"{path.relative_to(ROOT)}:{frame['line']} in {frame['func']}"
                continue
            if follow.startswith(" "):
                continue
            message = re.sub(r"\d+", "N", follow[:120])  # one kind, whatever the sizes in the message
            key = f"{message} ({where or 'outside the project'})"
            counts[key] = counts.get(key, 0) + 1
            break
    return counts


def models_dir_for(bundle: Path, tmp: Path) -> Path:
    """A models directory whose `current` is `bundle`: its own when it is a `current` link, else a new one."""
    if bundle.name == "current":
        return bundle.parent.resolve()
    models = tmp / "models"
    models.mkdir()
    (models / "current").symlink_to(bundle.resolve())
    return models


@contextmanager
def running_server(models: Path, workers: int, tmp: Path) -> Iterator[Server]:
    """`otklik serve --workers N` on a free port; yields once every worker has loaded the bundle."""
    port = free_port()
    var = tmp / f"var-{workers}"
    var.mkdir()
    env = {**os.environ, "OTKLIK_MODELS_DIR": str(models), "OTKLIK_VAR_DIR": str(var), "OTKLIK_HOST": "127.0.0.1",
           "OTKLIK_ADMIN_TOKEN": BENCH_TOKEN}
    log = tmp / f"serve-{workers}.log"
    cmd = [sys.executable, "-m", "serving.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    server = Server(url=f"http://127.0.0.1:{port}", proc=proc, workers=workers, log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"otklik serve exited: {log.read_text(errors='replace')[-2000:]}")
            if server.loaded() >= workers:
                try:
                    if httpx.get(f"{server.url}/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"otklik serve not ready after {START_TIMEOUT_S:.0f} s: "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --- load --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """Seconds from the scheduled time to sending, and from sending to the whole answer; errors."""

    lag: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    dropped: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def bodies(texts: Sequence[str], size: int, count: int, rng: random.Random) -> list[bytes]:
    """`count` request bodies of `size` posts each, drawn from `texts`."""
    out = []
    for n in range(count):
        posts = [{"id": f"b{n}-{i}", "text": rng.choice(texts)} for i in range(size)]
        out.append(json.dumps({"posts": posts}, ensure_ascii=False).encode())
    return out


HEADERS = {"content-type": "application/json"}


async def send(client: httpx.AsyncClient, body: bytes, expect: int, out: Outcome, scheduled: float) -> None:
    start = time.perf_counter()
    try:
        r = await client.post(PATH, content=body, headers=HEADERS)
        await r.aread()
    except httpx.HTTPError as exc:
        out.error(type(exc).__name__)
        return
    end = time.perf_counter()
    if r.status_code != 200:
        out.error(f"HTTP {r.status_code}")
        return
    if expect and r.content.count(b'"needs_review"') != expect:  # cheap: no JSON parsing in the loop
        out.error("wrong number of predictions")
        return
    out.lag.append(start - scheduled)
    out.latency.append(end - start)


def client_for(url: str, connections: int, keepalive: bool = True) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections if keepalive else 0)
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=REQUEST_TIMEOUT_S)


async def open_loop(url: str, payloads: Sequence[bytes], size: int, rate: float, seconds: float,
                    max_in_flight: int) -> Outcome:
    """Send `rate * seconds` requests on a fixed schedule, whatever the answers do."""
    out = Outcome()
    n = int(rate * seconds)
    async with client_for(url, max_in_flight) as client:
        tasks: set[asyncio.Task[None]] = set()
        t0 = time.perf_counter() + 0.05
        for i in range(n):
            scheduled = t0 + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(tasks) >= max_in_flight:
                out.dropped += 1
                continue
            task = asyncio.create_task(send(client, payloads[i % len(payloads)], size, out, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT_S + 5)
    return out


async def closed_loop(url: str, payloads: Sequence[bytes], size: int, clients: int, seconds: float,
                      max_requests: int, keepalive: bool = True) -> tuple[Outcome, float]:
    """`clients` clients send back to back until `seconds` pass or `max_requests` were sent.

    Without keep-alive every request opens a connection, so the kernel hands each to a worker that is
    waiting in accept(): with a few long-lived connections, uvicorn's workers split them unevenly
    (one worker may hold all of them) and a throughput figure would measure that split, not the server."""
    out = Outcome()
    sent = 0
    async with client_for(url, clients, keepalive) as client:
        start = time.perf_counter()
        stop = start + seconds

        async def one_client(k: int) -> None:
            nonlocal sent
            i = k
            while time.perf_counter() < stop and sent < max_requests:
                sent += 1
                await send(client, payloads[i % len(payloads)], size, out, time.perf_counter())
                i += clients

        await asyncio.gather(*(one_client(k) for k in range(clients)))
        elapsed = time.perf_counter() - start
    return out, elapsed


def ms(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1e3, 2) if values else None


def summary(out: Outcome) -> dict[str, Any]:
    waited = [lag + lat for lag, lat in zip(out.lag, out.latency, strict=True)]
    return {
        "ok": len(out.latency), "errors": sum(out.errors.values()), "error_kinds": out.errors,
        "dropped": out.dropped,
        "p50_ms": ms(out.latency, 50), "p90_ms": ms(out.latency, 90), "p99_ms": ms(out.latency, 99),
        "max_ms": ms(out.latency, 100), "p99_from_schedule_ms": ms(waited, 99),
    }


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --- the server's own view ---------------------------------------------------------------------

BUCKET = re.compile(r'^otklik_http_request_seconds_bucket\{(?P<labels>[^}]*)\} (?P<value>\S+)$', re.MULTILINE)


def server_histogram(url: str) -> dict[float, float]:
    """Cumulative counts of the server's latency histogram of POST /v1/predict, by upper bound."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    out: dict[float, float] = {}
    for m in BUCKET.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"]))
        if labels.get("route") == PATH and labels.get("method") == "POST":
            out[float(labels["le"])] = float(m["value"])
    return out


def shares_under(before: dict[float, float], after: dict[float, float], bounds: Sequence[float]) -> dict[str, Any]:
    total = after.get(float("inf"), 0.0) - before.get(float("inf"), 0.0)
    if not total:
        return {}
    return {f"<= {b * 1e3:g} ms": round((after.get(b, 0.0) - before.get(b, 0.0)) / total, 4) for b in bounds}


# --- phases ------------------------------------------------------------------------------------


def run(coro: Any, budget: float) -> Any:
    """Run one phase with a hard time limit."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout=budget)

    return asyncio.run(bounded())


def latency_phase(server: Server, payloads: Sequence[bytes], size: int, rate: float, seconds: float, runs: int,
                  max_in_flight: int, bounds: Sequence[float]) -> dict[str, Any]:
    per_run = []
    for _ in range(runs):
        hist0 = server_histogram(server.url) if server.workers == 1 else {}
        cpu0, srv0 = self_cpu(), server.cpu()
        out = run(open_loop(server.url, payloads, size, rate, seconds, max_in_flight), seconds + REQUEST_TIMEOUT_S + 30)
        cpu1, srv1 = self_cpu(), server.cpu()
        s = summary(out)
        n = max(s["ok"], 1)
        s["client_cpu_ms_per_request"] = round((cpu1 - cpu0) / n * 1e3, 2)
        s["server_cpu_ms_per_request"] = round((srv1 - srv0) / n * 1e3, 2)
        if server.workers == 1:
            s["server_share_under"] = shares_under(hist0, server_histogram(server.url), bounds)
        per_run.append(s)
    return {"rate": rate, "seconds": seconds, "posts_per_request": size, "runs": per_run, **medians(per_run)}


def medians(per_run: Sequence[dict[str, Any]]) -> dict[str, Any]:
    keys = ("p50_ms", "p90_ms", "p99_ms", "max_ms", "p99_from_schedule_ms", "client_cpu_ms_per_request",
            "server_cpu_ms_per_request", "requests_per_s", "posts_per_s", "client_cpu_share", "server_cpu_cores",
            "posts_per_server_cpu_s")
    out: dict[str, Any] = {}
    for key in keys:
        values = [r[key] for r in per_run if r.get(key) is not None]
        if values:
            out[f"median_{key}"] = round(statistics.median(values), 2)
    out["total_errors"] = sum(r["errors"] for r in per_run)
    kinds: dict[str, int] = {}
    for r in per_run:
        for kind, n in r["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    out["total_error_kinds"] = kinds
    out["total_dropped"] = sum(r.get("dropped", 0) for r in per_run)
    out["total_ok"] = sum(r["ok"] for r in per_run)
    return out


def throughput_phase(server: Server, payloads: Sequence[bytes], size: int, clients: int, seconds: float,
                     runs: int) -> dict[str, Any]:
    per_run = []
    for _ in range(runs):
        cpu0, srv0 = self_cpu(), server.cpu()
        out, elapsed = run(closed_loop(server.url, payloads, size, clients, seconds, max_requests=int(seconds * 5000),
                                       keepalive=False),
                           seconds + REQUEST_TIMEOUT_S + 30)
        cpu1, srv1 = self_cpu(), server.cpu()
        s = summary(out)
        s["requests_per_s"] = round(s["ok"] / elapsed, 1)
        s["posts_per_s"] = round(s["ok"] * size / elapsed, 1)
        s["client_cpu_share"] = round((cpu1 - cpu0) / elapsed, 3)  # cores used by the load generator
        s["server_cpu_cores"] = round((srv1 - srv0) / elapsed, 3)
        s["client_cpu_ms_per_request"] = round((cpu1 - cpu0) / max(s["ok"], 1) * 1e3, 2)
        s["server_cpu_ms_per_request"] = round((srv1 - srv0) / max(s["ok"], 1) * 1e3, 2)
        s["posts_per_server_cpu_s"] = round(s["ok"] * size / max(srv1 - srv0, 1e-9), 1)
        per_run.append(s)
    return {"clients": clients, "seconds": seconds, "posts_per_request": size, "runs": per_run, **medians(per_run)}


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


def wrk_phase(server: Server, payloads: Sequence[bytes], seconds: float, connections: int, tmp: Path,
              runs: int) -> dict[str, Any] | None:
    """Throughput by `wrk` (C, Debian's package), when installed: a load generator that takes a small
    share of the two cores, so that the server's scaling is what is measured. Keep-alive connections,
    spread over the workers by the kernel as they connect."""
    if shutil.which("wrk") is None:
        return None
    script = tmp / "wrk.lua"
    quoted = ", ".join("[==[" + p.decode() + "]==]" for p in payloads[:200])
    script.write_text(WRK_SCRIPT % quoted, encoding="utf-8")
    per_run: list[dict[str, Any]] = []
    for _ in range(runs):
        cpu0 = server.cpu()
        started = time.perf_counter()
        done = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), f"{server.url}{PATH}"],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout
        elapsed = time.perf_counter() - started
        rps = re.search(r"Requests/sec:\s+([\d.]+)", done)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done)
        errors_ = re.search(r"Socket errors: (.*)", done)
        per_run.append({
            "requests_per_s": float(rps.group(1)) if rps else 0.0,
            "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors_.group(1) if errors_ else None,
            "server_cpu_cores": round((server.cpu() - cpu0) / elapsed, 3),
        })
    return {
        "connections": connections, "seconds": seconds, "runs": per_run,
        "median_requests_per_s": statistics.median(float(r["requests_per_s"] or 0) for r in per_run),
        "median_server_cpu_cores": statistics.median(float(r["server_cpu_cores"] or 0) for r in per_run),
        "total_non_2xx": sum(int(r["non_2xx"] or 0) for r in per_run),
    }


def warm_up(server: Server, single: Sequence[bytes], batch: Sequence[bytes], clients: int) -> None:
    """Every worker sees traffic (caches, first-request costs) before anything is measured."""
    run(closed_loop(server.url, single, 1, clients, 3.0, 2000), 60)
    run(closed_loop(server.url, batch, BATCH, clients, 2.0, 50), 90)


def rss(server: Server) -> dict[str, Any]:
    workers = server.worker_pids()
    out: dict[str, Any] = {"workers_mb": [round(status_kb(pid, "VmRSS") / 1024, 1) for pid in workers],
                           "workers_peak_mb": [round(status_kb(pid, "VmHWM") / 1024, 1) for pid in workers]}
    if server.workers > 1:
        out["supervisor_mb"] = round(status_kb(server.proc.pid, "VmRSS") / 1024, 1)
    return out


# --- report ------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "meets" if ok else "misses"


def errors(phase: dict[str, Any]) -> str:
    kinds = phase.get("total_error_kinds") or {}
    shown = f" ({', '.join(f'{k}: {n}' for k, n in kinds.items())})" if kinds else ""
    dropped = f", {phase['total_dropped']} dropped" if phase.get("total_dropped") else ""
    return f"{phase['total_errors']}{shown}{dropped}"


def notes(r: dict[str, Any]) -> list[str]:
    """What the figures say about capacity and about the machine, computed from them."""
    w1, w2 = r["workers"]["1"], r["workers"]["2"]
    t1, t2 = w1["throughput_single"], w2["throughput_single"]
    rate = w1["latency_single"]["rate"]
    cpu_ms = t1.get("median_server_cpu_ms_per_request") or 0.0
    out = []
    if cpu_ms:
        need = rate * cpu_ms / 1e3
        out.append(
            f"Capacity: one worker spends {cpu_ms} ms of CPU per single-post request (closed loop), so "
            f"{rate:g} req/s need {need:.2f} cores of Python; a worker is one process held by one GIL (at most one "
            f"core), so " + ("it saturates and the open-loop latency above measures its queue (and the dropped "
                             "requests), not the model." if need > 0.9 else "it keeps up.")
        )
    c1, c2 = t1.get("median_server_cpu_cores") or 0.0, t2.get("median_server_cpu_cores") or 0.0
    e1, e2 = t1.get("median_posts_per_server_cpu_s") or 0.0, t2.get("median_posts_per_server_cpu_s") or 0.0
    if c2 < 1.5:
        client = t2.get("median_client_cpu_share") or 0.0
        out.append(
            f"Scaling: with 2 workers the server got only {c2:.2f} cores of CPU (1 worker: {c1:.2f}); the Python "
            f"load generator took {client:.2f} of the machine's two cores (and other processes, see the load "
            "average, took their share), so the ratio above measures the CPU that was left over, not how the "
            f"server scales. Per server CPU second, 1 worker answered {e1:g} and 2 workers {e2:g} single-post "
            f"requests: the work per request does not grow with the workers."
        )
    k1, k2 = w1.get("wrk_single"), w2.get("wrk_single")
    if k1 and k2:
        ratio = k2["median_requests_per_s"] / k1["median_requests_per_s"] if k1["median_requests_per_s"] else 0.0
        out.append(
            f"Scaling measured with `wrk` (a compiled load generator, {k1['connections']} keep-alive connections, "
            f"1 post/request, medians of {len(k1['runs'])} x {k1['seconds']:g} s): 1 worker "
            f"{k1['median_requests_per_s']:g} req/s on {k1['median_server_cpu_cores']:.2f} cores, 2 workers "
            f"{k2['median_requests_per_s']:g} req/s on {k2['median_server_cpu_cores']:.2f} cores: **{ratio:.2f}x**; "
            f"non-2xx answers: {k1['total_non_2xx'] + k2['total_non_2xx']}."
        )
    return out


def section(r: dict[str, Any], command: str) -> str:
    w1, w2 = r["workers"]["1"], r["workers"]["2"]
    single, batch = w1["latency_single"], w1["latency_batch"]
    lines = [
        HEADING,
        "",
        f"Command: `{command}`; medians of {r['runs']} runs unless said otherwise.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
        f"{r['load_before']} before, {r['load_after']} after (a shared machine: other processes compete for the "
        "two CPUs, and so does the load generator, which runs on the same machine).",
        f"Code: {r.get('code', 'unknown')}. Server: `otklik serve` (uvicorn, one event loop per worker, "
        "`predict` in its thread pool), bundle "
        f"`{r['bundle']}`, every answer with the explanation. Posts: {r['posts']['corpus']:,} corpus texts"
        + (f" and {r['posts']['real']:,} real VK posts (RuSentiment random posts, read only, sent only to 127.0.0.1)"
           if r["posts"]["real"] else "")
        + ". Load generator: asyncio + httpx in one process, keep-alive connections, open loop at most "
        f"{r['max_in_flight']} requests in flight (beyond that a request is dropped, not sent late).",
        "",
        "Latency, open loop, `--workers 1` (ms from sending to the whole answer; \"from schedule\" adds the time "
        "the load generator was late; the server-side shares come from its own Prometheus histogram):",
        "",
        "| load | answered | p50 | p90 | p99 | max | p99 from schedule | errors | server-side share under |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def shares(phase: dict[str, Any]) -> str:
        runs = [x.get("server_share_under") or {} for x in phase["runs"]]
        keys = list(runs[0]) if runs and runs[0] else []
        return ", ".join(f"{k}: {statistics.median(x[k] for x in runs if k in x):.0%}" for k in keys) or "–"

    def row(name: str, phase: dict[str, Any]) -> str:
        return (f"| {name} | {phase['total_ok']:,} | {phase.get('median_p50_ms')} | {phase.get('median_p90_ms')} | "
                f"{phase.get('median_p99_ms')} | {phase.get('median_max_ms')} | "
                f"{phase.get('median_p99_from_schedule_ms')} | {errors(phase)} | {shares(phase)} |")

    for phase in w1.get("latency_curve", []):
        lines.append(row(f"1 post/request at {phase['rate']:g} req/s, 1 x {phase['seconds']:g} s", phase))
    lines.append(row(f"1 post/request at {single['rate']:g} req/s, {r['runs']} x {single['seconds']:g} s", single))
    lines.append(row(f"{BATCH} posts/request at {batch['rate']:g} req/s, {r['runs']} x {batch['seconds']:g} s",
                     batch))
    if "latency_single" in w2:
        p = w2["latency_single"]
        lines.append(row(f"1 post/request at {p['rate']:g} req/s, `--workers 2`, 1 x {p['seconds']:g} s", p))
    lines += [
        "",
        f"CPU per single-post request at {single['rate']:g} req/s: server "
        f"{single.get('median_server_cpu_ms_per_request')} ms, load generator "
        f"{single.get('median_client_cpu_ms_per_request')} ms.",
        "",
        f"Throughput, closed loop, {r['clients']} concurrent clients (a new connection per request, see "
        f"`closed_loop`), {r['throughput_seconds']:g} s per run:",
        "",
        "| payload | workers | requests/s | posts/s | p50 | p99 | errors | server CPU (cores) | "
        "posts per server CPU second | load generator CPU (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in (("throughput_single", "1 post/request"), ("throughput_batch", f"{BATCH} posts/request")):
        for n, w in (("1", w1), ("2", w2)):
            t = w[key]
            lines.append(
                f"| {label} | {n} | {t.get('median_requests_per_s')} | {t.get('median_posts_per_s')} | "
                f"{t.get('median_p50_ms')} | {t.get('median_p99_ms')} | {errors(t)} | "
                f"{t.get('median_server_cpu_cores')} | {t.get('median_posts_per_server_cpu_s')} | "
                f"{t.get('median_client_cpu_share')} |"
            )
    ratio_single = r["ratio"]["single"]
    ratio_batch = r["ratio"]["batch"]
    wrk_ratio = r["ratio"].get("wrk_single")
    lines += [
        "",
        f"Scaling, 2 workers / 1 worker (answered posts/s): **{ratio_single:.2f}x** (1 post/request), "
        f"**{ratio_batch:.2f}x** ({BATCH} posts/request).",
        f"RSS (VmRSS after the runs): `--workers 1`: {', '.join(f'{x:.0f} MB' for x in w1['rss']['workers_mb'])} "
        f"(peak {', '.join(f'{x:.0f}' for x in w1['rss']['workers_peak_mb'])} MB); `--workers 2`: workers "
        f"{', '.join(f'{x:.0f} MB' for x in w2['rss']['workers_mb'])} (peak "
        f"{', '.join(f'{x:.0f}' for x in w2['rss']['workers_peak_mb'])} MB), supervisor "
        f"{w2['rss'].get('supervisor_mb', 0):.0f} MB.",
    ]
    found: dict[str, int] = {}
    for w in (w1, w2):
        for kind, n in (w.get("exceptions") or {}).items():
            found[kind] = found.get(kind, 0) + n
    if found:
        lines += ["", "Unhandled exceptions in the server logs (answered as HTTP 500 or a dropped connection; "
                  "`predict` runs in the worker's thread pool, so concurrent requests run it concurrently):", ""]
        lines += [f"- {n} x `{kind}`" for kind, n in sorted(found.items(), key=lambda kv: -kv[1])[:8]]
        if len(found) > 8:
            lines.append(f"- and {sum(sorted(found.values(), reverse=True)[8:])} more of {len(found) - 8} other kinds")
    lines += ["", *notes(r)]
    lines += [
        "",
        "Against the targets of issue 5:",
        "",
        f"- single post at {single['rate']:g} req/s, p50 <= {TARGET_P50_MS:g} ms: {single.get('median_p50_ms')} ms: "
        f"{verdict((single.get('median_p50_ms') or 1e9) <= TARGET_P50_MS)}; p99 <= {TARGET_P99_MS:g} ms: "
        f"{single.get('median_p99_ms')} ms: {verdict((single.get('median_p99_ms') or 1e9) <= TARGET_P99_MS)};",
        f"- batch of {BATCH}, p99 <= {TARGET_BATCH_P99_MS:g} ms: {batch.get('median_p99_ms')} ms: "
        f"{verdict((batch.get('median_p99_ms') or 1e9) <= TARGET_BATCH_P99_MS)};",
        f"- 2 workers >= {TARGET_SCALING}x 1 worker: {ratio_single:.2f}x single, {ratio_batch:.2f}x batch: "
        f"{verdict(ratio_single >= TARGET_SCALING)} / {verdict(ratio_batch >= TARGET_SCALING)}"
        + (f"; with `wrk`, single: {wrk_ratio:.2f}x: {verdict(wrk_ratio >= TARGET_SCALING)}" if wrk_ratio else "")
        + ";",
        "- no errors: " + ("none" if not any(
            p.get("total_errors") for w in (w1, w2) for k, p in w.items()
            if isinstance(p, dict) and "total_errors" in p) else "**errors, see above**") + ".",
    ]
    if r.get("notes"):
        lines += ["", *r["notes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    ap.add_argument("--data", type=Path, default=DATA, help="the shared reference data folder")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rate", type=float, default=100.0, help="single-post requests per second (open loop)")
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of one open-loop run")
    ap.add_argument("--batch-rate", type=float, default=3.0, help="requests of 100 posts per second (open loop)")
    ap.add_argument("--max-in-flight", type=int, default=64)
    ap.add_argument("--curve", type=lambda v: [float(x) for x in v.split(",") if x], default=[25.0, 50.0],
                    help="lower single-post rates for one run each, comma-separated (default 25,50)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients of the closed loop")
    ap.add_argument("--throughput-seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = ap.parse_args()
    bundle = args.bundle
    if not (bundle / "meta.json").is_file():
        sys.exit(f"no model bundle at {bundle}; train one with `otklik train` or pass --bundle DIR")
    deadline = time.monotonic() + HARD_LIMIT_S
    log = lambda m: print(f"· {m}", file=sys.stderr)  # noqa: E731

    rng = random.Random(args.seed)
    corpus, real = corpus_texts(), real_texts(args.data)
    texts = corpus + real
    single = bodies(texts, 1, 5000, rng)
    batch = bodies(texts, BATCH, 200, rng)
    load_before = uptime()
    bounds = (0.01, 0.03, 0.15)
    report: dict[str, Any] = {"runs": args.runs, "clients": args.clients, "throughput_seconds": args.throughput_seconds,
                              "max_in_flight": args.max_in_flight, "code": code_version(),
                              "posts": {"corpus": len(corpus), "real": len(real)}, "load_before": load_before,
                              "workers": {}}
    with tempfile.TemporaryDirectory(prefix="otklik-bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        models = models_dir_for(bundle, tmp)
        for workers in (1, 2):
            if time.monotonic() > deadline:
                sys.exit("bench.api: over its time limit")
            log(f"otklik serve --workers {workers}")
            with running_server(models, workers, tmp) as server:
                report["bundle"] = httpx.get(f"{server.url}/v1/model", timeout=5,
                                               headers={"Authorization": f"Bearer {BENCH_TOKEN}"}).json()["id"]
                warm_up(server, single, batch, args.clients)
                phases: dict[str, Any] = {}
                if workers == 1:
                    log(f"latency: 1 post/request at {args.rate:g}/s, {args.runs} x {args.seconds:g} s")
                    phases["latency_single"] = latency_phase(server, single, 1, args.rate, args.seconds, args.runs,
                                                             args.max_in_flight, bounds)
                    phases["latency_curve"] = []
                    for rate in args.curve:
                        log(f"latency: 1 post/request at {rate:g}/s, 1 x {args.seconds:g} s")
                        phases["latency_curve"].append(latency_phase(server, single, 1, rate, args.seconds, 1,
                                                                     args.max_in_flight, bounds))
                    log(f"latency: {BATCH} posts/request at {args.batch_rate:g}/s")
                    phases["latency_batch"] = latency_phase(server, batch, BATCH, args.batch_rate, args.seconds,
                                                            args.runs, args.max_in_flight, bounds)
                for key, payloads, size in (("throughput_single", single, 1), ("throughput_batch", batch, BATCH)):
                    log(f"throughput: {key}, {args.clients} clients, {args.runs} x {args.throughput_seconds:g} s")
                    phases[key] = throughput_phase(server, payloads, size, args.clients, args.throughput_seconds,
                                                   args.runs)
                log(f"throughput: wrk, 1 post/request, 16 connections, {args.runs} x {args.throughput_seconds:g} s")
                phases["wrk_single"] = wrk_phase(server, single, args.throughput_seconds, 16, tmp, args.runs)
                if workers == 2:
                    log(f"latency: 1 post/request at {args.rate:g}/s, 1 x {args.seconds:g} s")
                    phases["latency_single"] = latency_phase(server, single, 1, args.rate, args.seconds, 1,
                                                             args.max_in_flight, bounds)
                phases["rss"] = rss(server)
                phases["exceptions"] = server.exceptions()
                report["workers"][str(workers)] = phases
    w1, w2 = report["workers"]["1"], report["workers"]["2"]

    def ratio(key: str) -> float:
        a = w1[key].get("median_posts_per_s") or 0.0
        b = w2[key].get("median_posts_per_s") or 0.0
        return round(b / a, 3) if a else 0.0

    report["ratio"] = {"single": ratio("throughput_single"), "batch": ratio("throughput_batch")}
    if w1.get("wrk_single") and w2.get("wrk_single"):
        a, b = w1["wrk_single"]["median_requests_per_s"], w2["wrk_single"]["median_requests_per_s"]
        report["ratio"]["wrk_single"] = round(b / a, 3) if a else 0.0
    report["load_after"] = uptime()
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.write:
        shown = [] if bundle.resolve() == DEFAULT_BUNDLE.resolve() else [f"--bundle {shlex.quote(str(bundle))}"]
        defaults = {"runs": 3, "rate": 100.0, "seconds": 20.0, "batch_rate": 3.0, "clients": 8,
                    "throughput_seconds": 10.0}
        flags = [f"--{k.replace('_', '-')} {getattr(args, k):g}" for k, v in defaults.items() if getattr(args, k) != v]
        if args.curve != [25.0, 50.0]:
            flags.append(f"--curve {','.join(f'{x:g}' for x in args.curve)}")
        command = " ".join([".venv/bin/python -m bench.api", *shown, *flags, "--write"])
        write_results(section(report, command), HEADING)
        log("written to bench/RESULTS.md")


if __name__ == "__main__":
    main()
