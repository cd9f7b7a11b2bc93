"""Proximity rings of a site for display: the site buffered by each ring distance, geodesically true.

The overlap engine measures distances on the ellipsoid; a buffer drawn in degrees would be an ellipse off
by up to a third at 45°N. Each ring is built in an azimuthal equidistant projection centred on the site,
where distances from the centre are true and, within the few tens of km of a ring, distances between any
two points are within a fraction of a per cent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer

__all__ = ["site_rings"]

_DECIMALS = 6


def site_rings(geometry: dict[str, Any], buffers_km: list[float] | tuple[float, ...]) -> list[dict[str, Any]]:
    """Rings ``[{"km": 1.0, "geometry": GeoJSON}, ...]`` around a GeoJSON site geometry (WGS 84 lon/lat)."""
    site = shapely.geometry.shape(geometry)
    centre = site.centroid
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m")
    forward = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    inverse = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
    projected = shapely.transform(site, lambda xy: np.column_stack(forward.transform(xy[:, 0], xy[:, 1])))
    rings = []
    for km in sorted(buffers_km):
        ring = shapely.buffer(projected, km * 1000, quad_segs=16)
        lonlat = shapely.transform(
            ring, lambda xy: np.round(np.column_stack(inverse.transform(xy[:, 0], xy[:, 1])), _DECIMALS)
        )
        rings.append({"km": km, "geometry": shapely.geometry.mapping(lonlat)})
    return rings
