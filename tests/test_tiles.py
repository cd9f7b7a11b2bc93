"""Vector tiles of the layers: geometry against the store's (decoded by GDAL's MVT driver, projected by pyproj),
reads through the spatial index only, the page size whatever the layer size, OGC API - Tiles, gzip answers."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
from pathlib import Path

import httpx
import mapbox_vector_tile
import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from gis.store import open_store
from maps.layers import map_layers
from maps.tiles import TILES, make_tile
from tests.api_support import api_server  # noqa: F401
from tests.large_layer import KIND, large_store

DAY = dt.date(2024, 6, 30)
SHIHEZI = (86.05, 44.30)
_TO_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


# -- an oracle of tile geometry, written apart from maps.tiles -------------------------------------------

def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a point (the slippy-map formulas)."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _tile_box(z: int, x: int, y: int) -> shapely.Polygon:
    """The tile in EPSG:3857 metres: its lon/lat corners (slippy-map formulas) projected by pyproj."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    x0, y0 = _TO_3857.transform(x / n * 360 - 180, lat(y + 1))
    x1, y1 = _TO_3857.transform((x + 1) / n * 360 - 180, lat(y))
    return shapely.box(x0, y0, x1, y1)


def _tolerance(box: shapely.Polygon) -> float:
    """Half a screen pixel (256 to a tile) of simplification and half a tile unit's diagonal (4096 to a tile) of
    snapping to the integer grid, in metres."""
    width = box.bounds[2] - box.bounds[0]
    return width / 256 / 2 + width / 4096 * math.sqrt(0.5)


def _decoded(data: bytes, z: int, x: int, y: int, folder: Path) -> dict[str, dict[str, shapely.Geometry]]:
    """Every layer of a tile as read by GDAL's MVT driver (EPSG:3857, not clipped): kind -> zone_id -> geometry."""
    path = folder / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    out = {}
    for name, _ in pyogrio.list_layers(path):
        frame = pyogrio.read_dataframe(path, layer=name, CLIP="NO")
        assert frame.crs.to_epsg() == 3857
        assert frame["zone_id"].is_unique, name  # a zone is one feature of a tile
        out[name] = dict(zip(frame["zone_id"], frame.geometry.values))
    return out


def _wide(geometry: shapely.Geometry, box: shapely.Polygon, tol: float) -> tuple[shapely.Geometry, shapely.Geometry]:
    """What of ``geometry`` near ``box``, and what of the rest of the box, is more than two tolerances wide: a tile
    may leave out what is narrower (a spike, a slit, a sliver, a zone under a pixel)."""
    near = box.buffer(4 * tol, join_style="mitre")
    return geometry.intersection(near).buffer(-tol), near.difference(geometry).buffer(-tol)


def _shoelace(ring: list) -> float:
    xy = np.asarray(ring, dtype=float)
    return float(np.dot(xy[:-1, 0], xy[1:, 1]) - np.dot(xy[1:, 0], xy[:-1, 1])) / 2


def _assert_winding(data: bytes) -> None:
    """The MVT rule: in tile coordinates (y down), a polygon's exterior ring has a positive area by the surveyor's
    formula, its interior rings a negative one (both decoders infer it from the first ring, so it is checked here)."""
    for name, layer in mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}).items():
        for feature in layer["features"]:
            geometry = feature["geometry"]
            if geometry["type"] not in ("Polygon", "MultiPolygon"):
                continue
            polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
            for shell, *holes in polygons:
                assert _shoelace(shell) > 0 and all(_shoelace(hole) <= 0 for hole in holes), name


def _far(lines: shapely.Geometry, other: shapely.Geometry, step: float) -> float:
    """Largest distance from points every ``step`` along ``lines`` to ``other``."""
    if lines.is_empty:
        return 0.0
    points = shapely.points(shapely.get_coordinates(shapely.segmentize(lines, step)))
    return float(shapely.distance(points, other).max())


