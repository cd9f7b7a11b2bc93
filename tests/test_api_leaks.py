"""Nothing secret or internal in any answer: no store password in any form, no server path.

A full round of requests (reads, checks, uploads good and broken, jobs and their result files, imports,
errors of every kind) goes to a real server on a GeoPackage in a private folder, and to one on PostGIS as a
password-protected role whose password is given as ``?password=`` in the store URL; every answer, headers
and body (result workbooks unzipped), is searched for the password and for the server's folders.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pandas as pd
import psycopg
import pytest

from tests.api_support import REPO, WRITE_KEY, start_server, xlsx_bytes
from tests.sites_support import PLACES, gk_plot, square, txt_file

PASSWORD = "S3cret-" + uuid.uuid4().hex[:12]
ROLE = "ecozone_leak_" + uuid.uuid4().hex[:8]


def _parcel(vertices: int) -> dict:
    """A closed ring of ``vertices`` points around 石河子 (a JSON body over the inline size)."""
    import math

    lon, lat = PLACES["Shihezi"]
    ring = [[lon + 0.01 * math.cos(2 * math.pi * i / vertices), lat + 0.007 * math.sin(2 * math.pi * i / vertices)]
            for i in range(vertices)]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def _wait(http: httpx.Client, job_id: str) -> httpx.Response:
    for _ in range(1200):
        response = http.get(f"/screen/{job_id}")
        if response.json()["status"] in ("succeeded", "failed", "cancelled"):
            return response
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish")


def _round(server, folder: Path) -> tuple[list[tuple[str, bytes]], dict]:
    """Every kind of request, and what each answered: (request, headers and body); and the /layers answer."""
    lon, lat = PLACES["Shihezi"]
    txt = txt_file(folder / "拐点.txt", [gk_plot(square(lon, lat, 0.001), 4517)], header={"带号": "29"})
    permits = pd.DataFrame({"项目名称": ["甲", "乙", "丙"], "经度": [lon, lon + 0.01, "not a number"],
                            "纬度": [lat, lat, lat]}).to_csv(index=False).encode()
    key = {"X-API-Key": WRITE_KEY}
    answers: list[tuple[str, httpx.Response]] = []
    with server.client() as http:
        def send(method: str, url: str, **kwargs) -> httpx.Response:
            response = http.request(method, url, **kwargs)
            answers.append((f"{method} {url}", response))
            return response

        layers = send("GET", "/layers").json()
        send("GET", "/layers/nature_reserve/versions")
        send("GET", "/layers/no_such_layer/versions")
        send("POST", "/check", json={"site": {"type": "Point", "coordinates": [lon, lat]}})
        send("POST", "/check", json={"site": _parcel(300), "project": {"industry": "水泥"}})
        send("POST", "/check", json={"site": "not a site at all"})
        send("POST", "/check", json={"site": "/etc/passwd"})
        send("POST", "/check", files={"file": (txt.name, txt.read_bytes())}, data={"industry": "热力"})
        for name, content in [("site.gpkg", b"SQLite format 3\x00" + b"\x00" * 200), ("site.kmz", b"PK\x03\x04junk"),
                              ("site.kml", b"<kml><Document><Placemark>"), ("site.shp", b"\x00\x00\x27\x0a" * 30),
                              ("site.xlsx", b"PK\x03\x04 not a workbook"), ("site.csv", "经度,纬度\n1e999,x\n".encode()),
                              ("site.txt", "[属性描述]\n坐标系=2000国家大地坐标系\n".encode("gbk")),
                              ("site.pdf", b"%PDF-1.4")]:
            send("POST", "/check", files={"file": (name, content)})
        send("POST", "/check", content=b"x" * 100, headers={"content-type": "text/plain"})
        for url in ("/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/nature_reserve",
                    "/ogc/collections/nature_reserve/items?limit=2", "/ogc/collections/admin_division/items/admin:659001",
                    "/ogc/collections/nope", "/ogc/collections/nature_reserve/items?bbox=1,2", "/map", "/map/check",
                    "/openapi.json", "/docs", "/redoc", "/health", "/favicon.ico", "/no/such/path", "/screen/" + "0" * 32, "/screen/x%0A"):
            send("GET", url)
        send("POST", "/map/rings", json={"geometry": {"type": "Point", "coordinates": [lon, lat]}, "buffers_km": [1]})
        good = send("POST", "/screen", files={"file": ("许可清单.csv", permits)}).json()
        bad = send("POST", "/screen", files={"file": ("坏清单.xlsx", b"PK\x03\x04 broken")}).json()
        nested = xlsx_bytes([["项目名称", "拐点坐标"], ["x", "POLYGON ((" + "1 2, " * 10 + "1 2"]])
        odd = send("POST", "/screen", files={"file": ("坏单元格.xlsx", nested)}).json()
        for job in (good, bad, odd):
            answers.append((f"GET /screen/{job['id']} (final)", _wait(http, job["id"])))
        for fmt in ("xlsx", "csv", "geojson"):
            send("GET", f"/screen/{good['id']}/result.{fmt}")
        send("POST", f"/screen/{good['id']}/cancel")
        layer = json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
            "name": "测试保护区"}, "geometry": {"type": "Polygon", "coordinates": [[[86, 44], [86.1, 44], [86.1, 44.1],
                                                                                  [86, 44]]]}}]}).encode()
        send("POST", "/layers/nature_reserve/versions", files={"file": ("reserve.geojson", layer)})
        send("POST", "/layers/nature_reserve/versions", files={"file": ("reserve.geojson", layer)},
             headers={"X-API-Key": "wrong"})
        send("POST", "/layers/nature_reserve/versions", files={"file": ("broken.gpkg", b"SQLite format 3\x00")},
             headers=key)
        send("POST", "/layers/nature_reserve/versions", files={"file": ("reserve.geojson", layer)}, headers=key,
             data={"note": "leak test", "coverage": "all"})
        for method, url in _every_route({"job_id": good["id"], "fmt": "xlsx"}):
            send(method, url, headers=key)
    out = []
    for request, response in answers:
        assert response.status_code < 500, (request, response.text)
        raw = "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode() + b"\n" + response.content
        if response.content[:2] == b"PK":  # a workbook: its parts, unzipped
            with zipfile.ZipFile(io.BytesIO(response.content)) as book:
                raw += b"".join(book.read(name) for name in book.namelist())
        out.append((request, raw))
    return out, layers


#: Values of path parameters that name something the server has (others get "x": an answer all the same).
_KNOWN = {"kind": "nature_reserve", "collectionId": "nature_reserve", "featureId": "admin:659001",
          "layer": "nature_reserve", "z": "6", "x": "46", "y": "23", "tileMatrixSetId": "WebMercatorQuad",
          "tileMatrix": "6", "tileRow": "23", "tileCol": "46", "zone_id": "x", "record_id": "1",
          "root": "leaflet", "name": "leaflet.js", "path": "swagger-ui/swagger-ui.css"}


def _every_route(known: dict[str, str]) -> list[tuple[str, str]]:
    """One request for each method of each route and mount of the application, whoever added it: GETs with
    parameters that name real things, other methods with no body (their refusals are answers too)."""
    import re

    from api.app import create_app

    def walk(routes):
        for route in routes:
            if hasattr(route, "original_router"):
                yield from walk(route.original_router.routes)
            elif hasattr(route, "path"):
                methods = sorted(getattr(route, "methods", None) or {"GET"})
                path = route.path + ("/{path}" if not hasattr(route, "methods") else "")  # a mount: one file
                yield from ((method, path) for method in methods if method != "HEAD")

    values = {**_KNOWN, **known}
    fill = lambda match: values.get(match.group(1), "x")  # noqa: E731
    return [(method, re.sub(r"\{(\w+)(?::\w+)?\}", fill, path)) for method, path in walk(create_app().routes)]


def _server_paths(server, *more: Path) -> list[str]:
    """Folders of this server: its jobs and scratch, the store's, the code's, Python's, the temporary folder."""
    paths = {str(server.jobs_dir), str(server.jobs_dir.parent), str(REPO), sys.prefix, sys.base_prefix,
             tempfile.gettempdir() + "/", str(Path.home()) + "/", *(str(p) for p in more)}
    return sorted(p for p in paths if len(p) > 2)


