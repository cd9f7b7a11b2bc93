"""Reading a batch input in chunks: every row keeps its original cells, and gets a site and a project or an error.

Tables (.xlsx, .csv in UTF-8 or GBK) are read with the site reader's header vocabulary (``gis.sites.tables``)
plus a WKT / 拐点坐标 column and the project columns (行业, 建设性质, 锅炉规模 ...); ``columns`` maps our
fields onto headers we do not recognise. Vector files (GeoPackage, shapefile, GeoJSON, GeoParquet) give
each feature's geometry and attributes. Rows are read as arrays where the site reader has nothing to say of
them but what it said of one of them: degrees (plain, 度分秒, or the other way round) and Gauss-Krüger X/Y
inside the covered area, plain lon/lat points and polygons of a GIS file or of a WKT column. Of the kinds the
reader transforms or remarks on (swapped degrees, Gauss-Krüger, polygons), one row goes through the reader
first, and its reading must be the arrays' exactly. Every other row goes through
``gis.sites.build.build_sites``, the same checks and transforms as ``read_site``, one row at a time. A row
that fails gets its error text and the batch goes on.
"""

from __future__ import annotations

import codecs
import csv
import functools
import json
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gis.batch.columnar import input_columns
from gis.crs import crs_label, geodesic_areas_m2, transformer_to_wgs84
from gis.errors import CoordinateError, CRSError, EcozoneError, FieldError, FormatError, Notice
from gis.rules.project import DERIVED_FACTS, DERIVED_FROM, FACT_LABELS, fact_specs
from gis.sites import gk
from gis.sites.archives import open_zip, zip_layer
from gis.sites.build import build_sites, combine, coverage_hints, crs_overridden, user_crs
from gis.sites.checks import CoveredArea, outside_coverage_texts
from gis.sites.encoding import dbf_encoding, decode, records_encoding
from gis.sites.gpkg import feature_tables
from gis.sites.limits import MAX_INPUT_BYTES, MAX_SITE_AREA_KM2, MAX_VERTICES
from gis.sites.model import GKHint, RawPart, RawPlot, RawRing, RawSite, file_crs_origin
from gis.sites.tables import (
    EXCEL_MAX_ROWS,
    FormulaCells,
    check_unique,
    csv_dialect,
    csv_rows,
    formula_error,
    header_roles,
    header_width,
    SheetScan,
    merged_filled,
    normalise_header,
    open_workbook,
    parse_coordinate,
    scan_sheet,
    sheet_rows,
    whole,
)
from gis.sites.text import parse_text, parts_from_shapely

__all__ = ["FIELDS", "FIELD_ALIASES", "FIELD_LABELS", "INPUT_SUFFIXES", "REGISTER_INPUTS", "Chunk", "header_fields",
           "mapping_fields", "open_input", "register_text"]

INPUT_SUFFIXES = (".xlsx", ".csv", ".gpkg", ".shp", ".zip", ".geojson", ".json", ".parquet")

#: Our fields and the headers recognised for each (compared after ``gis.sites.tables.normalise_header``).
FIELDS: dict[str, tuple[str, ...]] = {
    "lon": (), "lat": (), "x": (), "y": (), "gk_zone": (),  # from gis.sites.tables' vocabulary
    "wkt": ("wkt", "几何", "geometry", "geom", "拐点坐标", "界址点坐标", "坐标串", "范围坐标"),
    "name": ("项目名称", "名称", "企业名称", "单位名称", "排污单位名称", "name"),
    # the county the register gives: compared with where the site lies (``gis.batch.county``), never a project fact
    # (县（市、区） reads 县: what brackets hold is dropped)
    "county": ("所在县市", "所在县市区", "所属县市", "所属区县", "所在区县", "县市区", "县", "行政区划", "所在地区",
               "county"),
    # the project facts, with the headers the project model gives for each
    **{spec.name: (*spec.headers, spec.name) for spec in fact_specs()},
}
#: How an officer is shown each field a column can hold (a page's 列对应, the summary's 列对应：经度（lon）), one
#: label a field: the fields of ``FIELDS`` only, never a derived fact (``DERIVED_FACTS``: computed from these, the
#: is_power of 行业 and 装机容量), so that no two choices read alike and none is a fact no column gives.
FIELD_LABELS: dict[str, str] = {"lon": "经度", "lat": "纬度", "x": "X 坐标（东）", "y": "Y 坐标（北）", "gk_zone": "带号",
                                "wkt": "拐点坐标 WKT", "name": "项目名称", "county": "所在县市",
                                **{name: FACT_LABELS[name] for name in FIELDS if name in FACT_LABELS}}
_ROLE_OF = {"lon": "lon", "lat": "lat", "x": "east", "y": "north", "gk_zone": "zone"}
#: Other names a column mapping takes for a field: x and y are the easting and the northing (as GIS programs
#: name them; Chinese surveying names them the other way, 横坐标 Y and 纵坐标 X), which east and north say plainly.
FIELD_ALIASES = {"east": "x", "north": "y"}
_FACTS = tuple(spec.name for spec in fact_specs())
#: Longitude/latitude a site takes as they are (WGS 84, CGCS2000): the fast paths read only these.
_GEOGRAPHIC = tuple(CRS.from_user_input(c) for c in ("EPSG:4326", "EPSG:4490", "OGC:CRS84"))
_ARROW = (pa.Array, pa.ChunkedArray)
_WGS84 = CRS.from_epsg(4326)  # made once: a CRS costs about 0.1 ms to make, and slow rows are many
#: How a register gives what a reader's fix names (``«gk_zone»`` ...): a column, or the row's own cells, not an
#: option of a single check that a batch does not have.
REGISTER_INPUTS = {"gk_zone": "带号列 (a 带号 column)",
                   "crs": "整个输入的坐标系 crs，或 WKT 前的 SRID=代码; (the crs of the whole input, or SRID=code; before "
                          "the WKT)",
                   "swap_xy": "两列的值互换（各填回自己的列） (the two columns' values exchanged, each into its own column)"}


def _is_plain_degrees(crs: CRS) -> bool:
    return any(crs.equals(c) for c in _GEOGRAPHIC)


def mapping_fields(columns: dict[str, str] | None) -> dict[str, str]:
    """A column mapping (field -> column) with each field by its own name (``FIELD_ALIASES``: east is x, north
    is y); a field ecozone does not have, named twice (x and east), or derived from others (``DERIVED_FACTS``,
    which a column would contradict) is refused."""
    mapping: dict[str, str] = {}
    for name, column in (columns or {}).items():
        ours = FIELD_ALIASES.get(name, name)
        if ours in DERIVED_FACTS:  # computed from other facts: a column giving it would contradict them
            sources = "、".join(f"{FIELD_LABELS[f]} {f}" for f in DERIVED_FROM.get(ours, ()))
            raise FieldError(f"列对应中的 {ours} 由其他项目信息推算，不从列读取 / "
                             f"{ours} in the column mapping is derived from other facts, never read from a column",
                             field="columns", value=name,
                             fix=f"改为对应它所依据的列：{sources} / map the columns it is derived from: "
                                 f"{', '.join(DERIVED_FROM.get(ours, ()))}")
        if ours not in FIELDS:
            raise FieldError("列对应关系中有无法识别的字段 / unknown field in the column mapping",
                             field="columns", value=name,
                             fix=f"使用以下字段之一 / use one of {', '.join(FIELDS)}（x、y 也可写作 east、north / "
                                 "x and y may be written east and north）")
        if ours in mapping:
            raise FieldError(f"列对应中 {ours} 给出了两次（{name} 与 {ours} 是同一字段） / the column mapping gives {ours} "
                             f"twice ({name} is {ours})", field="columns", value=name,
                             fix=f"只保留其一 / keep one of {ours} and {name}")
        mapping[ours] = column
    return mapping


def register_text(error: EcozoneError) -> str:
    """An error's text as a register's row (or the register) reads it: its fix in ``REGISTER_INPUTS``' words."""
    return error.text(_register_input)


