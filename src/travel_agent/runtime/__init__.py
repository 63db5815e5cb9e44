"""What gunicorn loads: the draining gevent worker, the hooks, the logger class and the master's shared files.

The gunicorn master imports this package (through ``gunicorn.conf.py``) before any worker forks, so the
modules the master loads here (``hooks``, ``logger``, ``metrics_files``, ``console_files``) import neither
Flask, PyMongo, redis-py nor gevent: the gevent worker patches the standard library inside each worker, and
code loaded before the patch runs unpatched (redis-py's back-off would block the worker, PyMongo over TLS
recurses). The master also loads ``worker`` to learn the worker class: that imports gevent (patching happens
later, in each worker) but no app or driver code. The one thing the master builds for the workers is the
offline assistant's gazetteer, plain data shared copy-on-write. ``tests/unit/test_master_imports.py`` enforces
all of this.
"""
