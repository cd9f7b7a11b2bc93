"""Excel (.xlsx) and CSV tables of sites: one row per point, or one row per vertex (拐点) of plots.

Headers are recognised in Chinese and English. A table is read as vertices when it has a point-number
or 圈号 column, or when a plot column repeats; otherwise every row is one point site (as in permit lists).
经度/纬度 and 东坐标/北坐标 declare which value is which; bare X/Y do not (Chinese surveys put north in
X, GIS users east), so their order is inferred from the values and recorded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from gis.crs import STORE_CRS
from gis.errors import CRSError, FieldError, FormatError
from gis.sites.archives import check_xml_members, open_zip
from gis.sites.encoding import decode
from gis.sites.limits import (
    MAX_COLUMNS,
    MAX_INFLATED_BYTES,
    MAX_INPUT_BYTES,
    MAX_TABLE_ROWS,
    check_file_size,
    too_many,
)
from gis.sites.model import Conversion, decoded, GKHint, RawPart, RawPlot, RawRing, RawSite, parts_from_points
from gis.sites.text import parse_value

__all__ = [
    "EXCEL_MAX_ROWS", "FORMULA_FIX", "Formula", "FormulaCells", "check_unique", "csv_dialect", "csv_rows",
    "formula_error", "header_roles", "header_width", "normalise_header", "open_workbook", "parse_coordinate", "read_table", "sheet_rows", "whole", "merged_ranges", "merged_filled",
    "MAX_MERGES", "SheetScan", "scan_sheet",
]

#: Rows of an Excel worksheet; a sheet that yields more is lying about its rows.
EXCEL_MAX_ROWS = 1_048_576

_ROLES = {
    "lon": ("经度", "东经", "lon", "lng", "longitude", "long"),
    "lat": ("纬度", "北纬", "lat", "latitude"),
    "east": ("东坐标", "横坐标", "东向坐标", "easting", "y", "y坐标", "坐标y", "e"),
    "north": ("北坐标", "纵坐标", "北向坐标", "northing", "x", "x坐标", "坐标x", "n"),
    "point": ("拐点号", "点号", "界址点号", "拐点", "界址点", "点名", "序号", "point", "pointid", "vertex"),
    "ring": ("圈号", "ring"),
    "zone": ("带号", "zone"),
}
# X/Y name east and north by habit only, and the habits differ (survey vs GIS).
_AMBIGUOUS = ("y", "y坐标", "坐标y")
# Columns that name a plot, in the order they are preferred for grouping vertices.
_PLOT_KEYS = ("地块编号", "地块号", "地块名称", "项目名称", "项目编号", "名称", "编号", "plot", "name", "id")


def normalise_header(header: Any) -> str:
    """'X坐标(米)' -> 'x坐标': lower case, no spaces, units in brackets dropped."""
    text = re.sub(r"[\(（\[【].*?[\)）\]】]", "", str(header or ""))
    return re.sub(r"\s+", "", text).lower()


def header_roles(header: list[Any]) -> dict[str, int]:
    """Which column (index) holds each coordinate role (lon, lat, east, north, point, ring, zone, plot)."""
    roles: dict[str, int] = {}
    names = [normalise_header(h) for h in header]
    for role, words in _ROLES.items():
        for index, name in enumerate(names):
            if name in words and role not in roles:
                roles[role] = index
    for role, end in (("lon", "经度"), ("lat", "纬度")):  # 中心经度, 生产经营场所中心纬度: one such column alone
        ending = [index for index, name in enumerate(names) if name.endswith(end)]
        if role not in roles and len(ending) == 1:
            roles[role] = ending[0]
    for word in _PLOT_KEYS:
        if word in names and "plot" not in roles:
            roles["plot"] = names.index(word)
    return roles


def read_table(path: Path, *, encoding: str | None) -> RawSite:
    """Read a .csv or .xlsx table of points or vertices."""
    source = path.name
    conversions = []
    check_file_size(path, source=source)
    sheet = ""
    if path.suffix.lower() == ".csv":
        text, used = decode(path.read_bytes(), encoding=encoding, source=source)
        conversions.append(decoded(used))
        rows = []
        for cells, error in csv_rows(text, source=source):
            if error is not None:
                error.row = len(rows) + 1
                raise error
            rows.append(cells)
            if len(rows) > MAX_TABLE_ROWS:
                raise _too_many_rows(len(rows), MAX_TABLE_ROWS, source, field="rows")
    else:
        rows, sheet = _xlsx_rows(path, source)
        conversions.append(Conversion(step="read_sheet", description=f"读取工作表「{sheet}」 / read sheet '{sheet}'"))
    start, roles = _find_header(rows, source)
    header = [str(h).strip() if h is not None else "" for h in rows[start]]
    check_unique(header, roles.values(), source)
    geographic = "lon" in roles and "lat" in roles
    if geographic:
        east_col, north_col = roles["lon"], roles["lat"]
    elif "east" in roles and "north" in roles:
        east_col, north_col = roles["east"], roles["north"]
    else:
        raise FieldError(
            "没有找到坐标列 / no coordinate columns found", source=source, row=start + 1, field="header",
            value=header[:8], fix="坐标列命名为 经度/纬度（度）或 X/Y、东坐标/北坐标（米） / name the columns 经度/纬度 "
                                  "(degrees) or X/Y, 东坐标/北坐标 (metres)",
        )
    declared = geographic or normalise_header(header[east_col]) not in _AMBIGUOUS
    fields = (header[east_col], header[north_col])
    skip = {east_col, north_col} | {roles[r] for r in ("point", "ring", "zone") if r in roles}
    needed = [east_col, north_col] + ([roles["ring"]] if "ring" in roles else [])
    # a cell needed but None may hold a formula without a saved result: its sheet is read for formulas then only
    formulas = FormulaCells(path, sheet, needed, source=source, width=len(header)) if sheet else None
    records = []
    for number, row in enumerate(rows[start + 1 :], start=start + 2):
        cells = list(row) + [None] * (len(header) - len(row))
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        for column in needed if formulas is not None else ():
            if cells[column] is None and (found := formulas.formula(number, column)) is not None:
                formulas.close()
                raise formula_error(found, sheet=sheet, source=source, row=number, field=header[column])
        east = parse_coordinate(cells[east_col], source, number, fields[0], geographic)
        north = parse_coordinate(cells[north_col], source, number, fields[1], geographic)
        ring = whole(cells[roles["ring"]], source, number, header[roles["ring"]]) if "ring" in roles else 1
        attributes = {header[i]: _plain(c) for i, c in enumerate(cells)
                      if i < len(header) and i not in skip and header[i] and _plain(c) is not None}
        key = _plain(cells[roles["plot"]]) if "plot" in roles else None
        records.append((key, ring, east, north, number, attributes))
    if formulas is not None:
        formulas.close()
    if not records:
        raise FormatError("表格没有数据行 / the table has no data rows", source=source, row=start + 1, field="rows",
                          fix="在表头下每个界址点或顶点写一行 / add one row per point or per vertex under the header")
    keys = [r[0] for r in records]
    vertices = "point" in roles or "ring" in roles or len(set(keys)) < len(keys)
    plots = _vertex_plots(records) if vertices else [
        RawPlot([RawPart("point", [RawRing([(e, n)], [row])])], name=_name(key), row=row, attributes=attrs)
        for key, _, e, n, row, attrs in records
    ]
    return RawSite(
        source=source, plots=plots, crs=STORE_CRS if geographic else None,
        crs_origin=f"columns {fields[0]}/{fields[1]}" if geographic else "", order="declared" if declared else "unknown",
        fields=fields, gk=_zone_hint(rows, start, roles, source), conversions=conversions,
    )


def csv_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The dialect of a CSV text (separator , ; tab or |), sniffed from its start; Excel's when unclear.

    A start without quotes says nothing of how quotes are escaped: they are then taken as Excel and RFC 4180
    write them, doubled (a DMS cell of 87°36'12 and a quote is written with the quote twice). The quote is always
    the double quote, as Excel and WPS read it: the sniffer takes a word quoted in the text ('sewage_status')
    for the quote when the double quotes of the start enclose a cell over two lines, which it does not see.
    """
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel
    if dialect.quotechar != '"':  # its doubling was sniffed for the other character: Excel's, then
        dialect.quotechar, dialect.doublequote = '"', True
    if '"' not in sample:
        dialect.doublequote = True
    return dialect


