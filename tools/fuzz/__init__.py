"""Bad input: a bounded schemathesis campaign and raw HTTP abuse against the running service."""
