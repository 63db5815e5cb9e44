"""The service (``wsgi:app``) with a memory profile beside it, for ``scripts/bench held --held-profile``.

``GET /_bench/memory`` the first time starts tracemalloc and takes a baseline; each later call compares
with it: the Python
allocations that grew, by the line that made them (tracemalloc), the objects that grew, by type (gc), and
the greenlets: how many, and the bytes of C stack they keep saved while switched out (greenlet's
``_stack_saved``), which tracemalloc does not see. A benchmark app only: tracemalloc slows every allocation.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import greenlet
from wsgi import app as service

_baseline: dict[str, Any] = {}


def _types() -> Counter[str]:
    return Counter(type(o).__name__ for o in gc.get_objects())


def _greenlets() -> dict[str, Any]:
    found = [o for o in gc.get_objects() if isinstance(o, greenlet.greenlet)]
    saved = sorted(getattr(g, "_stack_saved", 0) for g in found)
    return {
        "count": len(found),
        "stack_saved_bytes": sum(saved),
        "stack_saved_median": saved[len(saved) // 2] if saved else 0,
        "stack_saved_max": saved[-1] if saved else 0,
    }


def _report() -> dict[str, Any]:
    gc.collect()
    if not tracemalloc.is_tracing():
        # Started at the baseline, not at import: tracing every import makes the worker boot too slowly.
        tracemalloc.start(12)
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    types, greenlets = _types(), _greenlets()
    if not _baseline:
        _baseline.update(snapshot=snapshot, types=types, greenlets=greenlets)
        return {"baseline": True, "greenlets": greenlets, "traced_bytes": tracemalloc.get_traced_memory()[0]}
    by_line = snapshot.compare_to(_baseline["snapshot"], "lineno")[:40]
    by_trace = snapshot.compare_to(_baseline["snapshot"], "traceback")[:12]
    grown = (types - _baseline["types"]).most_common(30)
    return {
        "traced_bytes": tracemalloc.get_traced_memory()[0],
        "traced_growth_bytes": sum(s.size_diff for s in snapshot.compare_to(_baseline["snapshot"], "filename")),
        "greenlets": greenlets,
        "greenlets_before": _baseline["greenlets"],
        "by_line": [
            {"where": str(s.traceback[0]), "size_diff": s.size_diff, "count_diff": s.count_diff} for s in by_line
        ],
        "by_traceback": [
            {"size_diff": s.size_diff, "count_diff": s.count_diff, "traceback": [str(f) for f in s.traceback[-12:]]}
            for s in by_trace
        ],
        "types_grown": grown,
    }


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/_bench/memory":
        body = json.dumps(_report()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    return service(environ, start_response)
