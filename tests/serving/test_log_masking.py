"""The JSON log lines carry no personal data: the message and the traceback are masked."""

from __future__ import annotations

import json
import logging

from serving.observability import JsonFormatter


def line(message: str, *args: object, exc: BaseException | None = None) -> dict[str, object]:
    record = logging.LogRecord("otklik.monitor", logging.WARNING, __file__, 1, message, args,
                               (type(exc), exc, None) if exc else None)
    record.source = "vk-perm"
    out: dict[str, object] = json.loads(JsonFormatter().format(record))
    return out


def test_a_log_line_masks_what_a_post_brings() -> None:
    found = line("%s: post %s skipped: %s", "vk-perm", "-1_7",
                 "text 'Звоните Ирине Петровне 8 912 345-67-89 или ivanova@mail.ru, кв. 12'")
    assert found["message"] == "vk-perm: post -1_7 skipped: text 'Звоните [ИМЯ] [ТЕЛЕФОН] или [EMAIL], [КВ]'"
    assert found["source"] == "vk-perm" and found["level"] == "warning"


def test_a_traceback_is_masked_too_and_plain_lines_stay_as_they_are() -> None:
    found = line("post refused", exc=ValueError("author: Смирнова Ольга Ивановна, +79223334455"))
    assert "[ИМЯ]" in str(found["exc"]) and "[ТЕЛЕФОН]" in str(found["exc"]) and "Смирнова" not in str(found["exc"])
    assert line("request")["message"] == "request"
    assert line("page of %d posts: %d new", 50, 12)["message"] == "page of 50 posts: 12 new"