def _assert_tile_matches(store, z: int, x: int, y: int, folder: Path) -> int:
    """Every zone of the tile is where the store has it, within the tile's tolerance; every zone the store has
    in the tile is in it (but for parts narrower than a pixel, which may go, and zones narrower than a pixel,
    which may be drawn as a one-pixel square on them). Returns the zones compared."""
    layers = map_layers(store, DAY)
    data = make_tile(layers, layers.kinds, z, x, y)
    _assert_winding(data)
    tile = _decoded(data, z, x, y, folder)
    box = _tile_box(z, x, y)
    tol = _tolerance(box)
    zones = store.snapshot(DAY).zones.to_crs(3857)
    compared = 0
    for kind in layers.kinds:
        mine = zones[zones["kind"] == kind]
        by_id = dict(zip(mine["zone_id"], mine.geometry.values))
        expected = {zone_id: g for zone_id, g in by_id.items() if g.intersects(box.buffer(-tol))}
        drawn = tile.get(kind, {})
        # A tile carries what is in it or in its buffer (a square of 10 more pixels each side), nothing further.
        near = box.buffer(10 * (box.bounds[2] - box.bounds[0]) / 256 + tol, join_style="mitre")
        assert all(zone_id in by_id and by_id[zone_id].intersects(near) for zone_id in drawn), kind
        for zone_id, original in expected.items():
            inside, outside = _wide(original, box, tol) if original.geom_type != "Point" else (original, None)
            if zone_id not in drawn:
                assert not inside.intersects(box), f"{kind} {zone_id} is in the tile's box but not in the tile"
                continue
            mvt = drawn[zone_id]
            compared += 1
            if original.geom_type == "Point":
                assert mvt.distance(original) <= tol, (kind, zone_id)
                continue
            pixel = (box.bounds[2] - box.bounds[0]) / 256
            if inside.is_empty and abs(mvt.area - pixel * pixel) <= 0.01 * pixel * pixel:
                # A zone narrower than a pixel everywhere may be drawn as a one-pixel square on it, so it stays seen.
                assert mvt.intersects(original.buffer(tol)), (kind, zone_id)
                continue
            step = tol / 8
            # The tile's outline, within the tile, lies along the store's (the tile's cut edges are outside it)...
            assert _far(mvt.boundary.intersection(box), original.boundary, step) <= tol + step, (kind, zone_id)
            # ...and the store's outline, within the tile, along the tile's, where the zone and what is around it are
            # wider than a pixel (a point on such an outline is a tolerance from both wide parts; on a spike or a slit
            # it is further from one of them).
            outline = original.boundary.intersection(box)
            if not outline.is_empty:
                points = shapely.points(shapely.get_coordinates(shapely.segmentize(outline, step)))
                off = points[shapely.distance(points, mvt.boundary) > tol + step]
                inner, outer = (np.nan_to_num(shapely.distance(off, wide), nan=np.inf) for wide in (inside, outside))
                narrow = (inner > 1.001 * tol) | (outer > 1.001 * tol)  # an empty wide part is infinitely far
                assert narrow.all(), (kind, zone_id, len(off))
            # Holes are holes and shells are shells: the areas within the tile differ by no more than a band of the
            # tolerance along the outline (a simplified outline may cross itself: made valid to be measured).
            band = 2 * tol * outline.length + 4 * tol * tol
            area = shapely.make_valid(mvt).intersection(box).area
            assert abs(area - original.intersection(box).area) <= band, (kind, zone_id)
    return compared


@pytest.mark.parametrize("z", [0, 1, 5, 8, 11, 14])  # at zooms 0 and 1 every tile touches the world's edge
def test_tile_geometry_equals_the_store_within_the_tile_tolerance(store, z, tmp_path):
    compared = _assert_tile_matches(store, z, *_tile_of(*SHIHEZI, z), tmp_path)
    assert compared >= 3


def test_tile_where_the_fast_rectangle_clip_fails_is_right_too(store, tmp_path):
    """GEOS 3.14's rectangle clip raises on groundwater:shihezi-limited in this tile (it builds a ring of three
    points); the tile is made all the same, and right."""
    assert _assert_tile_matches(store, 14, 12108, 5940, tmp_path) >= 3


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """A writable copy of the embedded dataset with a 3,000-polygon red line (516,000 vertices)."""
    with open_store(large_store(tmp_path_factory.getbasetemp(), 3000), read_only=True) as opened:
        yield opened


def test_large_layer_tiles_equal_the_store_within_the_tile_tolerance(large, tmp_path):
    zones = large.snapshot(DAY, kinds=[KIND]).zones
    holed = next(g for g in zones.geometry.values if len(g.interiors) and g.area > 1e-3)
    point = holed.interiors[0].centroid
    compared = sum(_assert_tile_matches(large, z, *_tile_of(point.x, point.y, z), tmp_path) for z in (6, 9, 12))
    assert compared >= 10


