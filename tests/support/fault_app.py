"""A gunicorn-loadable app (``tests.support.fault_app:app``): the real service plus the test-only routes."""

from tests.support.fault_routes import install

from travel_agent.app import create_app

app = install(create_app())
