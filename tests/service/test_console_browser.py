"""The operator console in headless Chromium against real gunicorn (two workers), SecantusDB and redis-server.

Chromium is Debian's package (installed by scripts/ensure-apt where missing), driven by Playwright without any
browser download. Screenshots land in test-artifacts/console/ (gitignored).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.support.apt import ensure_apt

from tools.harness import REPO_ROOT

FAULT_APP = "tests.support.fault_app:app"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
TOKEN = "console-browser-Pj5Ny9Qc4Ls8Gt"
API_KEY = "api-key-browser-secret-0123456789"
SECRETS = {
    "CONSOLE_TOKEN": TOKEN,
    "API_KEYS": API_KEY,
    "METRICS_TOKEN": "metrics-token-browser-0123456789",
    "OPENAI_API_KEY": "sk-browser-secret-0123456789",
}
ENV = SECRETS | {
    "STARTUP_RETRIES": "1",
    "STARTUP_RETRY_DELAY_SECONDS": "0.2",
    "HEALTH_CACHE_SECONDS": "0.5",
    "CHAT_TIMEOUT_SECONDS": "1",
}
BURST = 6

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    # Installs Debian's chromium when missing; fails loudly (never skips) when it cannot.
    ensure_apt("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def no_horizontal_scroll(page: Any) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"scrolls sideways: content {widths[0]} px in a {widths[1]} px window"


def text_of(page: Any, selector: str) -> str:
    found = page.query_selector(selector)
    return found.inner_text().strip() if found is not None else ""


def timeout_burst(base_url: str) -> list[str]:
    """Chat-budget requests (1 s here) that sleep past it: the backstop answers each 504."""
    ids = [f"burst-{time.monotonic_ns()}-{i}" for i in range(BURST)]

    def one(rid: str) -> int:
        return requests.get(
            f"{base_url}/api/chat/_test/sleep?seconds=5",
            timeout=10,
            headers={"X-Request-ID": rid, "Authorization": f"Bearer {API_KEY}"},
        ).status_code

    with ThreadPoolExecutor(BURST) as pool:
        assert list(pool.map(one, ids)) == [504] * BURST
    return ids


def test_console_live_in_a_browser(
    chromium: Any,
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    mongo, redis = make_mongo(), make_redis()
    service = make_gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, app=FAULT_APP, workers=2, env=ENV)
    workers = service.wait_for_workers(2)
    base = service.base_url
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requested.append(r.url))

    # Without a session: the login form (401); a wrong token is refused, the right one logs in.
    first = page.goto(f"{base}/console")
    assert first is not None and first.status == 401
    page.fill("#token", "wrong-token-0123456789abcdef")
    page.click("button[type=submit]")
    assert "not right" in text_of(page, ".login-error")
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.fill("#token", TOKEN)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == f"{base}/console"

    page.wait_for_selector('#overall[data-status="healthy"]', timeout=10_000)
    page.wait_for_selector('[data-dep="mongodb"] .dep-status[data-status="healthy"]', timeout=5_000)
    page.wait_for_selector('[data-dep="redis"] .dep-status[data-status="healthy"]', timeout=5_000)
    # Both workers, whichever of them answers the polls.
    wait_until(
        lambda: (
            sorted(int(r.get_attribute("data-pid")) for r in page.query_selector_all("#workers tbody tr"))
            == sorted(workers)
        ),
        10,
        message="the workers table never listed both workers",
    )
    no_horizontal_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "console-healthy.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    no_horizontal_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "console-healthy-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # A burst of budget timeouts: in the traffic chart and, with their request ids, in the error list.
    ids = timeout_burst(base)
    route = '[data-route="/api/chat/_test/sleep"]'
    wait_until(
        lambda: (
            (text_of(page, f"{route} .count-504") or "0").isdigit()
            and int(text_of(page, f"{route} .count-504") or "0") >= BURST
        ),
        15,
        message=lambda: f"the traffic chart never counted the 504s: {text_of(page, '#traffic')}",
    )
    assert page.query_selector(f"{route} svg.spark.errors polyline, {route} svg.spark.errors circle") is not None
    for rid in ids:
        page.wait_for_selector(f'#errors tr[data-request-id="{rid}"]', timeout=5_000)
    assert "504" in text_of(page, f'#errors tr[data-request-id="{ids[0]}"]')
    # Every worker that answers knows all of them: the list is the service's, not one worker's.
    answered_by = set()
    for _ in range(6):
        state = requests.get(f"{base}/console/state", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
        answered_by.add(state["service"]["answered_by"])
        assert set(ids) <= {e["request_id"] for e in state["errors"]}

    # Redis killed: its row and the overall status change within 5 s, with no reload.
    page.evaluate("window.__sameDocument = true")
    redis.kill()
    killed_at = time.monotonic()
    page.wait_for_selector('[data-dep="redis"] .dep-status[data-status="unavailable"]', timeout=5_000)
    page.wait_for_selector('#overall[data-status="degraded"]', timeout=5_000)
    assert time.monotonic() - killed_at < 5
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    no_horizontal_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "console-degraded.png"), full_page=True)

    # MongoDB killed too: unhealthy; the page still loads and keeps updating.
    mongo.kill()
    page.wait_for_selector('#overall[data-status="unhealthy"]', timeout=10_000)
    page.wait_for_selector('[data-dep="mongodb"] .dep-status[data-status="unhealthy"]', timeout=5_000)
    reloaded = page.reload()
    assert reloaded is not None and reloaded.status == 200
    page.wait_for_selector('#overall[data-status="unhealthy"]', timeout=10_000)
    generation = int(page.get_attribute("#console", "data-generation") or "0")
    wait_until(
        lambda: int(page.get_attribute("#console", "data-generation") or "0") >= generation + 2,
        10,
        message="the page stopped updating with both dependencies down",
    )
    page.set_viewport_size({"width": 390, "height": 844})
    no_horizontal_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "console-unhealthy-390.png"), full_page=True)

    html = page.content()
    state_text = requests.get(f"{base}/console/state", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).text
    for secret in SECRETS.values():
        assert secret not in html and secret not in state_text
    assert problems == []
    assert requested and all(url.startswith(base + "/") for url in requested), requested
    page.close()
    print(f"answered by {sorted(answered_by)}; screenshots in {Path(ARTIFACTS).relative_to(REPO_ROOT)}")