def _register_input(name: str) -> str:
    return REGISTER_INPUTS.get(name, name)


#: Columns without a header right of an .xlsx register's named ones that are read and kept (as the sheet declares
#: them): past this many, the declaration is taken for formatting, not data.
_UNNAMED_COLUMNS = 32
#: An .xlsx register may inflate to this much in all (its sheets are streamed row by row) ...
BATCH_MAX_INFLATED_BYTES = 4 * 1024**3
#: ... and one member to this much (openpyxl holds the shared strings, one member, in memory).
BATCH_MAX_MEMBER_BYTES = 1024**3


@dataclass
class Chunk:
    """Consecutive input rows: original cells, the row number a person sees, and what was read from each."""

    columns: list[Sequence[Any]]  # the cells by column, one per header name: lists, or Arrow arrays
    rows: list[Any]  # the worksheet row; a CSV's row as a spreadsheet opens it (header 1); a feature's number
    geoms: np.ndarray
    facts: dict[str, np.ndarray]  # fact name -> the row's cell (as read), for ``read_projects``
    errors: list[str | None]
    notices: list[str | None]
    _cells: list[list[Any]] | None = field(default=None, repr=False)
    county: np.ndarray | None = None  # the row's county cell (as read), when the register has the column

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def cells(self) -> list[list[Any]]:
        """The cells row by row, for the writers that write rows (made from the columns when first asked)."""
        if self._cells is None:
            columns = [c.to_pylist() if isinstance(c, _ARROW) else c for c in self.columns]
            self._cells = [list(row) for row in zip(*columns)] if columns else [[] for _ in self.rows]
        return self._cells


@dataclass
class Input:
    """An opened input: its columns, a row estimate, and its chunks (read lazily, once)."""

    path: Path
    header: list[str]
    total: int
    chunks: Iterator[Chunk]
    crs: CRS | None = None
    workbook: dict[str, Any] = field(default_factory=dict)  # xlsx: sheet names, data sheet, rows above header
    multipliers: dict[str, float] = field(default_factory=dict)  # facts a header gives in another unit
    fields: frozenset[str] = frozenset()  # our fields (``FIELDS``) that columns hold


def open_input(path: str | Path, *, columns: dict[str, str] | None = None, chunk_rows: int = 100_000,
               encoding: str | None = None, coverage: CoveredArea | None = None, crs: Any = None) -> Input:
    """Open a batch input by suffix (see ``INPUT_SUFFIXES``); chunks are read as they are consumed.

    ``coverage`` is where the store's layers are (``gis.check.covered_area``): the site reader's sanity check
    of each row, and what tells a swapped longitude/latitude; None accepts any longitude and latitude.
    ``crs`` is the CRS of every row (a GIS file's features, a table's X/Y, lon/lat or WKT), overriding what the
    file says, as ``read_site``'s ``crs`` does: for a file whose own cannot be read or inferred (a shapefile
    without its .prj in Gauss-Krüger without the zone in front of Y, Xian 1980; a register without 带号).
    """
    given = user_crs(crs) if crs is not None else None  # an unknown CRS is refused before any row is read
    columns = mapping_fields(columns) or None  # and a mapping of fields ecozone does not have
    path = Path(path)
    if not path.is_file():
        raise FormatError("找不到文件 / file not found", source=str(path), value=str(path), fix="检查文件路径 / check the path")
    try:
        return _open(path, columns, chunk_rows, encoding, coverage, given)
    except OSError as err:  # unreadable (permissions, I/O)
        raise FormatError(f"无法读取文件 / cannot read the file ({err.strerror or err})", source=path.name,
                          field="file", fix="检查路径，并确认文件可以读取 / check the path and that the file may be "
                                            "read") from None


def _open(path: Path, columns: dict[str, str] | None, chunk_rows: int, encoding: str | None,
          coverage: CoveredArea | None, crs: CRS | None) -> Input:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_input(path, columns, chunk_rows, encoding, coverage, crs)
    if suffix == ".xlsx":
        return _xlsx_input(path, columns, chunk_rows, coverage, crs)
    if suffix in (".gpkg", ".shp", ".geojson", ".json", ".parquet", ".zip"):
        return _vector_input(path, columns, chunk_rows, encoding, coverage, crs)
    raise FormatError(f"不能筛查 {suffix or '无后缀'} 文件 / ecozone does not screen {suffix or 'files without a suffix'}",
                      source=path.name, value=suffix,
                      fix=f"给出 {'、'.join(INPUT_SUFFIXES)} 之一；.xls 请在 Excel 或 WPS 中另存为 .xlsx / give one of "
                          f"{', '.join(INPUT_SUFFIXES)} (save .xls as .xlsx in Excel or WPS)")


# -- tables ----------------------------------------------------------------------------------------------------
def header_fields(header: list[str]) -> dict[str, int]:
    """Which column (index) holds each of our fields (``FIELDS``) by its header alone, no column mapping: the
    reader's own recognition, which a re-screening also names its rows by (``name``)."""
    roles = header_roles(header)
    index = {ours: roles[role] for ours, role in _ROLE_OF.items() if role in roles}
    names = [normalise_header(h) for h in header]
    for ours, words in FIELDS.items():
        for word in words:
            if ours not in index and word in names:
                index[ours] = names.index(word)
    return index


