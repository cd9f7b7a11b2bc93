"""Bad numbers in every numeric query, path, form and body parameter: NaN, infinities, numbers too long to be
numbers, values out of range. Each is a 400 (problem+json) naming the parameter, never a 500."""

from __future__ import annotations

import pytest

from tests.api_support import api_server, client  # noqa: F401
from tests.sites_support import PLACES

LON, LAT = PLACES["Shihezi"]
HUGE = "9" * 400  # a 400-digit number: an int to Python, infinity as a float
POINT = f'{{"type": "Point", "coordinates": [{LON}, {LAT}]}}'


def _json(text: str) -> dict:
    """A raw JSON body: NaN, Infinity and 1e999 are sent as written (a JSON library would refuse or change them)."""
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


RINGS = "/map/rings"
ITEMS = "/ogc/collections/nature_reserve/items"

CASES = [
    # (method, url, request keyword arguments, the field the answer must name)
    ("POST", RINGS, _json(f'{{"geometry": {{"type": "Point", "coordinates": [{LON}, NaN]}}, "buffers_km": [1]}}'),
     "geometry.coordinates"),
    ("POST", RINGS, _json(f'{{"geometry": {{"type": "Point", "coordinates": [Infinity, {LAT}]}}, "buffers_km": [1]}}'),
     "geometry.coordinates"),
    ("POST", RINGS, _json(f'{{"geometry": {{"type": "Point", "coordinates": [{LON}, 95]}}, "buffers_km": [1]}}'),
     "geometry.coordinates"),
    ("POST", RINGS, _json(f'{{"geometry": {{"type": "Point", "coordinates": [{HUGE}, {LAT}]}}, "buffers_km": [1]}}'),
     "geometry.coordinates"),
    ("POST", RINGS, _json('{"geometry": {"type": "GeometryCollection", "geometries": []}, "buffers_km": [1]}'),
     "geometry"),
    ("POST", RINGS, _json(f'{{"geometry": {POINT}, "buffers_km": [NaN]}}'), "buffers_km.0"),
    ("POST", RINGS, _json(f'{{"geometry": {POINT}, "buffers_km": [1e999]}}'), "buffers_km.0"),
    ("POST", RINGS, _json(f'{{"geometry": {POINT}, "buffers_km": [-1]}}'), "buffers_km.0"),
    ("POST", RINGS, _json(f'{{"geometry": {POINT}, "buffers_km": [{HUGE}]}}'), "buffers_km.0"),
    ("POST", "/check", _json('{"site": "86.04,44.3", "buffers_km": [NaN]}'), "buffers_km.0"),
    ("POST", "/check", _json('{"site": "86.04,44.3", "tolerance_m": Infinity}'), "tolerance_m"),
    ("POST", "/check", _json('{"site": "86.04,44.3", "tolerance_m": -1}'), "tolerance_m"),
    ("POST", "/check", _json('{"site": "86.04,44.3", "gk_zone": 1e999}'), "gk_zone"),
    ("POST", "/check", _json(f'{{"site": "86.04,44.3", "gk_zone": {HUGE}}}'), "gk_zone"),
    ("POST", "/check", _json('{"site": "86.04,44.3", "gk_zone": 99}'), "gk_zone"),
    ("POST", "/check", _json('{"site": "86.04,44.3", "project": {"coal_t": Infinity}}'), "project.coal_t"),
    ("POST", "/check", _json('{"site": "86.04,44.3", "project": {"boiler_tph": NaN}}'), "project.boiler_tph"),
    ("POST", "/check", _json('{"site": "86.04,44.3", "project": {"power_mw": -Infinity}}'), "project.power_mw"),
    ("POST", "/check", _json(f'{{"site": "86.04,44.3", "project": {{"coal_t": {HUGE}.5}}}}'), "project.coal_t"),
    ("POST", "/check", {"data": {"site": "86.04,44.3", "coal_t": "inf"}}, "coal_t"),
    ("POST", "/check", {"data": {"site": "86.04,44.3", "boiler_tph": "nan"}}, "boiler_tph"),
    ("POST", "/check", {"data": {"site": "86.04,44.3", "power_mw": "-1"}}, "power_mw"),
    ("POST", "/check", {"data": {"site": "86.04,44.3", "tolerance_m": "NaN"}}, "tolerance_m"),
    ("POST", "/check", {"data": {"site": "86.04,44.3", "gk_zone": HUGE}}, "gk_zone"),
    ("POST", "/check", {"data": {"site": "86.04,44.3", "buffers_km": "nan"}}, "buffers_km"),
    ("POST", "/check", {"data": {"site": "86.04,44.3", "buffers_km": "1e999"}}, "buffers_km"),
    ("POST", "/check", {"data": {"site": "86.04,44.3", "buffers_km": "0"}}, "buffers_km.0"),
    ("POST", "/check", {"data": {"site": "86.04,44.3", "buffers_km": "1000"}}, "buffers_km.0"),
    ("GET", ITEMS + "?limit=nan", {}, "limit"),
    ("GET", ITEMS + f"?limit={HUGE}.5", {}, "limit"),
    ("GET", ITEMS + "?limit=0", {}, "limit"),
    ("GET", ITEMS + "?limit=-3", {}, "limit"),
    ("GET", ITEMS + "?offset=-1", {}, "offset"),
    ("GET", ITEMS + "?offset=inf", {}, "offset"),
    ("GET", ITEMS + "?bbox=nan,44,87,45", {}, "bbox"),
    ("GET", ITEMS + "?bbox=86,44,inf,45", {}, "bbox"),
    ("GET", ITEMS + f"?bbox=86,44,{HUGE},45", {}, "bbox"),
    ("GET", ITEMS + "?bbox=86,44,87,95", {}, "bbox"),
    ("GET", ITEMS + "?bbox=44,86,95,87&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326", {}, "bbox"),
    ("GET", "/tiles/all/nan/0/0.pbf", {}, "z"),
    ("GET", f"/tiles/all/{HUGE}/0/0.pbf", {}, "z"),
    ("GET", "/tiles/all/3/-1/0.pbf", {}, "x"),
    ("GET", "/tiles/all/3/1/inf.pbf", {}, "y"),
    ("GET", "/layers?as_of=0", {}, "as_of"),
    ("GET", "/map?as_of=1e9", {}, "as_of"),
    ("GET", "/map/check?as_of=2024-02-30", {}, "as_of"),
    ("POST", "/screen", {"files": {"file": ("清单.csv", b"a\n1\n")}, "data": {"as_of": "NaN"}}, "as_of"),
]


@pytest.mark.parametrize("method, url, kwargs, field", CASES,
                         ids=[f"{method} {url[:60]} {field}" for method, url, _, field in CASES])
def test_bad_numbers_are_400_naming_the_parameter(client, method, url, kwargs, field):
    response = client.request(method, url, **kwargs)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field, response.json()


@pytest.mark.parametrize("url", [ITEMS + "?limit=100000", ITEMS + "?offset=" + HUGE, "/tiles/all/3/100/0.pbf",
                                 "/tiles/all/20/0/1048576.pbf"])
def test_numbers_in_range_of_their_type_but_beyond_the_data_are_not_errors(client, url):
    """A limit above the maximum is clamped (OGC API - Features), an offset past the end is an empty page, a
    tile beyond its zoom's grid is 404."""
    response = client.get(url)
    assert response.status_code in (200, 404), response.text
    if response.status_code == 200:
        assert len(response.json()["features"]) <= 50
