"""The floor's gunicorn: plain ``gunicorn -k gevent -w N`` as someone comparing frameworks would run it.

gunicorn's own defaults (no access log, its own worker and logger classes); a file rather than flags only
because gunicorn would otherwise read the service's ./gunicorn.conf.py from the repository root.
"""

import os

bind = f"127.0.0.1:{os.environ['PORT']}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_class = "gevent"
# Not on the request path; two masters on one host would otherwise share gunicorn 27's control socket path.
control_socket_disable = True
