"""What the gunicorn master loads imports no Flask, PyMongo, redis-py or gevent (see travel_agent.runtime).

A fresh interpreter loads gunicorn.conf.py as gunicorn does, then every module its hooks and logger_class
name; anything the master imports runs unpatched in every worker forked from it.
"""

from __future__ import annotations

import subprocess
import sys

from tools.harness import REPO_ROOT

FORBIDDEN = ("flask", "pymongo", "redis", "gevent", "prometheus_client", "sentry_sdk")
MASTER_SIDE = (
    "travel_agent.runtime.hooks",
    "travel_agent.runtime.logger",
    "travel_agent.runtime.metrics_files",
    "travel_agent.runtime.console_files",
)


def loaded_by_the_master() -> list[str]:
    code = (
        "import importlib, runpy, sys\n"
        "runpy.run_path('gunicorn.conf.py')\n"
        f"for name in {MASTER_SIDE!r}:\n"
        "    importlib.import_module(name)\n"
        # The one hook that builds something in the master: the offline assistant's gazetteer.
        "import logging, types\n"
        "from travel_agent.runtime.hooks import share_offline_gazetteer\n"
        "share_offline_gazetteer(types.SimpleNamespace(log=logging.getLogger('master')), True)\n"
        f"print(' '.join(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_master_imports_no_app_driver_or_gevent_code() -> None:
    assert loaded_by_the_master() == []


def test_the_worker_class_module_imports_no_app_or_driver_code() -> None:
    """gunicorn's master also imports the worker class (to know its type): gevent then, but nothing else."""
    code = (
        "import sys, travel_agent.runtime.worker;"
        f"print(' '.join(sorted(m for m in {FORBIDDEN!r} if m in sys.modules and m != 'gevent')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
