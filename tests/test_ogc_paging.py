"""OGC API items of a large layer: a page reads only its own features from the store (not the layer), and the
pages and bbox selections agree with GDAL/OGR reading the same GeoPackage with a spatial filter."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from gis.store import open_store
from tests.large_layer import KIND, large_store

ITEMS = f"/ogc/collections/{KIND}/items"
N = 3000


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return large_store(tmp_path_factory.getbasetemp(), N)


@pytest.fixture(scope="module")
def client(path, tmp_path_factory):
    app = create_app(Settings(store=str(path), jobs_dir=tmp_path_factory.mktemp("jobs"), audit=False))
    with TestClient(app) as client:
        yield client


@pytest.fixture()
def fetched(client, monkeypatch):
    """The rows each request reads from the store with their geometry (a spy on the store)."""
    store = client.app.state.ecozone.store
    read: list[int] = []
    by_id = store.features_by_id
    monkeypatch.setattr(store, "features_by_id", lambda versions, fids: read.append(len(fids)) or by_id(versions, fids))
    monkeypatch.setattr(store, "_read_versions", lambda *a, **k: pytest.fail("a whole layer was read"))
    return read


def _version(path) -> int:
    with open_store(path, read_only=True) as store:
        return store.in_force()[KIND].version


def _ogr(path, bbox=None) -> list[str]:
    """Zone ids of the layer version as GDAL/OGR reads the store's feature table (spatial filter: OGR's own
    exact test), in the table's order."""
    frame = pyogrio.read_dataframe(path, layer="zones", where=f"kind = '{KIND}' AND version = {_version(path)}",
                                   bbox=bbox, columns=["zone_id"], read_geometry=False)
    return list(frame["zone_id"])


def test_a_page_reads_only_its_features(client, fetched, path):
    client.get(ITEMS, params={"limit": 1})  # the layer's catalogue is made once
    fetched.clear()
    first = client.get(ITEMS, params={"limit": 50}).json()
    far = client.get(ITEMS, params={"limit": 20, "offset": 20 * 99}).json()  # page 100
    assert fetched == [50, 20]  # no more rows than the pages hold
    want = _ogr(path)
    assert first["numberMatched"] == far["numberMatched"] == len(want) == N
    assert [f["id"] for f in first["features"]] == want[:50]
    assert [f["id"] for f in far["features"]] == want[1980:2000]
    with open_store(path, read_only=True) as store:
        stored = store.read(KIND).set_index("zone_id").geometry
    for feature in far["features"]:
        got = shapely.geometry.shape(feature["geometry"])
        assert shapely.equals_exact(shapely.normalize(got), shapely.normalize(stored[feature["id"]]), tolerance=1e-6)


@pytest.mark.parametrize("box", [(84.0, 40.0, 86.5, 42.5), (75.0, 36.5, 95.0, 48.5), (88.03, 44.01, 88.4, 44.3)])
def test_a_bbox_selects_what_ogr_selects_and_reads_only_what_crosses_its_edge(client, fetched, path, box):
    client.get(ITEMS, params={"limit": 1})
    fetched.clear()
    ids, url, params = [], ITEMS, {"bbox": ",".join(map(str, box)), "limit": 1000}
    while url:
        page = client.get(url, params=params).json()
        ids += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        params = None
    want = _ogr(path, box)
    assert ids == want and page["numberMatched"] == len(want)
    with open_store(path, read_only=True) as store:
        zones = store.read(KIND)
    bounds = shapely.bounds(zones.geometry.values)
    crossing = int((((bounds[:, 0] < box[0]) | (bounds[:, 1] < box[1]) | (bounds[:, 2] > box[2]) | (bounds[:, 3] > box[3]))
                    & shapely.intersects(shapely.box(*box), shapely.envelope(zones.geometry.values))).sum())
    # each page: the features whose envelope crosses the box's edge (tested exactly), then the page itself
    assert sum(fetched) <= len(want) + 4 * crossing + 8 * len(fetched)
    assert sum(fetched) < N / 2 or box == (75.0, 36.5, 95.0, 48.5)


def test_the_extent_is_the_layer_s_exact_bounds(client, path):
    with open_store(path, read_only=True) as store:
        bounds = shapely.total_bounds(store.read(KIND).geometry.values)
    extent = client.get(f"/ogc/collections/{KIND}").json()["extent"]["spatial"]["bbox"][0]
    assert np.allclose(extent, bounds, atol=1e-7)


def test_a_page_ends_early_at_its_coordinates_and_the_next_link_goes_on_from_there(client, path, monkeypatch):
    """A page holds at most ``PAGE_MAX_COORDINATES`` (a 14 MB page of 1,000 outlines was held for as long as its
    client read it): following the next links still gives every feature once, in GDAL/OGR's order."""
    import api.routes.ogc as ogc

    with open_store(path, read_only=True) as store:
        zones = store.read(KIND)
    counts = dict(zip(zones["zone_id"], shapely.get_num_coordinates(zones.geometry.values)))
    monkeypatch.setattr(ogc, "PAGE_MAX_COORDINATES", 4 * int(np.median(list(counts.values()))))
    ids, returned, url, params = [], [], ITEMS, {"limit": 500}
    while url:
        page = client.get(url, params=params).json()
        ids += [f["id"] for f in page["features"]]
        returned.append(page["numberReturned"])
        held = sum(counts[f["id"]] for f in page["features"])
        assert held <= ogc.PAGE_MAX_COORDINATES or page["numberReturned"] == 1
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        params = None
    assert ids == _ogr(path) and max(returned) < 500
