"""Reading a batch input in chunks: every row keeps its original cells, and gets a site and a project or an error.

Tables (.xlsx, .csv in UTF-8 or GBK) are read with the site reader's header vocabulary (``gis.sites.tables``)
plus a WKT / 拐点坐标 column and the project columns (行业, 建设性质, 锅炉规模 ...); ``columns`` maps our
fields onto headers we do not recognise. Vector files (GeoPackage, shapefile, GeoJSON, GeoParquet) give
each feature's geometry and attributes. A row whose coordinates are plain decimal degrees inside Xinjiang
takes a vectorised path; every other row goes through ``gis.sites.build.build_sites``, the same checks and
transforms as ``read_site``, one row at a time. A row that fails gets its error text and the batch goes on.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from shapely.errors import GEOSException

from gis.errors import EcozoneError, FieldError, FormatError
from gis.presentation import notice_text
from gis.rules.project import Project, fact_specs, read_project
from gis.sites.build import build_sites
from gis.sites.checks import XINJIANG_BBOX
from gis.sites.encoding import decode
from gis.sites.model import GKHint, RawPart, RawPlot, RawRing, RawSite
from gis.sites.tables import parse_coordinate, normalise_header, header_roles
from gis.sites.text import parse_text, parts_from_shapely

__all__ = ["FIELDS", "INPUT_SUFFIXES", "Chunk", "open_input"]

INPUT_SUFFIXES = (".xlsx", ".csv", ".gpkg", ".shp", ".geojson", ".json", ".parquet")

#: Our fields and the headers recognised for each (compared after ``gis.sites.tables.normalise_header``).
FIELDS: dict[str, tuple[str, ...]] = {
    "lon": (), "lat": (), "x": (), "y": (), "gk_zone": (),  # from gis.sites.tables' vocabulary
    "wkt": ("wkt", "几何", "geometry", "geom", "拐点坐标", "界址点坐标", "坐标串", "范围坐标"),
    "name": ("项目名称", "名称", "企业名称", "单位名称", "name"),
    # the project facts, with the headers the project model gives for each
    **{spec.name: (*spec.headers, spec.name) for spec in fact_specs()},
}
_ROLE_OF = {"lon": "lon", "lat": "lat", "x": "east", "y": "north", "gk_zone": "zone"}
_FACTS = tuple(spec.name for spec in fact_specs())
_GEOGRAPHIC = ("EPSG:4326", "EPSG:4490", "OGC:CRS84")


@dataclass
class Chunk:
    """Consecutive input rows: original cells, the row number a person sees, and what was read from each."""

    cells: list[list[Any]]
    rows: list[Any]
    geoms: np.ndarray
    projects: list[Project]
    errors: list[str | None]
    notices: list[str | None]


@dataclass
class Input:
    """An opened input: its columns, a row estimate, and its chunks (read lazily, once)."""

    path: Path
    header: list[str]
    total: int
    chunks: Iterator[Chunk]
    crs: CRS | None = None
    workbook: dict[str, Any] = field(default_factory=dict)  # xlsx: sheet names, data sheet, rows above header


def open_input(path: str | Path, *, columns: dict[str, str] | None = None, chunk_rows: int = 100_000,
               encoding: str | None = None) -> Input:
    """Open a batch input by suffix (see ``INPUT_SUFFIXES``); chunks are read as they are consumed."""
    path = Path(path)
    if not path.is_file():
        raise FormatError("file not found", source=str(path), fix="check the path")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_input(path, columns, chunk_rows, encoding)
    if suffix == ".xlsx":
        return _xlsx_input(path, columns, chunk_rows)
    if suffix in (".gpkg", ".shp", ".geojson", ".json", ".parquet"):
        return _vector_input(path, columns, chunk_rows, encoding)
    raise FormatError(f"ecozone does not screen {suffix or 'files without a suffix'}", source=path.name,
                      value=suffix, fix=f"give one of {', '.join(INPUT_SUFFIXES)} (save .xls as .xlsx)")


# -- tables ----------------------------------------------------------------------------------------------------
class _TableRows:
    """Which column holds which field, and how one chunk of table rows becomes sites and projects."""

    def __init__(self, header: list[str], source: str, columns: dict[str, str] | None, geometry: bool = True):
        self.source = source
        self.header = header
        self.index: dict[str, int] = {}
        names = [normalise_header(h) for h in header]
        roles = header_roles(header)
        for ours, role in _ROLE_OF.items():
            if role in roles:
                self.index[ours] = roles[role]
        for ours, words in FIELDS.items():
            for word in words:
                if ours not in self.index and word in names:
                    self.index[ours] = names.index(word)
        for ours, column in (columns or {}).items():
            if ours not in FIELDS:
                raise FieldError("unknown field in the column mapping", field="columns", value=ours,
                                 fix=f"use one of {', '.join(FIELDS)}")
            if column not in header:
                raise FieldError("the column mapping names a column the input does not have", source=source,
                                 field=ours, value=column, fix=f"use one of the columns {header}")
            self.index[ours] = header.index(column)
        self.geographic = "lon" in self.index and "lat" in self.index
        if geometry and not (self.geographic or {"x", "y"} <= self.index.keys() or "wkt" in self.index):
            raise FieldError(
                "no location columns found", source=source, value=header[:10],
                fix="name the columns 经度/纬度, X/Y (with 带号), or WKT/拐点坐标; or map them with "
                "--column lon=... --column lat=... (columns={'lon': ..., 'lat': ...})",
            )
        self._projects: dict[tuple, tuple[Project, list[str]]] = {}

    def read(self, cells: list[list[Any]], rows: list[Any]) -> Chunk:
        n = len(cells)
        geoms = np.full(n, None, dtype=object)
        errors: list[str | None] = [None] * n
        notices: list[str | None] = [None] * n
        slow = np.ones(n, dtype=bool)
        if self.geographic:
            lon = _numbers([c[self.index["lon"]] if len(c) > self.index["lon"] else None for c in cells])
            lat = _numbers([c[self.index["lat"]] if len(c) > self.index["lat"] else None for c in cells])
            minx, miny, maxx, maxy = XINJIANG_BBOX
            fast = (lon > minx) & (lon < maxx) & (lat > miny) & (lat < maxy)
            if "wkt" in self.index:
                fast &= np.array([_blank(_cell(c, self.index["wkt"])) for c in cells])
            geoms[fast] = shapely.points(lon[fast], lat[fast])
            slow = ~fast
        for i in np.flatnonzero(slow):
            try:
                geoms[i], notices[i] = self._site(cells[i], rows[i])
            except EcozoneError as err:
                errors[i] = str(err)
            except (GEOSException, ValueError) as err:  # values the reader's checks let through (e.g. NaN)
                errors[i] = str(FormatError(f"the location cannot be read ({err})", source=self.source,
                                            row=rows[i], fix="check the coordinates of this row"))
        projects = []
        for i, c in enumerate(cells):
            project, project_notices = self._project(c, rows[i])
            if project_notices:
                notices[i] = "；".join(filter(None, [notices[i], *project_notices]))
            if errors[i]:
                geoms[i] = None
            projects.append(project)
        return Chunk(cells, rows, geoms, projects, errors, notices)

    def _site(self, cells: list[Any], row: Any):
        """One row through the site reader's checks and transforms: geometry and its notices."""
        wkt = _cell(cells, self.index["wkt"]) if "wkt" in self.index else None
        if not _blank(wkt):
            raw = parse_text(str(wkt), source=self.source)
            for plot in raw.plots:
                plot.row = row
        else:
            if self.geographic:
                east_field, north_field = "lon", "lat"
            elif {"x", "y"} <= self.index.keys():
                east_field, north_field = "x", "y"
            else:
                raise FieldError("the row has no location", source=self.source, row=row,
                                 field=self.header[self.index["wkt"]], fix="fill in the WKT or 拐点坐标")
            fields = (self.header[self.index[east_field]], self.header[self.index[north_field]])
            east = parse_coordinate(_cell(cells, self.index[east_field]), self.source, row, fields[0], self.geographic)
            north = parse_coordinate(_cell(cells, self.index[north_field]), self.source, row, fields[1], self.geographic)
            zone = _cell(cells, self.index["gk_zone"]) if "gk_zone" in self.index else None
            declared = self.geographic or normalise_header(fields[0]) not in ("y", "y坐标", "坐标y", "x", "x坐标", "坐标x")
            raw = RawSite(
                source=self.source, plots=[RawPlot([RawPart("point", [RawRing([(east, north)], [row])])], row=row)],
                crs=CRS.from_epsg(4326) if self.geographic else None,
                crs_origin=f"columns {fields[0]}/{fields[1]}" if self.geographic else "",
                order="declared" if declared else "unknown", fields=fields,
                gk=GKHint(zone=int(float(zone)), origin="column 带号") if not _blank(zone) else None,
            )
        return _built(raw, row)

    def _project(self, cells: list[Any], row: Any) -> tuple[Project, list[str]]:
        """The project facts of a row (read once per distinct cells) and the notices of their reading."""
        key = tuple(_cell(cells, self.index[f]) if f in self.index else None for f in _FACTS)
        if key not in self._projects:
            multipliers = {name: factor for name, unit, factor in _HEADER_UNITS
                           if name in self.index and unit in self.header[self.index[name]]}
            facts = read_project({f: v for f, v in zip(_FACTS, key) if v is not None}, strict=False,
                                 source=self.source, multipliers=multipliers)
            self._projects[key] = (facts.project, [notice_text(n) for n in facts.notices])
        return self._projects[key]


