"""The request parser of the API: webargs' own, except that JSON Python cannot load is a 400, never a 500."""

from __future__ import annotations

import json
from typing import Any

import flask
from webargs.flaskparser import FlaskParser


class JsonParser(FlaskParser):
    """webargs turns only ``JSONDecodeError`` into its 400. ``json.loads`` also raises a plain ``ValueError`` for
    an integer of more than 4,300 digits and ``RecursionError`` for arrays or objects nested too deep; both
    are a body we refuse, not a fault of ours."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            # A non-empty doc: webargs reads an empty one as "no body at all".
            raise json.JSONDecodeError(f"unloadable JSON ({type(exc).__name__})", "<body>", 0) from exc
