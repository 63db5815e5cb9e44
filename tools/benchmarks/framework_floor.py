"""The framework's own floor of a chat turn: a minimal Flask + flask-smorest app whose one route,
``POST /api/chat/send``, validates the body with a marshmallow schema (as the service's route does), makes
exactly the storage floor's driver calls (``chat_floor.Floor.turn``) and answers with ``jsonify``.

The service against it is what the service's own code adds beyond the framework it is built on (request
scope, gate, metrics, the chat's bookkeeping, the agent); the storage floor alone is what the framework adds
too. Imported after gevent patched the standard library (``chat_inprocess`` does so first).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from flask_smorest import Api, Blueprint

from tools.benchmarks.chat_floor import Floor
from tools.benchmarks.conversation import MESSAGES


class SendSchema(ma.Schema):
    message = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4000))
    session_id = ma.fields.String(load_default=None)


def create_floor_app(floor: Floor) -> Flask:
    app = Flask("framework_floor")
    app.config.update(API_TITLE="framework floor", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blp = Blueprint("chat", __name__, url_prefix="/api/chat")
    schema = SendSchema()

    @blp.post("/send")
    @blp.arguments(schema)
    def send(body: dict[str, Any]) -> ResponseReturnValue:
        session_id = body["session_id"] or secrets.token_urlsafe(24)
        index = MESSAGES.index(body["message"])
        floor.turn(session_id, body["session_id"] is None, index)
        return jsonify(
            {
                "session_id": session_id,
                "message_id": secrets.token_urlsafe(16),
                "reply": floor.answers[index],
                "created_at": datetime.now(UTC).isoformat(),
            }
        )

    api.register_blueprint(blp)
    return app
