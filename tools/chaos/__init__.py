"""Chaos under load: the real service and its dependencies, broken on a schedule while clients talk."""
