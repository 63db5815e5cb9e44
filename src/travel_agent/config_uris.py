"""The rules for settings that name a server: URIs, URLs and host:port lists.

What the drivers would refuse when a worker builds its clients is refused at start, naming the variable: a
worker that raises while loading makes gunicorn halt the whole server ("Worker failed to boot") with a
traceback. The rules are those of PyMongo's and redis-py's URI parsers (tests/unit/test_config.py checks them
against the drivers); the drivers themselves cannot be imported here, in gunicorn's master. Each rule returns
what is wrong in words, or None; it never repeats the value, which may carry a password.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, unquote_plus, urlsplit

# PyMongo's rules: uri_parser's bad characters in a URI's database, and Database's in any database name.
_BAD_URI_DB = re.compile(r'[/ "$]')
_BAD_DB_NAME = re.compile(r'[/\\. "$\x00]')
_PORT_RULE = "expected each port to be a number from 1 to 65535"
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:(\d{1,5})$")
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def split_list(raw: str | None) -> tuple[str, ...]:
    """A comma-separated setting's items, blanks dropped."""
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket: "mongodb://[::1/"
        return None


def mongodb_uri_problem(uri: str) -> str | None:
    parts = _split(uri)
    if parts is None or parts.scheme not in ("mongodb", "mongodb+srv") or not parts.netloc:
        return "expected mongodb://host[:port]/[database]"
    hosts_and_more = uri.split("://", 1)[1]
    host_part, _, path_part = hosts_and_more.partition("/")
    host_part = host_part.partition("?")[0]
    hosts = host_part.rpartition("@")[2]
    if not hosts:
        return "expected at least one host"
    if parts.scheme == "mongodb+srv" and ("," in hosts or _port_of(hosts) is not None):
        return "expected one host name and no port with mongodb+srv://"
    for host in hosts.split(","):
        port = _port_of(host)
        if port is not None and not 0 < (_natural(port) or 0) <= 65535:
            return _PORT_RULE
    database = unquote_plus(path_part.partition("?")[0]).split(".", 1)[0]
    if _BAD_URI_DB.search(database):
        return 'expected a database name without spaces or any of / " $ in its path'
    return None


def mongodb_uri_database(uri: str) -> str:
    """The database a MongoDB URI names in its path ("" for none): it wins over MONGODB_DB."""
    parts = _split(uri)
    return parts.path.lstrip("/") if parts is not None else ""


def database_name_problem(name: str) -> str | None:
    if _BAD_DB_NAME.search(name):
        return 'expected a database name without spaces, dots or any of / \\ " $'
    return None


def _natural(text: str) -> int | None:
    """A whole number >= 0 as the drivers' int() reads it (fullwidth digits count), or None ("²" passes
    str.isdigit() but int() refuses it)."""
    try:
        number = int(text)
    except ValueError:
        return None
    return number if number >= 0 else None


def _port_of(host: str) -> str | None:
    if host.startswith("["):  # an IPv6 literal: [::1]:27017
        _, _, after = host.partition("]")
        return after[1:] if after.startswith(":") else None
    return host.rpartition(":")[2] if ":" in host else None


def redis_url_problem(url: str) -> str | None:
    parts = _split(url)
    if parts is None or parts.scheme not in ("redis", "rediss", "unix"):
        return "expected redis://host[:port]/[db]"
    try:
        parts.port  # noqa: B018 - urllib checks the port when asked for it, as redis-py does
    except ValueError:
        return "expected the port to be a number from 0 to 65535"
    # redis-py ignores a path that is not a number (and uses database 0): refused here, as surely a typo.
    if any(database and _natural(database) is None for database in _redis_databases(parts)):
        return "expected the database to be a number, e.g. redis://host:6379/0"
    return None


def _redis_databases(parts: SplitResult) -> list[str]:
    """The databases a Redis URL names (its ?db= and its path; "" where none), as redis-py reads them."""
    databases = [value for name, value in parse_qsl(parts.query) if name == "db"]
    if parts.scheme != "unix":  # a unix socket's path is the socket's
        databases.append(parts.path.lstrip("/"))
    return databases


def redis_url_names_a_database(url: str | None) -> bool:
    """True when a Redis URL selects a database other than 0 (which a Redis Cluster does not have)."""
    parts = _split(url or "")
    return parts is not None and any(database not in ("", "0") for database in _redis_databases(parts))


def is_unix_socket_url(url: str | None) -> bool:
    parts = _split(url or "")
    return parts is not None and parts.scheme == "unix"


def host_ports(raw: str | None) -> tuple[tuple[str, int], ...]:
    """(host, port) of each item of a host:port list (one that passed ``host_port_list_problem``)."""
    return tuple((host, int(port)) for host, _, port in (item.rpartition(":") for item in split_list(raw)))


def host_port_list_problem(raw: str) -> str | None:
    """host:port[,host:port...] with ports from 1 to 65535 (REDIS_SENTINELS, REDIS_CLUSTER_NODES)."""
    items = split_list(raw)
    matches = [_HOST_PORT.match(item) for item in items]
    if not items or not all(m and 1 <= int(m.group(1)) <= 65535 for m in matches):
        return "expected host:port[,host:port...]"
    return None


def name_problem(raw: str) -> str | None:
    """A name a server knows something by (REDIS_SENTINEL_MASTER)."""
    return None if _NAME.match(raw) else "expected a name of letters, digits or ._-"


def http_url_problem(url: str, example: str) -> str | None:
    parts = _split(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return f"expected {example}"
    return None