def test_a_tile_reads_its_zones_through_the_spatial_index_only(large, monkeypatch, tmp_path):
    """A tile's zones come from one read of the store's spatial index for its box; the whole layer never."""
    from api.app import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(store=str(large.location), jobs_dir=tmp_path / "jobs"))) as client:
        served = client.app.state.ecozone.store
        read = []
        features = served.features
        monkeypatch.setattr(served, "features", lambda versions, bounds=None: read.append(
            (bounds, len(features(versions, bounds)))) or features(versions, bounds))
        monkeypatch.setattr(served, "_read_versions", lambda *a, **k: pytest.fail("a whole layer was read"))
        z = 10
        x, y = _tile_of(86.0, 44.0, z)
        TILES.clear()
        answer = client.get(f"/tiles/all/{z}/{x}/{y}.pbf?as_of={DAY}")
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        [(bounds, count)] = read
        lon0, lat0, lon1, lat1 = bounds
        box = _tile_box(z, x, y)
        west, south = Transformer.from_crs(3857, 4326, always_xy=True).transform(*box.bounds[:2])
        assert lon0 <= west and (lon1 - lon0) < 1.2 * 360 / 2**z  # the tile and its buffer, nothing more
        assert count < 100  # of 3,368 zones
        # Kept per layer version: the same tile again reads nothing.
        assert client.get(f"/tiles/all/{z}/{x}/{y}.pbf?as_of={DAY}").content == answer.content
        assert len(read) == 1


@pytest.mark.postgis
@pytest.mark.slow
def test_postgis_store_gives_the_same_tiles(store, postgres_db):
    """One code path for both stores: a PostGIS copy of the dataset (GiST index) gives the same bytes."""
    from gis.store import init_store

    with init_store(postgres_db) as copy:
        for z in (5, 9, 13):
            x, y = _tile_of(*SHIHEZI, z)
            ours, theirs = map_layers(store, DAY), map_layers(copy, DAY)
            assert make_tile(theirs, theirs.kinds, z, x, y) == make_tile(ours, ours.kinds, z, x, y)


def test_tile_cache_is_bounded_in_bytes(store):
    from gis.cache import BoundedCache

    cache = BoundedCache(60_000, weigh=len)
    layers = map_layers(store, DAY)
    for z in (7, 8, 9, 10):
        make_tile(layers, layers.kinds, z, *_tile_of(*SHIHEZI, z), cache)
    assert 0 < cache.weight <= 60_000


# -- the page and the API ---------------------------------------------------------------------------------

def _client(tmp_path, store=None):
    from api.app import create_app
    from api.settings import Settings

    return TestClient(create_app(Settings(store=store, jobs_dir=tmp_path / "jobs")))


def test_page_of_a_large_layer_is_no_larger_than_the_default_page(large, tmp_path):
    sizes, pages = {}, {}
    for name, location in (("default", None), ("large", str(large.location))):
        with _client(tmp_path, location) as client:
            page = client.get(f"/map?as_of={DAY}", headers={"Accept-Encoding": "gzip"})
            assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
            sizes[name], pages[name] = page.num_bytes_downloaded, page.text
    assert '"count":3000' in pages["large"] and "SBHX000001" not in pages["large"]
    # The page says how many zones each layer has: those digits are all it may gain (here 3, for 3,000 zones
    # instead of 7); geometry, popups and styles per zone are never in it.
    assert sizes["large"] <= sizes["default"] + len("3000") - len("7"), sizes
    assert "/map/layers/" not in pages["large"]  # no whole layer is fetched as JSON


def _raw(client, url: str, **headers) -> tuple[bytes, dict]:
    with client.stream("GET", url, headers=headers) as answer:
        assert answer.status_code == 200, url
        return b"".join(answer.iter_raw()), dict(answer.headers)


def _same(one: bytes, other: bytes) -> bool:
    """Equal answers: the same bytes, or the same JSON but for the time it was made (a feature page says it)."""
    if one == other:
        return True
    first, second = json.loads(one), json.loads(other)
    first.pop("timeStamp", None), second.pop("timeStamp", None)
    return first == second


def test_ogc_answers_and_tiles_are_gzipped_when_the_client_accepts_it(tmp_path):
    z, (x, y) = 8, _tile_of(*SHIHEZI, 8)
    urls = ["/ogc/collections/control_unit/items?limit=50", "/ogc/collections/admin_division/items/admin:650000",
            "/ogc/collections", "/ogc/tiles/WebMercatorQuad", f"/tiles/all/{z}/{x}/{y}.pbf"]
    with _client(tmp_path) as client:
        for url in urls:
            plain, headers = _raw(client, url, **{"Accept-Encoding": "identity"})
            assert "content-encoding" not in headers and headers["vary"] == "Accept-Encoding", url
            packed, headers = _raw(client, url, **{"Accept-Encoding": "gzip, deflate"})
            assert headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding", url
            assert _same(gzip.decompress(packed), plain) and len(packed) < len(plain) / 2, url
            assert int(headers["content-length"]) == len(packed)
        for refusal in ("gzip;q=0", "*;q=1, gzip;q=0"):  # gzip refused by name, whatever * says
            refused, headers = _raw(client, urls[0], **{"Accept-Encoding": refusal})
            assert "content-encoding" not in headers and json.loads(refused)["numberReturned"] == 50, refusal
        anything, headers = _raw(client, urls[0], **{"Accept-Encoding": "*"})
        assert headers["content-encoding"] == "gzip"
        small, headers = _raw(client, "/ogc/conformance", **{"Accept-Encoding": "gzip"})
        assert "content-encoding" not in headers and json.loads(small)["conformsTo"]


