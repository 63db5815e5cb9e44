"""What the tests against a real gunicorn share: the fault-injection app and the settings that keep them quick."""

from __future__ import annotations

# The service plus test-only routes that hold, fail or block on purpose (tests/support/fault_routes.py).
FAULT_APP = "tests.support.fault_app:app"
# One start-up attempt and a short health cache keep each test quick; every other setting is the production
# default.
FAST = {"STARTUP_RETRIES": "1", "HEALTH_CACHE_SECONDS": "0.5"}
# A one-worker service whose agent is the harness's model upstream (``OPENAI_AGAINST`` plus its URL), without
# Redis, the model's retries off so that each fault shows at once; each test module adds its own budget.
OPENAI_AGAINST = {
    "AGENT_PROVIDER": "openai",
    "OPENAI_API_KEY": "sk-test-key",
    "OPENAI_MAX_RETRIES": "0",
    "STARTUP_RETRIES": "1",
    "REDIS_URL": None,
}
