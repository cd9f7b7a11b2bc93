"""Geometry repair shared by every reader: one policy for invalid geometries."""

from __future__ import annotations

import shapely

__all__ = ["make_valid_keeping_type", "overlay", "OVERLAY_GRID_DEGREES"]

_POLYGONAL = ("Polygon", "MultiPolygon")

#: The grid an overlay falls back to (about 0.1 mm): fine enough to change no area a report shows.
OVERLAY_GRID_DEGREES = 1e-9


def make_valid_keeping_type(geom: shapely.Geometry) -> tuple[shapely.Geometry, str]:
    """Repair an invalid geometry with ``make_valid``; a polygonal input keeps only its polygonal part.

    ``make_valid`` may return a collection with stray lines or points where a ring folds onto itself;
    those carry no area and would change the geometry's kind. Returns the repaired geometry (possibly empty)
    and GEOS's reason for the invalidity, for the caller's report.
    """
    reason = shapely.is_valid_reason(geom)
    fixed = shapely.make_valid(geom)
    if geom.geom_type in _POLYGONAL and fixed.geom_type not in _POLYGONAL:
        parts = [g for g in shapely.get_parts(fixed) if g.geom_type in _POLYGONAL]
        fixed = shapely.union_all(parts) if parts else shapely.Polygon()
    return fixed, reason


def overlay(operation, a, b):
    """``operation`` (``shapely.difference``, ``intersection`` ...) of ``a`` and ``b``, on a grid of
    ``OVERLAY_GRID_DEGREES`` where GEOS cannot node them: two outlines a few 1e-9° apart everywhere (one delivery
    reprojected two ways) cross at points it cannot place, and the plain overlay raises."""
    try:
        return operation(a, b)
    except shapely.errors.GEOSException:
        return operation(a, b, grid_size=OVERLAY_GRID_DEGREES)
