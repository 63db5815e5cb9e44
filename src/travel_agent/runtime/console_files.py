"""The console's shared directory, looked after by the gunicorn master (standard library only).

Each worker writes small bounded JSON files there (its state, its last errors) and one of them at a time keeps
the service's history; any worker answering the console reads them all, so the page shows the whole service.
The directory sits inside the metrics directory, so it belongs to one master run like the metric files.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import time
from collections.abc import Mapping, MutableMapping

from travel_agent.runtime.metrics_files import VARIABLE

SUBDIRECTORY = "console"
STARTED_FILE = "started.json"
HISTORY_FILE = "history.json"
WORKER_PREFIX = "worker-"
ERRORS_PREFIX = "errors-"
# A dead worker's last errors stay readable this long (they may explain its death), then go.
DEAD_ERRORS_KEEP_SECONDS = 3600.0


def directory_for(environ: Mapping[str, str]) -> str | None:
    base = environ.get(VARIABLE, "").strip()
    return os.path.join(base, SUBDIRECTORY) if base else None


def write_json(path: str, data: object) -> None:
    """Readers see the old file or the new one, never half of one."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, separators=(",", ":"))
    os.replace(temporary, path)


def prepare(environ: MutableMapping[str, str]) -> None:
    """Before the first fork (after the metrics directory exists): a fresh directory and the start time."""
    path = directory_for(environ)
    if path is None:
        return
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, mode=0o700)
    write_json(os.path.join(path, STARTED_FILE), {"started": time.time(), "master_pid": os.getpid()})


def forget_worker(pid: int, environ: Mapping[str, str]) -> None:
    """A dead worker leaves the worker table at once; its errors stay a while, then old ones are pruned."""
    path = directory_for(environ)
    if path is None:
        return
    try:
        os.remove(os.path.join(path, f"{WORKER_PREFIX}{pid}.json"))
    except FileNotFoundError:
        pass
    cutoff = time.time() - DEAD_ERRORS_KEEP_SECONDS
    for errors in glob.glob(os.path.join(path, f"{ERRORS_PREFIX}*.json")):
        try:
            if os.path.getmtime(errors) < cutoff:
                os.remove(errors)
        except FileNotFoundError:
            pass
