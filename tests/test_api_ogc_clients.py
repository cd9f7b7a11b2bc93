"""The OGC API read by the clients GIS users have: GDAL's OAPIF driver (through pyogrio) and OWSLib."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely
from owslib.ogcapi.features import Features

from gis.kinds import KINDS
from gis.store import open_store
from tests.sites_support import PLACES
from tests.api_support import api_server, client  # noqa: F401



@pytest.fixture(autouse=True, scope="module")
def _gdal_with_oapif():
    """GDAL must read the API as QGIS would: a GDAL without the OAPIF driver fails these tests."""
    if "OAPIF" not in pyogrio.list_drivers():
        pytest.fail("this GDAL (pyogrio's) has no OAPIF driver: install a pyogrio wheel, which includes it")


@pytest.fixture(scope="module")
def zones():
    with open_store() as store:
        return store.snapshot().zones


def same_geometry(served, stored) -> bool:
    """Equal vertex by vertex up to the 7 decimals served (≈1 cm), once both are wound alike."""
    return bool(shapely.equals_exact(shapely.orient_polygons(served), shapely.orient_polygons(stored),
                                     tolerance=1e-6))


@pytest.mark.parametrize("kind", ["admin_division", "control_unit", "nature_reserve", "chp_plant"])
def test_gdal_reads_every_feature_of_a_layer(api_server, zones, kind):
    frame = pyogrio.read_dataframe(f"OAPIF:{api_server.url}/ogc", layer=kind)
    want = zones[zones["kind"] == kind].set_index("zone_id")
    assert frame.crs.to_string() == "OGC:CRS84"
    ids = frame["id"] if "id" in frame.columns else frame["zone_id"]
    assert sorted(ids) == sorted(want.index)  # more rows than the server's page size of 50: next links followed
    got = dict(zip(ids, frame.geometry.values))
    for zone_id, geometry in want.geometry.items():
        assert same_geometry(got[zone_id], geometry), zone_id
    assert set(frame["name"]) == set(want["name"])


def test_gdal_bbox_filter(api_server, zones):
    lon, lat = PLACES["Shihezi"]
    box = (lon - 0.3, lat - 0.3, lon + 0.3, lat + 0.3)
    frame = pyogrio.read_dataframe(f"OAPIF:{api_server.url}/ogc", layer="control_unit", bbox=box)
    units = zones[zones["kind"] == "control_unit"]
    assert sorted(frame["id"]) == sorted(units[units.intersects(shapely.box(*box))]["zone_id"])


def test_gdal_lists_one_layer_per_zone_kind(api_server):
    layers = pyogrio.list_layers(f"OAPIF:{api_server.url}/ogc")
    assert sorted(layers[:, 0]) == sorted(KINDS)


def test_owslib_features(api_server, zones):
    api = Features(f"{api_server.url}/ogc")
    assert sorted(api.feature_collections()) == sorted(KINDS)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    reserves = zones[zones["kind"] == "nature_reserve"]
    page = api.collection_items("nature_reserve", limit=3)
    assert page["numberReturned"] == 3 and page["numberMatched"] == len(reserves)
    assert any(link["rel"] == "next" for link in page["links"])
    lon, lat = PLACES["Shihezi"]
    near = api.collection_items("control_unit", bbox=[lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1], limit=50)
    units = zones[zones["kind"] == "control_unit"]
    assert near["numberMatched"] == int(units.intersects(shapely.box(lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1)).sum())
    zone_id = reserves["zone_id"].iloc[0]
    feature = api.collection_item("nature_reserve", zone_id)
    assert feature["id"] == zone_id
    expected = reserves.set_index("zone_id").geometry[zone_id]
    assert same_geometry(shapely.geometry.shape(feature["geometry"]), expected)
    assert np.isclose(api.collection("nature_reserve")["extent"]["spatial"]["bbox"][0][0],
                      reserves.total_bounds[0], atol=1e-6)
