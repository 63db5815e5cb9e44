"""A bounded property-based run against /openapi.json: no 500, and every response as documented.

Driven through schemathesis' Hypothesis strategies rather than its pytest integration: with pytest 9 its
fixture-based loader fails (it reads ``Function._nodeid``, which pytest no longer has), and the app needs this
test's fixtures (real MongoDB and Redis) so the document cannot be loaded at import time.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

EXAMPLES = 60  # per mode; the whole run stays well under a minute on a busy 2-core machine


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(build_app: Callable[..., Flask], mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", build_app())

    @given(case=schema.as_strategy(mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        # Every check but "schema-valid data is accepted": some refusals depend on state, not on the schema
        # (an Idempotency-Key the run already used with another body is rightly a 422).
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    run()
