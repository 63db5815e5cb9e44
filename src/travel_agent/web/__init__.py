"""The WSGI and Flask request layer: request scope and budget, shedding, body limits, API keys, rate limits."""