@pytest.mark.parametrize("path", ["/tiles/all/{z}/{x}/{y}.pbf", "/ogc/tiles/WebMercatorQuad/{z}/{y}/{x}"])
def test_a_tile_gzipped_and_plain_has_two_etags_and_either_is_answered_304(api_server, path):
    z, (x, y) = 8, _tile_of(*SHIHEZI, 8)
    url = api_server.url + path.format(z=z, x=x, y=y)
    with httpx.Client(timeout=60) as http:
        plain = http.get(url, headers={"Accept-Encoding": "identity"})
        packed = http.get(url, headers={"Accept-Encoding": "gzip"})
        assert plain.status_code == packed.status_code == 200
        assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
        assert packed.content == plain.content  # httpx decoded it: one resource, two representations
        tags = [plain.headers["etag"], packed.headers["etag"]]
        assert tags[0] != tags[1] and all(tag.startswith('"') and tag.endswith('"') for tag in tags)  # strong
        assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
        for encoding in ("identity", "gzip"):
            for tag in tags:  # the tag of what the client has, whichever it is (nginx and Apache take both)
                again = http.get(url, headers={"Accept-Encoding": encoding, "If-None-Match": tag})
                assert again.status_code == 304 and again.content == b"", (encoding, tag)
                assert again.headers["etag"] == tag and again.headers["vary"] == "Accept-Encoding"
            other = http.get(url, headers={"Accept-Encoding": encoding, "If-None-Match": '"not-this-tile"'})
            assert other.status_code == 200 and other.content == plain.content


@pytest.mark.parametrize(("value", "status"), [("2024-06-30", 200), ("2024-06-30T12:00:00+08:00", 200),
                                               ("20240630", 400), ("2024-01-01/2024-06-30", 400)])
def test_a_tile_datetime_is_one_rfc3339_day(api_server, value, status):
    answer = httpx.get(f"{api_server.url}/ogc/tiles/WebMercatorQuad/0/0/0", params={"datetime": value}, timeout=60)
    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.json()["field"] == "datetime" and value in answer.json()["detail"]


def test_ogc_tileset_lists_the_layers_and_serves_the_tiles_of_its_template(tmp_path):
    with _client(tmp_path) as client:
        conformance = client.get("/ogc/conformance").json()["conformsTo"]
        assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conformance
        landing = client.get("/ogc").json()
        [link] = [link for link in landing["links"] if link["rel"].endswith("tilesets-vector")]
        [tileset_link] = client.get(link["href"]).json()["tilesets"][0]["links"]
        tileset = client.get(tileset_link["href"]).json()
        assert tileset["dataType"] == "vector" and tileset["tileMatrixSetURI"].endswith("WebMercatorQuad")
        with open_store() as default:
            assert {layer["id"] for layer in tileset["layers"]} == set(default.in_force())
        [item] = [link for link in tileset["links"] if link["rel"] == "item"]
        assert item["templated"] and item["type"] == "application/vnd.mapbox-vector-tile"
        z, (x, y) = 9, _tile_of(*SHIHEZI, 9)
        ogc = client.get(item["href"].format(tileMatrix=z, tileRow=y, tileCol=x))
        [xyz] = [link for link in tileset["links"] if link["rel"] == "alternate"]
        assert ogc.status_code == 200 and ogc.content == client.get(xyz["href"].format(z=z, x=x, y=y)).content
        assert len(ogc.content) > 1000
        assert client.get("/tiles/nope/1/0/0.pbf").status_code == 404
        assert client.get("/tiles/all/3/8/0.pbf").status_code == 404
        assert client.get("/ogc/tiles/WorldCRS84Quad").status_code == 404


def test_popup_of_a_clicked_zone_is_its_popup_text(store, tmp_path):
    from maps.popups import zone_popup

    zones = store.snapshot(DAY).zones
    row = zones[zones["name"] == "石河子市城市建成区"].iloc[0]
    point = row.geometry.representative_point()
    with _client(tmp_path) as client:
        url = f"/map/popup/built_up_area/{row['zone_id']}?lon={point.x}&lat={point.y}&zoom=12&as_of={DAY}"
        answer = client.get(url)
        assert answer.status_code == 200
        assert answer.text == zone_popup(row.drop("geometry").to_dict())
        far = f"/map/popup/built_up_area/{row['zone_id']}?lon=76&lat=39&zoom=12&as_of={DAY}"
        assert client.get(far).status_code == 404