class _TableRows:
    """Which column holds which field, and how one chunk of table rows becomes sites and projects."""

    def __init__(self, header: list[str], source: str, columns: dict[str, str] | None, *, unique: bool = True,
                 coverage: CoveredArea | None = None, has_geometry: bool = False, crs: CRS | None = None):
        """Map ``header`` to our fields; ``unique`` refuses a column we read that has a twin of its name.
        ``has_geometry``: the rows are features whose own geometry is the site (no location column needed).
        ``crs``: the CRS of every row's location, given for the whole table."""
        self.source = source
        self.crs = crs
        #: Whether lon/lat are taken as they are (no CRS given, or WGS 84 / CGCS2000 degrees): the fast paths.
        self.plain = crs is None or _is_plain_degrees(crs)
        self._hints = coverage_hints(crs or _WGS84, None, crs)
        self.header = header
        self.coverage = coverage
        self.has_geometry = has_geometry
        self.index = header_fields(header)
        names = [normalise_header(h) for h in header]
        self.mapped: set[str] = set()  # our fields the mapping gives
        for ours, column in mapping_fields(columns).items():
            # as written, or as the header reads without spaces and line breaks (a header typed over two lines)
            found = [i for i, name in enumerate(header) if name == column] or \
                [i for i, name in enumerate(names) if name == normalise_header(column)]
            if len(found) != 1:
                raise FieldError("列名对应中的列在输入中没有 / the column mapping names a column the input does not have",
                                 source=source, field=ours, value=column,
                                 fix="使用以下列名之一 / use one of the columns: " + "、".join(map(str, header)))
            self.index[ours] = found[0]
            self.mapped.add(ours)
        if unique:
            check_unique(header, self.index.values(), source)
        self.geographic = "lon" in self.index and "lat" in self.index
        located = self.geographic or {"x", "y"} <= self.index.keys() or "wkt" in self.index
        if not (located or has_geometry):
            raise FieldError(
                "没有找到位置列 / no location columns found", source=source, field="header", value=header[:10],
                fix="把位置列命名为 经度/纬度、X/Y（及 带号）或 WKT/拐点坐标，或用 «columns» 指定 / name the columns "
                    "经度/纬度, X/Y (with 带号), or WKT/拐点坐标, or map them with «columns» (lon, lat ...)",
            )
        if crs is not None and not has_geometry:
            self._check_crs(crs)
        #: The factor of each fact whose header gives its unit (新增燃煤量（万吨）).
        self.multipliers = {name: factor for name, unit, factor in _HEADER_UNITS
                            if name in self.index and unit in self.header[self.index[name]]}

    def _check_crs(self, crs: CRS) -> None:
        """Refuse a CRS given for the whole table that its columns contradict: a zone given twice (the 带号
        column, and the CRS), or longitude/latitude in a projected CRS."""
        if "gk_zone" in self.index:
            raise CRSError(
                f"表中有带号列「{self.header[self.index['gk_zone']]}」，又给出了坐标系：带只能由一处给出 / the table has a "
                "带号 column and a CRS is given: the zone must come from one of them", source=self.source,
                field="crs", value=crs_label(crs),
                fix="去掉 «crs»，各行按带号列定带；或删去带号列，按给出的坐标系读取 X/Y / leave out «crs» to take each "
                    "row's zone from its 带号, or delete the 带号 column to read X/Y in the CRS given")
        if self.geographic and not crs.is_geographic:
            raise CRSError(
                f"位置列是经纬度，而给出的坐标系 {crs_label(crs)} 是投影坐标系 / the location columns are longitude/latitude "
                f"but the CRS given, {crs_label(crs)}, is projected", source=self.source, field="crs",
                value=crs_label(crs),
                fix="经纬度不需要 «crs»，去掉它；投影坐标请放在 X/Y（东坐标/北坐标）列 / leave out «crs» for longitude/"
                    "latitude; projected coordinates go in X/Y (东坐标/北坐标) columns")

    def read(self, columns: list[Sequence[Any]], rows: list[Any], errors: list[str | None] | None = None, *,
             cells: list[list[Any]] | None = None) -> Chunk:
        """Sites and projects of one chunk of rows, given by column (``input_columns``; Arrow text arrays for a
        file Arrow read) or, from a row reader, also as its ``cells``; ``errors`` holds rows the file reader
        could not read."""
        n = len(rows)
        geoms = np.full(n, None, dtype=object)
        errors = list(errors) if errors is not None else [None] * n
        notices: list[str | None] = [None] * n
        slow = np.array([e is None and not self.has_geometry for e in errors], dtype=bool)
        # only the cells read here as objects: a register's names and coordinates are distinct on every row
        column = {field: _objects(columns[i]) for field, i in self.index.items()
                  if field in ("wkt", "county") or field in _FACTS}
        location = self._location_field()

        def read_row(i: int) -> tuple[str | None, Any, str | None]:  # through the whole site reader
            row_cells = cells[i] if cells is not None else [_value(c, i) for c in columns]
            return _row_site(lambda: self._site(row_cells, rows[i]), self.source, rows[i], location)

        points = (slow & np.array([_blank(v) for v in column["wkt"]])) if "wkt" in self.index else slow
        if self.geographic and self.plain:
            lon, lat = (self._degrees(columns[self.index[f]], rows, f) for f in ("lon", "lat"))
            fast = points & _fits(lon, lat, self.coverage)
            geoms[fast] = shapely.points(lon[fast], lat[fast])
            outside = points & ~fast & self._outside(lon, lat)
            far = np.flatnonzero(outside)
            for i, text in zip(far, outside_coverage_texts(lon[far], lat[far], [rows[i] for i in far], location,
                                                            self.coverage, self.source, self._hints,
                                                            _register_input)):
                errors[i] = text
            slow &= ~fast & ~outside
            # Degrees that fit the covered area only the other way round: the first such row goes through the
            # reader; if the reader swaps it, so are the rest, with its notice, which names the columns only (a
            # whole register can be typed so).
            swapped = np.flatnonzero(points & ~fast & _fits(lat, lon, self.coverage))
            if len(swapped):
                first = swapped[0]
                errors[first], geoms[first], notices[first] = read_row(first)
                slow[first] = False
                if errors[first] is None and shapely.equals_exact(geoms[first], shapely.Point(lat[first], lon[first]),
                                                                  0.0):
                    geoms[swapped] = shapely.points(lat[swapped], lon[swapped])
                    for i in swapped.tolist():
                        notices[i] = notices[first]
                    slow[swapped] = False
        elif not self.geographic and {"x", "y"} <= self.index.keys():
            slow &= ~self._gauss_kruger(columns, rows, points, read_row, geoms, errors, notices)
        if "wkt" in self.index and self.plain:  # parcels given as WKT in lon/lat that are plain polygons
            parcels = np.flatnonzero(slow & ~points)
            # only (multi)polygon texts of a size the reader takes: GEOS's WKT reader recurses without a depth
            # guard into collections (the reader checks their nesting first), and a cell could be any size
            texts = [str(v) for v in column["wkt"][parcels]]
            single = np.full(n, None, dtype=object)
            single[parcels] = _single_polygons(shapely.from_wkt(np.array(
                [t if len(t) <= MAX_INPUT_BYTES and _POLYGON_WKT.match(t) else None for t in texts], dtype=object),
                on_invalid="ignore"))
            slow &= ~_take_plain_polygons(np.flatnonzero(_plain_polygons(single, self.coverage)), single, read_row,
                                          geoms, errors, notices)
        for i in np.flatnonzero(slow):
            errors[i], geoms[i], notices[i] = read_row(i)
        geoms[np.array([e is not None for e in errors], dtype=bool)] = None
        facts = {name: column[name] for name in _FACTS if name in self.index}
        return Chunk(columns, rows, geoms, facts, errors, notices, cells, column.get("county"))

    def _gauss_kruger(self, columns: list[Sequence[Any]], row_numbers: list[Any], points: np.ndarray,
                      read_row: Callable, geoms: np.ndarray, errors: list, notices: list) -> np.ndarray:
        """Projected rows (X/Y) read as arrays; returns the rows read.

        Rows are grouped by their CRS and the order their digits fit: without a CRS given, Gauss-Krüger by zone
        cell and zone prefix (the zone in front of Y or in 带号); with one, all in it (a CRS other than
        Gauss-Krüger takes X/Y in the columns' order). In each group one row goes through the site reader, and
        the others are transformed with the same PROJ transformation and take its notices, but only if the
        reader's point is the array's exactly and only for rows that land inside the zone's band and the covered
        area, where the reader says nothing more of a row. Rows near the band but outside the covered area get
        the error the reader gives them, when it gave that to the group's first. The others, and every group
        whose row the reader reads differently, go the reader's way one by one."""
        done = np.zeros(len(points), dtype=bool)
        if self.crs is not None and self.crs.is_geographic:  # degrees under X/Y: the reader's way, row by row
            return done
        location = self._location_field()
        east, north = _numbers(columns[self.index["x"]]), _numbers(columns[self.index["y"]])
        given = gk.describe(self.crs) if self.crs is not None else None
        with np.errstate(invalid="ignore"):
            fits = gk.looks_easting(east) & gk.looks_northing(north)
            swap = ~fits & gk.looks_easting(north) & gk.looks_northing(east)
            if self.crs is not None and given is None:
                fits, swap = np.isfinite(east) & np.isfinite(north), np.zeros(len(points), dtype=bool)
            x, y = np.where(swap, north, east), np.where(swap, east, north)
            prefix = np.where(x >= 1_000_000, x // 1_000_000, 0)
        if self.crs is None:
            groups = self._zone_groups(columns, points & (fits | swap), swap, prefix)
        else:  # a zone the Y values contradict is the reader's error, row by row
            usable = points & (fits | swap) & (given is None or prefix == (given.zone if given.prefixed else 0))
            groups = [(rows, self.crs, given) for rows in _members(swap[usable].astype(int), np.flatnonzero(usable))]
        for rows, src, key in groups:
            lon, lat = transformer_to_wgs84(src).transform(x[rows], y[rows])
            covered = _fits(lon, lat, self.coverage)
            with np.errstate(invalid="ignore"):
                if key is None:
                    band = near = np.isfinite(lon) & np.isfinite(lat)
                else:
                    west, east_edge = gk.zone_band(key)
                    band = (lon >= west) & (lon <= east_edge)
                    near = (lon >= west - 0.5) & (lon <= east_edge + 0.5)  # farther: the zone is refused
            inside = np.flatnonzero(band & covered)
            if len(inside):
                first = rows[inside[0]]
                errors[first], geoms[first], notices[first] = read_row(first)
                done[first] = True
                if errors[first] is None and shapely.equals_exact(
                        geoms[first], shapely.Point(lon[inside[0]], lat[inside[0]]), 0.0):
                    geoms[rows[inside]] = shapely.points(lon[inside], lat[inside])
                    for i in rows[inside].tolist():
                        notices[i] = notices[first]
                    done[rows[inside]] = True
            outside = np.flatnonzero(near & ~covered) if self.coverage is not None else []
            if len(outside):  # refused for the covered area alone, with the zone's hint, as the reader does
                texts = outside_coverage_texts(lon[outside], lat[outside], [row_numbers[i] for i in rows[outside]],
                                               location, self.coverage, self.source,
                                               coverage_hints(src, key, self.crs), _register_input)
                first = rows[outside[0]]
                errors[first], geoms[first], notices[first] = read_row(first)
                done[first] = True
                if errors[first] == texts[0]:
                    for i, text in zip(rows[outside].tolist(), texts):
                        errors[i] = text
                    done[rows[outside]] = True
        return done

    def _zone_groups(self, columns: list[Sequence[Any]], candidates: np.ndarray, swap: np.ndarray,
                     prefix: np.ndarray) -> list[tuple[np.ndarray, CRS, gk.GKZone]]:
        """Gauss-Krüger rows (of ``candidates``) by zone cell, zone prefix and order, each with its zone's CRS."""
        if "gk_zone" in self.index:
            cells = columns[self.index["gk_zone"]]
            zone_cell = _numbers(cells)
            blank = np.array([_blank(v) for v in _objects(cells)], dtype=bool)
        else:
            zone_cell, blank = np.full(len(candidates), np.nan), np.ones(len(candidates), dtype=bool)
        zone = np.where(prefix > 0, prefix, zone_cell)
        agree = blank | (prefix == 0) | (zone_cell == prefix)
        usable = np.flatnonzero(candidates & (~np.isnan(zone_cell) | blank) & np.isfinite(zone) & agree)
        group_of = np.unique(np.column_stack([np.nan_to_num(zone_cell[usable], nan=-1), prefix[usable],
                                              zone[usable], swap[usable]]), axis=0, return_inverse=True)
        groups = []
        for keys, rows in zip(group_of[0], _members(group_of[1].ravel(), usable)):
            width = gk.width_of_zone(int(keys[2])) if keys[2] == int(keys[2]) else None
            key = gk.GKZone("CGCS2000", width, int(keys[2]), bool(keys[1])) if width else None
            src = gk.zone_crs(key) if key else None
            if src is not None:
                groups.append((rows, src, key))
        return groups

    def _degrees(self, values: Sequence[Any], rows: list[Any], field: str) -> np.ndarray:
        """A degree column's cells as numbers: plain numbers at once, any other text (87°36'12.5"E, 东经87.6 ...)
        as the site reader reads that cell; NaN where it cannot (the row then goes the reader's way, for its
        error). A row whose two cells are numbers is a point like any other: a register in 度分秒 is read as
        columns too."""
        numbers = _numbers(values)
        name = self.header[self.index[field]]
        for i in np.flatnonzero(np.isnan(numbers)).tolist():
            value = _value(values, i)
            if not _blank(value):
                try:
                    numbers[i] = parse_coordinate(value, self.source, rows[i], name, True)
                except EcozoneError:
                    pass
        return numbers

    def _outside(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Plain degrees outside the covered area in either order: what the site reader refuses for that alone
        (``check_coverage``), told here without reading each row again."""
        with np.errstate(invalid="ignore"):
            degrees = (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        if self.coverage is None:
            return np.zeros(lon.shape, dtype=bool)
        return degrees & ~self.coverage.contains(lon, lat) & ~self.coverage.contains(lat, lon)

    def _location_field(self) -> str:
        """The columns that locate a row, named in its error when the error itself names none."""
        names = [self.header[self.index[f]] for f in ("lon", "lat") if self.geographic and f in self.index]
        names = names or [self.header[self.index[f]] for f in ("x", "y", "wkt") if f in self.index]
        return "/".join(names) or "location"

    def _site(self, cells: list[Any], row: Any):
        """One row through the site reader's checks and transforms: geometry and its notices."""
        wkt = _cell(cells, self.index["wkt"]) if "wkt" in self.index else None
        if not _blank(wkt):
            column = self.header[self.index["wkt"]]
            try:
                raw = parse_text(str(wkt), source=self.source, field=column)
                for plot in raw.plots:
                    plot.row = row
                return _built(raw, row, self.coverage, self.crs)
            except EcozoneError as err:
                raise _in_column(err, column, row) from None
        if self.geographic:
            east_field, north_field = "lon", "lat"
        elif {"x", "y"} <= self.index.keys():
            east_field, north_field = "x", "y"
        else:
            raise FieldError("该行没有位置 / the row has no location", source=self.source, row=row,
                             field=self.header[self.index["wkt"]],
                             fix="填写 WKT 或 拐点坐标 / fill in the WKT or 拐点坐标")
        fields = (self.header[self.index[east_field]], self.header[self.index[north_field]])
        east = parse_coordinate(_cell(cells, self.index[east_field]), self.source, row, fields[0], self.geographic)
        north = parse_coordinate(_cell(cells, self.index[north_field]), self.source, row, fields[1], self.geographic)
        zone = _cell(cells, self.index["gk_zone"]) if "gk_zone" in self.index else None
        # A register's row is one point: when its longitude and latitude fit the covered area only the other
        # way round, the site reader swaps them and says so (as it does for a point typed in ``ecozone check``).
        declared = not self.geographic and normalise_header(fields[0]) not in ("y", "y坐标", "坐标y", "x", "x坐标",
                                                                               "坐标x")
        zone_field = self.header[self.index["gk_zone"]] if "gk_zone" in self.index else "带号"
        raw = RawSite(
            source=self.source, plots=[RawPlot([RawPart("point", [RawRing([(east, north)], [row])])], row=row)],
            crs=_WGS84 if self.geographic else None,
            crs_origin=f"columns {fields[0]}/{fields[1]}" if self.geographic else "",
            order="declared" if declared else "unknown", fields=fields,
            gk=GKHint(zone=whole(zone, self.source, row, zone_field), origin="column 带号") if not _blank(zone) else None,
        )
        try:
            return _built(raw, row, self.coverage, self.crs)
        except EcozoneError as err:  # about the point as a whole: the cells that give it
            if getattr(err, "swapped", False) and not self.geographic and self.mapped & {"x", "y"}:
                raise self._mapped_swapped(err, fields) from None
            if err.field in (None, "site", "geometry"):
                err.field = "/".join(fields)
            raise

    def _mapped_swapped(self, err: EcozoneError, fields: tuple[str, str]) -> EcozoneError:
        """The error of X/Y whose values fit only in the other order, when the mapping gave their columns: it names
        the column each field was mapped to and what the field means (x the easting, y the northing), and
        tells to map them the other way (a register typed in the surveying habit, X north, mapped x=北向坐标)."""
        east, north = fields
        err.message = (
            f"坐标顺序颠倒：列对应把「{east}」作为 x（东坐标，测量上的横坐标 Y）、「{north}」作为 y（北坐标，测量上的纵坐标 X），"
            f"而数值只有两列互换才相符 / the coordinates are swapped: the column mapping takes {east} as x (the easting, "
            f"横坐标 Y in Chinese surveying) and {north} as y (the northing, 纵坐标 X), but the values fit only the "
            "other way round")
        err.field = f"{east}/{north}"
        err.fix = (f"把列对应改为 x={north}、y={east}（x 是东坐标，y 是北坐标；也可写作 east={north}、north={east}） / map "
                   f"x={north} and y={east} (x is the easting, y the northing; or write east={north}, north={east})")
        return err

#: Bytes of a CSV file, to the end of their line, that tell its encoding and dialect before the rows are read.
_SNIFFED_BYTES = 65_536
#: Units a header may give a fact in, and the factor to the model's unit.
_HEADER_UNITS = (("coal_t", "万吨", 10_000.0), ("power_mw", "万千瓦", 10.0))


def _csv_input(path: Path, columns, chunk_rows: int, encoding: str | None, coverage: CoveredArea | None,
               crs: CRS | None) -> Input:
    # The encoding and dialect are told by the file's first lines. Arrow reads the rows when every line is one
    # (``_arrow_csv``), the header then being the first line's cells; it checks that they are UTF-8 itself, off
    # the interpreter lock. Any other file is decoded whole (UTF-8 vs GBK, or a mix, told for the whole file)
    # and its rows parsed chunk by chunk.
    data = path.read_bytes()
    # In UTF-8 and GBK a newline byte is never inside a character; a named encoding (UTF-16 ...) is read whole.
    start = len(data) if encoding else data.find(b"\n", _SNIFFED_BYTES) + 1 or len(data)
    head, used = decode(data[:start], encoding=encoding, source=path.name)
    dialect = csv_dialect(head)
    first_line = next(csv_rows(head[: head.find("\n") + 1] or head, source=path.name, dialect=dialect), ([], None))
    readable = bool(first_line[0]) and first_line[1] is None
    arrow = _arrow_csv(data.removeprefix(codecs.BOM_UTF8), len(first_line[0]), dialect) \
        if readable and used == "UTF-8" else None
    if arrow is None:
        text, used = (head, used) if start == len(data) else decode(data, encoding=encoding, source=path.name)
        if readable and used != "UTF-8":
            arrow = _arrow_csv(text.encode("utf-8"), len(first_line[0]), dialect)
    reader = csv_rows(text, source=path.name, dialect=dialect) if arrow is None else iter([first_line])
    header, error = next(reader, ([], None))
    if error is not None:
        raise error
    if not header:
        raise FormatError("文件为空 / the file is empty", source=path.name, field="header",
                          fix="给出表头行，每个项目地块一行 / give a header row and one row per site")
    table = _TableRows(header, path.name, columns, coverage=coverage, crs=crs)
    if arrow is not None:
        return Input(path, header, arrow.num_rows, _arrow_chunks(arrow, table, chunk_rows),
                     multipliers=table.multipliers, fields=frozenset(table.index))

    width = len(header)
    total = max(text.count("\n") - 1, 0)

    def numbered() -> Iterator[tuple[int, list, FormatError | None]]:
        for number, (row, error) in enumerate(reader, start=2):
            if error is not None:
                error.row = number
            elif not "".join(row).strip():  # blank (or only spaces): not a row
                continue
            extra = [c for c in row[width:] if c.strip()] if len(row) > width else None
            if extra and error is None:
                error = FormatError(
                    f"该行有 {len(row)} 个单元格，表头只有 {width} 列，多出的单元格未保留 / the row has {len(row)} "
                    f"cells but the header names {width} columns; the extra cells are not kept",
                    source=path.name, row=number, field="row", value=extra[0],
                    fix="检查该行的分隔符和引号 / check the row's separators and quotes")
            yield number, row if len(row) == width else row[:width] + [""] * (width - len(row)), error

    return Input(path, header, total, _in_chunks(numbered(), table, chunk_rows), multipliers=table.multipliers,
                 fields=frozenset(table.index))


def _arrow_csv(data: bytes, width: int, dialect: type[csv.Dialect] | csv.Dialect) -> pa.Table | None:
    """The data rows of a CSV file's UTF-8 bytes (no BOM) as Arrow text columns, when Arrow reads them as the
    ``csv`` module does: every line after the header one row of exactly ``width`` cells, in a dialect Arrow
    knows. None for any other file (a ragged row, an empty line, a cell over two lines ...), which is then read
    row by row, where each such row gets its own error or row number."""
    if (dialect.skipinitialspace or dialect.escapechar or dialect.quotechar != '"' or dialect.delimiter not in ",;\t|"
            or not dialect.doublequote and b'""' in data):  # (a start without quotes sniffs as "not doubled")
        return None
    irregular: list[Any] = []
    names = [str(i) for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=dialect.delimiter, quote_char='"', double_quote=True,
                                             newlines_in_values=False, ignore_empty_lines=True,
                                             invalid_row_handler=lambda row: irregular.append(row) or "skip"),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, UnicodeError):
        return None
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    alone_cr = data.count(b"\r") != data.count(b"\r\n")  # a line ended by CR alone: Arrow and csv count apart
    return None if irregular or alone_cr or table.num_rows != lines - 1 else table


def _arrow_chunks(rows: pa.Table, table: _TableRows, chunk_rows: int) -> Iterator[Chunk]:
    """The chunks of an Arrow-read CSV (``_arrow_csv``): row numbers as the row reader counts them (the
    header is row 1), rows of blank cells left out, as the row reader leaves them out."""
    maybe = np.arange(rows.num_rows)  # rows blank in every column so far: after the first, almost none
    for column in rows.columns:
        cells = column if len(maybe) == rows.num_rows else column.take(pa.array(maybe))
        maybe = maybe[pc.equal(pc.utf8_trim_whitespace(cells), "").to_numpy(zero_copy_only=False)]
    blank = np.zeros(rows.num_rows, dtype=bool)
    blank[maybe] = True
    numbers = np.flatnonzero(~blank) + 2
    if blank.any():
        rows = rows.filter(pa.array(~blank))
    for start in range(0, rows.num_rows, chunk_rows):
        part = rows.slice(start, chunk_rows)
        yield table.read([column.combine_chunks() for column in part.columns],
                         numbers[start:start + chunk_rows].tolist())


def _in_chunks(numbered: Iterable[tuple[int, list, Exception | None]], table: _TableRows,
               chunk_rows: int) -> Iterator[Chunk]:
    """Read (row number, cells, error) triples ``chunk_rows`` at a time: memory stays bounded on large tables."""
    cells, rows, errors = [], [], []
    for number, row, error in numbered:
        cells.append(row)
        rows.append(number)
        errors.append(None if error is None else register_text(error))
        if len(cells) == chunk_rows:
            yield table.read(input_columns(cells, len(table.header)), rows, errors, cells=cells)
            cells, rows, errors = [], [], []
    if cells:
        yield table.read(input_columns(cells, len(table.header)), rows, errors, cells=cells)


def _xlsx_input(path: Path, columns, chunk_rows: int, coverage: CoveredArea | None, crs: CRS | None) -> Input:
    from openpyxl.utils import get_column_letter

    book = open_workbook(path, source=path.name, max_total=BATCH_MAX_INFLATED_BYTES, max_member=BATCH_MAX_MEMBER_BYTES)
    data_sheet, header_row, header = None, 0, []
    # the rows and columns each sheet declares, read before ``sheet_rows`` sets the declaration aside
    declared = {sheet.title: (sheet.max_row or 0, sheet.max_column or 0) for sheet in book.worksheets}
    # of each sheet looked at: its merged ranges (its cells are read as the officer sees them), and whether it may
    # hold formulas without saved results
    scans: dict[str, SheetScan] = {}
    units: list[str] | None = None
    seen: set[str] = set()  # every cell of the rows looked at, as a header reads it
    for sheet in book.worksheets:
        scans[sheet.title] = scan_sheet(sheet)
        head = list(merged_filled(islice(sheet_rows(sheet, source=path.name), 21), scans[sheet.title].merges))
        for number, row in enumerate(head[:20], start=1):
            names = [str(c).strip() if c is not None else "" for c in row]
            seen.update(map(normalise_header, names))
            try:
                _TableRows(names, path.name, columns, unique=False)  # is this row the header?
            except FieldError:
                continue
            data_sheet, header_row, header = sheet.title, number, names
            units = _units(head[number]) if number < len(head) else None
            break
        if data_sheet:
            break
    if data_sheet is None:
        book.close()
        for ours, column in (columns or {}).items():  # a mapping to a column no sheet has says so, not the header
            if normalise_header(column) not in seen:
                raise FieldError(f"列名对应中的列「{column}」在各工作表的前 20 行中都没有 / the column mapping names a "
                                 "column no sheet has in its first 20 rows", source=path.name, field=ours, value=column,
                                 fix="使用表头中的列名 / use a column name of the header")
        raise FieldError(f"工作表（{'、'.join(book.sheetnames)}）的前 20 行中没有带位置列的表头 / no sheet has a header "
                         "with location columns in its first 20 rows", source=path.name, field="header",
                         fix="把位置列命名为 经度/纬度、X/Y（及 带号）或 WKT/拐点坐标，或用 «columns» 指定 / name the columns "
                             "经度/纬度, X/Y (with 带号), or WKT/拐点坐标, or map them with «columns»")
    width = header_width(header, path.name, data_sheet)
    # columns right of the last named one that the sheet says it uses (a 备注 or a date left without a header)
    # are read too, when they are few, so that every output keeps them; a column without a name is named by its
    # letter (列J), as the officer finds it in the workbook
    if width < declared[data_sheet][1] <= width + _UNNAMED_COLUMNS:
        width = declared[data_sheet][1]
    header = header[:width] + [""] * (width - len(header[:width]))
    header = [name or f"列{get_column_letter(i + 1)}" for i, name in enumerate(header)]
    if units:  # a row of units under the header belongs to it: 锅炉规模 over （t/h） is read as 锅炉规模（t/h）
        header = [f"{name}（{unit}）" if unit and unit not in name else name
                  for name, unit in zip(header, units + [""] * len(header))]
    table = _TableRows(header, path.name, columns, coverage=coverage, crs=crs)
    sheet = book[data_sheet]
    first_row = header_row + 1 + bool(units)
    total = max(min(declared[data_sheet][0], EXCEL_MAX_ROWS) - first_row + 1, 0)  # declared: an estimate only
    # The cells that locate a row (its WKT when it has one), its 带号 and the cells of its project facts; one of
    # them None may hold a formula without a saved result, which the row's error says (the sheet's formulas are
    # read then, once, in step with the rows). A fact is no less needed than the location: read as not given, a
    # boiler of =10*2 t/h would leave the coal-boiler bans unapplied, the row screened as if it had none.
    wkt = table.index.get("wkt")
    place = [table.index[f] for f in (("lon", "lat") if table.geographic else ("x", "y")
                                      if {"x", "y"} <= table.index.keys() else ("wkt",))]
    zone = [table.index["gk_zone"]] if "gk_zone" in table.index and not table.geographic else []
    specs = {spec.name: spec for spec in fact_specs()}
    facts = sorted((i, (specs[name].label_zh, name)) for name, i in table.index.items() if name in specs)
    formulas = FormulaCells(path, data_sheet, {*place, *zone, *([wkt] if wkt is not None else []),
                                               *(i for i, _ in facts)},
                            source=path.name, width=max(len(header), 1), merges=scans[data_sheet].merges,
                            unsaved=scans[data_sheet].unsaved_formulas, max_total=BATCH_MAX_INFLATED_BYTES,
                            max_member=BATCH_MAX_MEMBER_BYTES)

    by_place = [*((c, None) for c in place + zone), *facts]  # the cells a row without a WKT needs, in order

    def formula_in(number: int, row: list, columns: Iterable[tuple[int, tuple[str, str] | None]]) -> FieldError | None:
        """The error of the first of ``columns`` (with the fact each gives) that reads None for a formula."""
        for column, fact in columns:
            if row[column] is None and (found := formulas.formula(number, column)) is not None:
                return formula_error(found, sheet=data_sheet, source=path.name, row=number, field=header[column],
                                     fact=fact)
        return None

    def numbered() -> Iterator[tuple[int, list, FieldError | None]]:
        try:
            rows = merged_filled(sheet_rows(sheet, source=path.name, max_col=max(len(header), 1)),
                                 scans[data_sheet].merges)
            for number, row in enumerate(rows, start=1):
                if number < first_row:
                    continue
                row = list(row)[: len(header)]
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in row):
                    continue
                row += [None] * (len(header) - len(row))
                error = None
                if formulas.unsaved:  # the location first (a WKT given locates the row alone), then the facts
                    error = formula_in(number, row, by_place if wkt is None or _blank(row[wkt]) else facts)
                yield number, row, error
        finally:
            formulas.close()
            book.close()

    with zipfile.ZipFile(path) as archive:  # already checked by open_workbook; its size decides how it is written
        inflated = sum(member.file_size for member in archive.infolist())
    info = {"sheets": book.sheetnames, "data_sheet": data_sheet, "header_row": header_row, "first_row": first_row,
            "inflated_bytes": inflated}
    return Input(path, header, total, _in_chunks(numbered(), table, chunk_rows), workbook=info,
                 multipliers=table.multipliers, fields=frozenset(table.index))


