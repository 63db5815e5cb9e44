"""Load and speed benchmarks of travel_agent: each figure a ratio against a floor measured in the same run."""
