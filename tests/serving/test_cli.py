"""The `otklik` console script, run for real in subprocesses against the session bundle.

Every command is checked end to end: what goes in on stdin or in a file, what comes out on stdout,
the exit code, and the message on stderr when the input is wrong.

Each test's invocation is declared right above it with `@invocation(name)`. The `cli` fixture starts
all of them at once (they are independent, and each pays seconds of imports and bundle loading);
`cli.run(name)` waits for one.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from model.bundle import PIPELINE, Bundle
from model.predictor import Predictor
from model.records import Post
from model.region import Region
from tests.conftest import ANNOTATIONS, ROOT
from training.corpus import read_corpus, read_eval_jsonl
from training.evaluate import evaluate
from training.promobot import read_promobot
from training.report import markdown_counts
from training.train import TrainResult

SCRIPT = Path(sys.executable).with_name("otklik")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "serving.cli"]


@dataclass(frozen=True)
class Invocation:
    args: list[str]
    stdin: str = ""


@dataclass(frozen=True)
class Run:
    """A finished invocation and the scratch folder its input files were written to."""

    result: subprocess.CompletedProcess[str]
    work: Path

    @property
    def stdout(self) -> str:
        return self.result.stdout

    def ok(self) -> str:
        assert self.result.returncode == 0, self.result.stderr
        return self.result.stdout

    def failed(self) -> str:
        """The message of a run that must have failed cleanly, rich's box drawing flattened."""
        assert self.result.returncode != 0, self.result.stdout
        assert "Traceback" not in self.result.stderr, self.result.stderr
        return " ".join(self.result.stderr.replace("│", " ").split())


Builder = Callable[[Path, Bundle], Invocation]
INVOCATIONS: dict[str, Builder] = {}


def invocation(name: str) -> Callable[[Builder], Builder]:
    """Register how to run one test's command; the builder may write input files into its folder."""

    def register(build: Builder) -> Builder:
        INVOCATIONS[name] = build
        return build

    return register


class Runs:
    def __init__(self, jobs: dict[str, tuple[Future[subprocess.CompletedProcess[str]], Path]]) -> None:
        self.jobs = jobs

    def run(self, name: str) -> Run:
        job, work = self.jobs[name]
        return Run(job.result(), work)


def otklik(env: dict[str, str], how: Invocation) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *how.args], input=how.stdin, env=env, cwd=ROOT, capture_output=True, text=True,
        encoding="utf-8", timeout=300, check=False,
    )


