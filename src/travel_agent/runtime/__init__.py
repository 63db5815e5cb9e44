"""What gunicorn loads: the draining gevent worker, the hooks, the logger class and the master's metric files.

The gunicorn master imports this package (through ``gunicorn.conf.py``) before any worker forks, so the
modules the master loads here (``hooks``, ``logger``, ``metrics_files``) import neither Flask, PyMongo,
redis-py nor gevent: the gevent worker patches the standard library inside each worker, and code loaded
before the patch runs unpatched (redis-py's back-off would block the worker, PyMongo over TLS recurses).
``worker`` itself is imported only inside the workers. ``tests/unit/test_master_imports.py`` enforces this.
"""
