"""Plausibility checks and repairs shared by every reader: rings, validity, coverage.

Every repair is reported twice: as a ``Notice`` (what the user must know, with the fix) and as a
``Conversion`` (the audit trail of what changed the geometry, in order). Nothing is fixed silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import shapely

from gis.crs import geodesic_area_m2
from gis.errors import CoordinateError, GeometryError, Notice
from gis.geometry import make_valid_keeping_type
from gis.sites.limits import COVERAGE_MARGIN_DEG, MAX_SITE_AREA_KM2
from gis.sites.model import Conversion, RawPart, RawRing

__all__ = ["XINJIANG_BBOX", "Log", "assemble", "check_area", "check_coverage", "clean_ring", "repair"]

#: Default coverage: Xinjiang, lon 73-97°E, lat 34-50°N (minx, miny, maxx, maxy).
XINJIANG_BBOX = (73.0, 34.0, 97.0, 50.0)


@dataclass
class Log:
    """Where the notices and conversions of one input (or one plot) are collected."""

    source: str
    notices: list[Notice] = field(default_factory=list)
    conversions: list[Conversion] = field(default_factory=list)

    def note(self, code: str, message: str, *, step: str | None = None, level: str = "warning", **where: Any) -> None:
        """Record a notice and, when ``step`` is given, the change it describes."""
        self.notices.append(Notice(code, message, source=self.source, level=level, **where))
        if step:
            self.conversions.append(Conversion(step=step, description=message))

    def did(self, step: str, description: str) -> None:
        """Record a conversion that needs no warning (a declared transform)."""
        self.conversions.append(Conversion(step=step, description=description))


def clean_ring(ring: RawRing, kind: str, log: Log, fields: tuple[str, str]) -> RawRing:
    """Drop consecutive repeated vertices and close polygon rings (both reported); refuse too few vertices."""
    coords, rows = [ring.coords[0]], [ring.rows[0]]
    dropped = []
    for xy, row in zip(ring.coords[1:], ring.rows[1:]):
        if xy == coords[-1]:
            dropped.append((row, xy))
        else:
            coords.append(xy)
            rows.append(row)
    if dropped:
        where = ", ".join(str(r) for r, _ in dropped[:10]) + (" ..." if len(dropped) > 10 else "")
        log.note(
            "duplicate_vertex",
            f"removed {len(dropped)} vertex(es) repeating the vertex before them (rows {where})",
            step="remove_duplicates", row=dropped[0][0], field=f"{fields[1]}/{fields[0]}", value=dropped[0][1],
            fix="delete the repeated lines from the input",
        )
    if kind == "point":
        return RawRing(coords[:1], rows[:1])
    distinct = len(set(coords))
    needed = 3 if kind == "polygon" else 2
    if distinct < needed:
        raise GeometryError(
            f"a {kind} needs at least {needed} distinct vertices, this one has {distinct}",
            source=log.source, row=rows[0], value=coords[:4], fix="check that all boundary points are present",
        )
    if kind == "polygon" and coords[0] != coords[-1]:
        log.note(
            "ring_closed", "a ring was not closed; closed it by repeating its first vertex",
            step="close_ring", row=rows[-1], value=coords[-1], fix="repeat the first point at the end of each ring",
        )
        coords.append(coords[0])
        rows.append(rows[0])
    return RawRing(coords, rows)


def assemble(part: RawPart, log: Log) -> list[shapely.Geometry]:
    """Shapely geometries of a part; a ring that lies wholly outside the outer ring becomes its own polygon.

    In 国土 TXT, 圈号 ≥ 2 are holes; files in the wild also use them for the further parts of a
    multi-part plot. A ring disjoint from the outer ring cannot be a hole, so it is read as a part, and
    the reading is reported.
    """
    if part.kind == "point":
        return [shapely.Point(part.rings[0].coords[0])]
    if part.kind == "line":
        return [shapely.LineString(part.rings[0].coords)]
    outer = shapely.Polygon(part.rings[0].coords)
    shapely.prepare(outer)  # one index for all the rings tested against it
    holes, extra = [], []
    for ring in part.rings[1:]:
        polygon = shapely.Polygon(ring.coords)
        if polygon.disjoint(outer):
            extra.append(polygon)
            log.note(
                "ring_outside_outer",
                "an inner ring lies outside the outer ring, so it is read as a separate part of the plot, not a hole",
                step="ring_as_part", row=ring.rows[0], fix="give each separate part its own outer ring (圈号 1 in its own plot)",
            )
        else:
            holes.append(ring.coords)
    return [shapely.Polygon(part.rings[0].coords, holes)] + extra


def _degenerate(geom: shapely.Geometry) -> bool:
    """No area worth the name: GEOS calls a polygon whose vertices lie on a line valid, with area ~1e-17.

    Area against perimeter squared is scale-free; a 10 m wide, 10 km long strip scores ~1e-3.
    """
    return geom.is_empty or geom.area <= 1e-12 * geom.length**2


def repair(geom: shapely.Geometry, log: Log, row: Any) -> shapely.Geometry:
    """Make an invalid geometry valid with ``make_valid`` and report what changed (area before/after)."""
    if geom.is_valid:
        if geom.geom_type in ("Polygon", "MultiPolygon") and _degenerate(geom):
            raise GeometryError(
                "the polygon has no area (its vertices lie on a line)", source=log.source, row=row,
                fix="check the order and values of the boundary points",
            )
        return geom
    before = geodesic_area_m2(geom)
    fixed, reason = make_valid_keeping_type(geom)
    if geom.geom_type in ("Polygon", "MultiPolygon") and _degenerate(fixed):
        raise GeometryError(
            "the polygon has no area (its vertices lie on a line or it folds onto itself)",
            source=log.source, row=row, value=reason, fix="check the order and values of the boundary points",
        )
    after = geodesic_area_m2(fixed)
    parts = len(shapely.get_parts(fixed))
    log.note(
        "geometry_repaired",
        f"the boundary is invalid ({reason}); repaired with make_valid into {parts} part(s): "
        f"area {before:,.1f} m² as drawn, {after:,.1f} m² after repair",
        step="make_valid", row=row, value=reason,
        fix="check the vertex order of the boundary; the repaired shape may not be the intended one",
    )
    return fixed


def check_coverage(geom: shapely.Geometry, coverage: tuple[float, float, float, float] | None, log: Log,
                   hints: list[str]) -> None:
    """Refuse a site wholly outside the area the layers cover, or reaching more than ``COVERAGE_MARGIN_DEG``
    beyond it (a site can straddle the edge of the covered area, not the world); warn when it is partly outside."""
    if coverage is None:
        return
    box = shapely.box(*coverage)
    if geom.within(box):
        return
    where = f"lon {geom.centroid.x:.4f}, lat {geom.centroid.y:.4f}"
    area = f"lon {coverage[0]:g}–{coverage[2]:g}, lat {coverage[1]:g}–{coverage[3]:g}"
    if not geom.intersects(box):
        raise CoordinateError(
            f"the site lies at {where}, outside the area the layers cover ({area})", source=log.source,
            field="geometry", fix=" ".join(hints) or "check the coordinates and their CRS",
        )
    if not geom.within(shapely.box(*coverage).buffer(COVERAGE_MARGIN_DEG, join_style="mitre")):
        bounds = ", ".join(f"{b:.4f}" for b in geom.bounds)
        raise CoordinateError(
            f"项目地块超出图层覆盖范围 {COVERAGE_MARGIN_DEG:g}° 以上 / the site reaches more than "
            f"{COVERAGE_MARGIN_DEG:g}° beyond the area the layers cover ({area})", source=log.source,
            field="geometry", value=f"bounds {bounds}",
            fix="检查坐标和坐标系；只给出项目本身的范围 / check the coordinates and their CRS; give the project's own boundary",
        )
    log.note(
        "partly_outside_coverage", f"part of the site lies outside the area the layers cover ({area})",
        value=where, fix="results cover only the part inside; check the coordinates if the site should be inside",
    )


def check_area(area_m2: float | None, log: Log, row: Any) -> None:
    """Refuse a site larger than ``MAX_SITE_AREA_KM2``: no project is that large, and checking it would
    cost as much as checking a whole region."""
    if area_m2 is not None and area_m2 > MAX_SITE_AREA_KM2 * 1e6:
        raise GeometryError(
            f"项目地块面积过大（{area_m2 / 1e6:,.0f} km²，上限 {MAX_SITE_AREA_KM2:,} km²） / the site covers "
            f"{area_m2 / 1e6:,.0f} km², more than any project ({MAX_SITE_AREA_KM2:,} km² at most)",
            source=log.source, row=row, field="geometry", value=round(area_m2 / 1e6),
            fix="检查坐标和单位，只给出项目本身的范围 / check the coordinates and their unit; give the project's own boundary",
        )
