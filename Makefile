# One command per verb; each is a thin alias of a script in scripts/ or of one pytest run.
.PHONY: run test test-fast test-quick coverage check chaos fuzz bench production
run:
	scripts/run
test:
	scripts/test
# The inner loop: the unit tier alone (no servers, no apt; about 30 s).
test-fast:
	scripts/bootstrap && .venv/bin/python -m pytest tests/unit -q
# Everything but the tests marked slow (lint and mypy first, as scripts/test does).
test-quick:
	scripts/test -m "not slow"
# Line coverage of src/travel_agent over the unit and in-process tiers, held to the floor in pyproject.toml.
coverage:
	scripts/coverage
check:
	scripts/bootstrap && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
chaos:
	scripts/chaos
fuzz:
	scripts/fuzz
bench:
	scripts/bench
production:
	scripts/production
