"""Zone layers and site geometry helpers shared by the overlap-engine tests (hand-made and PostGIS)."""

from __future__ import annotations

import math

import geopandas as gpd
import shapely

from gis.crs import GEOD
from gis.kinds import KINDS

_ATTRIBUTES = {"chp_plant": {"capacity_mw": 330.0}}


def layer(kind: str, zones: dict[str, shapely.Geometry], **fields) -> gpd.GeoDataFrame:
    """A layer of ``kind`` with one feature per ``zone_id: geometry``; other fields filled plausibly."""
    spec = KINDS[kind]
    rows = [{
        "zone_id": zone_id,
        "kind": kind,
        "name": f"{spec.label_zh}{zone_id}",
        "subtype": next(iter(spec.subtypes), None),
        "jurisdiction": "兵团第八师石河子市",
        "attributes": dict(_ATTRIBUTES.get(kind, {})),
        "source_doc": "tests",
        "source_quote": "「测试」",
        "geometry_source": "illustrative",
        **fields,
    } for zone_id in zones]
    return gpd.GeoDataFrame(rows, geometry=list(zones.values()), crs="EPSG:4326")


def east(lon: float, lat: float, metres: float) -> float:
    """Longitude ``metres`` east of (lon, lat) along the geodesic leaving due east (negative: west)."""
    x, _, _ = GEOD.fwd(lon, lat, 90.0 if metres >= 0 else 270.0, abs(metres))
    return x


def north(lon: float, lat: float, metres: float) -> float:
    """Latitude ``metres`` north of (lon, lat) along the meridian (negative: south)."""
    _, y, _ = GEOD.fwd(lon, lat, 0.0 if metres >= 0 else 180.0, abs(metres))
    return y


def area_m2(geom: shapely.Geometry) -> float:
    """Independent geodesic area: every ring measured with Geod.polygon_area_perimeter, holes subtracted."""
    total = 0.0
    for polygon in shapely.get_parts(geom):
        outer = abs(GEOD.polygon_area_perimeter(*polygon.exterior.xy)[0])
        holes = sum(abs(GEOD.polygon_area_perimeter(*ring.xy)[0]) for ring in polygon.interiors)
        total += outer - holes
    return total


def ring_with_hole(outer: shapely.Polygon, hole: shapely.Polygon) -> shapely.Polygon:
    return shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])


def degrees_per_metre(lat: float) -> tuple[float, float]:
    """Rough (lon, lat) degrees per metre at a latitude, for laying out shapes (not for measuring)."""
    return 1 / (111_320 * math.cos(math.radians(lat))), 1 / 110_950