@pytest.fixture(scope="module")
def cli(trained: TrainResult, bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    outer = {k: v for k, v in os.environ.items() if not k.startswith("OTKLIK_")}
    env = {
        **outer,
        "OTKLIK_MODELS_DIR": str(trained.bundle.parent),
        "OTKLIK_VAR_DIR": str(tmp_path_factory.mktemp("cli-var")),
        "COLUMNS": "250",  # typer boxes usage errors with rich: do not wrap long paths
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = {}
        for name, build in INVOCATIONS.items():
            work = tmp_path_factory.mktemp(name)
            jobs[name] = (pool.submit(otklik, env, build(work, bundle)), work)
        yield Runs(jobs)


def jsonl(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines()]


def close(got: Any, want: Any, path: str = "") -> None:
    """Equal, except that floats may differ by rounding noise between processes and batch sizes."""
    if isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
        assert got == pytest.approx(want, abs=2e-4), path
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (path, got, want)
        for key in want:
            close(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list | tuple):
        assert isinstance(got, list) and len(got) == len(want), (path, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            close(g, w, f"{path}[{i}]")
    else:
        assert got == want, (path, got, want)


def lines_of(rows: list[Any]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


# --- otklik predict ---------------------------------------------------------------------------------

HOT_WATER = "Третий день нет горячей воды в Березниках, управляющая компания трубку не берёт"
BIRTHDAY = "С днём рождения, сестрёнка! 🎂"
EKB = "В Екатеринбурге на Уралмаше разбитая дорога, ямы по колено"
FIELDS = {"id", "relevant", "topic", "agency", "municipality", "rules", "needs_review", "explanation", "model"}


@invocation("predict")
def _(work: Path, bundle: Bundle) -> Invocation:
    lines = [
        json.dumps({"id": "vk-1", "text": HOT_WATER, "network": "vk"}, ensure_ascii=False),
        '{"id": "broken", "text": ',
        json.dumps({"id": "no-text"}),
        "",  # blank lines are skipped but still counted
        json.dumps({"id": "blank", "text": "  \t "}),
        json.dumps({"id": "mars", "text": "Яма на дороге", "region": "mars"}, ensure_ascii=False),
        json.dumps({"id": 7, "text": BIRTHDAY}, ensure_ascii=False),
        json.dumps({"id": "ekb", "text": EKB, "region": "sverdlovsk-oblast"}, ensure_ascii=False),
        json.dumps({"id": "net", "text": "Яма на дороге", "network": "myspace"}, ensure_ascii=False),
        json.dumps(["not", "an", "object"]),
    ]
    # batches of 2 put error lines and posts on both sides of a batch boundary
    return Invocation(["predict", "--batch", "2"], stdin="\n".join(lines) + "\n")


def test_predict_answers_every_line_in_input_order(cli: Runs, predictor: Predictor, bundle: Bundle) -> None:
    out = jsonl(cli.run("predict").ok())
    assert [o.get("id") for o in out] == ["vk-1", None, "no-text", "blank", "mars", "7", "ekb", "net", 10]

    want = predictor.predict([
        Post(id="vk-1", text=HOT_WATER, network="vk"),
        Post(id="7", text=BIRTHDAY),
        Post(id="ekb", text=EKB, region="sverdlovsk-oblast"),
    ])
    for got, expected in zip([out[0], out[5], out[6]], want, strict=True):
        assert set(got) == FIELDS
        close(got, expected.to_json())
        assert got["model"] == bundle.id
    vk, birthday, ekb = out[0], out[5], out[6]
    assert vk["relevant"]["label"] is True and vk["topic"]["label"] == "housing"
    assert vk["municipality"] == {"code": "57708000", "name": "Березники", "others": []}
    assert vk["agency"]["body"] and len(vk["topic"]["top"]) == 3
    assert birthday["relevant"]["label"] is False
    assert ekb["municipality"]["code"] == "65701000"

    assert set(out[1]) == {"line", "error"} and out[1]["line"] == 2
    assert out[1]["error"].startswith("line 2: not valid JSON")
    assert out[2] == {"id": "no-text", "line": 3, "error": "'text' is required and must be a string"}
    assert out[3] == {"id": "blank", "line": 5, "error": "text is empty or only whitespace"}
    assert out[4] == {"id": "mars", "line": 6,
                      "error": "unknown region 'mars'; known regions: kursk-oblast, perm-krai, sverdlovsk-oblast"}
    assert out[7]["id"] == "net" and out[7]["line"] == 9
    assert out[7]["error"].startswith("'network' must be one of vk, ok")
    assert out[8] == {"id": 10, "line": 10, "error": "expected a JSON object with 'id' and 'text'"}


@invocation("predict-tampered")
def _(work: Path, bundle: Bundle) -> Invocation:
    copy = work / bundle.id
    shutil.copytree(bundle.path, copy)
    # Not a pickle at all: a loader that unpickled before verifying would crash with a traceback.
    (copy / PIPELINE).write_bytes(b"this is not the pipeline that was written")
    return Invocation(["predict", "--bundle", str(copy)], stdin=lines_of([{"id": "1", "text": "яма"}]))


def test_predict_refuses_a_tampered_bundle(cli: Runs, bundle: Bundle) -> None:
    run = cli.run("predict-tampered")
    message = run.failed()
    assert run.stdout == ""
    assert f"{(run.work / bundle.id).resolve()} failed verification" in message
    assert f"{PIPELINE} changed (sha256 mismatch)" in message
    assert "retrain with `otklik train`" in message


# --- otklik evaluate --------------------------------------------------------------------------------

EVAL_ROWS = [
    {"text": "В Соликамске на улице Северной огромные ямы, подвеску уже разбили", "relevant": True,
     "topic": "roads", "agency": "municipality", "municipality": "57730000"},
    {"text": "Третий день нет горячей воды, управляющая компания молчит", "relevant": True,
     "topic": "housing", "agency": "housing_inspection", "municipality": None},
    {"text": "В поликлинике Чайковского к терапевту не записаться, талонов нет", "relevant": True,
     "topic": "health", "agency": "health_ministry", "municipality": "57735000"},
    {"text": "Мусор с площадки не вывозят вторую неделю, контейнеры переполнены", "relevant": True,
     "topic": "waste", "agency": "waste_operator"},
    {"text": "Всем хороших выходных и солнечной погоды!", "relevant": False},
    {"text": "Продам зимнюю резину, почти новая, недорого", "relevant": False},
    {"text": "Спасибо учителям нашей школы за праздник", "relevant": False},
]


@invocation("evaluate-jsonl")
def _(work: Path, bundle: Bundle) -> Invocation:
    (work / "posts.jsonl").write_text(lines_of(EVAL_ROWS), encoding="utf-8")
    return Invocation(["evaluate", "--data", str(work / "posts.jsonl")])


def test_evaluate_jsonl_prints_one_object_with_every_head(cli: Runs, predictor: Predictor) -> None:
    run = cli.run("evaluate-jsonl")
    [report] = jsonl(run.ok())
    assert {"model", "rows", "relevance", "topic", "agency", "municipality", "needs_review_share"} <= set(report)
    assert report["model"] == predictor.bundle.id and report["rows"] == len(EVAL_ROWS)
    assert report["relevance"]["support"] == {"relevant": 4, "not_relevant": 3}
    assert report["topic"]["support"] == report["agency"]["support"] == 4
    assert report["municipality"]["support"] == {"named": 2, "unnamed": 2}
    rows, has_municipality = read_eval_jsonl(run.work / "posts.jsonl")
    close(report, evaluate(predictor, rows, has_municipality))


PROMOBOT_ROWS = [
    ("Город Пермь", "Дороги", "На улице Героев Хасана яма на яме, весной вообще не проехать", "Ямы"),
    ("ИГЖН ПК", "ЖКХ", "Управляющая компания второй месяц не чинит протекающую крышу над нашим подъездом",
     "Кровля"),
    ("Министерство здравоохранения", "Здравоохранение/Медицина",
     "В больнице нет невролога, запись только через месяц", "Запись к врачу"),
    ("АО ПРО ТКО", "Мусор/Свалки/ТКО", "Контейнерную площадку не убирают, мусор разносит ветер по двору",
     "Вывоз ТКО"),
    ("Министерство образования", "Образование", "В детском саду нет мест, очередь стоит третий год",
     "Детские сады"),
    ("Неизвестный исполнитель", "Прочее", "Просим установить скамейки у памятника на площади", "Прочее"),
    ("Город Пермь", "Благоустройство", "   ", "Без текста"),  # no text: skipped
]


@invocation("evaluate-promobot")
def _(work: Path, bundle: Bundle) -> Invocation:
    with (work / "appeals.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["Исполнитель", "Группа тем", "Текст инцидента", "Тема"])
        writer.writerows(PROMOBOT_ROWS)
    return Invocation(["evaluate", "--data", str(work / "appeals.csv"), "--format", "promobot"])


def test_evaluate_promobot_csv(cli: Runs, predictor: Predictor) -> None:
    run = cli.run("evaluate-promobot")
    [report] = jsonl(run.ok())
    assert report["rows"] == 6
    assert report["relevance"]["support"] == {"relevant": 6, "not_relevant": 0}
    # a group or body missing from the mapping tables is left unscored, not guessed
    assert report["topic"]["support"] == report["agency"]["support"] == 5
    assert "municipality" not in report
    close(report, evaluate(predictor, read_promobot(run.work / "appeals.csv"), False))


BAD_EVAL_INPUT = {
    # case: (file name, content or None for a missing file, --format, expected message)
    "missing-file": ("missing.jsonl", None, "jsonl", "missing.jsonl' does not exist"),
    "bad-json": ("broken.jsonl", '{"text": "яма", "relevant": true}\n{"text": "ямы\n', "jsonl",
                 "broken.jsonl:2: not valid JSON"),
    "missing-text": ("no-text.jsonl", '{"text": "яма"}\n\n{"relevant": true, "topic": "roads"}\n', "jsonl",
                     "no-text.jsonl:3: missing required field 'text'"),
    "promobot-header": ("header.csv", "Исполнитель;Текст инцидента\nГород Пермь;яма\n", "promobot",
                        "missing column(s) Группа тем"),
}


def _bad_eval(case: str) -> Builder:
    def build(work: Path, bundle: Bundle) -> Invocation:
        name, content, fmt, _ = BAD_EVAL_INPUT[case]
        if content is not None:
            (work / name).write_text(content, encoding="utf-8")
        return Invocation(["evaluate", "--data", str(work / name), "--format", fmt])

    return build


for _case in BAD_EVAL_INPUT:
    invocation(f"evaluate-{_case}")(_bad_eval(_case))


@pytest.mark.parametrize("case", list(BAD_EVAL_INPUT))
def test_evaluate_refuses_bad_input_naming_the_line(cli: Runs, case: str) -> None:
    run = cli.run(f"evaluate-{case}")
    assert run.stdout == ""
    assert BAD_EVAL_INPUT[case][3] in run.failed()


SUITE_MISUSE = {
    "nothing": (["evaluate"], "say what to evaluate: --data FILE or --suite real"),
    "both": (["evaluate", "--suite", "real", "--data", "README.md"], "--suite and --data exclude each other"),
    "holdout": (["evaluate", "--suite", "real", "--holdout", "mars", "--no-track"],
                "unknown source group(s) mars; known: corpus, kursk"),
}
for _case, (_args, _) in SUITE_MISUSE.items():
    invocation(f"suite-{_case}")(lambda work, bundle, a=_args: Invocation(list(a)))


@pytest.mark.parametrize("case", list(SUITE_MISUSE))
def test_evaluate_says_what_is_wrong_with_its_options(cli: Runs, case: str) -> None:
    run = cli.run(f"suite-{case}")
    assert run.stdout == ""
    assert SUITE_MISUSE[case][1] in run.failed()


# --- otklik match -----------------------------------------------------------------------------------

MATCH_POSTS = [
    {"id": "1", "text": "Ямы на дорогах как после бомбёжки"},
    {"id": "2", "text": "Купили новую дорогу... то есть дорожку для бега"},
    {"id": "3", "text": "Дорога вся в ямах"},
    {"id": "4", "text": "С праздником!"},
]
RULES = """\
rules:
  - id: pits
    topic: roads
    query: 'яма NEAR/3 дорога'
  - id: roads-any
    topic: roads
    query: 'дорог*'
  - id: greeting
    query: '=праздником'
"""


@invocation("match-query")
def _(work: Path, bundle: Bundle) -> Invocation:
    return Invocation(["match", "--query", "яма NEAR/3 дорога"], stdin=lines_of(MATCH_POSTS) + "not json\n")


def test_match_query_prints_only_matching_posts(cli: Runs) -> None:
    run = cli.run("match-query")
    assert jsonl(run.ok()) == [
        {"id": "1", "rules": ["query"], "spans": [[0, 3], [7, 14]]},
        {"id": "3", "rules": ["query"], "spans": [[0, 6], [13, 17]]},
    ]
    assert "line 5: expected a JSON object with 'id' and 'text'; skipped" in run.result.stderr


@invocation("match-rules")
def _(work: Path, bundle: Bundle) -> Invocation:
    (work / "rules.yaml").write_text(RULES, encoding="utf-8")
    return Invocation(["match", "--rules", str(work / "rules.yaml")], stdin=lines_of(MATCH_POSTS))


def test_match_rules_file(cli: Runs) -> None:
    out = jsonl(cli.run("match-rules").ok())
    assert [(o["id"], o["rules"]) for o in out] == [
        ("1", ["pits", "roads-any"]), ("2", ["roads-any"]), ("3", ["pits", "roads-any"]), ("4", ["greeting"]),
    ]
    assert all(set(o) == {"id", "rules", "spans"} for o in out)
    assert out[3]["spans"] == [[2, 12]]


BAD_MATCH = {
    # case: (arguments, rules file content or None, expected message)
    "query": (["--query", "яма AND (дорога"], None,
              "expected ')' to close the '(' at position 8, got end of query (at position 15)"),
    "near": (["--query", "яма NEAR/x дорога"], None, "NEAR/n with a whole number of words n >= 1, e.g. NEAR/3 "
             "(at position 4)"),
    "rules-file": (["--rules"], "rules:\n  - id: broken\n    query: 'яма OR'\n",
                   "rule 'broken': query syntax error at position 6"),
    "both": (["--query", "яма", "--rules"], "rules: []\n", "give exactly one of --query or --rules"),
}


def _bad_match(case: str) -> Builder:
    def build(work: Path, bundle: Bundle) -> Invocation:
        args, rules, _ = BAD_MATCH[case]
        if rules is not None:
            (work / "rules.yaml").write_text(rules, encoding="utf-8")
            args = [*args, str(work / "rules.yaml")]
        return Invocation(["match", *args], stdin=lines_of(MATCH_POSTS))

    return build


for _case in BAD_MATCH:
    invocation(f"match-{_case}-error")(_bad_match(_case))


@pytest.mark.parametrize("case", list(BAD_MATCH))
def test_match_syntax_error_names_the_position(cli: Runs, case: str) -> None:
    run = cli.run(f"match-{case}-error")
    assert run.stdout == ""
    assert BAD_MATCH[case][2] in run.failed()


# --- otklik corpus-stats ----------------------------------------------------------------------------


@invocation("corpus-stats")
def _(work: Path, bundle: Bundle) -> Invocation:
    return Invocation(["corpus-stats"])


def test_corpus_stats_prints_the_counts_of_the_corpus(cli: Runs, perm: Region) -> None:
    out = cli.run("corpus-stats").ok()
    names = {m.oktmo: m.name for m in perm.municipalities}
    assert out == markdown_counts(read_corpus(ANNOTATIONS / "corpus"), names) + "\n"
    assert out.startswith("Hand-written rows: **")
    assert "| `housing` |" in out and "| Пермь | 57701000 |" in out
