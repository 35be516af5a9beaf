"""The project as a user installs it: a wheel with the extras `make run` installs and nothing of `dev`,
every module imported, and the commands a user runs first.

`make test` runs it after pytest, whose venv has the dev extras and so cannot see a package the code
imports but only `dev` declares. Steps:
1. build the wheel from a copy of the sources;
2. install it with RUN_EXTRAS into a venv made from scratch for the declared requirements: the venv is
   kept in ~/.cache/otklik-runtime under a hash of the core's and RUN_EXTRAS' requirement lists and the
   Python version, so a changed list gets a new venv (from pip's cache) and an unchanged one only
   reinstalls the wheel;
3. import every module of model/, training/ and serving/ from the installed wheel: model/ must import
   nothing of the web, the database or MLflow, and no module imports MLflow at import time;
4. `otklik --help`; `otklik train` of a small bundle, tracked and registered in MLflow (SQLite), and the
   registry's `champion` alias; `otklik predict` on a few posts; `otklik monitor --once` against the
   fake VK of the connector tests on 127.0.0.1.

Run it with the dev venv's python (it borrows the fake VK from tests/): `.venv/bin/python .ci/runtime_check.py`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serving.connectors.fakes import FakeVk  # noqa: E402  (the repository is put on the path just above)

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
RUN_EXTRAS = "train"  # what `make run` installs: serving and `otklik train`
WHEEL_SOURCES = ("pyproject.toml", "README.md", "model", "training", "serving")
CORPUS_ROWS = 150  # per corpus file of the small bundle: enough for every head, trained in seconds
CORPUS_FILES = ("housing_improvement_waste.jsonl", "roads_transport_construction_safety.jsonl",
                "not_relevant_short.jsonl", "not_relevant_chatter.jsonl")
POSTS = [
    "Третий день нет горячей воды на Гайве, управляющая компания трубку не берёт",
    "Во дворе на улице Пушкина в Перми огромная яма на дороге, машины проваливаются",
    "Продаю велосипед, почти новый, недорого",
    "Мусор не вывозят вторую неделю, контейнеры переполнены",
]

IMPORTS = """
import importlib, pkgutil, sys

def walk(package):
    importlib.import_module(package)
    found = [package]
    for info in pkgutil.walk_packages(sys.modules[package].__path__, package + "."):
        if info.name == "serving.store.migrations.env":  # alembic's script: runs only inside alembic
            continue
        importlib.import_module(info.name)
        found.append(info.name)
    return found

def loaded(*names):
    return sorted(n for n in names if n in sys.modules)

modules = walk("model")
outside = loaded("fastapi", "starlette", "sqlalchemy", "mlflow", "serving", "training")
assert not outside, f"model/ imports {outside}: it is the pure library"
import serving.app, serving.cli
assert not loaded("mlflow"), "serving's app or CLI imports mlflow at import time: keep it in the ML commands"
modules += walk("serving") + walk("training")
assert not loaded("mlflow"), "a module imports mlflow at import time: import it where a run is tracked"
origin = sys.modules["serving"].__file__
assert "site-packages" in origin, f"serving was imported from {origin}, not from the installed wheel"
print(len(modules))
"""

REGISTRY = """
import sys
from training.registry import Registry
registry = Registry(sys.argv[1], "otklik")
bundle = sys.argv[2]
assert registry.version_of(bundle) is not None, "the trained bundle has no registered version"
registry.set_champion(bundle)
assert registry.champion() == bundle
"""

SOURCES = """
[[source]]
id = "vk-perm"
network = "vk"
base_url = "{url}/method"
token_env = "OTKLIK_CHECK_VK_TOKEN"
queries = ["жалоба"]
region = "perm-krai"
page_size = 2
"""


class CheckFailed(Exception):
    pass


def run(cmd: list[str | Path], env: dict[str, str] | None = None, stdin: str | None = None,
        cwd: Path | None = None, timeout: float = 600) -> str:
    shown = " ".join(str(c) if "\n" not in str(c) else "<script>" for c in cmd)
    done = subprocess.run([str(c) for c in cmd], env=env, input=stdin, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise CheckFailed(f"`{shown}` exited with {done.returncode}:\n{done.stderr[-4000:]}{done.stdout[-2000:]}")
    return done.stdout


def step(name: str, started: float) -> None:
    print(f"runtime check: {name} ({time.monotonic() - started:.1f} s)", flush=True)


def venv_for_requirements() -> tuple[Path, bool]:
    """The venv for the declared run-time requirements, and whether it holds them already."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project.get("optional-dependencies", {}).get(RUN_EXTRAS, []), sys.version]
    key = hashlib.sha256("\n".join(declared).encode()).hexdigest()[:16]
    cache = CACHE / "otklik-runtime"
    venv = cache / key
    if (venv / "complete").exists():
        return venv, True
    if cache.exists():  # venvs of other requirement lists: a stale one must never be used
        for old in cache.iterdir():
            shutil.rmtree(old, ignore_errors=True)
    return venv, False


