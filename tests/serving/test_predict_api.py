"""POST /v1/predict and the model endpoints, with the real app and a real trained bundle."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from model.bundle import Bundle
from tests.serving.conftest import ADMIN

POST = {"id": "vk-1", "text": "Третий день нет горячей воды на Гайве, управляющая компания трубку не берёт!!!",
        "network": "vk"}


def predict(client: TestClient, posts: list[dict[str, Any]]) -> Any:
    return client.post("/v1/predict", json={"posts": posts})


def test_single_post_has_every_field(client: TestClient, bundle: Bundle) -> None:
    r = predict(client, [POST])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == bundle.id
    [p] = body["predictions"]
    assert set(p) == {"id", "relevant", "topic", "agency", "municipality", "rules", "needs_review",
                      "explanation", "model"}
    assert p["id"] == "vk-1" and p["model"] == bundle.id
    assert p["relevant"]["label"] is True and 0.5 < p["relevant"]["score"] <= 1
    assert p["topic"]["label"] == "housing"
    assert p["topic"]["top"][0][0] == "housing" and len(p["topic"]["top"]) == 3
    assert p["agency"]["label"] == "housing_inspection"
    assert p["agency"]["body"] == bundle.regions["perm-krai"].bodies["housing_inspection"].name
    # the runners-up an administrator correcting the route chooses from: the label first, then by probability
    top = p["agency"]["top"]
    assert [len(entry) for entry in top] == [2, 2, 2] and top[0] == ["housing_inspection", p["agency"]["score"]]
    assert len({code for code, _ in top}) == 3 and {code for code, _ in top} <= set(bundle.meta["labels"]["agencies"])
    assert [score for _, score in top] == sorted((score for _, score in top), reverse=True)
    assert p["municipality"] == {"code": "57701000", "name": "Пермь", "others": []}
    assert any(r.startswith("housing") for r in p["rules"])
    assert isinstance(p["needs_review"], bool)
    assert {"relevance", "topic", "agency", "rules"} <= set(p["explanation"])


def test_batch_keeps_input_order_and_matches_single(client: TestClient) -> None:
    posts = [
        {"id": "a", "text": "Когда в Соликамске отремонтируют дорогу на Северной? Ямы по колено"},
        {"id": "b", "text": "С днём рождения, сестрёнка! 🎂"},
        POST,
    ]
    batch = predict(client, posts).json()["predictions"]
    assert [p["id"] for p in batch] == ["a", "b", "vk-1"]
    assert batch[1]["relevant"]["label"] is False
    for post, got in zip(posts, batch, strict=True):
        assert predict(client, [post]).json()["predictions"][0] == got


def detail_of(r: Any) -> str:
    return json.dumps(r.json()["detail"], ensure_ascii=False)


@pytest.mark.parametrize(
    ("posts", "field", "message"),
    [
        ([{"id": "1", "text": ""}], ["body", "posts", 0, "text"], "text is empty"),
        ([{"id": "1", "text": "   \n\t"}], ["body", "posts", 0, "text"], "text is empty"),
        ([{"id": "1", "text": "я" * 2001}], ["body", "posts", 0, "text"], "2001 characters; the limit is 2000"),
        ([{"id": "1", "text": "a"}, {"id": "1", "text": "b"}], ["body", "posts", 1, "id"], "duplicate id '1'"),
        ([{"id": "1", "text": "яма", "region": "mars"}], ["body", "posts", 0, "region"],
         "unknown region 'mars'; known regions: kursk-oblast, perm-krai, sverdlovsk-oblast"),
        ([{"id": "1"}], ["body", "posts", 0, "text"], "Field required"),
        ([{"id": 5, "text": "яма"}], ["body", "posts", 0, "id"], "valid string"),
        ([{"id": "1", "text": ["яма"]}], ["body", "posts", 0, "text"], "valid string"),
        ([{"id": "1", "text": "яма", "network": "myspace"}], ["body", "posts", 0, "network"], "'vk'"),
        ([{"id": "1", "text": "яма", "extra": 1}], ["body", "posts", 0, "extra"], "Extra inputs"),
        ([], ["body", "posts"], "at least 1 item"),
        ([{"id": str(i), "text": "яма"} for i in range(51)], ["body", "posts"],
         "51 posts in one request; the limit is 50"),
    ],
)
def test_bad_input_names_the_field(client: TestClient, posts: list[Any], field: list[Any], message: str) -> None:
    before = client.get("/metrics").text.count("otklik_predictions_total{")
    r = predict(client, posts)
    assert r.status_code == 422, r.text
    entries = r.json()["detail"]
    assert any(e["loc"] == field and message in e["msg"] for e in entries), entries
    # nothing in a rejected request was scored
    assert client.get("/metrics").text.count("otklik_predictions_total{") == before


def test_missing_posts_key_and_wrong_json_type(client: TestClient) -> None:
    r = client.post("/v1/predict", json={"post": []})
    assert r.status_code == 422 and "posts" in detail_of(r)
    r = client.post("/v1/predict", json=["not", "an", "object"])
    assert r.status_code == 422


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    r = client.post("/v1/predict", content=b"{" + b" " * 300_000 + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "limit is 200000 bytes" in r.json()["detail"]


def test_invalid_utf8_is_400(client: TestClient) -> None:
    r = client.post("/v1/predict", content=b'{"posts": [{"id": "1", "text": "\xff\xfe"}]}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "not valid UTF-8" in r.json()["detail"]


def test_broken_json_is_422(client: TestClient) -> None:
    r = client.post("/v1/predict", content=b'{"posts": [', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"


def test_wrong_content_type_is_415(client: TestClient) -> None:
    r = client.post("/v1/predict", content=b"posts=1", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]


def test_model_info(client: TestClient, bundle: Bundle) -> None:
    assert client.get("/v1/model").status_code == 401
    r = client.get("/v1/model", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200
    info = r.json()
    assert info["id"] == bundle.id
    assert info["created_at"] == bundle.meta["created_at"]
    assert info["labels"] == bundle.meta["labels"]
    assert info["thresholds"] == bundle.meta["thresholds"]
    assert info["metrics"]["test"]["relevance"]["f1"] == bundle.meta["metrics"]["test"]["relevance"]["f1"]
    assert info["default_region"] == "perm-krai"
    assert info["regions"] == ["kursk-oblast", "perm-krai", "sverdlovsk-oblast"]
    assert "mlflow_run_id" in info and "scikit-learn" in info["versions"]


def test_health_ready_metrics(client: TestClient, bundle: Bundle) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert ready.json()["checks"]["model"] == bundle.id
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'otklik_http_requests_total{method="GET",route="/ready",status="200"}' in metrics.text
    assert f'otklik_bundle_info{{id="{bundle.id}"}}' in metrics.text
    assert "otklik_http_request_seconds_bucket" in metrics.text


@pytest.mark.parametrize("given", ["abc-123", "a", "x" * 128, "req:7/9@edge;try=2", "0f8e!~{}[]"])
def test_a_short_printable_request_id_is_kept(client: TestClient, given: str) -> None:
    assert client.get("/health", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", [
    "x" * 129,  # too long
    "two words",  # a space
    "tab\there",  # a control character
    "del\x7f",
    "заявка-1".encode(),  # not ASCII (sent as UTF-8 bytes)
    b"\xff\xfe",
    "",
])
def test_any_other_request_id_is_replaced_by_a_new_one(client: TestClient, given: str | bytes) -> None:
    answer = client.get("/health", headers={"X-Request-ID": given})
    assert answer.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])


def test_without_a_request_id_each_request_gets_its_own(client: TestClient) -> None:
    ids = {client.get("/health").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_reload_needs_the_admin_token(client: TestClient) -> None:
    assert client.post("/v1/model/reload").status_code == 401
    unknown = client.post("/v1/model/reload", headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown or revoked token"
    r = client.post("/v1/model/reload", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200, r.text


def test_openapi_has_russian_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/v1/predict" in schema["paths"]
    text = json.dumps(schema, ensure_ascii=False)
    assert "Третий день нет горячей воды" in text
    agency = schema["components"]["schemas"]["AgencyOut"]
    assert "top" in agency["required"] and agency["properties"]["top"]["description"].startswith("три самых вероятных")
    assert client.get("/docs").status_code == 200


def test_ready_reports_what_is_missing(tmp_path: Path) -> None:
    from serving.app import create_app
    from tests.serving.conftest import make_settings

    (tmp_path / "a-file").write_text("not a folder")
    settings = make_settings(tmp_path / "no-models", tmp_path, database_url=f"sqlite:///{tmp_path}/a-file/x.db")
    with TestClient(create_app(settings)) as c:
        r = c.get("/ready")
        assert r.status_code == 503
        body = r.json()
        assert body["ready"] is False and body["checks"] == {"model": None, "database": False}
        assert any("no model bundle" in p and "otklik train" in p for p in body["problems"])
        assert any(p.startswith("database not reachable") for p in body["problems"])
        assert c.get("/health").status_code == 200
        r = c.post("/v1/predict", json={"posts": [{"id": "1", "text": "яма"}]})
        assert r.status_code == 503 and "no model is loaded" in r.json()["detail"]
