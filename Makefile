# One command per verb; each is a thin alias of a script in scripts/.
.PHONY: run test check chaos fuzz bench
run:
	scripts/run
test:
	scripts/test
check:
	scripts/bootstrap && .venv/bin/ruff check src wsgi tests harness chaos fuzz benchmarks gunicorn.conf.py
chaos:
	scripts/chaos
fuzz:
	scripts/fuzz
bench:
	scripts/bench
