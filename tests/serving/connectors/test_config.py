"""The sources file: the example loads, tokens come from the environment, mistakes name the source and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.connectors import SourcesError, load_sources
from tests.conftest import ROOT

EXAMPLE = ROOT / "serving" / "connectors" / "sources.example.toml"
ENV = {"OTKLIK_VK_TOKEN": "vk", "OTKLIK_OK_TOKEN": "ok", "OTKLIK_OK_SECRET": "s", "OTKLIK_TELEGRAM_TOKEN": "tg"}


def test_the_example_file_loads_with_tokens_from_the_environment() -> None:
    sources = {s.id: s for s in load_sources(EXAMPLE, ENV)}
    assert list(sources) == ["vk-perm-search", "vk-perm-walls", "ok-perm", "telegram-perm", "x-perm",
                             "facebook-perm", "instagram-perm", "import"]
    vk = sources["vk-perm-search"]
    assert (vk.network, vk.token, vk.region, vk.reply, vk.page_size) == ("vk", "vk", "perm-krai", True, 100)
    assert vk.queries[0] == "яма дорога Пермь"
    assert sources["ok-perm"].secret == "s" and sources["ok-perm"].app_key == "CBAEXAMPLEKEY"
    assert not sources["x-perm"].enabled and sources["x-perm"].token == ""  # disabled: its token is not needed
    assert sources["import"].path == Path("var/import/posts.jsonl")
    assert "token=" not in repr(vk) and "secret=" not in repr(sources["ok-perm"])  # kept out of reprs and logs


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(body, encoding="utf-8")
    return path


BASE = 'id = "a"\nnetwork = "vk"\nbase_url = "http://127.0.0.1:1"\ntoken = "t"\n'


@pytest.mark.parametrize(("body", "message"), [
    ("[[source]\n", "not valid TOML"),
    ("source = 1\n", "'source' must be an array of tables"),
    ("[other]\n", "unknown top-level key(s) other"),
    ("[[source]]\n" + BASE + "colour = 1\n", "source 1 (a): unknown field(s) colour"),
    ("[[source]]\n" + BASE.replace('"vk"', '"myspace"'), "'network' must be one of vk, ok, telegram"),
    ("[[source]]\n" + BASE.replace('"a"', '"A B"'), "'id' must be lower-case"),
    ("[[source]]\n" + BASE.replace("http://127.0.0.1:1", "ftp://x"), "'base_url' must be an http(s) URL"),
    ("[[source]]\n" + BASE.replace('token = "t"', 'token_env = "NOPE"'), "names NOPE, which is not set"),
    ("[[source]]\n" + BASE.replace('token = "t"', ""), "no token: set 'token_env'"),
    ("[[source]]\n" + BASE + 'token_env = "X"\n', "give 'token' or 'token_env', not both"),
    ("[[source]]\n" + BASE + "page_size = 0\n", "'page_size' must be an integer from 1 to 1000"),
    ("[[source]]\n" + BASE + 'queries = "яма"\n', "'queries' must be a list of non-empty strings"),
    ("[[source]]\n" + BASE + 'reply = "yes"\n', "'reply' must be true or false"),
    ("[[source]]\n" + BASE + "[[source]]\n" + BASE, "source id 'a' is used twice"),
    ('[[source]]\nid = "f"\nnetwork = "jsonl"\n', "a jsonl source needs 'path'"),
    ("[[source]]\n" + BASE + 'page_size = "100"\n', "'page_size' must be an integer from 1 to 1000"),
    ("[[source]]\n" + BASE + "lookback = true\n", "'lookback' must be whole seconds from 0 to 86400"),
    ("[[source]]\n" + BASE + "enabled = 1\n", "'enabled' must be true or false"),
    ("[[source]]\n" + BASE + "region = 5\n", "'region' must be a region code"),
    ("[[source]]\n" + BASE + 'communities = [""]\n', "'communities' must be a list of non-empty strings"),
    ("[[source]]\n" + BASE.replace('id = "a"\n', ""), "source 1: 'id' must be lower-case"),
    ("[[source]]\n" + BASE.replace('network = "vk"\n', ""), "'network' must be one of vk"),
    ("[[source]]\n" + BASE + "colour = 1\npage_size = 0\nreply = 1\n",
     "unknown field(s) colour; 'reply' must be true or false; 'page_size' must be an integer from 1 to 1000"),
    ("source = [1]\n", "source 1: expected a table"),
])
def test_mistakes_are_refused_naming_the_source_and_field(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SourcesError) as caught:
        load_sources(write(tmp_path, body), {})
    assert message in str(caught.value) and str(tmp_path) in str(caught.value)


def test_a_token_of_the_wrong_type_is_refused_without_repeating_it(tmp_path: Path) -> None:
    path = write(tmp_path, "[[source]]\n" + BASE.replace('token = "t"', "token = 987654321"))
    with pytest.raises(SourcesError) as caught:
        load_sources(path, {})
    assert "'token' must be a string" in str(caught.value) and "987654321" not in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="No such file"):
        load_sources(tmp_path / "absent.toml", {})
