"""File import: pages of a JSONL file from the stored byte offset; bad lines skipped and counted; a line
still being written waits for its newline; a file replaced by a shorter one is read from the start."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from serving.connectors import ConnectorError, JsonlConnector, SourceConfig


def line(n: int, **extra: object) -> str:
    post = {"network": "vk", "external_id": f"-1_{n}", "text": f"Яма на дороге номер {n}",
            "published_at": "2026-11-28T10:00:00+05:00", **extra}
    return json.dumps(post, ensure_ascii=False) + "\n"


def connector(path: Path, page_size: int = 2) -> JsonlConnector:
    return JsonlConnector(SourceConfig(id="import", network="jsonl", path=path, page_size=page_size,
                                       region="perm-krai"))


def test_pages_follow_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(line(1) + line(2, region="sverdlovsk-oblast") + line(3), encoding="utf-8")
    c = connector(path)
    first = c.fetch(None)
    assert [(p.external_id, p.region) for p in first.posts] == [("-1_1", "perm-krai"), ("-1_2", "sverdlovsk-oblast")]
    assert first.more and first.cursor == {"offset": len((line(1) + line(2, region="sverdlovsk-oblast")).encode())}
    assert first.posts[0].published_at == datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    second = c.fetch(first.cursor)
    assert [p.external_id for p in second.posts] == ["-1_3"] and not second.more
    assert c.fetch(second.cursor).posts == ()
    with path.open("a", encoding="utf-8") as f:
        f.write(line(4))
    assert [p.external_id for p in c.fetch(second.cursor).posts] == ["-1_4"]


@pytest.mark.parametrize("bad", ["not json\n", "[1, 2]\n", json.dumps({"network": "myspace", "external_id": "1",
                                                                         "text": "x", "published_at": "2026-11-28"})
                                 + "\n", json.dumps({"network": "vk", "external_id": "1", "text": "",
                                                     "published_at": "2026-11-28T10:00:00Z"}) + "\n"])
def test_a_bad_line_is_skipped_and_counted(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(line(1) + bad + line(2), encoding="utf-8")
    page = connector(path, page_size=10).fetch(None)
    assert [p.external_id for p in page.posts] == ["-1_1", "-1_2"] and page.skipped == 1


def test_a_line_still_being_written_is_read_once_complete(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(line(1) + line(2)[:20], encoding="utf-8")
    c = connector(path, page_size=10)
    page = c.fetch(None)
    assert [p.external_id for p in page.posts] == ["-1_1"] and page.skipped == 0
    path.write_text(line(1) + line(2), encoding="utf-8")
    assert [p.external_id for p in c.fetch(page.cursor).posts] == ["-1_2"]


def test_a_shorter_file_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(line(1) + line(2) + line(3), encoding="utf-8")
    c = connector(path, page_size=10)
    cursor = c.fetch(None).cursor
    path.write_text(line(9), encoding="utf-8")
    assert [p.external_id for p in c.fetch(cursor).posts] == ["-1_9"]


def test_a_missing_file_fails_the_source_and_a_file_cannot_be_answered(tmp_path: Path) -> None:
    c = connector(tmp_path / "absent.jsonl")
    with pytest.raises(ConnectorError, match="cannot read"):
        c.fetch(None)
    with pytest.raises(ConnectorError, match="cannot answer"):
        c.reply(type("P", (), {"external_id": "1", "raw": None})(), "Ответ")
