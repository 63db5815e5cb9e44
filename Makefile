# One command per verb; each is a thin alias of a script in scripts/.
.PHONY: run test check bench
run:
	scripts/run
test:
	scripts/test
check:
	scripts/bootstrap && .venv/bin/ruff check src wsgi tests benchmarks gunicorn.conf.py
bench:
	scripts/bench
