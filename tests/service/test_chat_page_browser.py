"""The chat page at `/` in headless Chromium (Debian's, driven by Playwright) against real gunicorn: an answer
streams in; the worker is SIGKILLed mid-answer, the page resumes by itself, and it ends showing the stored
answer, whole and once. At 390 px wide, under the strict CSP. Screenshots in test-artifacts/chat/."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from tests.support.chat import session_path

from tools.harness import REPO_ROOT, wait_until

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "chat"
ENV = {"OFFLINE_CHUNK_DELAY_MS": "100", "TURN_LEASE_SECONDS": "2", "STARTUP_RETRIES": "1", "REDIS_URL": None}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    # Installs Debian's chromium when missing; fails loudly (never skips) when it cannot.
    subprocess.run([str(REPO_ROOT / "scripts" / "ensure-apt"), "chromium"], check=True, timeout=900)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def test_the_page_resumes_after_its_worker_is_killed_and_shows_the_stored_answer_once(
    chromium: Any, make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any]
) -> None:
    service = make_gunicorn(mongo_uri=make_mongo().uri, env=ENV)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    head = requests.get(service.base_url + "/", timeout=10)
    assert head.status_code == 200 and "default-src 'none'" in head.headers["Content-Security-Policy"]
    blocked: list[str] = []
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.on("console", lambda message: blocked.append(message.text) if "Content Security" in message.text else None)
    page.goto(service.base_url + "/")
    page.fill("#message", "Lisbon")
    page.click("#send")
    answer = page.locator(".bubble.assistant")
    wait_until(lambda: len(answer.inner_text()) > 20, 15, message="no answer streamed in")
    page.screenshot(path=str(ARTIFACTS / "streaming.png"))
    (worker,) = service.worker_pids()
    service.kill_worker(worker, signal.SIGKILL)
    wait_until(lambda: answer.get_attribute("data-state") in ("done", "error"), 45, message="the page never finished")
    page.screenshot(path=str(ARTIFACTS / "done.png"))
    assert answer.get_attribute("data-state") == "done"
    session_id = page.evaluate("sessionStorage.getItem('travel_agent.session')")
    messages = requests.get(service.base_url + session_path(session_id), timeout=10).json()["messages"]
    stored = [m["content"] for m in messages if m["role"] == "assistant"]
    assert len(stored) == 1 and answer.inner_text() == stored[0].strip()
    assert page.locator(".bubble.assistant").count() == 1
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    assert not blocked, blocked
    assert "took a turn over" in service.log_file_text()
