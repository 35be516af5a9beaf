"""A real `otklik serve` process on 127.0.0.1 for tests that need real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str], log: Path, workers: int = 1, timeout: float = 60.0) -> Iterator[str]:
    """Start the server, wait until /ready, yield its URL; its JSON log goes to `log`."""
    with server_process(env, log, workers, timeout) as (url, _):
        yield url


@contextmanager
def server_process(env: dict[str, str], log: Path, workers: int = 1, timeout: float = 60.0,
                   ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`running_server` that also yields the process, for tests that signal it."""
    port = free_port()
    full_env = {**os.environ, **env}
    cmd = [sys.executable, "-m", "serving.cli", "serve", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=sink,
                                cwd=Path(__file__).resolve().parents[2])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready")
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
