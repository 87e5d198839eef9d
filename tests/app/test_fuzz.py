"""Schemathesis against the whole OpenAPI document, in process through the ASGI app.

Every operation gets examples, edge cases from the schema (the coverage phase) and generated bodies,
valid and invalid. Each response must: not be a 5xx; have a status code the operation documents; match
the documented schema for that status and content type; refuse a body the schema says is invalid (4xx);
and never be an ``engine_failure`` (the 422 the API gives when the engine raised something unexpected:
a 500 in all but status).

Schema-valid bodies may still be refused: a JSON schema cannot say that a kernel must fit its input, so
the check that every schema-valid body is accepted (``positive_data_acceptance``) is not among these.

Deterministic (``derandomize``) and bounded: the whole run takes well under a minute on two cores.
Select it alone with ``-m fuzz``.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from app.main import app

pytestmark = pytest.mark.fuzz

schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schemathesis.check
def no_engine_failure(ctx, response, case) -> bool:
    """The API's stand-in for a 500 must never be reached either."""
    if b'"engine_failure"' in response.content:
        raise AssertionError(f"the engine failed: {response.content[:500]!r}")
    return True


CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance,
          checks.negative_data_rejection, no_engine_failure]


@schema.parametrize()
@settings(max_examples=20, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
def test_api_answers_every_generated_request_as_documented(case):
    case.call_and_validate(checks=CHECKS)
