"""The event loop only waits: a check whose cost is not known to be small runs in a worker thread, and a
check that fails is computed once."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

import api.routes.check as check_route
from api.app import create_app
from api.settings import Settings
from tests import maps_harness as harness

#: About 70 bytes: a parcel of about 8,500 km² around Urumqi (near the largest a site may be), whose engine is
#: not built yet: building it and checking take a good part of a second, ten times a point check.
LARGE_PARCEL = {"site": "POLYGON((87.0 43.5,88.2 43.5,88.2 44.3,87.0 44.3,87.0 43.5))"}
SHIHEZI = {"site": {"type": "Point", "coordinates": [86.0413, 44.3056]}}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = Settings(jobs_dir=tmp_path_factory.mktemp("jobs"), cors_origins=[], require_read_key=False,
                        root_path="")
    return create_app(settings)


def test_a_small_check_that_fails_is_read_once(app, monkeypatch):
    """A small JSON check is tried before the framework's layers; when it fails there, the framework answers
    its error without reading and checking the site again."""
    reads = []
    build = check_route._build
    monkeypatch.setattr(check_route, "_build", lambda *args: reads.append(args) or build(*args))
    with TestClient(app) as client:
        body = json.dumps({"site": "POINT (10 10)"}).encode()  # outside the area the layers cover
        answer = client.post("/check", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"
        assert len(reads) == 1
        reads.clear()
        good = client.post("/check", json=SHIHEZI)
        assert good.status_code == 200 and len(reads) == 1


def test_small_checks_are_answered_while_a_large_parcel_is_checked(app):
    """Point checks sent after a small body holding a large parcel all come back before it does: it is
    checked in a worker thread, not on the event loop (on the loop, they would wait for it)."""
    finished: list[tuple[str, float]] = []
    lock = threading.Lock()

    def post(name: str, body: dict) -> int:
        answer = httpx.post(f"{url}/check", json=body, timeout=120)
        with lock:
            finished.append((name, time.monotonic()))
        return answer.status_code

    with harness.serve(app) as url, ThreadPoolExecutor(4) as pool:
        assert httpx.post(f"{url}/check", json=SHIHEZI, timeout=60).status_code == 200  # engine ready
        large = pool.submit(post, "large", LARGE_PARCEL)
        time.sleep(0.1)  # the large check is under way
        small = [pool.submit(post, f"small{i}", SHIHEZI) for i in range(3)]
        assert [s.result() for s in small] == [200, 200, 200]
        assert large.result() == 200
    order = [name for name, _ in sorted(finished, key=lambda item: item[1])]
    assert order[-1] == "large", order
