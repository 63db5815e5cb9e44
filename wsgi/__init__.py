"""The WSGI entry point: gunicorn loads ``wsgi:app`` in each worker, after gevent has patched the stdlib."""

from travel_agent.app import create_app

app = create_app()