def install(work: Path) -> Path:
    """The wheel of this tree with RUN_EXTRAS in the venv of its requirements; returns the venv's bin."""
    started = time.monotonic()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    source = work / "src"  # what the wheel is built from, copied: the build leaves nothing in the tree
    source.mkdir()
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        else:
            shutil.copy2(ROOT / name, source / name)
    run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", work / "dist", source])
    wheel = next((work / "dist").glob("otklik-*.whl"))
    step(f"built {wheel.name}", started)
    venv, ready = venv_for_requirements()
    target = [*pip, "--python", venv / "bin" / "python", "install", "--quiet"]
    if ready:
        run([*target, "--no-deps", "--force-reinstall", wheel])
        step(f"reinstalled the wheel into the venv of the same requirements ({venv})", started)
    else:
        run([sys.executable, "-m", "venv", "--without-pip", venv])
        run([*target, f"{wheel}[{RUN_EXTRAS}]"])
        (venv / "complete").touch()
        step(f"installed with [{RUN_EXTRAS}] into a new venv ({venv})", started)
    return venv / "bin"


def small_config(work: Path) -> Path:
    corpus = work / "corpus"
    corpus.mkdir()
    for name in CORPUS_FILES:
        lines = (ROOT / "annotations" / "corpus" / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (corpus / name).write_text("".join(lines[:CORPUS_ROWS]), encoding="utf-8")
    text = (ROOT / "training" / "configs" / "default.toml").read_text(encoding="utf-8")
    for old, new in (('"annotations/corpus"', json.dumps(str(corpus))),
                     ('"annotations/', json.dumps(str(ROOT / "annotations"))[:-1] + "/"),
                     ("cv_folds = 5", "cv_folds = 2"), ("embedding_weight = 0.6", "embedding_weight = 0.0"),
                     ('reference_data = "../shared/data"', 'reference_data = ""')):
        assert old in text, f"the default training config has no {old}"
        text = text.replace(old, new)
    path = work / "small.toml"
    path.write_text(text, encoding="utf-8")
    return path


def check(work: Path) -> None:
    started = time.monotonic()
    bin_dir = install(work)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTKLIK_", "PYTHON", "VIRTUAL_ENV", "MLFLOW_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", OTKLIK_VAR_DIR=str(work / "var"),
               OTKLIK_ANNOTATIONS_DIR=str(ROOT / "annotations"))
    count = run([bin_dir / "python", "-c", IMPORTS], env, cwd=work).strip()
    step(f"imported {count} modules of model/, serving/ and training/", started)
    run([bin_dir / "otklik", "--help"], env, cwd=work)

    out = run([bin_dir / "otklik", "train", "--config", small_config(work)], env, cwd=work)
    bundle = out.split("bundle ", 1)[1].split(" ", 1)[0]
    assert "mlflow run" in out, out
    run([bin_dir / "python", "-c", REGISTRY, f"sqlite:///{work / 'var' / 'mlflow.db'}", bundle], env, cwd=work)
    step(f"trained {bundle}, tracked and registered in MLflow", started)

    posts = "".join(json.dumps({"id": str(n), "text": t}, ensure_ascii=False) + "\n" for n, t in enumerate(POSTS))
    answers = [json.loads(line) for line in run([bin_dir / "otklik", "predict"], env, posts, work).splitlines()]
    if [a.get("id") for a in answers] != [str(n) for n in range(len(POSTS))] or \
            not all(isinstance(a.get("relevant", {}).get("score"), float) for a in answers):
        raise CheckFailed(f"otklik predict answered {answers}")
    step(f"predicted {len(answers)} posts", started)

    vk_posts = [{"id": 100 + n, "owner_id": -555, "from_id": 7000 + n, "date": 1_764_000_000 + 60 * n, "text": t}
                for n, t in enumerate(POSTS)]
    with FakeVk("check-token", vk_posts) as vk:
        sources = work / "sources.toml"
        sources.write_text(SOURCES.format(url=vk.url), encoding="utf-8")
        summary = json.loads(run([bin_dir / "otklik", "monitor", "--once"],
                                 {**env, "OTKLIK_SOURCES_FILE": str(sources), "OTKLIK_CHECK_VK_TOKEN": "check-token"},
                                 cwd=work))
    source = summary["sources"][0]
    if (source["status"], source["fetched"], source["created"]) != ("ok", len(POSTS), len(POSTS)):
        raise CheckFailed(f"otklik monitor --once: {summary}")
    step(f"monitored the fake VK: {source['fetched']} posts, {source['incidents']} incidents", started)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="otklik-runtime-"))
    lock = CACHE / "otklik-runtime.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        with lock.open("w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)  # one check at a time uses (or replaces) the cached venvs
            check(work)
    except CheckFailed as exc:
        print(f"runtime check FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
