"""The rules of settings given as text: secrets, the rate limit, paths, and the URLs of services.

Each rule returns what is wrong in words, or None, and never repeats the value (it may be a secret). The rules
for MongoDB's and Redis's addresses are in ``config_uris``.
"""

from __future__ import annotations

import math
import os
import re
import secrets

from travel_agent.config_uris import http_url_problem, split_list

# A secret a header can carry as is, long enough not to be guessed.
_SECRET = re.compile(r"^[A-Za-z0-9._~+/=-]{16,}$")
_SECRET_RULE = "expected at least 16 letters, digits or ._~+/=-"
_RATE = re.compile(r"^(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?$", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate_limit(raw: str) -> tuple[int, int]:
    """ "30/minute", "100 per hour", "5/10 seconds" -> (requests, window seconds); ValueError otherwise."""
    match = _RATE.match(raw.strip())
    if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(raw)
    return int(match.group(1)), int(match.group(2) or 1) * _UNIT_SECONDS[match.group(3).lower()]


def rate_limit_problem(raw: str) -> str | None:
    try:
        parse_rate_limit(raw)
    except ValueError:
        return "expected <count>/<second|minute|hour|day>, e.g. 30/minute"
    return None


def secret_problem(raw: str) -> str | None:
    return None if _SECRET.match(raw) else _SECRET_RULE


# A token a person types into a login form is the one most likely chosen rather than generated.
_PLACEHOLDERS = ("changeme", "change-me", "password", "passw0rd", "secret", "example", "letmein", "qwerty")
_GENERATE = "python -m travel_agent new-key"


def console_token_problem(raw: str) -> str | None:
    """CONSOLE_TOKEN: a secret, and not a guessable one (the rules refuse what a guesser tries first; a
    generated token passes them all but with negligible odds)."""
    if problem := secret_problem(raw):
        return problem
    if len(raw) * math.log2(len(set(raw))) < 48:  # a crude bound on its guessing entropy, in bits
        weakness = "too few different characters for its length"
    elif any(word in raw.lower() for word in _PLACEHOLDERS):
        weakness = "it contains a placeholder word such as changeme, password or secret"
    elif _longest_run(raw) >= 6:
        weakness = "it contains a run such as 123456, abcdef or aaaaaa"
    else:
        return None
    return f"expected a random token ({weakness}); make one with {_GENERATE}"


def new_key() -> str:
    """256 random bits as 43 URL-safe characters: fit for API_KEYS, METRICS_TOKEN and CONSOLE_TOKEN (drawn
    again in the rare case the console's guessability rules would refuse it)."""
    while console_token_problem(key := secrets.token_urlsafe(32)):
        pass
    return key


def _longest_run(raw: str) -> int:
    """The longest stretch of characters that repeat or step by one (aaaa, 1234, fedc)."""
    longest = current = 1
    step = None
    for before, after in zip(raw, raw[1:], strict=False):
        difference = ord(after) - ord(before)
        if difference in (-1, 0, 1) and (current == 1 or difference == step):
            current, step = current + 1, difference
        else:
            current, step = (2, difference) if difference in (-1, 0, 1) else (1, None)
        longest = max(longest, current)
    return longest


def secret_list_problem(raw: str) -> str | None:
    keys = split_list(raw)
    ok = keys and all(_SECRET.match(key) for key in keys)
    return None if ok else "expected comma-separated keys of at least 16 letters, digits or ._~+/=-"


def paths_problem(raw: str) -> str | None:
    ok = all(path.startswith("/") for path in split_list(raw))
    return None if ok else "expected comma-separated paths starting with /"


def openai_url_problem(raw: str) -> str | None:
    return http_url_problem(raw, "http(s)://host[:port]/path, e.g. https://api.openai.com/v1")


def sentry_dsn_problem(raw: str) -> str | None:
    return http_url_problem(raw, "https://<key>@<host>/<project>")


def directory_problem(raw: str) -> str | None:
    """A directory the master can make (or empty) and the workers write into. Only looked at (os.access):
    the master prepares it later, and still stops with one line if that fails (gunicorn.conf.py)."""
    path = os.path.abspath(raw)
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)  # the deepest part that exists is where makedirs would start
    if not os.path.isdir(path):
        return "expected a directory, or a path where one can be made (a file is in the way)"
    if not os.access(path, os.W_OK | os.X_OK):
        return "expected a directory this process may write into"
    return None
