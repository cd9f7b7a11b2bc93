"""Harvesting a collection over HTTP while its layer changes: the next links page the version(s) the first page
used, so a new version coming into force mid-harvest (a GIS analyst saw 10,000 old + 2,500 new features) never
mixes in; and GDAL's OAPIF driver pages with large pages where it can."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import httpx
import pytest
import shapely

from gis.store import open_store
from tests.api_support import start_server
from tests.large_layer import KIND, large_store, redline_layer

N, N_NEW = 1500, 1800
LIMIT_MAX = 500  # below GDAL 3.8+'s own page (1000), which the server clamps to it
ITEMS = f"/ogc/collections/{KIND}/items"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    """A copy of its own: the tests import into it (large_store's file is shared by the module's process)."""
    path = tmp_path_factory.mktemp("harvest") / "store.gpkg"
    shutil.copy(large_store(tmp_path_factory.getbasetemp(), N), path)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, store_path):
    server = start_server(tmp_path_factory, "harvest-api", log_level="info", store=str(store_path),
                          ogc_limit_max=str(LIMIT_MAX))
    yield server
    server.stop()


def _next(page: dict) -> str | None:
    return next((link["href"] for link in page["links"] if link["rel"] == "next"), None)


def _harvest(http: httpx.Client, url: str, params: dict | None = None, between=None) -> tuple[list[dict], set[int]]:
    """Every feature from ``url`` following next, with the numberMatched of each page; ``between`` runs after
    the first page."""
    features, matched = [], set()
    while url:
        page = http.get(url, params=params).raise_for_status().json()
        features += page["features"]
        matched.add(page["numberMatched"])
        url, params = _next(page), None
        if between is not None:
            between()
            between = None
    return features, matched


def _same(features: list[dict], stored) -> bool:
    """The features are those of ``stored`` (GeoDataFrame by zone_id), geometry included (7 decimals served)."""
    served = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in features}
    return set(served) == set(stored.index) and all(  # as served: exterior rings counter-clockwise
        shapely.equals_exact(served[i], shapely.orient_polygons(stored.geometry[i]), tolerance=1e-6)
        for i in stored.index)


def test_a_harvest_pages_the_version_its_first_page_used(server, store_path):
    today = dt.datetime.now(dt.timezone.utc).date()
    with open_store(store_path, read_only=True) as store:
        old = store.snapshot(today, kinds=[KIND])
        first = old.versions[KIND]
        old_zones = old.zones.set_index("zone_id")
    state = {}

    def import_new_version():  # in force today: the unpinned layer changes under the harvest
        with open_store(store_path) as store:
            state["new"] = store.import_layer(redline_layer(N_NEW, seed=21), KIND, source="new.shp",
                                              effective_from=today).version

    with server.client() as http:
        features, matched = _harvest(http, ITEMS, {"limit": 100}, between=import_new_version)
        ids = [f["id"] for f in features]
        assert len(ids) == len(set(ids)) == N and matched == {N}  # one version, whole, numberMatched steady
        assert _same(features, old_zones)  # the old version's geometries, not the new one's under the same ids
        assert ids == list(old_zones.index)  # in the store's order

        # afterwards: a fresh harvest is the new version; a pinned link kept from before still the old one
        fresh, matched = _harvest(http, ITEMS, {"limit": LIMIT_MAX})
        with open_store(store_path, read_only=True) as store:
            new = store.snapshot(today, kinds=[KIND])
        assert new.versions[KIND].version == state["new"] != first.version
        assert matched == {N_NEW} and _same(fresh, new.zones.set_index("zone_id"))
        pinned = http.get(ITEMS, params={"limit": 100, "offset": 1400, "version": first.version,
                                         "datetime": today.isoformat()}).json()
        assert pinned["numberMatched"] == N and [f["id"] for f in pinned["features"]] == ids[1400:]
        assert f"version={first.version}" in pinned["links"][0]["href"] and _next(pinned) is None
        span = {"limit": 1, "datetime": "2020-01-01/.."}  # an interval: both versions, or the one pinned
        assert http.get(ITEMS, params=span).json()["numberMatched"] == N_NEW
        assert http.get(ITEMS, params={**span, "version": first.version}).json()["numberMatched"] == N
        page = http.get(ITEMS, params={"limit": 10}).json()
        assert f"version={state['new']}" in _next(page) and f"datetime={today.isoformat()}" in _next(page)


def test_a_version_not_of_the_layer_is_400_naming_it(server):
    with server.client() as http:
        for value in ("999", "1,x", "", "2,2"):
            answer = http.get(ITEMS, params={"version": value})
            body = answer.json()
            assert answer.status_code == 400 and body["field"] == "version" and body["value"] == value, body
            assert "现有版本" in body["fix"] and "versions" in body["fix"]


def test_an_unknown_parameter_is_400_with_the_value_sent(server):
    answer = httpx.get(f"{server.url}{ITEMS}", params={"jurisdiction": "石河子市"})
    body = answer.json()
    assert answer.status_code == 400 and body["field"] == "jurisdiction" and body["value"] == "石河子市"


def test_the_openapi_limit_has_its_default_and_maximum(server):
    document = httpx.get(f"{server.url}/openapi.json").json()
    parameters = document["paths"][ITEMS.replace(KIND, "{collectionId}")]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/limit"} in parameters  # where GDAL 3.8+ looks for it
    schema = document["components"]["parameters"]["limit"]["schema"]
    assert schema["default"] == 10 and schema["maximum"] == LIMIT_MAX
    assert any(p.get("name") == "version" for p in parameters)


def _gdal(server, *options: str) -> tuple[int, list[int]]:
    """Features ogr2ogr (the system's gdal-bin) copies from the collection, and the limit of each items request
    the server saw."""
    log = server.log.read_text(errors="replace")
    before = len(log.splitlines())
    out = server.log.parent / f"copy-{len(options)}.geojson"
    out.unlink(missing_ok=True)
    subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), *options, f"OAPIF:{server.url}/ogc", KIND],
                   check=True, capture_output=True, timeout=600)
    requests = [line for line in server.log.read_text(errors="replace").splitlines()[before:] if f"{ITEMS}?" in line]
    info = subprocess.run(["ogrinfo", "-so", "-al", str(out)], check=True, capture_output=True, text=True).stdout
    count = int(re.search(r"Feature Count: (\d+)", info).group(1))
    return count, [int(re.search(r"[?&]limit=(\d+)", line).group(1)) for line in requests]


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="no gdal-bin (apt-get install gdal-bin)")
def test_gdal_pages_through_with_large_pages(server):
    matched = httpx.get(f"{server.url}{ITEMS}", params={"limit": 1}).json()["numberMatched"]
    version = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True).stdout
    major, minor = map(int, re.search(r"GDAL (\d+)\.(\d+)", version).groups())
    count, limits = _gdal(server)
    assert count == matched  # follows the pinned next links as given
    if (major, minor) >= (3, 8):  # asks 1000 of its own, served as the maximum
        assert len(limits) <= matched // LIMIT_MAX + 3
    else:  # before 3.8 GDAL asks for 10 whatever the API definition says: PAGE_SIZE (README) is the way
        assert set(limits) == {10} and len(limits) >= matched // 10
    count, limits = _gdal(server, "-oo", f"PAGE_SIZE={LIMIT_MAX}")
    assert count == matched and set(limits) == {LIMIT_MAX} and len(limits) <= matched // LIMIT_MAX + 3


def test_pyogrio_gdal_pages_with_large_pages(server):
    """GDAL 3.8+ (pyogrio's) asks pages of 1000 of its own, served as the server's maximum: a few requests."""
    import pyogrio

    before = len(server.log.read_text(errors="replace").splitlines())
    frame = pyogrio.read_dataframe(f"OAPIF:{server.url}/ogc", layer=KIND)
    requests = [line for line in server.log.read_text(errors="replace").splitlines()[before:] if f"{ITEMS}?" in line]
    assert frame["id"].is_unique and len(frame) == N_NEW and len(requests) <= N_NEW // LIMIT_MAX + 3
