"""Property-based requests from the OpenAPI document (schemathesis): no input ever makes the server fail (5xx).

Every operation gets a bounded number of generated requests, valid and invalid, sent with the write key so
that the layer import is exercised past the key check too.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.api_support import WRITE_KEY, api_server  # noqa: F401

MAX_EXAMPLES = 25
STATUSES: Counter = Counter()


@pytest.fixture(scope="module")
def api_schema(api_server):
    return schemathesis.openapi.from_url(f"{api_server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module", autouse=True)
def report_statuses():
    yield
    print(f"\nschemathesis: {sum(STATUSES.values())} requests, status codes {dict(sorted(STATUSES.items()))}")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_no_input_makes_the_server_fail(case, api_server):
    response = case.call_and_validate(base_url=api_server.url, headers={"X-API-Key": WRITE_KEY},
                                      checks=[not_a_server_error], timeout=120)
    STATUSES[response.status_code] += 1
    assert response.status_code < 500
