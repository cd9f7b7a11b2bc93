"""What one site input may hold, and the checks that bound the work before it is done.

Every reader bounds what it reads before a parser or a loop sees it: the bytes of a text or file, the
nesting of brackets (GEOS's WKT reader and ``json`` recurse once per level, GEOS without a guard), and the
counts of features, rings and vertices it builds. Each limit is a module constant, so the messages, the
tests and the documentation quote the same number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gis.errors import CoordinateError, GeometryError, LimitExceededError
from gis.sites.model import RawSite

__all__ = [
    "COVERAGE_MARGIN_DEG",
    "MAX_COLUMNS",
    "MAX_COORDINATE",
    "MAX_FEATURES",
    "MAX_GEOMETRY_BYTES",
    "MAX_INFLATED_BYTES",
    "MAX_INPUT_BYTES",
    "MAX_LAYERS",
    "MAX_NESTING",
    "MAX_PARTS",
    "MAX_SITE_AREA_KM2",
    "MAX_TABLE_ROWS",
    "MAX_VERTICES",
    "MAX_ZIP_ENTRIES",
    "VertexBudget",
    "check_file_size",
    "check_nesting",
    "check_raw",
    "check_text_size",
    "nesting_error",
    "too_many",
    "too_many_vertices",
]

#: Bytes of a text, or of a file read whole (TXT, CSV, GeoJSON, KML, a .dbf); the API's default upload limit.
MAX_INPUT_BYTES = 20 * 1024 * 1024
#: Vertices of one site, as the API's default ``max_vertices``: a surveyed parcel has hundreds to thousands.
MAX_VERTICES = 100_000
#: Rings of one site (each part has one, each hole one more), so that no loop runs once per tiny part.
MAX_PARTS = 10_000
#: Features or plots of one input (a 国土 TXT lists a few plots, a shapefile of a project's parcels hundreds).
MAX_FEATURES = 10_000
#: Levels of brackets in WKT and JSON, and of elements in KML; real inputs use fewer than 10.
MAX_NESTING = 64
#: Absolute value of a coordinate: Gauss-Krüger Y with its zone number stays below 5e7 m.
MAX_COORDINATE = 1e9
#: Columns of a table read (Excel allows 16,384; a register has tens).
MAX_COLUMNS = 1024
#: Rows of a site table read, blank ones included: one vertex a row, plus title and header rows.
MAX_TABLE_ROWS = MAX_VERTICES + 1000
#: Layers of one vector file (each KML folder is one; GDAL opens the file again for each).
MAX_LAYERS = 100
#: Bytes of the geometries of one file (GeoPackage blobs, a .shp): what ``MAX_VERTICES`` vertices with Z and M
#: (32 bytes each), ``MAX_FEATURES`` record headers and envelopes (128) and ``MAX_PARTS`` ring counts (16) take.
MAX_GEOMETRY_BYTES = MAX_VERTICES * 32 + MAX_FEATURES * 128 + MAX_PARTS * 16
#: Bytes a zip (.xlsx, .kmz) of a site may inflate to, all members together.
MAX_INFLATED_BYTES = 256 * 1024 * 1024
#: Members of a zip: an .xlsx has tens, a .kmz a .kml and its icons.
MAX_ZIP_ENTRIES = 10_000
#: Area of a project site; a prefecture has tens of thousands of km², the largest projects hundreds.
MAX_SITE_AREA_KM2 = 10_000
#: How far (degrees) a site may reach beyond the area the layers cover before it is refused.
COVERAGE_MARGIN_DEG = 1.0


def too_many(what_zh: str, what_en: str, count: int, limit: int, *, source: str | None, field: str | None,
             fix: str, row: Any = None) -> LimitExceededError:
    """The error for a count over its limit, Chinese first, naming the count (as far as counted) and the limit."""
    return LimitExceededError(
        f"{what_zh}超过上限 {limit:,}（已数到 {count:,}） / more {what_en} than ecozone reads: "
        f"{count:,} counted, at most {limit:,}", source=source, row=row, field=field, value=count, fix=fix,
    )


_VERTICES_FIX = ("简化边界（如在 QGIS 中按 1 米简化）或拆分为多个地块 / "
                 "simplify the boundary (e.g. to 1 m in QGIS) or split it into plots")


def too_many_vertices(count: int, *, source: str | None, field: str = "site") -> LimitExceededError:
    """The error for a site with more than ``MAX_VERTICES`` vertices."""
    return too_many("顶点数", "vertices", count, MAX_VERTICES, source=source, field=field, fix=_VERTICES_FIX)


class VertexBudget:
    """Counts the vertices a reader builds and stops it as soon as they pass ``MAX_VERTICES``."""

    def __init__(self, *, source: str | None, field: str = "site") -> None:
        self.count = 0
        self.source = source
        self.field = field

    def take(self, vertices: int) -> None:
        """Count ``vertices`` more; raise ``LimitExceededError`` past the limit."""
        self.count += vertices
        if self.count > MAX_VERTICES:
            raise too_many_vertices(self.count, source=self.source, field=self.field)


def check_text_size(size: int, *, source: str | None, field: str = "site") -> None:
    """Refuse a text (characters) or a file (bytes) over ``MAX_INPUT_BYTES`` before it is read."""
    if size > MAX_INPUT_BYTES:
        raise too_many("输入的字节数", "bytes", size, MAX_INPUT_BYTES, source=source, field=field,
                       fix="拆分为多个地块或文件 / split the input into several sites or files")


def check_file_size(path: Path, *, source: str | None, field: str = "site", limit: int = MAX_INPUT_BYTES) -> None:
    """Refuse a file over ``limit`` bytes before it is opened."""
    size = path.stat().st_size
    if size > limit:
        raise too_many("文件的字节数", "bytes in the file", size, limit, source=source, field=field,
                       fix="拆分为多个文件，或简化边界 / split the file, or simplify the boundaries")


def nesting_depth(data: bytes, opening: bytes, closing: bytes) -> int:
    """The deepest level of ``opening``/``closing`` bytes, in linear time and bounded memory."""
    codes = np.frombuffer(data, dtype=np.uint8)
    depth = deepest = 0
    for start in range(0, len(codes), 1 << 20):
        chunk = codes[start : start + (1 << 20)]
        step = np.isin(chunk, np.frombuffer(opening, dtype=np.uint8)).astype(np.int64)
        step -= np.isin(chunk, np.frombuffer(closing, dtype=np.uint8))
        running = np.cumsum(step) + depth
        deepest = max(deepest, int(running.max(initial=depth)))
        depth = int(running[-1]) if len(running) else depth
    return deepest


def check_nesting(text: str | bytes, *, brackets: str, source: str | None, field: str = "site") -> None:
    """Refuse text nested deeper than ``MAX_NESTING`` levels of ``brackets`` ("()" or "[]{}") before parsing.

    Brackets inside JSON strings count too; nesting a string hides is still bounded by ``json``'s own
    recursion check, which the callers turn into the same error.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = nesting_depth(data, brackets[0::2].encode(), brackets[1::2].encode())
    if depth > MAX_NESTING:
        raise nesting_error(depth, source=source, field=field)


