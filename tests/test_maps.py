"""Maps without a browser: page specs, styles, assets served offline, rings, basemap configuration, saved files."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from pyproj import Geod
from typer.testing import CliRunner

from maps.assets import check_offline
from maps.build import Basemap, layers_map, render
from maps.layers import map_layers
from maps.popups import zone_popup
from maps.rings import site_rings
from gis.kinds import KINDS
from maps.style import kind_legend, park_status, style_index, style_table, zone_style

SERVED = {"tile_url": "/tiles/all/{z}/{x}/{y}.pbf", "popup_url": "/map/popup/{kind}/{zone_id}"}


@pytest.fixture(scope="module")
def layers(store):
    return map_layers(store, dt.date.today())


def test_page_spec_has_per_kind_looks_and_nothing_per_zone(layers, store):
    zones = store.snapshot().zones
    assert layers.kinds and set(layers.kinds) == set(zones["kind"])
    for kind in layers.kinds:
        spec = layers.kind_spec(kind)
        assert spec["count"] == int((zones["kind"] == kind).sum())
        assert spec["legend"] and "zones" not in spec and len(spec["styles"]) <= 14
    assert layers.bounds == pytest.approx(list(zones.total_bounds))


def test_every_zone_has_a_look_in_its_kind_table_and_a_popup_citing_its_source(store):
    day = dt.date.today()
    for row in store.snapshot().zones.drop(columns="geometry").to_dict("records"):
        kind = row["kind"]
        status = park_status(row, day) if kind == "industrial_park" else None
        look = style_table(kind)[style_index(kind, row["subtype"], row["geometry_source"], status)]
        assert look == {"fill": True, **zone_style(kind, row["subtype"], row["geometry_source"], status)}
        if row["geometry_source"] == "illustrative" and look["fill"] and look.get("fillOpacity", 0) > 0:
            assert look["dashArray"]
        popup = zone_popup(row, status)
        assert row["zone_id"] in popup and ("依据" in popup or "边界来源" in popup)


def test_zones_without_a_subtype_are_drawn_and_labelled_as_their_kind_never_as_a_subtype():
    """An official red line's 类型 holds its ecological function: no subtype, so neither 兵团 nor 自治区 划定. The
    same looks draw the tiles, the legend and the report's picture."""
    for kind, spec in KINDS.items():
        if kind == "industrial_park" or not spec.subtypes:  # parks are styled by status
            continue
        own = zone_style(kind, None, "official")
        assert own not in [zone_style(kind, subtype, "official") for subtype in spec.subtypes], kind
        assert zone_style(kind, "not-a-subtype", "official") == own
        [(label, look)] = kind_legend(kind, {None})
        assert label == spec.label_zh and {key: value for key, value in look.items() if value is not None} == own
    labels = [label for label, _ in kind_legend("ecological_redline", {None, "bingtuan"})]
    assert sorted(labels) == ["兵团划定", "生态保护红线"]


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
                  "/static/ecozone/ecozone.css", "/static/vectorgrid/Leaflet.VectorGrid.bundled.min.js")
        assert all(url in html for url in linked)
        for url in (*linked, "/static/ecozone/check.js", "/static/leaflet/images/layers.png"):
            assert client.get(url).status_code == 200
        assert client.get("/static/leaflet/../../__init__.py").status_code == 404
        assert client.get("/map/layers/nature_reserve/3.json").status_code == 404  # no whole layer as JSON
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
    assert "L.tileLayer(" not in render(layers_map(store, **SERVED))
    tianditu = Basemap.tianditu("KEY123")
    html = render(layers_map(store, basemap=tianditu, **SERVED))
    assert "tianditu.gov.cn/vec_w" in html and "tk=KEY123" in html and "cva_w" in html
    with pytest.raises(ValueError, match="placeholders"):
        Basemap.tiles("http://tiles.local/tile.png")


