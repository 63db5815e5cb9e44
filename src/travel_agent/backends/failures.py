"""Words for why a connection to a dependency failed, read from the driver's error text.

The drivers report refused connections, untrusted certificates and failed handshakes inside their messages
(pymongo's ServerSelectionTimeoutError carries the last error of each server; redis-py's ConnectionError the
socket's), and those messages name hosts, so the service shows only the words returned here. None of the
patterns can match a password: they are fixed phrases of the OS, OpenSSL and the servers.
"""

from __future__ import annotations

import re

_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"authentication ?failed|invalid username-password|WRONGPASS|NOAUTH|"
            r"must be called with the client already authenticated",
            re.IGNORECASE,
        ),
        "authentication failed",
    ),
    (re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed", re.IGNORECASE), "certificate not trusted"),
    (
        re.compile(
            r"WRONG_VERSION_NUMBER|SSL: |TLS/SSL connection has been closed|EOF occurred in violation", re.IGNORECASE
        ),
        "TLS handshake failed",
    ),
    (re.compile(r"Connection refused|Errno 111", re.IGNORECASE), "connection refused"),
)


def connection_reason(exc: BaseException) -> str | None:
    """ "authentication failed", "certificate not trusted", "TLS handshake failed", "connection refused",
    or None when the error text says none of these."""
    text = ""
    cause: BaseException | None = exc
    # The error and what it was raised from: a wrapper (redis-py's RedisClusterException, the service's
    # ClusterUnavailable) keeps the socket's error as its cause.
    while cause is not None:
        text += f" {cause}"
        details = getattr(cause, "details", None)
        if details:
            text += f" {details}"
        cause = cause.__cause__
    for pattern, reason in _REASONS:
        if pattern.search(text):
            return reason
    return None
