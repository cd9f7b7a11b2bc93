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
from pyproj import CRS, Geod

__all__ = [
    "STORE_CRS",
    "GEOD",
    "crs_label",
    "crs_identity",
    "geodesic_area_m2",
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


def geodesic_area_m2(geom: shapely.Geometry) -> float:
    """Geodesic area in m² of a lon/lat geometry on the WGS 84 ellipsoid (0 for points and lines).

    pyproj signs each ring's area by its orientation, so rings are first oriented (exteriors
    counter-clockwise, holes clockwise): then holes subtract and parts add whatever the input's winding.
    """
    if geom is None or geom.is_empty:
        return 0.0
    parts = shapely.get_parts(shapely.get_parts(shapely.orient_polygons(geom)))  # through multi- and collections
    rings = shapely.get_rings(parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON])
    # Ring by ring from coordinate arrays: pyproj's geometry_area_perimeter copies every vertex through Python
    # (1.5 s for a 100,000-vertex parcel, against 0.06 s this way).
    return abs(sum(GEOD.polygon_area_perimeter(*shapely.get_coordinates(ring).T)[0] for ring in rings))


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
