"""In-process chat apps: the offline agent, or the OpenAI provider against the test's real upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from tests.support.chat import API_KEY, MODEL

from tools.harness.upstream import UpstreamServer


@pytest.fixture
def openai_app(build_app: Callable[..., Flask], upstream: UpstreamServer) -> Callable[..., Flask]:
    """``openai_app(**settings)``: the factory's app with AGENT_PROVIDER=openai pointed at ``upstream``."""

    def build(**overrides: Any) -> Flask:
        return build_app(
            **(
                {
                    "AGENT_PROVIDER": "openai",
                    "OPENAI_BASE_URL": upstream.base_url,
                    "OPENAI_API_KEY": API_KEY,
                    "OPENAI_MODEL": MODEL,
                }
                | overrides
            )
        )

    return build
