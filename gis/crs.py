"""Coordinate reference systems: the store CRS, Chinese map datums, and geodesic measures.

The store keeps every geometry in WGS 84 longitude/latitude (EPSG:4326). CGCS2000 (EPSG:4490) coincides
with WGS 84 to a few centimetres, and PROJ applies no shift between them; both are accepted as input and
the OGC API also serves EPSG:4490. GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are not CRSs PROJ knows:
they are obfuscations of WGS 84 defined by public formulas, converted here with ``prcoords``.
"""

from __future__ import annotations

import functools

import numpy as np
import prcoords
import shapely
from pyproj import CRS, Geod, Transformer

__all__ = [
    "STORE_CRS",
    "GEOD",
    "crs_label",
    "crs_identity",
    "datum_name",
    "transformer_to_wgs84",
    "geodesic_area_m2",
    "geodesic_areas_m2",
    "gcj02_to_wgs84",
    "wgs84_to_gcj02",
    "bd09_to_wgs84",
    "wgs84_to_bd09",
]

#: CRS of every geometry in a store.
STORE_CRS = CRS.from_epsg(4326)

#: Ellipsoid for geodesic areas and distances (WGS 84; CGCS2000's ellipsoid differs by 0.1 mm in b).
GEOD = Geod(ellps="WGS84")


def crs_label(crs: CRS | str | int | None) -> str:
    """A short human label such as ``'CGCS2000 / 3-degree Gauss-Kruger zone 29 (EPSG:4517)'``."""
    return "no CRS" if crs is None else crs_identity(crs)[0]


def crs_identity(crs: CRS | str | int) -> tuple[str, int | None]:
    """The label of ``crs_label`` and the EPSG code (None if it has none), looked up once per definition:
    PROJ's identification search takes tens of microseconds, and checks meet the same few CRSs."""
    return _identity(CRS.from_user_input(crs).srs)


@functools.lru_cache(maxsize=256)
def _identity(srs: str) -> tuple[str, int | None]:
    crs = CRS.from_user_input(srs)
    epsg = crs.to_epsg()
    return (f"{crs.name} (EPSG:{epsg})" if epsg else crs.name), epsg


def datum_name(crs: CRS) -> str:
    """The name of the datum of ``crs`` ('' if it has none), looked up once per definition: pyproj builds the
    geodetic CRS anew on every access, which takes a tenth of a millisecond."""
    return _datum_name(crs.srs)


@functools.lru_cache(maxsize=64)
def _datum_name(srs: str) -> str:
    geodetic = CRS.from_user_input(srs).geodetic_crs
    return geodetic.datum.name if geodetic else ""


def transformer_to_wgs84(src: CRS) -> Transformer:
    """PROJ's transformation from ``src`` to WGS 84 longitude/latitude, made once per definition: making one
    takes milliseconds, and a register of Gauss-Krüger rows asks for the same few row after row. pyproj's
    transformers may be used by several threads at once."""
    return _transformer_to_wgs84(src.srs)


@functools.lru_cache(maxsize=64)
def _transformer_to_wgs84(srs: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(srs), STORE_CRS, always_xy=True)


def geodesic_area_m2(geom: shapely.Geometry) -> float:
    """Geodesic area in m² of a lon/lat geometry on the WGS 84 ellipsoid (0 for points and lines).

    pyproj signs each ring's area by its orientation, so rings are first oriented (exteriors
    counter-clockwise, holes clockwise): then holes subtract and parts add whatever the input's winding.
    """
    if geom is None or geom.is_empty:
        return 0.0
    if geom.geom_type == "Polygon" and shapely.get_num_interior_rings(geom) == 0:
        # One ring, as most parcels and patches are: its vertices in counter-clockwise order (the order
        # orient_polygons gives them), without taking the polygon apart (three times faster, the same area).
        xy = shapely.get_coordinates(geom)
        if not shapely.is_ccw(geom.exterior):
            xy = xy[::-1]
        return abs(GEOD.polygon_area_perimeter(xy[:, 0], xy[:, 1])[0])
    parts = shapely.get_parts(shapely.get_parts(shapely.orient_polygons(geom)))  # through multi- and collections
    rings = shapely.get_rings(parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON])
    # Ring by ring from coordinate arrays: pyproj's geometry_area_perimeter copies every vertex through Python
    # (1.5 s for a 100,000-vertex parcel, against 0.06 s this way).
    return abs(sum(GEOD.polygon_area_perimeter(*shapely.get_coordinates(ring).T)[0] for ring in rings))


#: Rings whose edges are all shorter than this (degrees) are measured on the authalic sphere.
AUTHALIC_EDGE_DEG = 0.05
_E2 = GEOD.f * (2 - GEOD.f)
_E = np.sqrt(_E2)