#: A cell of a units row: a unit in brackets, or one of the units registers write bare.
_UNIT_CELL = re.compile(r"[（(\[【][^）)\]】]{1,12}[）)\]】]|度|°|米|m|km|公里|t/h|蒸吨/小时|吨/小时|MW|兆瓦|kW|千瓦|"
                        r"万千瓦|吨|万吨|吨/年|万吨/年|t/a|元|万元|公顷|hm²|亩|m²|平方米|m³|立方米|m³/d|年|月|日")


def _units(row: Sequence[Any]) -> list[str] | None:
    """The units of the row under a header, when every cell of it is a unit or blank (and one is not): such a row
    is part of the header, not a permit."""
    cells = ["" if c is None else str(c).strip() for c in row]
    if not any(cells) or not all(not c or _UNIT_CELL.fullmatch(c) for c in cells):
        return None
    return [c.strip("（()）[]【】 ") for c in cells]


# -- vector files --------------------------------------------------------------------------------------------------
#: What a GIS file without a CRS is told: its features have no columns to correct, the file lacks its CRS.
_NO_CRS_FIX = ("随文件提供坐标系（shapefile 同名的 .prj 文件），或在 GIS 软件中为图层定义坐标系后另存为 GeoPackage / ship the "
               "file's CRS (the .prj beside a shapefile), or define the layer's CRS in a GIS program and save it as a "
               "GeoPackage")