#: Units a header may give a fact in, and the factor to the model's unit.
_HEADER_UNITS = (("coal_t", "万吨", 10_000.0), ("power_mw", "万千瓦", 10.0))


def _csv_input(path: Path, columns, chunk_rows: int, encoding: str | None) -> Input:
    # The whole file is decoded once to detect UTF-8 vs GBK; rows are then parsed chunk by chunk.
    text, _ = decode(path.read_bytes(), encoding=encoding, source=path.name)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise FormatError("the file is empty", source=path.name, fix="give a header row and one row per site")
    table = _TableRows(header, path.name, columns)
    total = max(text.count("\n") - 1, 0)

    numbered = ((number, row) for number, row in enumerate(reader, start=2) if any(c.strip() for c in row))
    return Input(path, header, total, _in_chunks(numbered, table, chunk_rows))


def _in_chunks(numbered: Iterable[tuple[int, list]], table: _TableRows, chunk_rows: int) -> Iterator[Chunk]:
    """Read (row number, cells) pairs ``chunk_rows`` at a time: memory stays bounded on large tables."""
    cells, rows = [], []
    for number, row in numbered:
        cells.append(row)
        rows.append(number)
        if len(cells) == chunk_rows:
            yield table.read(cells, rows)
            cells, rows = [], []
    if cells:
        yield table.read(cells, rows)


