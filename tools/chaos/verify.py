"""After the run: every acknowledged message and its reply still stored, and no prompt that mixed conversations."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests

from tools.chaos.clients import Ack

TAG = re.compile(r"^(c\d+s\d+) t\d+ ")
SESSION_PATH = "/api/chat/sessions/"
PAGE = 500  # messages per session read, the most the API gives


@dataclass
class Verdict:
    sessions: int = 0
    acknowledged: int = 0
    lost: list[Ack] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)  # a user message stored twice in one session
    foreign: list[str] = field(default_factory=list)  # a message of another conversation in a session
    unreadable: list[str] = field(default_factory=list)  # sessions that could not be fetched
    context_crosstalk: list[str] = field(default_factory=list)  # prompts that mixed conversations
    prompts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "acknowledged": self.acknowledged,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "foreign": len(self.foreign),
            "unreadable": len(self.unreadable),
            "prompts_checked": self.prompts,
            "context_crosstalk": len(self.context_crosstalk),
            "examples": [f"lost {a.message!r} in {a.session_id}" for a in self.lost[:3]]
            + self.duplicated[:3]
            + self.foreign[:3]
            + self.unreadable[:3]
            + self.context_crosstalk[:3],
        }


def fetch(base_url: str, session_id: str, http: requests.Session, attempts: int = 20) -> dict[str, Any] | None:
    """The session as the API shows it, every page of it (oldest message first); None if it is unknown or
    could not be read. Each page is retried while the service is still finding its feet."""
    messages: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        body = _page(base_url + SESSION_PATH + session_id, before, http, attempts)
        if body is None:
            return None
        messages[:0] = body["messages"]
        if not body["has_more"]:
            return body | {"messages": messages}
        before = body["next_before"]


def _page(url: str, before: int | None, http: requests.Session, attempts: int) -> dict[str, Any] | None:
    params = {"limit": PAGE} | ({"before": before} if before is not None else {})
    for _ in range(attempts):
        try:
            response = http.get(url, params=params, timeout=10)
        except requests.RequestException:
            time.sleep(0.5)
            continue
        if response.status_code == 200:
            found: dict[str, Any] = response.json()
            return found
        if response.status_code == 404:
            return None
        time.sleep(0.5)
    return None


def check_histories(base_url: str, sessions: dict[str, str], acks: Iterable[Ack]) -> Verdict:
    verdict = Verdict(sessions=len(sessions))
    by_session: dict[str, list[Ack]] = {}
    for ack in acks:
        by_session.setdefault(ack.session_id, []).append(ack)
        verdict.acknowledged += 1
    with requests.Session() as http:
        for session_id, tag in sessions.items():
            stored = fetch(base_url, session_id, http)
            if stored is None:
                verdict.unreadable.append(f"session {session_id} ({tag})")
                verdict.lost.extend(by_session.get(session_id, []))
                continue
            messages = stored["messages"]
            users = {m["id"]: m for m in messages if m["role"] == "user"}
            replies = {m["id"]: m for m in messages if m["role"] == "assistant"}
            for content, count in Counter(m["content"] for m in users.values()).items():
                if count > 1:
                    verdict.duplicated.append(f"{content!r} stored {count} times in {session_id}")
            for message in users.values():
                found = TAG.match(message["content"])
                if found is None or found.group(1) != tag:
                    verdict.foreign.append(f"{message['content'][:60]!r} in {tag}'s session {session_id}")
            for ack in by_session.get(session_id, []):
                reply = replies.get(ack.message_id)
                question = users.get(reply.get("reply_to", "")) if reply else None
                if (
                    reply is None
                    or reply["content"] != ack.reply
                    or question is None
                    or question["content"] != ack.message
                    or question.get("status") != "answered"
                ):
                    verdict.lost.append(ack)
    return verdict


def check_prompts(prompts: Iterable[dict[str, Any] | None], verdict: Verdict) -> None:
    """Every prompt the upstream received holds the user messages of one conversation only."""
    for payload in prompts:
        if not isinstance(payload, dict):
            continue
        verdict.prompts += 1
        tags = set()
        for message in payload.get("messages", []):
            content = str(message.get("content", ""))
            # An assistant message that is not an echo is the offline assistant's (a degraded answer): no tag.
            if message.get("role") == "user" or (message.get("role") == "assistant" and content.startswith("echo: ")):
                found = TAG.match(content.removeprefix("echo: "))
                tags.add(found.group(1) if found else "?")
        if len(tags) > 1:
            verdict.context_crosstalk.append(f"one prompt held {sorted(tags)}")