def _vector_input(path: Path, columns, chunk_rows: int, encoding: str | None, coverage: CoveredArea | None,
                  given: CRS | None) -> Input:
    # a .dbf in GBK without a .cpg, or with one that does not fit its text, is read in the encoding detected
    if path.suffix.lower() == ".zip":
        encoding = encoding or _zipped_shapefile(path)
    elif path.suffix.lower() == ".shp" and encoding is None:
        encoding = dbf_encoding(path)[0]
    try:
        header, total, crs, frames = _vector_frames(path, chunk_rows, encoding)
    except (DataSourceError, DataLayerError, ProjCRSError, OSError, ValueError, KeyError, TypeError, IndexError) as err:
        # IndexError: GDAL opened the file but found no layer in it (a zip whose shapefile is cut short)
        raise FormatError(f"无法打开文件 / cannot open the file ({_without_folder(err, path)})", source=path.name,
                          field="file", fix="检查文件是否完整，或另存为 GeoPackage / check that the file is complete, "
                                            "or save it as a GeoPackage") from None
    # Each feature's own geometry is its site (in the file's CRS), whatever its attributes say: a feature
    # without one (or with one that cannot be read) is marked, not located some other way.
    table = _TableRows(header, path.name, columns, coverage=coverage, has_geometry=True)
    origin = file_crs_origin(path)
    # A CRS given overrides the file's (each row says so when they differ), as ``read_site``'s ``crs`` does.
    used = given or crs
    overridden = crs_overridden(crs, origin, given) if given is not None else None
    geographic = used is not None and _is_plain_degrees(used)
    # what a feature outside the covered area is told to check, as the site reader tells it (``_vector_site``)
    hints = coverage_hints(used, None, given, origin) if geographic else table._hints

    def read_feature(geometry, row: int) -> tuple[str | None, Any, str | None]:
        work = functools.partial(_vector_site, geometry, crs, path.name, row, coverage, origin, given)
        return _row_site(work, path.name, row, "geometry")

    def chunks() -> Iterator[Chunk]:
        number = 0
        features = frames()
        while True:
            try:
                attributes, geometries = next(features)
            except StopIteration:
                return
            except (DataSourceError, DataLayerError, OSError, ValueError) as err:
                raise FormatError(f"文件读到第 {number + 1} 个要素时出错 / the file cannot be read past feature "
                                  f"{number} ({_without_folder(err, path)})", source=path.name, row=number + 1,
                                  field="file", fix="检查文件是否完整 / check that the file is complete") from None
            rows = list(range(number + 1, number + len(geometries) + 1))
            number += len(rows)
            chunk = table.read(attributes, rows)
            geometries = np.asarray(geometries, dtype=object)
            unread = np.array([e is not None for e in chunk.errors], dtype=bool)
            # Plain lon/lat points inside the covered area are sites as they are, all at once; those outside it
            # (in either order) get the site reader's error for that alone, as table rows do (``_outside``).
            plain, outside = np.zeros(len(unread), bool), np.zeros(len(unread), bool)
            if geographic:
                points, x, y = _points(geometries)
                plain = points & _fits(x, y, coverage) & ~unread
                outside = points & table._outside(x, y) & ~unread
                far = np.flatnonzero(outside)
                for i, text in zip(far, outside_coverage_texts(x[far], y[far], [rows[i] for i in far], "geometry",
                                                                coverage, path.name, hints, _register_input)):
                    chunk.errors[i] = text
            flat = geometries[plain]  # those with Z or M made two-dimensional (the others are already)
            deep = shapely.get_coordinate_dimension(flat) > 2
            flat[deep] = shapely.force_2d(flat[deep])
            chunk.geoms[plain] = flat
            if overridden:  # what the reader says of every feature, these points included
                for i in np.flatnonzero(plain).tolist():
                    chunk.notices[i] = overridden
            if geographic:  # plain polygons likewise, when the reader takes the first of them as it is
                single = _single_polygons(geometries)
                plain |= _take_plain_polygons(np.flatnonzero(_plain_polygons(single, coverage) & ~unread), single,
                                              lambda i: read_feature(geometries[i], rows[i]), chunk.geoms,
                                              chunk.errors, chunk.notices)
            for i in np.flatnonzero(~plain & ~outside & ~unread):
                chunk.errors[i], chunk.geoms[i], chunk.notices[i] = read_feature(geometries[i], rows[i])
            yield chunk

    return Input(path, header, total, chunks(), crs=used, multipliers=table.multipliers,
                 fields=frozenset(table.index))