def nesting_error(depth: int | None, *, source: str | None, field: str = "site") -> LimitExceededError:
    """The error for input nested deeper than ``MAX_NESTING`` (``depth`` None when only known to be deeper)."""
    shown = f"{depth:,}" if depth is not None else f"> {MAX_NESTING}"
    return LimitExceededError(
        f"嵌套层数过多（{shown} 层，上限 {MAX_NESTING}） / nested {shown} levels deep; ecozone reads at most "
        f"{MAX_NESTING} levels", source=source, field=field, value=depth,
        fix="检查几何是否由正常软件导出；集合（GeometryCollection）不要层层嵌套 / "
            "export the geometry again; do not nest collections in collections",
    )


def check_raw(raw: RawSite) -> None:
    """Bound and sanity-check what a reader parsed, before any CRS work: counts, empty parts, mixed kinds,
    and coordinates that are not finite or are too large to be coordinates in any CRS ecozone reads."""
    if len(raw.plots) > MAX_FEATURES:
        raise too_many("地块（要素）数", "plots (features)", len(raw.plots), MAX_FEATURES, source=raw.source,
                       field="features", fix="分批检查，每次一个项目 / check one project at a time")
    rings = vertices = 0
    for plot in raw.plots:
        kinds = {part.kind for part in plot.parts}
        if not plot.parts:
            raise GeometryError("几何为空 / the geometry is empty", source=raw.source, row=plot.row, field="geometry",
                                fix="给出带坐标的几何 / give a geometry with coordinates")
        if len(kinds) > 1:
            raise GeometryError(
                f"一个地块混合了点、线、面（{'、'.join(sorted(kinds))}） / one plot mixes points, lines and polygons",
                source=raw.source, row=plot.row, field="geometry", value=sorted(kinds),
                fix="每个地块只用一种几何类型，或分开检查 / keep one kind of geometry per plot, or check them separately",
            )
        rings += sum(len(part.rings) for part in plot.parts)
        vertices += sum(len(ring.coords) for part in plot.parts for ring in part.rings)
    if rings > MAX_PARTS:
        raise too_many("部分和环的数量", "parts and rings", rings, MAX_PARTS, source=raw.source,
                       field="geometry", fix="合并或简化地块 / merge or simplify the parts")
    if vertices > MAX_VERTICES:
        raise too_many_vertices(vertices, source=raw.source)
    for plot in raw.plots:
        for part in plot.parts:
            for ring in part.rings:
                if not ring.coords:
                    raise GeometryError("环没有顶点 / a ring has no vertices", source=raw.source, row=plot.row,
                                        field="coordinates", fix="删除空环或补全坐标 / remove the empty ring")
                _check_values(ring.coords, ring.rows, raw)


def _check_values(coords: list[tuple[float, float]], rows: list[Any], raw: RawSite) -> None:
    values = np.asarray(coords, dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (np.abs(values) > MAX_COORDINATE)
    if not bad.any():
        return
    index, axis = (int(i) for i in np.argwhere(bad)[0])
    value = float(values[index, axis])
    what = "不是有限的数（NaN 或无穷大） / is not a finite number" if not np.isfinite(value) else \
        f"超出任何坐标系的范围（绝对值大于 {MAX_COORDINATE:g}） / is larger than any coordinate ({MAX_COORDINATE:g})"
    raise CoordinateError(f"坐标值{what}", source=raw.source, row=rows[index], field=raw.fields[axis], value=value,
                          fix="检查该坐标的数值 / check the value of this coordinate")
