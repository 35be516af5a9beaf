"""The input rules (`serving.validation`, `serving.limits.strict_json`) as tables, and the same rules at
the doors that are not HTTP: the connectors' `make_post`, `otklik ingest` and `otklik predict`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from serving.connectors.base import make_post
from serving.connectors.config import SourceConfig
from serving.limits import BadJson, strict_json
from serving.settings import Settings
from serving.validation import id_in_range, jsonable, published_problem, text_problem, unicode_problem, url_problem
from tests.serving.test_cli_store import env as env
from tests.serving.test_cli_store import run
from tests.serving.test_incidents_api import POTHOLE, wire

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)


def test_the_text_limit_is_vks_own() -> None:
    assert Settings.model_fields["max_text_chars"].default == 16_384


@pytest.mark.parametrize(("text", "words"), [
    ("Яма у дома", None),
    ("👍", None),  # an emoji is a visible symbol
    ("", "empty"),
    (" \n\t\u00a0", "empty"),
    ("\u200b\u200c\u200d\u2060\ufeff", "no visible character"),
    ("\u200b \u200b", "no visible character"),
    ("\u0301\u0301", "no visible character"),  # combining accents on nothing
    ("Яма\x00", "NUL character at position 3"),
    ("Яма\ud800", "lone surrogate (U+D800) at position 3"),
    ("я" * 11, "text has 11 characters; the limit is 10"),
    ("я" * 10, None),
])
def test_text(text: str, words: str | None) -> None:
    wrong = text_problem(text, 10)
    assert (wrong is None) if words is None else (wrong is not None and words in wrong), wrong


@pytest.mark.parametrize(("url", "ok"), [
    ("https://vk.com/wall-1_2", True),
    ("HTTP://ok.ru/group/1/topic/2", True),
    ("https://t.me/s/chat/9?x=1#y", True),
    ("javascript:alert(1)", False),
    (" javascript:alert(1)", False),
    ("data:text/html;base64,PHNjcmlwdD4=", False),
    ("vbscript:msgbox", False),
    ("//evil.example/x", False),
    ("https://", False),
    ("mailto:a@b.c", False),
    ("https://[::1", False),  # urlsplit refuses it
    ("https://vk.com/\x00", False),
    ("https://vk.com/" + "a" * 2040, False),
])
def test_links(url: str, ok: bool) -> None:
    assert (url_problem(url) is None) is ok


@pytest.mark.parametrize(("moment", "ok"), [
    ("2026-11-28T10:00:00+05:00", True),
    ("2000-01-01T00:00:00+00:00", True),
    ("1999-12-31T23:59:59+00:00", False),
    ("2026-11-29T05:00:00+00:00", True),  # now + 1 day exactly
    ("2026-11-29T05:00:01+00:00", False),
    ("9999-12-31T23:59:59+00:00", False),
    ("9999-12-31T23:59:59-12:00", False),  # no UTC equivalent
    ("0001-01-01T00:00:00+14:00", False),
    ("2026-11-28T10:00:00", False),  # no time zone
])
def test_published_at(moment: str, ok: bool) -> None:
    wrong = published_problem(datetime.fromisoformat(moment), NOW)
    assert (wrong is None) is ok, wrong
    assert wrong is None or wrong.startswith("published_at ")


def test_ids_and_unicode_and_what_may_be_sent_back() -> None:
    assert [id_in_range(n) for n in (0, 1, 2**63 - 1, 2**63, -5)] == [False, True, True, False, False]
    assert unicode_problem("Обычный текст, ёж, 👍") is None
    assert jsonable({"\ud800": [float("nan"), float("inf"), "a\ud800", 1, None, True]}) == \
        {"\\ud800": ["non-finite number", "non-finite number", "a\\ud800", 1, None, True]}


@pytest.mark.parametrize(("document", "words"), [
    ('{"a": NaN}', "not finite"),
    ('{"a": -Infinity}', "not finite"),
    ('{"a": 1e400}', "not finite"),
    ("[" * 100_000 + "]" * 100_000, "nested more than 500 levels deep (at character 500)"),
    ('{"a": 1,}', "line 1, column 9"),
    ("9" * 5000, "Exceeds the limit"),
])
def test_strict_json_says_what_and_where(document: str, words: str) -> None:
    with pytest.raises(BadJson) as refused:
        strict_json(document)
    assert words in str(refused.value) and "1e400" not in str(refused.value)


def test_deep_but_parseable_json_is_taken() -> None:
    assert strict_json("[" * 400 + "]" * 400) is not None
    assert strict_json('{"a": 1.5e300, "b": "\\ud800"}') == {"a": 1.5e300, "b": "\ud800"}  # the fields' rules judge


SOURCE = SourceConfig(id="vk-perm", network="vk", base_url="https://api.vk.com/method", token="t", region="perm-krai",
                      max_text_chars=100)


@pytest.mark.parametrize(("fields", "words"), [
    ({"published_at": "9999-12-31T23:59:59-12:00"}, "timestamp out of range"),
    ({"published_at": 1e400}, "timestamp out of range"),
    ({"published_at": 253402300799}, "published_at must be between 2000-01-01"),  # 9999-12-31 as unix seconds
    ({"text": "\u200b\u200b"}, "no visible character"),
    ({"text": "я" * 101}, "the limit is 100"),
    ({"text": "Яма\x00"}, "NUL"),
    ({"external_id": "1\ud800"}, "lone surrogate"),
    ({"author": "Ирина\x00"}, "author contains a NUL"),
])
def test_a_connector_skips_a_post_by_the_same_rules(fields: dict[str, Any], words: str) -> None:
    item = {"external_id": "1_2", "text": POTHOLE, "published_at": int((NOW - timedelta(hours=1)).timestamp()),
            **fields}
    with pytest.raises(ValueError, match=words):
        make_post(SOURCE, "vk", **item)


def test_a_connector_keeps_the_post_and_drops_a_link_that_is_not_http() -> None:
    post = make_post(SOURCE, "vk", "1_2", POTHOLE, NOW.isoformat(), url="javascript:alert(1)")
    assert post.url is None and post.text == POTHOLE
    assert make_post(SOURCE, "vk", "1_2", POTHOLE, NOW.isoformat(), url="https://vk.com/wall1_2").url


def test_otklik_ingest_refuses_the_probes_by_line_and_field(env: dict[str, str]) -> None:
    lines = [
        json.dumps(wire("-1_1", POTHOLE)),
        json.dumps(wire("-1_2", POTHOLE, published_at="9999-12-31T23:59:59Z")),
        json.dumps(wire("-1_3", POTHOLE, published_at="9999-12-31T23:59:59-12:00")),
        json.dumps(wire("-1_4\ud800", POTHOLE)),
        json.dumps(wire("-1_5", "\u200b\u200b")),
        json.dumps(wire("-1_6", POTHOLE, url="javascript:alert(1)")),
        json.dumps(wire("-1_7", POTHOLE, author="Ирина\x00")),
        '{"network": "vk", "external_id": "-1_8", "text": "x", "published_at": NaN}',
        "[" * 100_000 + "]" * 100_000,
    ]
    done = run(env, "ingest", "-", stdin="\n".join(lines) + "\n")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["rejected"] == 8
    said = done.stderr
    for n, words in [(2, "published_at: published_at must be between"), (3, "published_at"),
                     (4, "external_id"), (5, "no visible character"), (6, "url"), (7, "author"),
                     (8, "not finite"), (9, "nested more than 500 levels")]:
        assert f"line {n}: " in said and words in said.split(f"line {n}: ", 1)[1].splitlines()[0], (n, said)
    assert "Traceback" not in said


def test_otklik_predict_answers_every_probe_line_in_valid_json(env: dict[str, str]) -> None:
    lines = ['{"id": "1", "text": NaN}', '{"id": "\\ud800", "text": "Яма"}', '{"id": "3", "text": "\\u200b"}',
             json.dumps({"id": "4", "text": POTHOLE})]
    done = run(env, "predict", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert "not finite" in out[0]["error"] and "lone surrogate" in out[1]["error"]
    assert out[1]["id"] == "\\ud800" and "no visible character" in out[2]["error"] and out[3]["id"] == "4"