def _assert_clean(answers: list[tuple[str, bytes]], secrets: list[str]) -> None:
    leaks = [(request, secret) for request, raw in answers for secret in secrets
             if secret.encode() in raw or secret.encode("unicode_escape") in raw]
    assert not leaks, leaks


def test_no_answer_shows_a_geopackage_path(tmp_path_factory, tmp_path):
    from gis.store import init_store

    private = tmp_path_factory.mktemp("private-folder")
    location = private / "县级图层库.gpkg"
    init_store(location).close()
    server = start_server(tmp_path_factory, "leaks-gpkg", store=str(location), write_keys=WRITE_KEY)
    try:
        answers, layers = _round(server, tmp_path)
    finally:
        server.stop()
    _assert_clean(answers, _server_paths(server, private))
    assert layers["store"] == "县级图层库.gpkg"  # the store is shown by its file name


@pytest.fixture
def password_role(postgres_server):
    """A database owned by a login role with a password, which the server must give to connect (scram), and
    the URL with the password as ``?password=``."""
    parts = urlsplit(postgres_server)
    database = "leak_" + uuid.uuid4().hex[:10]
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute(f'CREATE DATABASE "{database}" OWNER {ROLE}')
        hba = conn.execute("SHOW hba_file").fetchone()[0]
    with psycopg.connect(f"{postgres_server.rsplit('/', 1)[0]}/{database}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")  # needs a superuser; the store's role owns the rest
    enforced = os.access(hba, os.W_OK)
    if enforced:  # this role, and only it, must give its password: the other tests keep connecting freely
        original = Path(hba).read_text()
        Path(hba).write_text(f"host all {ROLE} 127.0.0.1/32 scram-sha-256\n" + original)
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
    url = f"postgresql://{ROLE}@{parts.hostname}:{parts.port}/{database}?password={PASSWORD}"
    try:
        yield url, enforced
    finally:
        if enforced:
            Path(hba).write_text(original)
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            if enforced:
                conn.execute("SELECT pg_reload_conf()")
            conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            conn.execute(f"DROP ROLE {ROLE}")


