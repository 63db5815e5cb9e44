"""gunicorn's logger (``logger_class`` in gunicorn.conf.py): JSON lines when LOG_FORMAT=json, and an access
log that leaves the orchestrator's probes out unless ACCESS_LOG_PROBES is on.

Loaded by the master, so it imports only gunicorn and standard-library modules of ours. With LOG_FORMAT=json
gunicorn's own lines (start, workers, signals) use the app's JSON formatter, so every line on stdout and
stderr has the same keys, and each access line carries method, path, status, duration_ms and request_id (the
``X-Request-ID`` the middleware puts on every response).
"""

from __future__ import annotations

import datetime
import logging
import sys
import threading
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

from gunicorn import glogging

from travel_agent.config import Settings
from travel_agent.observability.logging_setup import JsonFormatter, RequestIdFilter
from travel_agent.request_context import STREAM_ERROR_KEY

# gunicorn.conf.py's access_log_format: method, path, status, bytes, duration and request id. Written by
# ``_text_line`` without gunicorn's generic formatting, which builds a dictionary of every request header,
# response header and environ variable for each line (docs/PERFORMANCE.md, section 1).
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
# What orchestrators and load balancers poll (ACCESS_LOG_PROBES).
PROBE_PATHS = frozenset({"/health/live", "/health/ready"})
# What an open console page polls (ACCESS_LOG_CONSOLE); only its successful answers are left out.
CONSOLE_POLL_PATHS = frozenset({"/console/state"})


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers or ():
        if key.lower() == name:
            return str(value)
    return None


class GunicornLogger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)  # also re-run on a configuration reload (SIGHUP)
        settings = Settings.from_env()  # gunicorn.conf.py already validated it: a bad value never gets here
        self.json_lines = settings.log_format == "json"
        self.skip_paths = settings.access_log_skip_list
        self.quiet_paths = frozenset() if settings.access_log_probes else PROBE_PATHS
        self.quiet_when_ok = frozenset() if settings.access_log_console else CONSOLE_POLL_PATHS
        # Another format (set on the command line, say) goes through gunicorn's own formatting.
        self.own_text_format = not self.json_lines and cfg.access_log_format == ACCESS_LOG_FORMAT
        if self.json_lines:
            formatter = JsonFormatter()
            for handler in [*self.error_log.handlers, *self.access_log.handlers]:
                handler.setFormatter(formatter)
                handler.addFilter(RequestIdFilter())
            # An exception nobody caught (in a background thread, which is a greenlet in a worker) would
            # print a bare traceback; as a log record it is one JSON line. Set in the master, inherited by
            # every worker it forks.
            sys.excepthook = self._log_uncaught
            threading.excepthook = lambda a: self._log_uncaught(
                a.exc_type, a.exc_value, a.exc_traceback, a.thread.name if a.thread else None
            )

    def _log_uncaught(
        self,
        exc_type: type[BaseException],
        value: BaseException | None,
        traceback: TracebackType | None,
        thread: str | None = None,
    ) -> None:
        where = f" in thread {thread}" if thread else ""
        # threading.excepthook may pass no exception value; logging's exc_info takes a triple only with one.
        info = (exc_type, value, traceback) if value is not None else None
        self.error_log.error("uncaught %s%s", exc_type.__name__, where, exc_info=info)

    def _skipped(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in self.skip_paths)

    def access(self, resp: Any, req: Any, environ: MutableMapping[str, Any], request_time: datetime.timedelta) -> None:
        path = environ.get("PATH_INFO", "")
        if path in self.quiet_paths or not self.access_log_enabled or (self.skip_paths and self._skipped(path)):
            return
        if path in self.quiet_when_ok and str(resp.status).startswith(("2", "3")):
            return
        if self.own_text_format:
            log = self.access_log
            try:
                if log.isEnabledFor(logging.INFO):
                    # Logger.info() without its findCaller() stack walk: an access line has no source location
                    # worth the cost (about a fifth of a logged line's).
                    log.handle(
                        log.makeRecord(log.name, logging.INFO, "", 0, _text_line(resp, environ, request_time), (), None)
                    )
            except Exception:  # noqa: BLE001  (as gunicorn's own access(): a log line must not fail the request)
                self.error_log.exception("could not write an access log line")
            return
        if not self.json_lines:
            super().access(resp, req, environ, request_time)
            return
        status = str(resp.status).split(" ", 1)[0]
        fields = {
            "method": environ.get("REQUEST_METHOD", "-"),
            "path": environ.get("PATH_INFO", ""),
            "status": int(status) if status.isascii() and status.isdigit() else status,
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "request_id": _header(resp.headers, "x-request-id") or environ.get("travel_agent.request_id") or "-",
            "client": environ.get("REMOTE_ADDR", "-"),
            "bytes": getattr(resp, "sent", None),
            "user_agent": environ.get("HTTP_USER_AGENT", "-"),
        }
        if STREAM_ERROR_KEY in environ:  # a 200 stream that ended in an error event: the status the client got
            fields["stream_error"] = int(environ[STREAM_ERROR_KEY])
        try:
            self.access_log.info("%s %s %s", fields["method"], fields["path"], status, extra=fields)
        except Exception:  # noqa: BLE001  (as gunicorn's own access(): a log line must not fail the request)
            self.error_log.exception("could not write an access log line")


def _text_line(resp: Any, environ: MutableMapping[str, Any], request_time: datetime.timedelta) -> str:
    """ACCESS_LOG_FORMAT as gunicorn formats it, its escaping of double quotes included. logging does not
    %-format a message given without arguments, so a "%" in the path is written as is."""
    status = resp.status
    if isinstance(status, str):
        status = status.split(None, 1)[0]
    sent = getattr(resp, "sent", None)
    request_line = _escaped(f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}")
    millis = request_time.seconds * 1000 + int(request_time.microseconds / 1000)
    request_id = _escaped(_header(resp.headers, "x-request-id") or "-")
    line = (
        f'{_escaped(environ.get("REMOTE_ADDR", "-"))} "{request_line}" {status} '
        f"{'-' if sent is None else sent} {millis}ms rid={request_id}"
    )
    # A 200 stream that ended in an error event failed: the line says with what.
    stream_error = environ.get(STREAM_ERROR_KEY)
    return line if stream_error is None else f"{line} stream_error={stream_error}"


def _escaped(value: str) -> str:
    return value.replace('"', '\\"')
