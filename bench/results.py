"""bench/RESULTS.md: each benchmark owns one section and replaces only that one."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_results(text: str, heading: str) -> None:
    """Replace (or append) the section `heading` with `text`; the file is read right before writing,
    so benchmarks run one after another (or by several people) keep each other's sections."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(current):
        current = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", current).rstrip("\n") + "\n"
    else:
        current = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    RESULTS.write_text(current, encoding="utf-8")
