"""The OpenAPI document covers every chat route and its errors; /docs works with no internet."""

from __future__ import annotations

import re

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
