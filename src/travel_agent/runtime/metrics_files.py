"""The Prometheus multiprocess directory, looked after by the gunicorn master (standard library only).

prometheus_client is deliberately not imported in the master: workers forked later would inherit its
module-level locks created before gevent patched threading. So the two chores it would do are done here:
prepare the directory before the first fork, and drop a dead worker's live gauges.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import MutableMapping

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client's gauge modes whose files belong to one live process (multiprocess.mark_process_dead).
LIVE_GAUGE_MODES = ("liveall", "livesum", "livemax", "livemin", "livemostrecent")
_created: list[str] = []


def prepare_directory(environ: MutableMapping[str, str]) -> str:
    """Empty the configured directory of old values, or make a private one; export it to the workers."""
    configured = environ.get(VARIABLE, "").strip()
    if configured:
        os.makedirs(configured, exist_ok=True)
        # Values of a previous run would be summed into this one; only prometheus_client's files go.
        for stale in glob.glob(os.path.join(configured, "*.db")):
            os.remove(stale)
        return configured
    # One directory per master: two servers on one host (tests, a blue/green deploy) never share one.
    path = os.path.join(tempfile.gettempdir(), f"travel_agent-metrics-{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, mode=0o700)
    _created.append(path)
    environ[VARIABLE] = path
    return path


def mark_worker_dead(pid: int, environ: MutableMapping[str, str]) -> None:
    """A dead worker's in-flight and state gauges must stop counting; its counters stay in the totals."""
    directory = environ.get(VARIABLE)
    if not directory:
        return
    for mode in LIVE_GAUGE_MODES:
        for path in glob.glob(os.path.join(directory, f"gauge_{mode}_{pid}.db")):
            os.remove(path)


def remove_directory() -> None:
    """Remove the directory this master made (never one the operator configured)."""
    while _created:
        shutil.rmtree(_created.pop(), ignore_errors=True)
