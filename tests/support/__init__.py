"""Apps and helpers used only by the tests."""
