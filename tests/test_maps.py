"""Maps without a browser: display levels, styles, assets served offline, rings, basemap configuration."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from maps.assets import check_offline
from maps.build import Basemap, display_layers, layers_map, render
from maps.layers import LEVELS
from maps.rings import site_rings
from maps.style import park_status


@pytest.fixture(scope="module")
def display(store):
    return display_layers(store, dt.date.today())


def _vertices(level_json: str) -> int:
    return sum(int(shapely.get_num_coordinates(shapely.from_geojson(json.dumps(g)))) for _, g in json.loads(level_json))


def test_large_layers_are_simplified_by_level_and_small_ones_are_not(display, store):
    zones = store.snapshot().zones
    full = int(shapely.get_num_coordinates(zones[zones.kind == "admin_division"].geometry.values).sum())
    counts = [_vertices(display.level_json("admin_division", i)) for i in range(len(LEVELS))]
    assert counts == sorted(counts) and counts[-1] < full
    assert counts[0] < full / 20  # the default view carries a small fraction of the engine's geometry
    assert len(display.levels("nature_reserve")) == 1
    reserves = zones[zones.kind == "nature_reserve"].geometry.values
    assert _vertices(display.level_json("nature_reserve", 0)) == int(shapely.get_num_coordinates(reserves).sum())


def test_every_zone_has_a_style_and_a_popup_citing_its_source(display):
    for kind in display.kinds:
        spec = display.kind_spec(kind)
        assert spec["legend"], kind
        for zone in spec["zones"].values():
            assert zone["style"]["color"]
            if "依据" not in zone["popup"]:
                assert kind in {"admin_division", "key_region"} or "边界来源" in zone["popup"]
            if spec["illustrative"]:
                assert zone["style"].get("dashArray") or kind in {"admin_division", "key_region", "chp_plant"}


def test_parks_are_coloured_by_their_status_on_the_date(store):
    zones = store.snapshot().zones
    parks = zones[zones.kind == "industrial_park"].drop(columns="geometry").to_dict("records")
    early = {park_status(row, dt.date(2017, 1, 1)) for row in parks}
    late = {park_status(row, dt.date(2024, 1, 1)) for row in parks}
    assert early != late  # sewage plants were built and freezes lifted in between


def test_served_page_links_local_assets_only(tmp_path):
    from api.app import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(jobs_dir=tmp_path / "jobs"))) as client:
        html = client.get("/").text
        check_offline(html)
        linked = ("/static/leaflet/leaflet.js", "/static/leaflet/leaflet.css", "/static/ecozone/ecozone.js",
                  "/static/ecozone/ecozone.css")
        assert all(url in html for url in linked)
        for url in (*linked, "/static/ecozone/check.js", "/static/leaflet/images/layers.png"):
            assert client.get(url).status_code == 200
        assert client.get("/static/leaflet/../../__init__.py").status_code == 404
        assert client.get("/map/layers/nature_reserve/3.json").status_code == 404
        assert client.post("/map/rings", json={"geometry": {"type": "Nope"}, "buffers_km": [1]}).status_code == 400


def test_check_offline_refuses_a_cdn_link():
    with pytest.raises(ValueError, match="another host"):
        check_offline('<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>')


def test_rings_are_geodesically_true():
    geod = Geod(ellps="WGS84")
    (ring,) = site_rings({"type": "Point", "coordinates": [86.05, 44.3]}, [5])
    lons, lats = zip(*ring["geometry"]["coordinates"][0])
    _, _, distances = geod.inv([86.05] * len(lons), [44.3] * len(lats), lons, lats)
    assert max(abs(d - 5000) for d in distances) < 5  # within 0.1 % (chords of the 64-gon, rounding)


def test_basemap_is_none_by_default_and_configurable(store):
    assert "L.tileLayer(" not in render(layers_map(store, inline_levels=0))
    tianditu = Basemap.tianditu("KEY123")
    html = render(layers_map(store, basemap=tianditu, inline_levels=0))
    assert "tianditu.gov.cn/vec_w" in html and "tk=KEY123" in html and "cva_w" in html
    with pytest.raises(ValueError, match="placeholders"):
        Basemap.tiles("http://tiles.local/tile.png")


def test_display_layers_are_read_from_the_store_given(store, monkeypatch):
    """A PostgreSQL store's location hides its password, so it must not be opened again from it."""
    import maps.build as build

    monkeypatch.setattr(build, "open_store", lambda *args, **kwargs: pytest.fail("opened the store again"))
    day = dt.date(2024, 6, 30)
    build._displays.clear()
    display = display_layers(store, day)
    assert display_layers(store, day) is display  # kept while the versions in force stay the same
    assert set(display.kinds) == set(store.in_force(day))


def test_pages_are_gzipped_and_answered_304_until_the_layers_change(tmp_path):
    from api.app import create_app
    from api.settings import Settings
    from gis.store import init_store, open_store
    from tests.zone_samples import sample_zones

    location = tmp_path / "store.gpkg"
    init_store(location).close()
    with TestClient(create_app(Settings(store=str(location), jobs_dir=tmp_path / "jobs"))) as client:
        page = client.get("/map", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
        assert page.num_bytes_downloaded * 3 < len(page.content) and "/static/ecozone/ecozone.js" in page.text
        tag = page.headers["etag"]
        again = client.get("/map", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
        assert client.get("/map?as_of=2019-06-30", headers={"If-None-Match": tag}).status_code == 200
        with open_store(location) as store:  # an import changes the layers in force: the page is built anew
            store.import_layer(sample_zones("water_body"), "water_body", source="water.shp")
        changed = client.get("/map", headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] != tag
