"""Load: the real server under concurrent clients sending valid and invalid checks, for a bounded time.

``ecozone serve`` runs as a subprocess on loopback, with a write key. ``CLIENTS`` threads (default 20), each
with its own connection, send for ``SECONDS`` (default 20; ``ECOZONE_LOAD_SECONDS=60`` for a longer run
by hand) a mix of valid checks (points, parcels of a few hundred vertices, uploads of 国土 TXT and .xlsx
files, a few parcels near the largest a site may be, reads of the OGC API) and invalid requests. What must hold:

- no crash: the server process is alive at the end, with the pid it started with;
- no 5xx, and no request left unanswered (each has a generous timeout);
- every valid check answers 200; every invalid request answers 4xx as problem+json naming a field;
- the server's resident memory stays under a generous bound (sampled with psutil through the run).

The figures (requests, answers per second, latency percentiles per kind, peak RSS) are printed and written
to ``tests/_artifacts/api_load.json``. The invalid inputs are this file's own list, refused by the API's
own checks and the readers as they are; the hostile-input corpus of the readers (NaN coordinates, nested
WKT, memory bombs, ...) joins the mix once the readers refuse all of it.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import httpx
import pandas as pd
import psutil
import pytest

from tests.api_support import WRITE_KEY, start_server, xlsx_bytes
from tests.sites_support import PLACES, gk_plot, square, txt_file

SECONDS = float(os.environ.get("ECOZONE_LOAD_SECONDS", "20"))
CLIENTS = int(os.environ.get("ECOZONE_LOAD_CLIENTS", "20"))
RSS_BOUND = 4 * 2**30  # generous: the server holds the embedded dataset, its prepared engines and page caches
TIMEOUT_S = 120.0


@dataclass
class Request:
    """One kind of request: how to send it, and whether it is valid (200 expected) or not (4xx naming a field)."""

    kind: str
    valid: bool
    weight: float
    send: callable


def _polygon(lon: float, lat: float, vertices: int, radius: float = 0.01) -> dict:
    ring = [[round(lon + radius * math.cos(2 * math.pi * i / vertices), 7),
             round(lat + 0.7 * radius * math.sin(2 * math.pi * i / vertices), 7)] for i in range(vertices)]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def _raw_json(text: str) -> dict:
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


def _requests(folder) -> list[Request]:
    places = list(PLACES.values())
    txts = []
    for i, (lon, lat) in enumerate(places):
        zone = round(lon / 3)  # CGCS2000 3° Gauss-Krüger zone, with its number in front of Y: EPSG:4513 is zone 25
        path = txt_file(folder / f"拐点{i}.txt", [gk_plot(square(lon, lat, 0.002), 4513 + zone - 25)],
                        header={"带号": str(zone)})
        txts.append((path.name, path.read_bytes()))
    tables = []
    for i, (lon, lat) in enumerate(places):
        ring = _polygon(lon, lat, 12)["coordinates"][0]
        frame = pd.DataFrame({"拐点号": range(1, len(ring) + 1), "经度": [p[0] for p in ring],
                              "纬度": [p[1] for p in ring]})
        out = io.BytesIO()
        frame.to_excel(out, index=False)
        tables.append((f"地块{i}.xlsx", out.getvalue()))
    large_parcel = "POLYGON ((87.0 43.5, 88.2 43.5, 88.2 44.3, 87.0 44.3, 87.0 43.5))"  # about 8,500 km²

    def point(http, rng):
        lon, lat = rng.choice(places)
        return http.post("/check", json={"site": {"type": "Point", "coordinates": [lon + rng.uniform(-.2, .2),
                                                                                   lat + rng.uniform(-.2, .2)]},
                                         "project": {"industry": "水泥", "scope": "new"}})

    def parcel(http, rng):
        lon, lat = rng.choice(places)
        return http.post("/check", json={"site": _polygon(lon + rng.uniform(-.1, .1), lat, rng.randint(200, 400)),
                                         "project": {"industry": "热力", "boiler_tph": 20, "fuel": "coal"}})

    def upload_txt(http, rng):
        name, content = rng.choice(txts)
        return http.post("/check", files={"file": (name, content)}, data={"industry": "热力", "scope": "new"})

    def upload_xlsx(http, rng):
        name, content = rng.choice(tables)
        return http.post("/check", files={"file": (name, content)})

    def region(http, rng):
        return http.post("/check", json={"site": large_parcel})

    def ogc(http, rng):
        return http.get("/ogc/collections/control_unit/items", params={"limit": 5, "bbox": "85.5,43.8,86.5,44.8"})

    no_coordinates = xlsx_bytes([["项目名称", "备注"], ["甲", "没有坐标"]])
    invalid = {
        "nan-buffer": lambda http, rng: http.post("/check", **_raw_json('{"site": "86.04,44.3", "buffers_km": [NaN]}')),
        "infinite-coal": lambda http, rng: http.post("/check", **_raw_json('{"site": "86.04,44.3", "project": '
                                                                          '{"coal_t": Infinity}}')),
        "huge-number": lambda http, rng: http.post("/check", **_raw_json('{"site": "86.04,44.3", "gk_zone": '
                                                                        + "9" * 400 + "}")),
        "unknown-field": lambda http, rng: http.post("/check", json={"site": "86.04,44.3", "colour": "red"}),
        "wrong-type": lambda http, rng: http.post("/check", json={"site": "86.04,44.3", "project": {"wastewater": "也许"}}),
        "malformed-json": lambda http, rng: http.post("/check", **_raw_json('{"site": ')),
        "no-site": lambda http, rng: http.post("/check", json={}),
        "unreadable-text": lambda http, rng: http.post("/check", json={"site": "no coordinates here"}),
        "too-many-vertices": lambda http, rng: http.post("/check", json={"site": _polygon(86.04, 44.3, 6000)}),
        "garbage-xlsx": lambda http, rng: http.post("/check", files={"file": ("坏.xlsx", b"PK\x03\x04garbage")}),
        "garbage-gpkg": lambda http, rng: http.post("/check", files={"file": ("坏.gpkg", b"SQLite format 3\x00" * 9)}),
        "no-coordinate-columns": lambda http, rng: http.post("/check", files={"file": ("表.xlsx", no_coordinates)}),
        "pdf-upload": lambda http, rng: http.post("/check", files={"file": ("许可.pdf", b"%PDF-1.4")}),
        "text-body": lambda http, rng: http.post("/check", content=b"86.04,44.3",
                                                 headers={"content-type": "text/plain"}),
        "rings-nan": lambda http, rng: http.post("/map/rings", **_raw_json(
            '{"geometry": {"type": "Point", "coordinates": [86, NaN]}, "buffers_km": [1]}')),
        "bbox-nan": lambda http, rng: http.get("/ogc/collections/control_unit/items", params={"bbox": "nan,1,2,3"}),
        "limit-zero": lambda http, rng: http.get("/ogc/collections/control_unit/items", params={"limit": 0}),
        "as-of-number": lambda http, rng: http.get("/layers", params={"as_of": "0"}),
        "job-id-newline": lambda http, rng: http.get("/screen/" + "0" * 32 + "%0A"),
        "write-without-key": lambda http, rng: http.post("/layers/nature_reserve/versions",
                                                        files={"file": ("a.geojson", b"{}")}),
    }
    valid = [Request("point", True, 30, point), Request("parcel", True, 15, parcel),
             Request("upload-txt", True, 8, upload_txt), Request("upload-xlsx", True, 6, upload_xlsx),
             Request("region", True, 1, region), Request("ogc-items", True, 5, ogc)]
    return valid + [Request(kind, False, 25 / len(invalid), send) for kind, send in invalid.items()]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


@pytest.mark.slow
def test_concurrent_valid_and_invalid_checks_neither_crash_nor_exhaust_the_server(tmp_path_factory, tmp_path,
                                                                                   artifacts):
    requests = _requests(tmp_path)
    server = start_server(tmp_path_factory, "load", write_keys=WRITE_KEY, max_vertices="5000")
    process = psutil.Process(server.process.pid)
    pid = process.pid
    results: list[tuple[str, bool, int, float, str]] = []
    problems: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS
    peak_rss = [process.memory_info().rss]

    def client(seed: int) -> None:
        rng = random.Random(seed)
        weights = [r.weight for r in requests]
        with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as http:
            while time.monotonic() < stop:
                request = rng.choices(requests, weights)[0]
                started = time.perf_counter()
                try:
                    response = request.send(http, rng)
                except httpx.HTTPError as error:  # no answer: a crash, a reset or a stall
                    with lock:
                        problems.append(f"{request.kind}: no answer ({type(error).__name__}: {error})")
                    continue
                seconds = time.perf_counter() - started
                body = response.text[:300]
                with lock:
                    results.append((request.kind, request.valid, response.status_code, seconds, body))
                    if request.valid and response.status_code != 200:
                        problems.append(f"{request.kind}: {response.status_code} {body}")
                    elif not request.valid:
                        problem = response.headers.get("content-type") == "application/problem+json"
                        field = response.json().get("field") if problem else None
                        if not (400 <= response.status_code < 500 and problem and field):
                            problems.append(f"{request.kind}: {response.status_code} {body}")

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(CLIENTS)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        if server.process.poll() is None:
            peak_rss[0] = max(peak_rss[0], process.memory_info().rss)
        time.sleep(0.2)
    alive = server.process.poll() is None
    server.stop()

    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, _, _, seconds, _ in results:
        by_kind[kind].append(seconds)
    figures = {
        "seconds": SECONDS, "clients": CLIENTS, "requests": len(results), "per_second": round(len(results) / SECONDS, 1),
        "statuses": dict(sorted(Counter(str(r[2]) for r in results).items())),
        "peak_rss_mib": round(peak_rss[0] / 2**20), "server_alive": alive, "problems": problems[:50],
        "latency_ms": {kind: {"n": len(v), "p50": round(1000 * _percentile(v, .5), 1),
                              "p95": round(1000 * _percentile(v, .95), 1), "p99": round(1000 * _percentile(v, .99), 1),
                              "max": round(1000 * max(v), 1)} for kind, v in sorted(by_kind.items())},
    }
    (artifacts / "api_load.json").write_text(json.dumps(figures, indent=1, ensure_ascii=False))
    print("\n" + json.dumps(figures, indent=1, ensure_ascii=False))

    assert alive and server.process.pid == pid, "the server died under load"
    assert not [r for r in results if r[2] >= 500], "5xx answers"
    assert not problems, problems[:20]
    assert peak_rss[0] < RSS_BOUND
    assert {kind for kind, *_ in results} >= {r.kind for r in requests if r.weight >= 5}  # the mix was sent
