"""travel_agent: the backend of an AI travel-planning chat, built not to fall over."""

from importlib.metadata import version

# The one place the version is written is pyproject.toml; the installed package's metadata carries it here.
__version__ = version("travel_agent")