def _authalic_q(sin_lat: np.ndarray) -> np.ndarray:
    """Snyder's q of the authalic latitude from sin(latitude), its atanh(e·sin) / e as a series in e²·sin²
    (no logarithm; e² being 0.0067, six terms leave under 1e-15), computed in place."""
    w = np.square(sin_lat)
    w *= _E2
    q = np.full_like(w, 1 / 13)
    for k in range(5, -1, -1):
        q *= w
        q += 1 / (2 * k + 1)
    q += 1 / (1 - w)  # the ellipsoid's own term
    q *= sin_lat
    q *= 1 - _E2
    return q


_Q_POLE = float(_authalic_q(np.array(1.0)))
_AUTHALIC_R2 = GEOD.a**2 * _Q_POLE / 2  # the sphere of the ellipsoid's area


def geodesic_areas_m2(geoms) -> np.ndarray:
    """Geodesic area in m² of each lon/lat geometry on the WGS 84 ellipsoid, as ``geodesic_area_m2`` gives it,
    for many geometries at once (a layer of millions of vertices in a second rather than a minute).

    The ellipsoid maps onto the sphere of the same area by the authalic latitude without changing any area,
    so a ring whose edges are short is measured there in one vectorised pass (each edge's spherical excess
    to the equator); a geodesic edge and its image as an arc of great circle differ by a sliver that shrinks
    with the cube of its length: under 0.01 m² an edge below ``AUTHALIC_EDGE_DEG``, less than the rounding of
    PostGIS's and pyproj's own geodesic areas (about 0.1 m² a vertex). Rings with longer edges are measured
    with pyproj's geodesic polygon area, as ``geodesic_area_m2`` does.
    """
    geoms = np.asarray(geoms, dtype=object)
    areas = np.zeros(len(geoms))
    present = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    if not len(present):
        return areas
    parts, owner = shapely.get_parts(shapely.orient_polygons(geoms[present]), return_index=True)
    parts, inner = shapely.get_parts(parts, return_index=True)  # through collections of multi-parts
    owner = present[owner[inner]]
    polygons = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    rings, ring_part = shapely.get_rings(parts[polygons], return_index=True)
    if not len(rings):
        return areas
    ring_owner = owner[polygons][ring_part]
    coords, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    same = vertex_ring[1:] == vertex_ring[:-1]  # an edge, not the step from one ring to the next
    sin_xi = np.clip(_authalic_q(np.sin(np.radians(coords[:, 1]))) / _Q_POLE, -1.0, 1.0)
    half = sin_xi / (1 + np.sqrt(1 - sin_xi * sin_xi))  # tan(ξ / 2)
    dx, dy = np.diff(coords[:, 0]), np.diff(coords[:, 1])
    step = np.radians((dx + 180) % 360 - 180)
    excess = 2 * np.arctan(np.tan(step / 2) * (half[:-1] + half[1:]) / (1 + half[:-1] * half[1:]))
    ring_areas = -_AUTHALIC_R2 * np.bincount(vertex_ring[:-1][same], excess[same], minlength=len(rings))
    edges = np.where(same, np.maximum(np.abs(dx), np.abs(dy)), 0.0)
    starts = np.flatnonzero(np.r_[True, ~same])
    longest = np.zeros(len(rings))
    longest[vertex_ring[starts]] = np.maximum.reduceat(np.r_[edges, 0.0], starts)
    for ring in np.flatnonzero(longest > AUTHALIC_EDGE_DEG):
        ring_areas[ring] = GEOD.polygon_area_perimeter(*shapely.get_coordinates(rings[ring]).T)[0]
    np.add.at(areas, ring_owner, ring_areas)
    return np.abs(areas)


def _map_lonlat(geom: shapely.Geometry, func) -> shapely.Geometry:
    """Apply ``func((lat, lon)) -> (lat, lon)`` to every vertex of a lon/lat geometry."""

    def convert(coords: np.ndarray) -> np.ndarray:
        out = np.empty_like(coords)
        for i, (lon, lat) in enumerate(coords):
            res = func(prcoords.Coords(lat, lon))
            out[i] = (res.lon, res.lat)
        return out

    return shapely.transform(geom, convert)


def gcj02_to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    """GCJ-02 (Amap/Tencent) to WGS 84, by the iterative inverse (better than 1 mm)."""
    return _map_lonlat(geom, prcoords.gcj_wgs_bored)


def wgs84_to_gcj02(geom: shapely.Geometry) -> shapely.Geometry:
    """WGS 84 to GCJ-02 (Amap/Tencent)."""
    return _map_lonlat(geom, prcoords.wgs_gcj)


def bd09_to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    """BD-09 (Baidu) to WGS 84, by the iterative inverse."""
    return _map_lonlat(geom, prcoords.bd_wgs_bored)


def wgs84_to_bd09(geom: shapely.Geometry) -> shapely.Geometry:
    """WGS 84 to BD-09 (Baidu)."""
    return _map_lonlat(geom, prcoords.wgs_bd)