def test_map_layers_are_read_from_the_store_given(store, monkeypatch):
    """A PostgreSQL store's location hides its password, so it must not be opened again from it."""
    import maps.build as build

    monkeypatch.setattr(build, "open_store", lambda *args, **kwargs: pytest.fail("opened the store again"))
    day = dt.date(2024, 6, 30)
    html = render(layers_map(store, day, **SERVED))
    assert f'"as_of":"{day}"' in html and set(map_layers(store, day).kinds) == set(store.in_force(day))


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
        plain = client.get("/map", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.text == page.text
        assert plain.headers["etag"] != tag and plain.headers["vary"] == page.headers["vary"] == "Accept-Encoding"
        for sent in (tag, plain.headers["etag"]):
            assert client.get("/map", headers={"Accept-Encoding": "identity", "If-None-Match": sent}).status_code == 304
        assert client.get("/map?as_of=2019-06-30", headers={"If-None-Match": tag}).status_code == 200
        with open_store(location) as store:  # an import changes the layers in force: the page is built anew
            store.import_layer(sample_zones("water_body"), "water_body", source="water.shp")
        changed = client.get("/map", headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] != tag


def test_saved_map_keeps_within_its_size_bound_and_says_what_it_left_out(tmp_path):
    from api.cli import app

    out = tmp_path / "layers.html"
    result = CliRunner().invoke(app, ["map", "-o", str(out), "--max-zoom", "9", "--max-mb", "1"])
    assert result.exit_code == 0, result.output
    # what the file holds and the zoom left out together exceed the bound (the zoom alone need not)
    said = re.search(r"级及更细的图块未嵌入：文件已有 ([\d.]+) MB，加上该级约 ([\d.]+) MB 共约 ([\d.]+) MB，"
                     r"超过上限 ([\d.]+) MB", result.output)
    assert said, result.output
    have, level, total, cap = map(float, said.groups())
    assert cap == 1 and total > cap and total == pytest.approx(have + level, abs=0.11) and have <= cap
    html = out.read_text(encoding="utf-8")
    check_offline(html)
    assert len(html.encode()) <= 1_000_000  # the whole file: tiles, popups, Leaflet and the page code
    bounded = CliRunner().invoke(app, ["map", "-o", str(tmp_path / "x.html"), "--bbox", "86,44,85,45"])
    assert bounded.exit_code != 0 and "--bbox" in bounded.output


def test_saved_map_of_an_extent_carries_its_tiles_and_popups(store):
    box = (85.9, 44.2, 86.2, 44.4)
    m = layers_map(store, max_zoom=11, bounds=box)
    embedded = m.ecozone_tiles
    assert embedded.zooms == (2, 11) and not embedded.left_out
    assert {key.split("/")[0] for key in embedded.tiles} == {str(z) for z in range(2, 12)}
    assert all(base64.b64decode(text) for text in embedded.tiles.values())
    popups = embedded.popups["built_up_area"]
    zones = store.snapshot().zones
    row = zones[zones["name"] == "石河子市城市建成区"].drop(columns="geometry").iloc[0].to_dict()
    assert popups[row["zone_id"]] == zone_popup(row)


def test_popups_of_an_extent_go_to_its_zones_first(tmp_path):
    """With 3,000 generated red-line patches over Xinjiang and a bound that holds a few hundred popups, the zones
    meeting the extent asked for all carry theirs (the zooms 2-7 tiles reach the whole province and had spent the
    bytes on zones far away)."""
    import shapely

    from gis.store import open_store
    from tests.large_layer import large_store

    box = (85.9, 44.2, 86.2, 44.4)
    with open_store(large_store(tmp_path, 3000), read_only=True) as store:
        m = layers_map(store, as_of="2024-06-30", max_zoom=10, bounds=box, max_bytes=2_000_000)
        zones = store.snapshot("2024-06-30").zones
    embedded = m.ecozone_tiles
    drawn = sum(len(p) for p in embedded.popups.values())
    assert any("详细属性未嵌入" in line for line in embedded.left_out) and drawn > 0  # the bound bites
    inside = zones[shapely.intersects(zones.geometry.values, shapely.box(*box))]
    inside = inside[inside["kind"].isin(list(embedded.popups))]
    assert len(inside) >= 5
    missing = [(k, z) for k, z in zip(inside["kind"], inside["zone_id"]) if z not in embedded.popups[k]]
    assert not missing, missing[:5]
