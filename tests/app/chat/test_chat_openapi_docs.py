"""The OpenAPI document covers every chat route and its errors; /docs works with no internet."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask

CHAT_OPERATIONS = {
    ("/api/chat/send", "post"): {"200", "400", "404", "408", "409", "413", "415", "422", "502", "503", "504"},
    ("/api/chat/stream", "post"): {"200", "400", "404", "408", "413", "415", "422", "502", "503", "504"},
    ("/api/chat/sessions/{session_id}", "get"): {"200", "404", "422", "503", "504"},
    ("/api/chat/sessions/{session_id}", "delete"): {"204", "404", "503", "504"},
}


def test_every_chat_route_and_error_is_documented(app: Flask) -> None:
    spec = app.test_client().get("/openapi.json").get_json()
    for (path, method), statuses in CHAT_OPERATIONS.items():
        operation = spec["paths"][path][method]
        assert statuses <= set(operation["responses"]), (path, method, set(operation["responses"]))
        assert "default" in operation["responses"]  # anything else: the envelope, 500
        for status in statuses - {"200", "204", "422"}:
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}
        assert operation["summary"]
    send = spec["paths"]["/api/chat/send"]["post"]
    assert [p["name"] for p in send["parameters"]] == ["Idempotency-Key"]
    assert "Retry-After" in send["responses"]["503"]["headers"]
    body = spec["components"]["schemas"]["Send"]
    assert body["required"] == ["message"] and body["properties"]["message"]["maxLength"] == 4000
    stream = spec["paths"]["/api/chat/stream"]["post"]["responses"]["200"]
    assert list(stream["content"]) == ["text/event-stream"] and "heartbeat" in stream["description"]
    read = spec["paths"]["/api/chat/sessions/{session_id}"]["get"]
    paging = {p["name"]: p for p in read["parameters"] if p["in"] == "query"}
    assert paging["limit"]["schema"].items() >= {"minimum": 2, "maximum": 500, "default": 100}.items()
    assert set(paging) == {"limit", "before"}
    assert {"has_more", "next_before"} <= set(spec["components"]["schemas"]["Session"]["required"])
    message = spec["components"]["schemas"]["Message"]["properties"]
    assert message["status"]["enum"] == ["answered", "unanswered"]


def test_docs_page_and_every_asset_it_references_are_served_locally(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")
    assets = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r'url: "([^"]+)"', html)
    assert len(assets) >= 4, assets  # stylesheet, two scripts, the OpenAPI document
    for asset in assets:
        assert asset.startswith("/"), asset
        with client.get(asset) as response:  # a file response: closed, or it warns
            assert response.status_code == 200, asset
            assert len(response.get_data()) > 1000, asset
            assert response.mimetype in ("text/css", "text/javascript", "application/json"), asset


def api_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    methods = ("get", "post", "put", "patch", "delete")
    paths = [(p, ops) for p, ops in spec["paths"].items() if p.startswith("/api/")]
    found = [(p, m, op) for p, ops in paths for m, op in ops.items() if m in methods]
    assert len(found) >= 4, found
    return found


def test_with_keys_and_a_limit_every_api_route_documents_the_bearer_scheme_401_and_429(
    build_app: Callable[..., Flask],
) -> None:
    key = "docs-key-Xq7Lm3pR9vT2wKb8z"
    client = build_app(API_KEYS=key, RATE_LIMIT="30/minute").test_client()
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"] == {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "One of the keys in API_KEYS"}
    }
    for path, method, operation in api_operations(spec):
        assert operation["security"] == [{"apiKey": []}], (path, method)
        for status in ("401", "429"):
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (path, method, status)
        assert {"Retry-After", "RateLimit-Remaining"} <= set(operation["responses"]["429"]["headers"])
    for path in ("/health", "/health/live", "/health/ready"):
        operations = [op for method, op in spec["paths"][path].items() if method in ("get", "head")]
        assert operations and all("security" not in op and "401" not in op["responses"] for op in operations)
    intro = spec["info"]["description"]
    assert "POST /api/chat/send" in intro and "Authorization: Bearer <key>" in intro and "30/minute" in intro
    assert key not in client.get("/openapi.json").get_data(as_text=True)
    # What the document promises is what the route answers.
    refused = client.post("/api/chat/send", json={"message": "Lisbon"})
    assert refused.status_code == 401 and refused.get_json()["code"] == 401


def test_without_keys_or_a_limit_the_document_promises_neither(app: Flask) -> None:
    spec = app.test_client().get("/openapi.json").get_json()
    assert "securitySchemes" not in spec.get("components", {})
    for path, method, operation in api_operations(spec):
        assert "security" not in operation and not {"401", "429"} & set(operation["responses"]), (path, method)
    assert "runs without API keys" in spec["info"]["description"]


def test_the_docs_page_has_a_favicon(app: Flask) -> None:
    with app.test_client().get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/png"
        assert icon.get_data()[:8] == b"\x89PNG\r\n\x1a\n"
