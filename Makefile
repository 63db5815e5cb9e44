# One command per verb; each is a thin alias of a script in scripts/.
.PHONY: run test check
run:
	scripts/run
test:
	scripts/test
check:
	scripts/bootstrap && .venv/bin/ruff check src wsgi tests gunicorn.conf.py