def _vector_frames(path: Path, chunk_rows: int, encoding: str | None):
    """Columns, feature count, CRS and a chunk reader of a vector file (GeoParquet through pyarrow, the
    rest through GDAL; of a GeoPackage only a real feature table, see ``gis.sites.gpkg``)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        geo = json.loads((parquet.schema_arrow.metadata or {}).get(b"geo", b"{}") or b"{}")
        column = geo.get("primary_column", "geometry")
        crs_json = geo.get("columns", {}).get(column, {}).get("crs", "OGC:CRS84")
        crs = CRS.from_user_input(crs_json) if crs_json is not None else CRS.from_user_input("OGC:CRS84")
        header = [n for n in parquet.schema_arrow.names if n != column]

        def frames():
            for batch in parquet.iter_batches(batch_size=chunk_rows):
                columns = [_parquet_column(batch.column(name)) for name in header]
                # a WKB that cannot be read becomes no geometry: that row is marked, not the file
                yield columns, shapely.from_wkb(batch.column(column).to_numpy(zero_copy_only=False),
                                                on_invalid="ignore")

        return header, parquet.metadata.num_rows, crs, frames
    layer = None
    if path.suffix.lower() == ".gpkg":
        tables = feature_tables(path, source=path.name, max_features=None, max_bytes=None)[0]
        if len(tables) > 1:  # which one holds the sites is not for a batch to guess (patches beside a boundary)
            raise FormatError(
                f"该 GeoPackage 中有 {len(tables)} 个要素表（{'、'.join(tables[:10])}），批量筛查只读一个 / the GeoPackage holds "
                f"{len(tables)} feature tables; a batch reads one", source=path.name, field="layer",
                value="、".join(tables[:10]),
                fix="把要筛查的表另存为单独的 GeoPackage（QGIS：导出 → 要素另存为） / save the table to screen as a "
                    "GeoPackage of its own (QGIS: Export → Save Features As)")
        layer = tables[0]
    info = pyogrio.read_info(path, layer=layer, encoding=encoding)
    total = int(info["features"])

    def frames():
        for start in range(0, total, chunk_rows):
            frame = pyogrio.read_dataframe(path, layer=layer, skip_features=start, max_features=chunk_rows,
                                           encoding=encoding)
            attributes = frame.drop(columns=frame.geometry.name)
            yield [_values(attributes.iloc[:, i]) for i in range(attributes.shape[1])], frame.geometry.to_numpy()

    return list(info["fields"]), total, CRS.from_user_input(info["crs"]) if info["crs"] else None, frames


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _parquet_column(column: pa.Array) -> Sequence[Any]:
    """A GeoParquet column as a chunk holds it: text and numbers stay Arrow arrays (NaN as null), the others
    (dates, times, booleans) become the values pandas reads (None where missing)."""
    kind = column.type
    if pa.types.is_floating(kind):
        nan = pc.is_nan(column)
        return pc.if_else(nan, pa.scalar(None, kind), column) if pc.any(nan).as_py() else column
    if _is_text(kind) or pa.types.is_integer(kind):
        return column
    return _values(column.to_pandas())


def _values(series) -> list[Any]:
    """A pandas column's values as Python objects, missing ones (NaN, NaT, None) as None."""
    return series.astype(object).where(series.notna(), None).tolist()


