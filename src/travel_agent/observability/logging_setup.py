"""Logging to stdout and a rotated file, as text for people or JSON for machines, each line with its request id."""

from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from travel_agent.request_context import request_id

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s [%(request_id)s] %(message)s"
LOG_FILE_NAME = "travel_agent.log"
_HANDLER_MARK = "_travel_agent_handler"


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request id ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with a fixed set of keys. Written here rather than taken from a library
    because the keys must stay identical across our lines and gunicorn's, which pass extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key in ("method", "path", "status", "duration_ms", "client", "bytes", "user_agent"):
            if hasattr(record, key):
                body[key] = getattr(record, key)
        if record.exc_info:
            body["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A size-rotated file that several gunicorn workers may append to.

    The stock handler assumes one writer: two processes would each rename the file under the other. Here the
    rollover runs under an advisory lock and re-checks the size on disk, and every writer reopens the file
    when it notices the name now points at a new inode.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is not None and self._rotated_elsewhere(self.stream):
            self.stream.close()
            self.stream = self._open()
        super().emit(record)

    def _rotated_elsewhere(self, stream: IO[str]) -> bool:
        try:
            return os.stat(self.baseFilename).st_ino != os.fstat(stream.fileno()).st_ino
        except OSError:
            return True

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 (stdlib name)
        if self.maxBytes <= 0:
            return False
        try:
            return os.stat(self.baseFilename).st_size >= self.maxBytes
        except OSError:
            return False

    def doRollover(self) -> None:  # noqa: N802 (stdlib name)
        with open(self.baseFilename + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if os.stat(self.baseFilename).st_size >= self.maxBytes:
                    super().doRollover()
                elif self.stream is not None:
                    self.stream.close()
                    self.stream = self._open()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _open_log_file(log_dir: str) -> tuple[logging.Handler | None, str | None]:
    """The rotated file handler, or None and why not (in words, without a traceback)."""
    path = Path(log_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        handler = SharedRotatingFileHandler(
            path / LOG_FILE_NAME, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:
        return None, exc.strerror or type(exc).__name__
    return handler, None


def configure_logging(log_dir: str, level: str, fmt: str) -> Path | None:
    """Install our handlers on the root logger once per process (a second app in tests replaces them).

    Returns the log file, or None when LOG_DIR cannot be written (a read-only root filesystem, a typo): the
    service exists to stay up, so it then logs to stdout alone and says so in one warning.
    """
    file_handler, why_not = _open_log_file(log_dir)
    log_file = None if file_handler is None else Path(log_dir) / LOG_FILE_NAME
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if file_handler is not None:
        handlers.append(file_handler)
    for handler in handlers:
        setattr(handler, _HANDLER_MARK, True)
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Python's warnings would otherwise print bare lines to stderr, breaking one-JSON-object-per-line.
    logging.captureWarnings(True)
    # The drivers are chatty at INFO/DEBUG; their failures reach our logs through our own lines.
    for noisy in ("pymongo", "redis"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    if why_not is not None:
        logging.getLogger("travel_agent.logging").warning(
            "LOG_DIR=%s cannot be written (%s): the log file is off, logging to stdout only", log_dir, why_not
        )
    return log_file
