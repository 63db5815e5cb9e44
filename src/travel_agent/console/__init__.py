"""The operator console: GET /console, one live page of the whole service's health (docs/console.md)."""

from travel_agent.console.view import install_console

__all__ = ["install_console"]