def _xlsx_input(path: Path, columns, chunk_rows: int) -> Input:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError, ValueError) as err:
        raise FormatError(f"not a readable .xlsx workbook ({err})", source=path.name,
                          fix="save the table as .xlsx (Excel 2007+) or .csv") from None
    data_sheet, header_row, header = None, 0, []
    for sheet in book.worksheets:
        for number, row in enumerate(sheet.iter_rows(max_row=20, values_only=True), start=1):
            names = [str(c).strip() if c is not None else "" for c in row]
            try:
                _TableRows(names, path.name, columns)
            except FieldError:
                continue
            data_sheet, header_row, header = sheet.title, number, names
            break
        if data_sheet:
            break
    if data_sheet is None:
        book.close()
        raise FieldError("no sheet has a header with location columns in its first 20 rows", source=path.name,
                         fix="name the columns 经度/纬度, X/Y (with 带号), or WKT/拐点坐标, or map them with --column")
    while header and header[-1] == "":
        header.pop()
    table = _TableRows(header, path.name, columns)
    sheet = book[data_sheet]
    total = max((sheet.max_row or 0) - header_row, 0)

    def numbered() -> Iterator[tuple[int, list]]:
        try:
            for number, row in enumerate(sheet.iter_rows(min_row=header_row + 1, values_only=True),
                                         start=header_row + 1):
                row = list(row)[: len(header)]
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in row):
                    continue
                yield number, row + [None] * (len(header) - len(row))
        finally:
            book.close()

    info = {"sheets": book.sheetnames, "data_sheet": data_sheet, "header_row": header_row}
    return Input(path, header, total, _in_chunks(numbered(), table, chunk_rows), workbook=info)


