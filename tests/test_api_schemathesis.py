"""Property-based requests from the OpenAPI document (schemathesis) over every operation: no 5xx, and the
answers are what the document says (status codes, content types, body schemas, Allow headers, auth).

Every operation, uploads, the OGC routes and the screen routes included, gets a bounded number of generated
requests, valid and invalid, sent with the write key so that the layer import is exercised past the key
check too. A job made beforehand lends its id to part of the job routes' requests, so those reach a real
job rather than only 404s.

Every check schemathesis has runs, but one: ``positive_data_acceptance`` expects every request the schema
allows to be accepted, which no schema can promise here: a file's bytes, a site's text, a bbox whose lower
corner is above its upper one are all schema-valid strings. Those are answered 400 naming the field, which
the other checks hold to. ``limit`` above its documented maximum is served clamped to the maximum, as OGC API
- Features recommends (/rec/core/fc-limit-default-maximum) and GDAL needs; that alone is not a rejection
the negative checks may ask for.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from gis.store import open_store
from tests.api_support import READ_KEY, WRITE_KEY, api_server, start_server  # noqa: F401

MAX_EXAMPLES = 25
STATUSES: Counter = Counter()
OGC_LIMIT_MAX = 50  # api_server's ogc_limit_max


@pytest.fixture(scope="module")
def api_schema(api_server):
    return schemathesis.openapi.from_url(f"{api_server.url}/openapi.json")


@pytest.fixture(scope="module")
def real_job(api_server) -> str:
    """The id of a finished screening job."""
    with api_server.client() as http:
        job = http.post("/screen", files={"file": ("清单.csv", "经度,纬度\n86.04,44.30\n".encode())}).json()
        for _ in range(1200):
            if http.get(f"/screen/{job['id']}").json()["status"] in ("succeeded", "failed"):
                return job["id"]
            time.sleep(0.25)
    raise AssertionError("the job did not finish")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module", autouse=True)
def report_statuses():
    yield
    print(f"\nschemathesis: {sum(STATUSES.values())} requests, status codes {dict(sorted(STATUSES.items()))}")


def _key_removed(case) -> bool:
    """A negative case made by leaving out the key header: the test sends its own key with every request, so
    such a case is no longer invalid as sent (it may differ in another part that the server ignores)."""
    return "X-API-Key" not in (case.headers or {})


def _clamped_limit(case) -> bool:
    limit = (case.query or {}).get("limit")
    return isinstance(limit, (int, str)) and str(limit).isdigit() and int(limit) > OGC_LIMIT_MAX


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_every_operation_answers_as_documented(case, api_server, real_job):
    if case.path_parameters and "job_id" in case.path_parameters and len(str(case.path_parameters["job_id"])) % 2:
        case.path_parameters["job_id"] = real_job
    excluded = [positive_data_acceptance] + (
        [negative_data_rejection] if _clamped_limit(case) or _key_removed(case) else [])
    response = case.call_and_validate(base_url=api_server.url, headers={"X-API-Key": WRITE_KEY},
                                      excluded_checks=excluded, timeout=120)
    STATUSES[response.status_code] += 1
    assert response.status_code < 500


def test_with_read_keys_every_operation_documents_and_answers_401(tmp_path_factory):
    server = start_server(tmp_path_factory, "keyed-doc", read_keys=READ_KEY, write_keys=WRITE_KEY,
                          require_read_key="true")
    try:
        document = httpx.get(f"{server.url}/openapi.json").json()
        # No page shows a zone of the layers without the key (the legend names kinds, not zones).
        zone_names = {name for name in open_store().snapshot(dt.date.today()).zones["name"] if len(name) >= 6}
        with server.client() as http:
            for path, operations in document["paths"].items():
                for method, operation in operations.items():
                    if {"operations", "pages"} & set(operation.get("tags", [])):  # /health and the pages: open
                        assert "401" not in operation["responses"], (method, path)
                        answer = http.request(method.upper(), path)
                        assert answer.status_code == 200, (method, path)
                        assert not [name for name in zone_names if name in answer.text], (method, path)
                        continue
                    assert {"401", "403"} <= set(operation["responses"]), (method, path)
                    url = path.replace("{collectionId}", "nature_reserve").replace("{kind}", "nature_reserve")
                    url = url.replace("{featureId}", "x").replace("{job_id}", "0" * 32).replace("{fmt}", "csv")
                    url = url.replace("{level}", "0")
                    response = http.request(method.upper(), url)
                    assert response.status_code == 401, (method, path, response.text)
                    assert response.headers["content-type"] == "application/problem+json"
                    assert response.json()["field"] == "X-API-Key"
    finally:
        server.stop()
