"""A chat turn's CPU in-process, against two floors: the service's WSGI app called directly (no socket, no
gunicorn: what the service's own code adds, HTTP parsing and the access log aside); the framework floor
(``framework_floor``: a minimal Flask + flask-smorest app making the same driver calls); and the storage floor
(``chat_floor``: those MongoDB and Redis operations issued directly). One conversation after another in one
gevent-patched process, alternating. Each figure is process CPU time per turn (so other processes on the shared
machine do not count), the minimum over repeats: far steadier under load than a worker's CPU under wrk; and
the median of each repeat's service/floor ratio, steadier still with many short repeats.

Run as ``python -m tools.benchmarks.chat_inprocess --mongo URI --redis URL``; prints one JSON line. The databases are
``travel_agent`` (service) and ``travel_agent_floor`` (floor) on the same server.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from werkzeug.test import EnvironBuilder  # noqa: E402

from tools.benchmarks.chat_floor import Floor  # noqa: E402
from tools.benchmarks.conversation import MESSAGES, SEND_PATH  # noqa: E402
from tools.benchmarks.framework_floor import create_floor_app  # noqa: E402
from travel_agent.config import Settings  # noqa: E402


def server_environ(raw: bytes) -> dict[str, Any]:
    """The environ of a send as gunicorn's gevent worker hands it to the app (its keys and values for such a
    request), built as cheaply as a dict copy: parsing HTTP is gunicorn's work, left out of both sides here.
    werkzeug's EnvironBuilder, used before, cost the service's side about 3 % of its CPU (cProfile) that no
    server spends."""
    environ = dict(_SEND_ENVIRON)
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ["wsgi.input"] = io.BytesIO(raw)
    return environ


_SEND_ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "POST",
    "SCRIPT_NAME": "",
    "PATH_INFO": SEND_PATH,
    "RAW_URI": SEND_PATH,
    "QUERY_STRING": "",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
    "CONTENT_TYPE": "application/json",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "chat_inprocess",
    "HTTP_ACCEPT": "*/*",
    "wsgi.url_scheme": "http",
    "wsgi.version": (1, 0),
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
    "wsgi.input_terminated": True,
}


def service_turns(
    wsgi: Callable[..., Any], environ_of: Callable[[bytes], dict[str, Any]] | None = server_environ
) -> Callable[[], None]:
    """One conversation (len(MESSAGES) turns) through the app; ``environ_of`` None builds each request's
    environ with werkzeug's EnvironBuilder, as this benchmark did before."""

    def post(body: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(body).encode()
        if environ_of is None:  # werkzeug's builder: what this benchmark used until 2026-12-02
            environ = EnvironBuilder(
                path=SEND_PATH, method="POST", data=raw, content_type="application/json"
            ).get_environ()
        else:
            environ = environ_of(raw)
        status: list[str] = []

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            status.append(line)

        out = wsgi(environ, start_response)
        data = b"".join(out)
        close = getattr(out, "close", None)
        if close is not None:
            close()
        if not status or not status[0].startswith("200"):
            raise RuntimeError(f"chat answered {status}: {data[:300]!r}")
        answer: dict[str, Any] = json.loads(data)
        return answer

    def conversation() -> None:
        session_id = None
        for message in MESSAGES:
            body: dict[str, Any] = {"message": message}
            if session_id:
                body["session_id"] = session_id
            session_id = post(body)["session_id"]

    return conversation


def floor_turns(floor: Floor) -> Callable[[], None]:
    def conversation() -> None:
        session_id = secrets.token_urlsafe(24)
        for index in range(len(MESSAGES)):
            floor.turn(session_id, index == 0, index)

    return conversation


def cpu_us_per_turn(conversation: Callable[[], None], conversations: int) -> float:
    started = time.process_time()
    for _ in range(conversations):
        conversation()
    return (time.process_time() - started) / (conversations * len(MESSAGES)) * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mongo", required=True, help="a server URI ending in '/'")
    p.add_argument("--redis", required=True)
    p.add_argument("--conversations", type=int, default=20, help="conversations per repeat (20)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument(
        "--werkzeug-environ",
        action="store_true",
        help="build each request with werkzeug's EnvironBuilder, as before 2026-12-02 (its cost counts as "
        "the service's)",
    )
    args = p.parse_args(argv)
    log_dir = tempfile.mkdtemp(prefix="travel_agent-chat-inprocess-")
    # As under gunicorn: metric values in files (multiprocess mode), the log in a directory of its own.
    os.environ.update(
        MONGODB_URI=args.mongo,
        REDIS_URL=args.redis,
        LOG_DIR=log_dir,
        PROMETHEUS_MULTIPROC_DIR=os.path.join(log_dir, "metrics"),
    )
    from travel_agent.app import create_app

    service = create_app()
    logging.getLogger().handlers[:] = [logging.StreamHandler(io.StringIO())]  # as a log to a file costs
    settings = Settings.from_env(overrides={"MONGODB_URI": args.mongo + "travel_agent_floor", "REDIS_URL": args.redis})
    floor = Floor(settings, settings.chat_history_messages)
    environ_of = None if args.werkzeug_environ else server_environ
    framework = create_floor_app(floor)
    sides = {
        "floor": floor_turns(floor),
        "framework": service_turns(framework.wsgi_app, environ_of),
        "service": service_turns(service.wsgi_app, environ_of),
    }
    for run in sides.values():
        run()  # warm: connections, indexes, imports
    found: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, run in sides.items():
            found[name].append(cpu_us_per_turn(run, args.conversations))
    best = {name: round(min(values), 1) for name, values in found.items()}
    # Each repeat's service figure over the floor's just before it: neighbours share the machine's state of
    # the moment, so on a shared VM the median of these moves far less than the ratio of two minimums
    # (use many short repeats for it, e.g. --conversations 2 --repeats 60).
    pairs = sorted(s / f for s, f in zip(found["service"], found["floor"], strict=True))
    over_framework = sorted(s / f for s, f in zip(found["service"], found["framework"], strict=True))
    sys.stdout.write(
        json.dumps(
            {
                "floor_us": best["floor"],
                "framework_us": best["framework"],
                "service_us": best["service"],
                "ratio": round(best["service"] / best["floor"], 3),
                "pair_ratio_median": round(statistics.median(pairs), 3),
                "pair_ratio_quartiles": [round(pairs[len(pairs) // 4], 3), round(pairs[3 * len(pairs) // 4], 3)],
                "framework_ratio": round(best["service"] / best["framework"], 3),
                "framework_pair_ratio_median": round(statistics.median(over_framework), 3),
                "framework_pair_ratio_quartiles": [
                    round(over_framework[len(over_framework) // 4], 3),
                    round(over_framework[3 * len(over_framework) // 4], 3),
                ],
                "repeats": {k: [round(v) for v in vs] for k, vs in found.items()},
            }
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
