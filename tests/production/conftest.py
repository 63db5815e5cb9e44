"""The production-shape tests make certificates with openssl and route through HAProxy and nginx (Debian's
packages)."""

from __future__ import annotations

import pytest
from tests.support.apt import ensure_apt


@pytest.fixture(scope="session", autouse=True)
def _production_packages() -> None:
    ensure_apt("openssl", "haproxy", "nginx")