# -- vector files --------------------------------------------------------------------------------------------------
def _vector_input(path: Path, columns, chunk_rows: int, encoding: str | None) -> Input:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        geo = json.loads((parquet.schema_arrow.metadata or {}).get(b"geo", b"{}") or b"{}")
        column = geo.get("primary_column", "geometry")
        crs_json = geo.get("columns", {}).get(column, {}).get("crs", "OGC:CRS84")
        crs = CRS.from_user_input(crs_json) if crs_json is not None else CRS.from_user_input("OGC:CRS84")
        header = [n for n in parquet.schema_arrow.names if n != column]
        total = parquet.metadata.num_rows

        def frames():
            for batch in parquet.iter_batches(batch_size=chunk_rows):
                frame = batch.to_pandas()
                yield frame.drop(columns=column), shapely.from_wkb(frame[column].to_numpy())
    else:
        info = pyogrio.read_info(path, encoding=encoding)
        crs = CRS.from_user_input(info["crs"]) if info["crs"] else None
        header = list(info["fields"])
        total = int(info["features"])

        def frames():
            for start in range(0, total, chunk_rows):
                frame = pyogrio.read_dataframe(path, skip_features=start, max_features=chunk_rows,
                                               encoding=encoding)
                yield frame.drop(columns=frame.geometry.name), frame.geometry.to_numpy()

    table = _TableRows(header, path.name, columns, geometry=False)
    geographic = crs is not None and any(crs.equals(CRS.from_user_input(c)) for c in _GEOGRAPHIC)

    def chunks() -> Iterator[Chunk]:
        number = 0
        for attributes, geometries in frames():
            cells = attributes.astype(object).where(attributes.notna(), None).values.tolist()
            rows = list(range(number + 1, number + len(cells) + 1))
            number += len(cells)
            chunk = table.read(cells, rows)
            for i, geom in enumerate(geometries):
                if chunk.errors[i]:
                    continue
                try:
                    chunk.geoms[i], chunk.notices[i] = _vector_site(geom, crs, geographic, path.name, rows[i])
                except EcozoneError as err:
                    chunk.geoms[i], chunk.errors[i] = None, str(err)
                except (GEOSException, ValueError) as err:
                    chunk.geoms[i] = None
                    chunk.errors[i] = str(FormatError(f"the geometry cannot be read ({err})", source=path.name,
                                                      row=rows[i], fix="check the feature's geometry"))
            yield chunk

    return Input(path, header, total, chunks(), crs=crs)


def _vector_site(geom, crs: CRS | None, geographic: bool, source: str, row: int):
    if geom is None or geom.is_empty:
        raise FormatError("the feature has no geometry", source=source, row=row,
                          fix="draw its geometry, or delete the feature")
    if geographic and geom.geom_type == "Point":
        minx, miny, maxx, maxy = XINJIANG_BBOX
        if minx < geom.x < maxx and miny < geom.y < maxy:
            return shapely.force_2d(geom), None
    raw = RawSite(source=source, plots=[RawPlot(parts_from_shapely(geom, source=source, row=row), row=row)],
                  crs=crs, crs_origin="the file" if crs else "", order="declared")
    return _built(raw, row)


# -- shared ----------------------------------------------------------------------------------------------------------
def _built(raw: RawSite, row: Any):
    """The site reader's checks and transforms on one row; several plots become one multi-geometry."""
    sites = build_sites(raw, coverage=XINJIANG_BBOX)
    geoms = [s.shape for s in sites]
    geom = geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)
    notices = "；".join(dict.fromkeys(n["message"] for s in sites for n in s.notices))
    return geom, notices or None


def _cell(cells: list[Any], index: int) -> Any:
    return cells[index] if index < len(cells) else None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def _numbers(values: list[Any]) -> np.ndarray:
    """Cells as floats where they are plain numbers (numbers or decimal text), NaN elsewhere."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[i] = v
        elif isinstance(v, str) and _DECIMAL.fullmatch(v.strip()):
            out[i] = float(v)
    return out


_DECIMAL = re.compile(r"[+-]?\d+(\.\d*)?")