@pytest.mark.postgis
def test_no_answer_shows_the_postgis_password(tmp_path_factory, tmp_path, password_role):
    from gis.store import init_store

    url, enforced = password_role
    if enforced:  # the role really is password-protected
        wrong = url.replace(PASSWORD, "not-the-password")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong).close()
    init_store(url).close()
    server = start_server(tmp_path_factory, "leaks-postgis", store=url, write_keys=WRITE_KEY)
    try:
        answers, layers = _round(server, tmp_path)
    finally:
        server.stop()
    host = urlsplit(url)
    _assert_clean(answers, [PASSWORD, f"{host.hostname}:{host.port}", "postgresql://",
                            *_server_paths(server)])
    assert layers["store"] == url.rsplit("/", 1)[1].split("?")[0]  # the store is shown by its database name


@pytest.mark.parametrize("url", [
    f"postgresql://role:{PASSWORD}@db.internal:5432/zones",
    f"postgresql://role@db.internal/zones?password={PASSWORD}",
    f"postgresql://role@db.internal/zones?pass%77ord={PASSWORD}",  # a percent-encoded key is decoded by libpq
    f"postgres://role@db.internal/zones?sslmode=require&sslpassword={PASSWORD}&password={PASSWORD}&schema=x",
    f"postgresql://role:{PASSWORD}@h1:5432,h2:5433/zones?password={PASSWORD}",
])
def test_a_postgis_store_is_told_apart_without_its_password_and_shown_by_its_database(url):
    from gis.store.postgis import _location, _name, _split_schema

    rest, schema = _split_schema(url, None)
    assert PASSWORD not in _location(rest, schema) and "zones" in _location(rest, schema)
    assert _name(rest, schema) == ("zones" if schema == "ecozone" else f"zones (schema {schema})")