def csv_rows(text: str, *, source: str,
             dialect: type[csv.Dialect] | csv.Dialect | None = None) -> Iterator[tuple[list[str], FormatError | None]]:
    """The rows of a CSV text in its sniffed dialect (or ``dialect``), each with None, or with the error of a row the ``csv``
    module cannot parse (the rows after it are still read; the caller, which counts the rows, sets its row).

    The module's field limit (128 KiB) is raised to ``MAX_INPUT_BYTES``, the largest text ecozone reads as a
    site: a 6,000-vertex parcel as WKT takes about 200 KB of one cell. The limit belongs to the process; it
    is raised once and never lowered, so that readers in other threads are not cut short.
    """
    if csv.field_size_limit() < MAX_INPUT_BYTES:
        csv.field_size_limit(MAX_INPUT_BYTES)
    reader = csv.reader(io.StringIO(text), dialect or csv_dialect(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield [], FormatError(f"该行无法按 CSV 读取 / the row cannot be read as CSV ({err})", source=source,
                                  field="row",
                                  fix=f"检查该行的引号，单元格不超过 {MAX_INPUT_BYTES:,} 个字符 / check the row's quotes; "
                                      f"a cell holds at most {MAX_INPUT_BYTES:,} characters")
        else:
            yield row, None


def check_unique(header: list[str], used: Iterable[int], source: str) -> None:
    """Refuse a header where a column ecozone reads has a twin of the same name: which one is meant is unknown."""
    names = [normalise_header(h) for h in header]
    for index in used:
        twins = [i + 1 for i, name in enumerate(names) if name and name == names[index]]
        if len(twins) > 1:
            raise FieldError(
                f"有 {len(twins)} 列同名（第 {'、'.join(map(str, twins))} 列） / {len(twins)} columns have the same "
                f"name, so which one to read is unknown", source=source, field=header[index], value=header[index],
                fix="删除或重命名重复的列 / delete or rename the duplicate columns",
            )


def _vertex_plots(records) -> list[RawPlot]:
    groups: dict[Any, list] = {}
    for record in records:
        groups.setdefault(record[0], []).append(record)
    plots = []
    for key, group in groups.items():
        points = [(ring, east, north, row) for _, ring, east, north, row, _ in group]
        plots.append(RawPlot(parts_from_points(points, "polygon"), name=_name(key), row=group[0][4],
                             attributes=group[0][5]))
    return plots


def _name(key: Any) -> str | None:
    return None if key is None else str(key)


def _find_header(rows: list[list[Any]], source: str) -> tuple[int, dict[str, int]]:
    """The first row (of the first 20) whose cells name two coordinate columns; title rows above are skipped."""
    for index, row in enumerate(rows[:20]):
        roles = header_roles(list(row))
        if {"lon", "lat"} <= roles.keys() or {"east", "north"} <= roles.keys():
            return index, roles
    raise FieldError(
        "前 20 行中没有含坐标列的表头 / no header with coordinate columns in the first 20 rows", source=source,
        field="header", value=[c for c in (rows[0] if rows else []) if c][:8] or None,
        fix="加一行表头，列名为 经度/纬度、X/Y（X 为北）或 东坐标/北坐标 / add a header row naming the columns 经度/纬度, "
            "or X/Y (X north), or 东坐标/北坐标",
    )


def _xlsx_rows(path: Path, source: str) -> tuple[list[list[Any]], str]:
    """The rows of the sheet with coordinate columns (or the first), as wide as its header, and its title."""
    book = open_workbook(path, source=source)
    try:
        chosen, head = None, []
        for sheet in book.worksheets:
            head = [list(r) for r in islice(sheet_rows(sheet, source=source), 20)]
            if any(set(header_roles(r)) & {"lon", "east"} for r in head):
                chosen = sheet
                break
        if chosen is None:
            chosen = book.worksheets[0]
            head = [list(r) for r in islice(sheet_rows(chosen, source=source), 20)]
        start, _ = _find_header(head, source)
        width = header_width(head[start], source, chosen.title)
        rows = [list(r) for r in sheet_rows(chosen, source=source, max_col=width, max_rows=MAX_TABLE_ROWS)]
        return rows, chosen.title
    finally:
        book.close()


def open_workbook(path: Path, *, source: str, max_total: int = MAX_INFLATED_BYTES, max_member: int | None = None,
                  formulas: bool = False):
    """An .xlsx opened read-only with openpyxl after its zip and XML parts are checked (``gis.sites.archives``):
    no member inflating past the limits, no unsafe member name, no DTD. Cells give their saved results, or
    their formulas with ``formulas``."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    with open_zip(path, source=source, kind=".xlsx", max_total=max_total, max_member=max_member) as archive:
        check_xml_members(archive, source=source)
    try:
        return load_workbook(path, read_only=True, data_only=not formulas)
    except (InvalidFileException, BadZipFile, KeyError, OSError, ValueError, TypeError, SyntaxError) as err:
        raise FormatError(f"不是可读取的 .xlsx 工作簿 / not a readable .xlsx workbook ({err})", source=source,
                          field="site", fix="把表格另存为 .xlsx（Excel 2007 及以后）或 .csv / save the table as .xlsx "
                                            "(Excel 2007+) or .csv") from None


def sheet_rows(sheet, *, source: str, max_col: int = MAX_COLUMNS + 1, max_rows: int = EXCEL_MAX_ROWS,
               values_only: bool = True) -> Iterator[tuple[Any, ...]]:
    """The rows of a read-only worksheet, never trusting the dimension it declares (``A1:XFD1048576`` would
    make openpyxl pad every row to 16,384 cells): at most ``max_col`` cells a row and ``max_rows`` rows,
    blank ones included; an unreadable part of the sheet is a ``FormatError``. ``values_only=False`` gives the
    cells (for their number formats)."""
    sheet.reset_dimensions()
    try:
        for count, row in enumerate(sheet.iter_rows(max_col=max_col, values_only=values_only), start=1):
            if count > max_rows:
                raise _too_many_rows(count, max_rows, source, field=sheet.title)
            yield row
    except (SyntaxError, ValueError, TypeError, KeyError, OSError) as err:
        raise FormatError(f"工作表 {sheet.title} 无法读取 / sheet {sheet.title} cannot be read ({err})", source=source,
                          field=sheet.title, fix="用 Excel 或 WPS 重新保存 / save the workbook again") from None


#: Merged ranges of one sheet that are filled (``merged_ranges``); a sheet with more is read with the rest as
#: openpyxl gives them (the first cell holding the value, the others empty).
MAX_MERGES = 100_000
_MERGE_READ_BYTES = 1 << 20
#: The ``ref`` of a ``mergeCell`` element (with any namespace prefix): the XML was checked before (no DTD).
_MERGE = re.compile(rb"""<(?:[\w.-]+:)?mergeCell\b[^>]*?\bref=["']([A-Z]{1,3}[0-9]{1,7}(?::[A-Z]{1,3}[0-9]{1,7})?)["']""")


#: The end of a cell whose formula has no saved result: the formula (or a shared one's reference) followed by no
#: ``v`` element, or an empty one, then the cell's end (any namespace prefix).
_UNSAVED = re.compile(rb"(?:</(?:[\w.-]+:)?f>|<(?:[\w.-]+:)?f\b[^>]*/>)\s*"
                      rb"(?:<(?:[\w.-]+:)?v\s*/>|<(?:[\w.-]+:)?v\s*>\s*</(?:[\w.-]+:)?v>)?\s*</(?:[\w.-]+:)?c>")


def _has_formula(xml: bytes) -> bool:
    """Whether XML may hold a formula element (a quick test before ``_UNSAVED``, which costs several times more)."""
    return _FORMULA_END.search(xml) is not None


#: How every formula element's name ends (``<f>``, ``<f t="shared" .../>``, ``</x:f>``).
_FORMULA_END = re.compile(rb"f[\s/>]")


@dataclass(frozen=True)
class SheetScan:
    """What streaming a worksheet's XML part tells before its rows are read (``scan_sheet``)."""

    merges: list[tuple[int, int, int, int]]  #: its merged ranges (``merged_ranges``)
    #: whether a cell may hold a formula without a saved result: False only when the whole part was read and
    #: none does (then ``FormulaCells`` never reads the sheet again)
    unsaved_formulas: bool


def merged_ranges(sheet) -> list[tuple[int, int, int, int]]:
    """The merged ranges of a read-only worksheet as (min_col, min_row, max_col, max_row), at most
    ``MAX_MERGES``: openpyxl's read-only mode does not read them, and loading the sheet whole costs as much as
    reading it twice. Found by streaming the sheet's XML part (they follow its rows) for its ``mergeCell``
    elements."""
    return scan_sheet(sheet).merges


def scan_sheet(sheet) -> SheetScan:
    """A read-only worksheet's merged ranges (``merged_ranges``) and whether any of its cells holds a formula
    without a saved result, from one pass over its XML part."""
    from openpyxl.utils.cell import range_boundaries

    found: list[tuple[int, int, int, int]] = []
    unsaved = False
    with sheet.parent._archive.open(sheet._worksheet_path) as part:
        buffer = b""
        while len(found) < MAX_MERGES:
            chunk = part.read(_MERGE_READ_BYTES)
            buffer += chunk
            # the part kept from the last read is searched again: a cell's end cut by the read is found whole
            unsaved = unsaved or (_has_formula(buffer) and _UNSAVED.search(buffer) is not None)
            limit = len(buffer) - (512 if chunk else 0)  # a match ending past it may be cut short: kept for later
            cut = max(limit, 0)
            for match in _MERGE.finditer(buffer):
                if match.end() > limit:
                    cut = min(cut, match.start())
                    break
                found.append(range_boundaries(match.group(1).decode()))
            buffer = buffer[cut:]
            if not chunk:
                break
        else:  # stopped at MAX_MERGES, the rest unread: a formula there is not ruled out
            unsaved = True
    return SheetScan(found[:MAX_MERGES], unsaved)


def merged_filled(rows: Iterable[Sequence[Any]], merges: list[tuple[int, int, int, int]]) -> Iterator[list[Any]]:
    """The rows of a sheet (from its first) with every cell of a merged range holding the range's value, as
    the officer sees the sheet: an enterprise's name and coordinates merged down its three 排放口 rows, a
    header merged down two header rows."""
    starts: dict[int, list[tuple[int, int, int]]] = {}
    for min_col, min_row, max_col, max_row in merges:
        if max_row > min_row or max_col > min_col:
            starts.setdefault(min_row, []).append((min_col - 1, max_col - 1, max_row))
    active: list[tuple[int, int, int, Any]] = []
    for number, cells in enumerate(rows, start=1):
        row = list(cells)
        for first, last, until in starts.get(number, ()):
            active.append((first, last, until, row[first] if first < len(row) else None))
        # ranges of a valid sheet never overlap, so no more than a row's cells are filled: a sheet whose ranges
        # pile up (hand-made XML) costs no more than that
        active = [merge for merge in active if merge[2] >= number][: len(row)]
        for first, last, _, value in active:
            for column in range(first, min(last + 1, len(row))):
                if row[column] is None:
                    row[column] = value
        yield row


#: Characters of a formula a message shows.
_FORMULA_SHOWN = 200


@dataclass(frozen=True)
class Formula:
    """A cell holding a formula without a saved result (found by ``FormulaCells``)."""

    cell: str  #: its reference, e.g. "C5"
    text: str  #: the formula as Excel shows it in this cell ("=B5+0.001"; a shared one as it reads here)
    merged: str | None = None  #: the merged range whose value it is (C6:C7), when the cell is its first


class FormulaCells:
    """The formulas of one worksheet's cells, for the cells a reader of results (``data_only``) got as None: a
    formula there has no saved result (openpyxl, database exports and scripts write formulas so). Excel and WPS
    compute them on opening, so the officer sees a value where ecozone reads a blank.

    Nothing is read until a cell is asked for; the sheet is then read again by openpyxl for its formulas, in
    step with the rows asked (in order, as the reader of results reads them), so a workbook whose needed cells
    all have values pays nothing, and memory stays one row; a sheet known to hold no formula without a result
    (``scan_sheet``) is never read again. openpyxl gives a shared formula (filled down) as it reads in each
    cell. A cell of a merged range (``merges``, as ``merged_ranges`` gives them) is asked for as the officer
    sees it, as ``merged_filled`` fills it: the formula of the range's first cell, in every row of the range.
    """

    def __init__(self, path: Path, sheet: str, columns: Iterable[int], *, source: str, width: int,
                 merges: Iterable[tuple[int, int, int, int]] = (), unsaved: bool = True, **limits: int) -> None:
        """The sheet titled ``sheet`` of the workbook at ``path``, read ``width`` cells wide within the ``limits``
        it was opened with (``open_workbook``'s); only the cells of ``columns`` (0-based) are asked for.
        ``unsaved``: whether the sheet may hold a formula without a saved result (``SheetScan``)."""
        self.path, self.sheet, self.source, self.width, self.limits = path, sheet, source, width, limits
        self.columns = set(columns)
        self.unsaved = unsaved
        # the merged ranges over the columns asked for, by their first row (1-based, as merged_ranges gives them)
        self._merges: dict[int, list[tuple[int, int, int, int]]] = {}
        for merge in merges:
            min_col, min_row, max_col, max_row = merge
            if (max_row > min_row or max_col > min_col) and any(min_col <= c + 1 <= max_col for c in self.columns):
                self._merges.setdefault(min_row, []).append(merge)
        #: the ranges met so far whose first cell holds a formula, and that formula
        self._held: list[tuple[tuple[int, int, int, int], Formula]] = []
        self._book = None
        self._rows: Iterator[tuple[int, tuple[Any, ...]]] | None = None
        self._row: tuple[int, tuple[Any, ...]] = (0, ())

    def formula(self, row: int, column: int) -> Formula | None:
        """The formula of the cell in ``row`` (as the sheet numbers it) and ``column`` (0-based), or of the
        merged range it lies in, or None: no formula, or a row before the last one asked."""
        if column not in self.columns or not self.unsaved:
            return None
        if self._rows is None and self._book is None:
            self._book = open_workbook(self.path, source=self.source, formulas=True, **self.limits)
            self._rows = enumerate(sheet_rows(self._book[self.sheet], source=self.source, max_col=self.width),
                                   start=1)
        while self._row[0] < row and self._rows is not None:
            self._row = next(self._rows, None) or (EXCEL_MAX_ROWS + 1, ())
            number, cells = self._row
            for merge in self._merges.get(number, ()):
                first = _formula_of(cells, number, merge[0] - 1)
                if first is not None:
                    self._held.append((merge, Formula(first.cell, first.text, _range_name(merge))))
        self._held = [(merge, found) for merge, found in self._held if merge[3] >= row]
        for (min_col, min_row, max_col, max_row), found in self._held:
            if min_row <= row and min_col <= column + 1 <= max_col:
                return found
        number, cells = self._row
        return _formula_of(cells, row, column) if number == row else None

    def close(self) -> None:
        """Stop reading the sheet."""
        if self._book is not None:
            self._book.close()
        self._book, self._rows = None, None


def _formula_of(cells: Sequence[Any], row: int, column: int) -> Formula | None:
    """The formula of one cell of a row read for formulas (``column`` 0-based), or None."""
    from openpyxl.utils.cell import get_column_letter
    from openpyxl.worksheet.formula import ArrayFormula

    value = cells[column] if column < len(cells) else None
    text = value.text if isinstance(value, ArrayFormula) else value
    if not (isinstance(text, str) and text.startswith("=")):
        return None
    return Formula(f"{get_column_letter(column + 1)}{row}", text)


def _range_name(merge: tuple[int, int, int, int]) -> str:
    from openpyxl.utils.cell import get_column_letter

    min_col, min_row, max_col, max_row = merge
    return f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"


def formula_error(found: Formula, *, sheet: str, source: str, row: int, field: str,
                  fact: tuple[str, str] | None = None) -> FieldError:
    """The error of a cell ecozone needs that holds a formula without a saved result (``FormulaCells``): the
    sheet, the cell (and the merged range it is the first of), the formula, and how to have the results saved.
    ``fact``: the cell gives this project fact (its Chinese label and name), which the row cannot be screened
    without (read as not given, it could change the verdict)."""
    text = found.text if len(found.text) <= _FORMULA_SHOWN else found.text[:_FORMULA_SHOWN] + "…"
    where_zh = f"{found.cell} 单元格" + (f"（合并单元格 {found.merged}）" if found.merged else "")
    where_en = f"cell {found.cell} of sheet '{sheet}'" + (f", merged over {found.merged}," if found.merged else "")
    then_zh = then_en = ""
    if fact is not None:
        then_zh = f"；该行的{fact[0]}因此无从得知，该行不筛查（不按未填写筛查）"
        then_en = f"; the row's {fact[1]} cannot be known, so the row is not screened (rather than as not given)"
    return FieldError(
        f"工作表「{sheet}」{where_zh}是公式 {text}，但文件中没有保存公式的计算结果，读出为空{then_zh} / {where_en} holds "
        f"the formula {text}, but the file holds no saved result for it, so it reads as empty{then_en}",
        source=source, row=row, field=field, value=text, fix=FORMULA_FIX)


#: What to do with a workbook whose formulas have no saved results.
FORMULA_FIX = ("用 Excel 或 WPS 打开该文件并保存（保存时写入公式的计算结果），或把公式列复制后「选择性粘贴 → 数值」 / open the "
               "file in Excel or WPS and save it (saving stores the formulas' results), or copy the formula columns "
               "and paste them as values")


def header_width(header: Sequence[Any], source: str, sheet: str) -> int:
    """The number of columns up to the last named one; more than ``MAX_COLUMNS`` is refused."""
    width = max((i + 1 for i, c in enumerate(header) if c is not None and str(c).strip()), default=0)
    if width > MAX_COLUMNS:
        raise too_many("列数", "columns", width, MAX_COLUMNS, source=source, field=sheet,
                       fix="删除多余的列，或只保留需要的列 / delete the columns that are not needed")
    return width


def _too_many_rows(count: int, limit: int, source: str, *, field: str):
    return too_many("行数（含空行）", "rows (blank ones included)", count, limit, source=source, field=field,
                    fix="删除表格下方的多余行，或拆分表格 / delete stray rows below the table, or split it")


def _plain(value: Any) -> Any:
    """A cell value for attributes: stripped text, numbers kept, empty as None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, (int, float, bool)) else str(value)


def parse_coordinate(value: Any, source: str, row: int, field: str, degrees: bool) -> float:
    """One coordinate cell as a number: decimal or, for degrees, DMS text; a ``FieldError`` names the cell."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = "" if value is None else str(value).strip()
    if not text:
        raise FieldError("坐标为空 / the coordinate is empty", source=source, row=row, field=field,
                         fix="填写坐标或删除该行 / fill in the value or delete the row")
    try:
        return float(text.replace(",", "")) if not degrees else float(text)
    except ValueError:
        pass
    if degrees:
        return parse_value(text, source=source, row=row, field=field)[0]
    raise FieldError("不是数字 / not a number", source=source, row=row, field=field, value=text,
                     fix="以米为单位写出坐标数值，如 4851775.12 / write the coordinate in metres as a number, "
                         "e.g. 4851775.12")


def whole(value: Any, source: str, row: Any, field: str) -> int:
    """A whole number from a cell (圈号, 带号), or a ``FieldError`` naming the cell."""
    try:
        number = float(value)
        if number.is_integer():
            return int(number)
    except (TypeError, ValueError):
        pass
    raise FieldError("不是整数 / not a whole number", source=source, row=row, field=field, value=value,
                     fix="圈号：外圈为 1，内圈（洞）依次为 2、3…… / 圈号 is 1 for the outer ring, 2, 3 ... for holes")


def _zone_hint(rows, start, roles, source) -> GKHint | None:
    """The zone from a 带号 column, if the table has one; all rows must agree."""
    if "zone" not in roles:
        return None
    column = roles["zone"]
    zones = {}
    for number, row in enumerate(rows[start + 1 :], start=start + 2):
        if column < len(row) and row[column] not in (None, ""):
            zones.setdefault(whole(row[column], source, number, "带号"), number)
    if len(zones) > 1:
        zone, row = list(zones.items())[1]
        listed = ", ".join(map(str, zones))
        raise CRSError(f"带号列中混有多个带：{listed} / the 带号 column mixes zones {listed}", source=source, row=row,
                       field="带号", value=zone,
                       fix="按带号拆分表格，或把所有点转换到同一带 / split the table by zone, or convert all points to "
                           "one zone")
    return GKHint(zone=next(iter(zones)), origin="column 带号") if zones else None
