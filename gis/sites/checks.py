"""Plausibility checks and repairs shared by every reader: rings, validity, coverage.

Every repair is reported twice: as a ``Notice`` (what the user must know, with the fix) and as a
``Conversion`` (the audit trail of what changed the geometry, in order). Nothing is fixed silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from gis.crs import geodesic_area_m2
from gis.errors import CoordinateError, GeometryError, Notice
from gis.geometry import make_valid_keeping_type
from gis.sites.limits import COVERAGE_MARGIN_DEG, MAX_SITE_AREA_KM2
from gis.sites.model import Conversion, RawPart, RawRing

__all__ = ["XINJIANG_BBOX", "CoveredArea", "Log", "assemble", "check_area", "check_coverage", "clean_ring", "outside_coverage",
           "outside_coverage_texts", "repair"]

#: Xinjiang, lon 73-97°E, lat 34-50°N (minx, miny, maxx, maxy): the sanity area when no store says better.
XINJIANG_BBOX = (73.0, 34.0, 97.0, 50.0)


class CoveredArea:
    """Where the layers are, as the readers' sanity check sees it: a grid of cells of ``CELL_DEG`` degrees,
    each covered or not, made from the store's coverage polygons (Xinjiang and Inner Mongolia need not share a
    box that would also hold Beijing). A cell that a polygon reaches counts as covered, so the area errs by at
    most a cell outwards. Read-only once made: safe to share between threads."""

    CELL_DEG = 0.05

    def __init__(self, polygons: shapely.Geometry | list[shapely.Geometry], name: str = "") -> None:
        polygons = list(shapely.get_parts(np.asarray(polygons if isinstance(polygons, list) else [polygons],
                                                     dtype=object)))
        minx, miny = np.min(shapely.bounds(polygons)[:, :2], axis=0)
        maxx, maxy = np.max(shapely.bounds(polygons)[:, 2:], axis=0)
        step = self.CELL_DEG
        self.x0, self.y0 = np.floor(minx / step) * step, np.floor(miny / step) * step
        self.nx, self.ny = int(np.ceil((maxx - self.x0) / step)) + 1, int(np.ceil((maxy - self.y0) / step)) + 1
        # Cells whose middle is inside, and cells an outline crosses (its edges sampled at a quarter cell).
        centre_x = self.x0 + (np.arange(self.nx) + 0.5) * step
        centre_y = self.y0 + (np.arange(self.ny) + 0.5) * step
        centres = np.meshgrid(centre_x, centre_y, indexing="ij")
        self.mask = np.zeros((self.nx, self.ny), dtype=bool)
        for own in shapely.from_wkb(shapely.to_wkb(polygons)):  # prepared by contains_xy: copies of our own
            box = (centres[0] >= own.bounds[0]) & (centres[0] <= own.bounds[2]) & (centres[1] >= own.bounds[1]) & (
                centres[1] <= own.bounds[3])
            self.mask[box] |= shapely.contains_xy(own, centres[0][box], centres[1][box])
        rings = shapely.get_rings(polygons)
        xy, which = shapely.get_coordinates(rings, return_index=True)
        same = which[1:] == which[:-1]
        a, b = xy[:-1][same], xy[1:][same]
        steps = np.maximum(np.ceil(np.hypot(*(b - a).T) / (step / 4)).astype(np.int64), 1)
        segment = np.repeat(np.arange(len(a)), steps)
        t = (np.arange(len(segment)) - np.repeat(np.cumsum(steps) - steps, steps)) / np.repeat(steps, steps)
        samples = np.vstack([a[segment] + (b[segment] - a[segment]) * t[:, None], xy])
        ix = np.clip(np.floor((samples[:, 0] - self.x0) / step).astype(np.int64), 0, self.nx - 1)
        iy = np.clip(np.floor((samples[:, 1] - self.y0) / step).astype(np.int64), 0, self.ny - 1)
        self.mask[ix, iy] = True
        self.bounds = (float(minx), float(miny), float(maxx), float(maxy))
        self.name = name or f"lon {minx:.1f}–{maxx:.1f}, lat {miny:.1f}–{maxy:.1f}"
        self._grown_masks = {0: self.mask}

    @classmethod
    def box(cls, bounds: tuple[float, float, float, float]) -> CoveredArea:
        """A box of lon/lat degrees (minx, miny, maxx, maxy)."""
        return cls(shapely.box(*bounds), f"lon {bounds[0]:g}–{bounds[2]:g}, lat {bounds[1]:g}–{bounds[3]:g}")

    def contains(self, lon: np.ndarray, lat: np.ndarray, margin_deg: float = 0.0) -> np.ndarray:
        """Which points lie in a covered cell, or within ``margin_deg`` of one."""
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        reach = int(np.ceil(margin_deg / self.CELL_DEG))
        with np.errstate(invalid="ignore", over="ignore"):  # inf, NaN, 1e308: not in a cell
            ix = np.floor((lon - self.x0) / self.CELL_DEG)
            iy = np.floor((lat - self.y0) / self.CELL_DEG)
        finite = np.isfinite(ix) & np.isfinite(iy)
        inside = np.zeros(lon.shape, dtype=bool)
        mask = self._grown(reach)
        ok = finite & (ix >= -reach) & (ix < self.nx + reach) & (iy >= -reach) & (iy < self.ny + reach)
        inside[ok] = mask[ix[ok].astype(int) + reach, iy[ok].astype(int) + reach]
        return inside

    def _grown(self, reach: int) -> np.ndarray:
        """The mask padded by ``reach`` cells on every side, each cell covered if one within ``reach`` is (made
        once per reach; a lost race only makes it twice)."""
        grown = self._grown_masks.get(reach)
        if grown is None:
            from scipy.ndimage import binary_dilation

            padded = np.pad(self.mask, reach)
            grown = binary_dilation(padded, structure=np.ones((2 * reach + 1, 2 * reach + 1), dtype=bool))
            self._grown_masks[reach] = grown
        return grown


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
            f"删除了 {len(dropped)} 个与前一顶点重复的顶点（第 {where} 行） / removed {len(dropped)} vertex(es) "
            f"repeating the vertex before them (rows {where})",
            step="remove_duplicates", row=dropped[0][0], field=f"{fields[1]}/{fields[0]}", value=dropped[0][1],
            fix="从输入中删除重复的行 / delete the repeated lines from the input",
        )
    if kind == "point":
        return RawRing(coords[:1], rows[:1])
    distinct = len(set(coords))
    needed = 3 if kind == "polygon" else 2
    if distinct < needed:
        raise GeometryError(
            f"{'面' if kind == 'polygon' else '线'}至少要有 {needed} 个不同的顶点，这里只有 {distinct} 个 / a {kind} needs "
            f"at least {needed} distinct vertices, this one has {distinct}", source=log.source, row=rows[0],
            value=coords[:4], fix="检查拐点是否齐全 / check that all boundary points are present",
        )
    if kind == "polygon" and coords[0] != coords[-1]:
        log.note(
            "ring_closed", "有一个环未闭合，已重复其第一个顶点使其闭合 / a ring was not closed; closed it by "
            "repeating its first vertex", step="close_ring", row=rows[-1], value=coords[-1],
            fix="在每个环的末尾重复第一个点 / repeat the first point at the end of each ring",
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
                "有一个内环位于外环之外，按地块的另一个独立部分读取，而不是洞 / an inner ring lies outside the outer "
                "ring, so it is read as a separate part of the plot, not a hole", step="ring_as_part",
                row=ring.rows[0], fix="每个独立部分给出自己的外环（在单独的地块中，圈号为 1） / give each separate part "
                                      "its own outer ring (圈号 1 in its own plot)",
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
                "该面没有面积（顶点在一条直线上） / the polygon has no area (its vertices lie on a line)",
                source=log.source, row=row,
                fix="检查界址点的顺序和数值 / check the order and values of the boundary points",
            )
        return geom
    before = geodesic_area_m2(geom)
    fixed, reason = make_valid_keeping_type(geom)
    if geom.geom_type in ("Polygon", "MultiPolygon") and _degenerate(fixed):
        raise GeometryError(
            "该面没有面积（顶点在一条直线上，或边界自身折叠） / the polygon has no area (its vertices lie on a line "
            "or it folds onto itself)", source=log.source, row=row, value=reason,
            fix="检查界址点的顺序和数值 / check the order and values of the boundary points",
        )
    after = geodesic_area_m2(fixed)
    parts = len(shapely.get_parts(fixed))
    log.note(
        "geometry_repaired",
        f"边界无效（{reason}），已用 make_valid 修复为 {parts} 个部分：原面积 {before:,.1f} m²，修复后 "
        f"{after:,.1f} m² / the boundary is invalid ({reason}); repaired with make_valid into {parts} part(s): "
        f"area {before:,.1f} m² as drawn, {after:,.1f} m² after repair",
        step="make_valid", row=row, value=reason,
        fix="检查边界顶点的顺序；修复后的形状可能不是原意 / check the vertex order of the boundary; the repaired "
            "shape may not be the intended one",
    )
    return fixed


def covered(coverage: CoveredArea | tuple[float, float, float, float] | None) -> CoveredArea | None:
    """The covered area of a ``coverage`` argument (a box is made an area)."""
    return CoveredArea.box(coverage) if isinstance(coverage, tuple) else coverage


def check_coverage(geom: shapely.Geometry, coverage: CoveredArea | tuple[float, float, float, float] | None,
                   log: Log, hints: list[str], row: Any = None) -> None:
    """Refuse a site wholly outside the area the layers cover, or reaching more than ``COVERAGE_MARGIN_DEG``
    beyond it (a site can straddle the edge of the covered area, not the world); warn when it is partly outside.
    The site's vertices are what is tested (and its middle, for a parcel larger than a cell). ``row``: the plot's
    row or feature, which the error names (one feature of a file of many can be the one outside)."""
    coverage = covered(coverage)
    if coverage is None:
        return
    xy = np.vstack([shapely.get_coordinates(geom), shapely.get_coordinates(geom.representative_point())])
    inside = coverage.contains(xy[:, 0], xy[:, 1])
    if inside.all():
        return
    where = f"lon {geom.centroid.x:.4f}, lat {geom.centroid.y:.4f}"
    area = coverage.name
    if not inside.any():
        error = outside_coverage(geom.centroid.x, geom.centroid.y, coverage, log.source, hints)
        error.row = row
        raise error
    if not coverage.contains(xy[:, 0], xy[:, 1], COVERAGE_MARGIN_DEG).all():
        bounds = ", ".join(f"{b:.4f}" for b in geom.bounds)
        raise CoordinateError(
            f"项目地块超出图层覆盖范围 {COVERAGE_MARGIN_DEG:g}° 以上 / the site reaches more than "
            f"{COVERAGE_MARGIN_DEG:g}° beyond the area the layers cover ({area})", source=log.source, row=row,
            field="geometry", value=f"bounds {bounds}",
            fix="检查坐标和坐标系；只给出项目本身的范围 / check the coordinates and their CRS; give the project's own boundary",
        )
    log.note(
        "partly_outside_coverage", f"项目地块有一部分位于图层覆盖范围（{area}）之外 / part of the site lies outside "
        f"the area the layers cover ({area})", row=row, value=where,
        fix="结果只涵盖范围内的部分；如项目地块应全在范围内，请检查坐标 / results cover only the part inside; check "
            "the coordinates if the site should be inside",
    )


def outside_coverage(lon: float, lat: float, coverage: CoveredArea, source: str, hints: list[str]) -> CoordinateError:
    """The error of a site (its middle at ``lon``, ``lat``) wholly outside the covered area."""
    return _outside(f"lon {lon:.4f}, lat {lat:.4f}", coverage, source, hints)


def outside_coverage_texts(lon: np.ndarray, lat: np.ndarray, rows: list[Any], field: str, coverage: CoveredArea,
                           source: str, hints: list[str], give: Callable[[str], str] | None = None) -> list[str]:
    """The text of ``outside_coverage``'s error, with its ``row`` and ``field`` set, for each of many rows.

    A register far from the layers can have hundreds of thousands of such rows: the error is made once, with
    markers where a row's place and number go, and each row's text is that with them put in. ``give`` names
    the inputs its fix speaks of (``EcozoneError.text``)."""
    if not len(rows):
        return []
    place, number = "\x00place\x00", "\x00row\x00"
    error = _outside(place, coverage, source, hints)
    error.row, error.field = number, field
    template = error.text(give)
    return [template.replace(place, f"lon {x:.4f}, lat {y:.4f}").replace(number, str(row))
            for x, y, row in zip(lon.tolist(), lat.tolist(), rows)]


def _outside(where: str, coverage: CoveredArea, source: str, hints: list[str]) -> CoordinateError:
    return CoordinateError(
        f"项目位置（{where}）不在图层覆盖范围内 / the site lies at {where}, outside the area the layers cover "
        f"({coverage.name})", source=source, field="geometry",
        fix=" ".join(hints) or "检查坐标和坐标系 / check the coordinates and their CRS",
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
