"""``GET /``: the traveller's chat page, served by the service itself (no CDN) under the console's strict CSP.

A small page: type, watch the answer stream in; when the connection drops, the worker restarts or the page
is reloaded mid-answer, it resumes the turn by itself (``static/chat.js``, docs/api.md "Resuming a stream")
and shows the whole answer once.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, render_template

from travel_agent.web.page_security import secure_pages


def install_chat_page(app: Flask) -> None:
    bp = Blueprint(
        "chat_page",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/chat-static",
    )

    secure_pages(bp)

    @bp.get("/")
    def page() -> Response:
        return Response(render_template("chat.html"), mimetype="text/html")

    app.register_blueprint(bp)
