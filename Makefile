# One command per verb; each is a thin alias of a script in scripts/.
.PHONY: run test check chaos fuzz bench production
run:
	scripts/run
test:
	scripts/test
check:
	scripts/bootstrap && .venv/bin/ruff check .
chaos:
	scripts/chaos
fuzz:
	scripts/fuzz
bench:
	scripts/bench
production:
	scripts/production
