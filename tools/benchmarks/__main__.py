"""``python -m tools.benchmarks``: see benchmarks.cli."""

from tools.benchmarks.cli import main

raise SystemExit(main())