def _without_folder(err: Exception, path: Path) -> str:
    """An error's text without the folder of ``path`` (an upload folder is nobody's business)."""
    text = str(err)
    for folder in {str(path.parent.resolve()), str(path.parent)}:
        text = text.replace(folder + "/", "")
    return text


def _points(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which features are points (not empty), and their x and y (NaN for the others)."""
    points = (shapely.get_type_id(geoms) == shapely.GeometryType.POINT) & ~shapely.is_empty(geoms)
    x, y = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    x[points], y[points] = shapely.get_x(geoms[points]), shapely.get_y(geoms[points])
    return points, x, y


def _take_plain_polygons(polygons: np.ndarray, single: np.ndarray, read_row: Callable, geoms: np.ndarray,
                         errors: list, notices: list) -> np.ndarray:
    """Rows ``polygons`` (plain, ``_plain_polygons``; ``single`` holds their polygon) read as arrays: the first
    through the site reader (``read_row``), the others taken counter-clockwise with its notices if its reading
    is theirs exactly. Returns the rows read."""
    done = np.zeros(len(geoms), dtype=bool)
    if not len(polygons):
        return done
    first = polygons[0]
    errors[first], geoms[first], notices[first] = read_row(first)
    done[first] = True
    taken = shapely.orient_polygons(shapely.force_2d(single[polygons]), exterior_cw=False)
    if errors[first] is None and shapely.equals_exact(geoms[first], taken[0], 0.0):
        geoms[polygons] = taken
        for i in polygons.tolist():
            notices[i] = notices[first]
        done[polygons] = True
    return done


def _single_polygons(geoms: np.ndarray) -> np.ndarray:
    """Each feature, a multi-polygon of one part as that polygon (as the site reader makes it: a layer of
    multi-polygons, as GIS programs write them, mostly holds single patches)."""
    single = np.asarray(geoms, dtype=object).copy()
    multi = np.flatnonzero((shapely.get_type_id(single) == shapely.GeometryType.MULTIPOLYGON)
                           & (shapely.get_num_geometries(single) == 1))
    single[multi] = shapely.get_geometry(single[multi], 0)
    return single


def _plain_polygons(geoms: np.ndarray, coverage: CoveredArea | None) -> np.ndarray:
    """Which features are polygons the site reader keeps as they are (but for their winding) with nothing to
    say of them: one ring with area, valid, no vertex repeating the one before, every vertex and a point
    inside them in the covered area, well under the largest site (``check_area``). The others need its checks."""
    plain = np.zeros(len(geoms), dtype=bool)
    if coverage is None:
        return plain
    candidates = np.flatnonzero((shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON)
                                & ~shapely.is_empty(geoms)  # POLYGON EMPTY has no point on its surface
                                & (shapely.get_num_interior_rings(geoms) == 0)
                                & (shapely.get_num_coordinates(geoms) <= MAX_VERTICES))
    polygons = geoms[candidates]
    ok = shapely.is_valid(polygons) & (shapely.area(polygons) > 1e-12 * shapely.length(polygons) ** 2)
    xy, owner = shapely.get_coordinates(polygons, return_index=True)
    repeated = (owner[1:] == owner[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)
    outside = ~coverage.contains(xy[:, 0], xy[:, 1])
    ok &= np.bincount(np.r_[owner[1:][repeated], owner[outside]], minlength=len(polygons)) == 0
    middle = shapely.get_coordinates(shapely.point_on_surface(polygons))
    ok &= coverage.contains(middle[:, 0], middle[:, 1])
    ok &= geodesic_areas_m2(polygons) < 0.5 * MAX_SITE_AREA_KM2 * 1e6
    plain[candidates[ok]] = True
    return plain


def _vector_site(geom, crs: CRS | None, source: str, row: int, coverage: CoveredArea | None, origin: str,
                 given: CRS | None = None):
    """A feature's geometry as its site: from the file's CRS (``origin``: where it comes from), or the one
    ``given`` for the whole input (Gauss-Krüger and others reprojected) through the site reader's checks (a plain
    lon/lat point inside the covered area is taken as it is, ``_points``). A file without a CRS, and none given,
    has it inferred from each feature's coordinates, and says so; what cannot be inferred is the file's missing
    CRS to supply, never a column to correct."""
    if geom is None or geom.is_empty:
        raise FormatError("要素没有几何（或几何无法读取） / the feature has no geometry (or one that cannot be read)",
                          source=source, row=row, field="geometry",
                          fix="画出它的几何，或删去该要素 / draw its geometry, or delete the feature")
    notices = [] if crs or given else [Notice("no_crs", "文件没有声明坐标系（如 shapefile 缺少 .prj），按坐标值推断 / the file declares "
                                     "no CRS (as a shapefile without its .prj): it is inferred from the coordinates",
                                     source=source, level="info", fix=_NO_CRS_FIX)]
    raw = RawSite(source=source, plots=[RawPlot(parts_from_shapely(geom, source=source, row=row), row=row)],
                  crs=crs, crs_origin=origin if crs else "", order="declared", notices=notices)
    try:
        return _built(raw, row, coverage, given)
    except (CRSError, CoordinateError) as error:
        if crs is None and given is None:
            error.fix = _NO_CRS_FIX
        raise


def _zipped_shapefile(path: Path) -> str | None:
    """Refuse a zip that is unsafe to open or holds no single shapefile (``gis.sites.archives``, as a layer
    import); GDAL then reads the shapefile inside it without unpacking, in the encoding returned
    (``records_encoding``)."""
    with open_zip(path, source=path.name, kind="shapefile") as archive:
        _, beside = zip_layer(archive, (".shp",), source=path.name)
        if ".dbf" not in beside:
            return None
        cpg = archive.read(beside[".cpg"]) if ".cpg" in beside else None
        return records_encoding(archive.read(beside[".dbf"]), cpg, beside[".dbf"])[0]


# -- shared ----------------------------------------------------------------------------------------------------------
def _built(raw: RawSite, row: Any, coverage: CoveredArea | None, crs: CRS | None = None):
    """The site reader's checks and transforms on one row (``crs``: the one given for the whole input); several
    plots become one multi-geometry."""
    sites = build_sites(raw, crs=crs, coverage=coverage)
    site = sites[0] if len(sites) == 1 else combine(sites, {})
    notices = "；".join(dict.fromkeys(n["message"] for n in site.notices))
    return site.shape, notices or None


def _row_site(work: Callable[[], tuple[Any, str | None]], source: str, row: Any, field: str):
    """``(error, geometry, notices)`` of one row from ``work()``, which reads it: the error text when it
    fails, naming the row (and ``field`` when the error names none). Never raises: one row never stops a batch."""
    try:
        geom, notices = work()
        return None, geom, notices
    except EcozoneError as err:
        err.row = row if err.row is None else err.row
        err.field = err.field or field
        return register_text(err), None, None
    except Exception as err:  # noqa: BLE001 - what the checks let through must still mark this row only
        error = FormatError(f"该行无法读取 / the row cannot be read ({type(err).__name__}: {err})", source=source,
                            row=row, field=field, fix="检查该行的位置数据 / check the row's location")
        return register_text(error), None, None


def _in_column(err: EcozoneError, column: str, row: Any) -> EcozoneError:
    """``err`` from the text of one cell, naming the table's row and the column (then the part of the cell)."""
    err.row = row
    err.field = column if err.field in (None, "site", column) else f"{column}: {err.field}"
    return err


