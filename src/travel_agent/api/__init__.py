"""The flask-smorest Api: OpenAPI document, offline docs page, and the blueprints of each resource."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Flask, send_from_directory
from flask.typing import ResponseReturnValue
from flask_smorest import Api

from travel_agent import __version__
from travel_agent.api.chat import blp as chat_blp
from travel_agent.api.error_schema import ErrorSchema
from travel_agent.api.health import document_probes
from travel_agent.api.protection_docs import ProtectionDocs, introduction
from travel_agent.config import Settings

DOCS_ASSETS_URL = "/docs/assets/"


class TravelAgentApi(Api):
    ERROR_SCHEMA = ErrorSchema


def create_api(app: Flask) -> TravelAgentApi:
    settings: Settings = app.config["TRAVEL_AGENT_SETTINGS"]
    app.config.update(
        API_TITLE="travel_agent",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Served by the service itself: the docs page must work where no CDN can be reached.
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS_URL,
        API_SPEC_OPTIONS={"info": {"description": introduction(settings)}},
        # The Authorize button's key survives a reload of the page (kept in the browser's local storage).
        OPENAPI_SWAGGER_UI_CONFIG={"persistAuthorization": True},
    )
    api = TravelAgentApi(app, spec_kwargs={"extra_plugins": [ProtectionDocs(settings)]})
    api.spec.tag({"name": "health", "description": "Probes for monitors and orchestrators"})
    document_probes(api.spec)
    api.register_blueprint(chat_blp)
    assets = Path(swagger_ui_bundle.swagger_ui_path)

    @app.get(DOCS_ASSETS_URL + "<path:filename>")
    def docs_assets(filename: str) -> ResponseReturnValue:
        return send_from_directory(assets, filename, max_age=86400)

    @app.get("/favicon.ico")  # browsers ask for it on every page; Swagger UI's own icon
    def favicon() -> ResponseReturnValue:
        return send_from_directory(assets, "favicon-32x32.png", mimetype="image/png", max_age=86400)

    return api