def _fits(lon: np.ndarray, lat: np.ndarray, coverage: CoveredArea | None) -> np.ndarray:
    """Which plain longitude/latitude pairs need no more than a point (inside the covered area)."""
    with np.errstate(invalid="ignore"):
        valid = (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    return valid if coverage is None else valid & coverage.contains(lon, lat)


def _members(group: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """The rows of each group (numbered 0, 1 ...), each in row order."""
    order = np.argsort(group, kind="stable")
    return np.split(rows[order], np.flatnonzero(np.diff(group[order])) + 1) if len(rows) else []


def _cell(cells: list[Any], index: int) -> Any:
    return cells[index] if index < len(cells) else None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def _numbers(values: Sequence[Any]) -> np.ndarray:
    """Cells as floats where they are plain numbers (numbers or decimal text), NaN elsewhere."""
    if isinstance(values, _ARROW) and not _is_text(values.type):  # numbers (a GeoParquet's)
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if isinstance(values, _ARROW):  # text: the same test in Arrow (ASCII digits; others go the row's way)
        text = pc.utf8_trim_whitespace(values)
        plain = pc.match_substring_regex(text, _DECIMAL.pattern.join("^$"))
        return pc.cast(pc.if_else(plain, text, None), pa.float64()).to_numpy(zero_copy_only=False)
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[i] = v
        elif isinstance(v, str) and _DECIMAL.fullmatch(v.strip()):
            out[i] = float(v)
    return out


_DECIMAL = re.compile(r"[+-]?\d+(\.\d*)?")
#: WKT of a polygon or multi-polygon, whose grammar has no nesting beyond its rings.
_POLYGON_WKT = re.compile(r"\s*(MULTI)?POLYGON\s*(Z|M|ZM)?\s*\(", re.IGNORECASE)


def _objects(values: Sequence[Any]) -> np.ndarray:
    """A column as an object array; an Arrow column by its distinct values (a fact column repeats a few)."""
    if not isinstance(values, _ARROW):
        return np.array(values, dtype=object)
    encoded = pc.dictionary_encode(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    uniques = np.append(np.asarray(encoded.dictionary.to_pylist(), dtype=object), None)
    return uniques[encoded.indices.fill_null(len(uniques) - 1).to_numpy(zero_copy_only=False)]


def _value(column: Sequence[Any], i: int) -> Any:
    """The cell of one row of a column (a list, or Arrow text)."""
    return column[i].as_py() if isinstance(column, _ARROW) else column[i]
