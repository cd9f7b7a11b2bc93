"""Writing screened chunks: the input's columns as they were, then the verdict columns, row for row.

Every writer streams: a chunk is written as soon as it is screened, so memory stays bounded whatever the
input size. Formats by suffix: .xlsx (openpyxl write-only: every sheet of an .xlsx input is copied in order,
the data sheet gets the verdict columns, and a 筛查汇总 sheet is added), .csv (UTF-8 with BOM, so Excel
opens Chinese text), .geojson (RFC 7946, WGS 84), .gpkg and .parquet (GeoParquet), all with the site
geometry in WGS 84 lon/lat (empty for rows that could not be read).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import threading
from itertools import islice
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from pydantic import AfterValidator

from gis.batch.columnar import as_list, as_table, geo_metadata
from gis.errors import FormatError
from gis.sites.limits import MAX_COLUMNS
from gis.sites.tables import sheet_rows

__all__ = ["ASSUMED_PREFIX", "CLASH_SUFFIX", "COLUMN_PREFIX", "CRS_LABEL", "ENCODING_LABEL", "OUTPUT_SUFFIXES", "OWN_LAYERS",
           "cell_day", "checked_output", "crs_text", "fact_text", "open_writer", "option_rows", "recorded_options",
           "starts_formula", "summary_rows", "verdict_labels", "VerdictLabelCounts", "workbook_value"]

OUTPUT_SUFFIXES = (".xlsx", ".csv", ".geojson", ".gpkg", ".parquet")
#: What an added column's name is suffixed with while the input already has a column of that name (a file
#: screened twice has 结论 and 结论_ecozone: the later screening's is the last of the chain).
CLASH_SUFFIX = "_ecozone"
#: The layers ecozone writes into a GeoPackage: a batch's, and a patch screening's (patches, patch-zone pieces).
OWN_LAYERS = ("screening", "图斑", "图斑区域相交")
#: How the summary (筛查汇总) labels each batch-wide fact a screening assumed (its ``defaults``): the prefix, then
#: the fact's label; a re-screening reads them back (``gis.rescreen``).
ASSUMED_PREFIX = "整批假定："
#: How the summary labels the reading options a screening was given, which a re-screening reads back
#: (``option_rows`` writes them, ``recorded_options`` reads them): each mapped column, 列对应：经度（lon） → 东经
#: (the field's name, as ``--column`` takes it, in the brackets), or 列对应 → 无 when none was mapped; the CRS and
#: the encoding as the user gave them, only when given.
COLUMN_PREFIX = "列对应："
CRS_LABEL = "坐标系（筛查时给出）"
ENCODING_LABEL = "文本编码（筛查时给出）"
_NO_MAPPING = ("列对应", "无（按表头识别）")
_MAPPED = re.compile(re.escape(COLUMN_PREFIX) + r".*（([A-Za-z0-9_]+)）")


def checked_output(path: str | Path, input_path: str | Path, suffixes: tuple[str, ...]) -> Path:
    """``path`` as an output of ``input_path``, refused before any work when its suffix is not one of ``suffixes``,
    when it is the input itself, or when it is a GeoPackage holding layers ecozone did not write: writing an
    output replaces the whole file, and nothing a user holds is ever lost."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise FormatError(f"不能写出 {suffix or '无后缀'} 文件 / ecozone does not write {suffix or 'files without a suffix'}",
                          source=str(path), field="output", value=suffix,
                          fix=f"输出文件用 {'、'.join(suffixes)} 之一 / use one of {', '.join(suffixes)}")
    if path.resolve() == Path(input_path).resolve():
        raise FormatError("输出会覆盖输入文件 / the output would overwrite the input", source=str(path),
                          field="output", fix="另给输出文件名，输入文件从不改动 / give another output path; the input is "
                                              "never changed")
    if suffix == ".gpkg" and path.exists():
        import pyogrio

        try:
            others = [name for name, _ in pyogrio.list_layers(path) if name not in OWN_LAYERS]
        except Exception:  # noqa: BLE001 - whatever it holds, it is not a GeoPackage ecozone wrote
            others = ["（无法读取）"]
        if others:
            raise FormatError(f"输出的 GeoPackage 已有其他图层（{'、'.join(map(str, others))}），写出会替换整个文件 / the "
                              "output GeoPackage already holds other layers, which writing it would replace",
                              source=str(path), field="output", value=", ".join(map(str, others)),
                              fix="另给一个新的 .gpkg 文件名 / give a new .gpkg path")
    return path


def open_writer(path: str | Path, source, verdict_columns: list[str]):
    """A writer for ``path`` by its suffix (``checked_output``); ``source`` is the opened input
    (``gis.batch.inputs.Input``)."""
    path = checked_output(path, source.path, OUTPUT_SUFFIXES)
    writers = {".xlsx": _Xlsx, ".csv": _Csv, ".geojson": _GeoJSON, ".gpkg": _Gpkg, ".parquet": _Parquet}
    path.parent.mkdir(parents=True, exist_ok=True)
    return writers[path.suffix.lower()](path, source, verdict_columns)


def partial_path(path: Path) -> Path:
    """Where an output is written before it is complete (``_Writer.commit`` moves it to ``path``): beside it,
    hidden, with its suffix (GDAL tells a format by it)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def _text(value: Any) -> Any:
    """A value for a text format: None stays empty, numbers stay numbers."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


#: What a spreadsheet may take for the start of a formula (=, +, -, @; tab and CR as OWASP lists them).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = "^[" + re.escape("".join(_FORMULA_STARTS)) + "]"  # the same, as a regular expression
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def starts_formula(value: Any) -> bool:
    """True for text a spreadsheet would run as a formula (formula injection); a plain number is data."""
    return (isinstance(value, str) and value.startswith(_FORMULA_STARTS)
            and not _PLAIN_NUMBER.fullmatch(value.strip()))


class _Writer:
    """An output written at ``path`` (``partial_path`` of the file asked for) and moved to ``final`` when the
    screening is done (``commit``): a failed or stopped screening leaves the officer's earlier file in place."""

    def __init__(self, final: Path, source, verdict_columns: list[str]) -> None:
        self.final = final
        self.path = partial_path(final)
        self.path.unlink(missing_ok=True)  # what a screening stopped by a power cut left
        self.source = source
        self.header = list(source.header)
        self.verdict_columns = verdict_columns
        self.stopping = threading.Event()

    def names(self) -> list[str]:
        """Output column names: the input's, then ours (ours get a suffix if the input already used the name)."""
        names = list(self.header)
        for column in self.verdict_columns:
            name = column
            while name in names:
                name += CLASH_SUFFIX
            names.append(name)
        return names

    def frame(self, chunk, verdicts: dict[str, list]) -> pd.DataFrame:
        columns = self.names()
        data = [list(row) + [None] * (len(self.header) - len(row)) for row in chunk.cells]
        frame = pd.DataFrame(data, columns=columns[: len(self.header)], dtype=object)
        for name, column in zip(columns[len(self.header):], self.verdict_columns):
            frame[name] = pd.Series(as_list(verdicts[column]), dtype=object)
        return frame

    def close(self, summary: list[tuple[str, Any]]) -> None:
        """Finish the file; formats with room for it keep the summary."""
        self._release()

    def stop(self) -> None:
        """Ask a write under way in another thread to end early: the output is about to be aborted."""
        self.stopping.set()

    def commit(self) -> None:
        """Put the finished output (``close``) where it was asked for, replacing an earlier file there."""
        os.replace(self.path, self.final)

    def abort(self) -> None:
        """Remove a partly written output: a cancelled or failed screening leaves no half file."""
        self._release()
        self.path.unlink(missing_ok=True)

    def _release(self) -> None:
        """Close what the writer holds open."""


class _Csv(_Writer):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        import pyarrow as pa

        # Arrow's own file: the CSV writer's writes then need no interpreter lock (through a Python file, each of
        # its writes took it from the thread screening the next chunk: 1,000,000 rows, 1.5 GB, 14 s -> 10 s)
        self._file = pa.OSFile(str(self.path), "wb")
        self._file.write("\ufeff".encode())  # the BOM: Excel then opens the UTF-8 text as such
        self._csv = None

    def write(self, chunk, verdicts) -> None:
        import pyarrow.csv as pacsv

        table = as_table(self.names(), chunk.columns, verdicts, self.verdict_columns, _csv_text, numbers=False,
                         changes=_csv_changes)
        if self._csv is None:
            self._csv = pacsv.CSVWriter(self._file, table.schema, write_options=pacsv.WriteOptions(
                include_header=True, quoting_style="needed"))
        self._csv.write_table(table)

    def close(self, summary) -> None:
        if self._csv is None:  # no rows: the header alone
            self._file.write((",".join(f'"{n}"' for n in self.names()) + "\n").encode())
        self._release()

    def _release(self) -> None:
        if self._csv is not None:
            self._csv.close()
            self._csv = None
        self._file.close()


def cell_day(value: Any) -> Any:
    """A workbook's date cell, which openpyxl reads as a datetime at midnight, as the day it shows; any other
    value as it is."""
    if isinstance(value, dt.datetime) and value.tzinfo is None and value.time() == dt.time():
        return value.date()
    return value


def _csv_text(value: Any) -> str | None:
    """A cell as ``csv.writer`` writes it (None and NaN empty, numbers as Python prints them, a date cell as
    its day); text that would start a formula gets a leading apostrophe."""
    value = cell_day(_text(value))
    if value is None:
        return None
    text = str(value)
    return "'" + text if starts_formula(text) else text


def _csv_changes(strings: pa.Array) -> pa.Array:
    """Which strings ``_csv_text`` may change: those starting as a formula does (it decides on each)."""
    return pc.match_substring_regex(strings, _FORMULA_START)


def _kept(strings: pa.Array) -> pa.Array:
    """``_attribute_text`` keeps every string as it is."""
    return pa.array(np.zeros(len(strings), dtype=bool))


def _copy_rows(source, target, name: str, rows: int | None = None) -> None:
    """Copy the rows of a read-only sheet (the first ``rows``, or all) as they were, through
    ``gis.sites.tables.sheet_rows``: the dimension a sheet declares is not trusted, blank rows cost nothing
    until a row with content follows them."""
    blank, empty = 0, None
    for row in islice(sheet_rows(source, source=name, max_col=MAX_COLUMNS), rows):
        # openpyxl gives the rows missing from the sheet as one shared tuple: knowing it by identity makes a
        # million of them cost a million comparisons, not a billion
        if row is empty or row.count(None) == len(row):
            blank, empty = blank + 1, row
            continue
        for _ in range(blank):
            target.append([])
        blank = 0
        cells = list(row)
        while cells and cells[-1] is None:
            cells.pop()
        target.append(cells)


def keep_formula_results(original: Path, edited: Path, sheets: list[str]) -> None:
    """Give the formula cells of ``sheets`` in ``edited`` (an edit of the workbook ``original``) the results
    ``original`` holds for them.

    openpyxl keeps a formula and drops its result, which Excel and WPS compute again on opening, but every other
    reader (pandas, a GIS program, ecozone re-screening its own output) reads a formula's result from the file:
    without it a register's computed cells (a longitude from degrees and minutes, a total) read blank. The cells
    stay where they were, so each result goes back to the cell of the same reference, only where the edited
    cell is still a formula with no result."""
    import zipfile
    from xml.etree import ElementTree
    from xml.sax.saxutils import escape

    from openpyxl.reader.workbook import WorkbookParser

    def parts(archive: zipfile.ZipFile) -> dict[str, str]:  # sheet name -> its part in the archive
        parser = WorkbookParser(archive, "xl/workbook.xml")
        parser.parse()
        return {sheet.name: rel.target for sheet, rel in parser.find_sheets() if sheet.name in sheets}

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    results: dict[str, dict[bytes, tuple[str | None, str]]] = {}
    with zipfile.ZipFile(original) as archive:
        for name, part in parts(archive).items():
            found = results[name] = {}
            for _, element in ElementTree.iterparse(archive.open(part)):
                if element.tag == f"{main}c":
                    value = element.find(f"{main}v")
                    if element.find(f"{main}f") is not None and value is not None and value.text is not None:
                        found[element.get("r").encode()] = (element.get("t"), value.text)
                elif element.tag == f"{main}row":
                    element.clear()  # its cells read: memory stays that of one row

    def filled(found: dict[bytes, tuple[str | None, str]]):
        def fill(match: re.Match) -> bytes:
            result = found.get(match["ref"])
            if result is None:
                return match[0]
            kind, value = result
            typed = f' t="{kind}"'.encode() if kind in ("str", "b", "e") else b""
            return (b'<c r="' + match["ref"] + b'"' + match["attrs"] + typed + b">" + match["formula"] + b"<v>" +
                    escape(value).encode() + b"</v></c>")
        return fill

    temporary = edited.with_name(edited.name + ".results")
    try:
        with zipfile.ZipFile(edited) as source, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
            written = {part: name for name, part in parts(source).items()}
            for member in source.infolist():
                data = source.read(member)
                if member.filename in written and results.get(written[member.filename]):
                    data = _NO_RESULT.sub(filled(results[written[member.filename]]), data)
                target.writestr(member, data)
        temporary.replace(edited)
    finally:
        temporary.unlink(missing_ok=True)


#: A formula cell as openpyxl writes it, with its result left empty (it writes no ``t`` for a formula).
_NO_RESULT = re.compile(rb'<c r="(?P<ref>[A-Z]+[0-9]+)"(?P<attrs>[^>]*)>(?P<formula><f(?:\s[^>]*)?(?:/>|>[^<]*</f>))'
                        rb'<v(?:\s*/>|></v>)</c>')


#: An .xlsx input up to this many cells is edited (every style, merge, width and sheet kept as it was);
#: a larger one is copied row by row, values only, so memory stays bounded.
EDIT_MAX_CELLS = 3_000_000
#: ... and inflates to at most this much (openpyxl holds every cell it finds, whatever the sheet declares).
EDIT_MAX_BYTES = 256 * 1024**2

#: Fill of each verdict in the 结论 column (conditional formats: Excel colours the cells, not the writer).
VERDICT_FILLS = {"禁止": "FFC7CE", "限期淘汰": "F4B183", "限制": "FFEB9C", "需核查": "FFE699", "应履行义务": "DDEBF7",
                 "允许": "C6EFCE", "未核查": "EDEDED", "读取失败": "D9D9D9", "检查失败": "D9D9D9"}

#: Rows a workbook writes between looks at whether it is to stop (``_Writer.stop``).
_STOP_EVERY = 1_000

#: Width (characters) of each added column.
_WIDTHS = {"结论": 10, "结论代码": 12, "命中规则": 48, "规则依据": 40, "涉及区域": 36, "重叠比例%": 10,
           "最近保护区域": 24, "最近距离m": 11, "计算量": 24, "需核查原因": 40, "读取提示": 40, "读取错误": 40}


class _Xlsx(_Writer):
    """The officer's workbook: an .xlsx input is edited (its sheets, merged title, styles, widths, frozen panes
    and formats kept) with the verdict columns added beside the original ones, once; any other input is
    written as a new sheet. Added columns get the header's style, widths, verdict colours and a filter."""

    def __init__(self, *args) -> None:
        from openpyxl import Workbook, load_workbook

        super().__init__(*args)
        info = self.source.workbook
        self.cleaned = 0  # cells whose control characters were removed (``_value``)
        self._sheet = None
        self._header_row = info.get("header_row", 1) if info else 1
        self._first_row = info.get("first_row", self._header_row + 1) if info else 2  # of the permits
        self._edit = bool(info) and (self.source.total + self._header_row) * max(len(self.header), 1) <= EDIT_MAX_CELLS \
            and info.get("inflated_bytes", 0) <= EDIT_MAX_BYTES
        self._last_row = self._header_row
        if self._edit:
            self._book = load_workbook(self.source.path, rich_text=True)
            self._sheet = self._book[info["data_sheet"]]
            # beside the last column holding anything (cells right of the header are the officer's too); the
            # cells the sheet has, not its rectangle, which a declared dimension can make a billion cells
            self._first = 1 + max([len(self.header), *(column for (_, column), cell in self._sheet._cells.items()
                                                       if cell.value is not None)])
            # styled as the last header cell that has a style (columns without a header, read too, have none)
            model = next((cell for cell in (self._sheet.cell(row=self._header_row, column=c)
                                            for c in range(len(self.header), 0, -1)) if cell.has_style), None)
            for offset, name in enumerate(self.names()[len(self.header):]):
                cell = self._sheet.cell(row=self._header_row, column=self._first + offset, value=name)
                if model is not None:
                    cell._style = copy.copy(model._style)
                else:
                    cell.font = Font(bold=True)
            return
        self._book = Workbook(write_only=True)
        if info:
            original = load_workbook(self.source.path, read_only=True, data_only=True)
            try:
                for name in info["sheets"]:
                    sheet = self._book.create_sheet(name)
                    if name == info["data_sheet"]:
                        self._sheet = sheet
                        self._style(sheet)
                        _copy_rows(original[name], sheet, self.source.path.name, self._header_row - 1)
                        sheet.append(self._header_cells())
                    else:
                        _copy_rows(original[name], sheet, self.source.path.name)
            finally:
                original.close()
        else:
            self._sheet = self._book.create_sheet("筛查结果")
            self._style(sheet=self._sheet)
            self._sheet.append(self._header_cells())

    def _header_cells(self) -> list:
        from openpyxl.cell import WriteOnlyCell

        cells = []
        for name in self.names():
            cell = WriteOnlyCell(self._sheet)
            _set(cell, name)
            cell.font = Font(bold=True)
            cells.append(cell)
        return cells

    def _style(self, sheet) -> None:
        """Widths and frozen header of a sheet written from scratch (set before its rows, as write-only asks)."""
        from openpyxl.utils import get_column_letter

        for index, name in enumerate(self.names(), start=1):
            sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(name, max(10, 2 * len(str(name))))
        sheet.freeze_panes = f"A{self._header_row + 1}"

    def write(self, chunk, verdicts) -> None:
        columns = [as_list(verdicts[c]) for c in self.verdict_columns]
        if self._edit:
            for i, row in enumerate(chunk.rows):
                if i % _STOP_EVERY == 0 and self.stopping.is_set():
                    return
                for offset, column in enumerate(columns):
                    _set(self._sheet.cell(row=row, column=self._first + offset), self._value(column[i]))
            self._last_row = max(self._last_row, *chunk.rows) if chunk.rows else self._last_row
            return
        for i, row in enumerate(chunk.cells):
            if i % _STOP_EVERY == 0 and self.stopping.is_set():
                return
            self._sheet.append([self._cell(v) for v in row] + [self._cell(c[i]) for c in columns])
            self._last_row += 1

    def abort(self) -> None:
        """Drop the workbook unsaved: saving a large one (to close its row streams) took seconds after Ctrl-C."""
        book, self._book = self._book, None
        for sheet in book.worksheets if book is not None and not self._edit else ():
            sheet.close()  # a write-only sheet's rows stream to a temporary file, removed here
            if sheet._writer is not None:
                sheet._writer.cleanup()
        self.path.unlink(missing_ok=True)

    def _value(self, value: Any) -> Any:
        """``workbook_value``, the cells it changes counted for the summary (the other outputs keep the text)."""
        value = _text(value)
        held = workbook_value(value)
        self.cleaned += held is not value
        return held

    def _cell(self, value: Any) -> Any:
        """A value for a write-only row: text that would start a formula as a string-typed cell."""
        value = self._value(value)
        if not starts_formula(value):
            return value
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self._sheet)
        _set(cell, value)
        return cell

    def _finish(self) -> None:
        """Widths, frozen header, filter and verdict colours of the data sheet."""
        from openpyxl.formatting.rule import CellIsRule
        from openpyxl.styles import PatternFill
        from openpyxl.utils import get_column_letter

        sheet, names = self._sheet, self.names()
        first = self._first if self._edit else len(self.header) + 1  # of the added columns
        last = get_column_letter(first + len(self.verdict_columns) - 1)
        if self._edit:
            for index, name in enumerate(names[len(self.header):], start=first):
                sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(name, 16)
            if sheet.freeze_panes is None:
                sheet.freeze_panes = f"A{self._first_row}"
        first_row = self._first_row if self._edit else self._header_row + 1  # a new sheet has the units in its header
        sheet.auto_filter.ref = f"A{first_row - 1}:{last}{max(self._last_row, first_row)}"
        verdict = get_column_letter(first + self.verdict_columns.index("结论"))
        target = f"{verdict}{first_row}:{verdict}{max(self._last_row, first_row)}"
        for label, colour in VERDICT_FILLS.items():
            sheet.conditional_formatting.add(target, CellIsRule(
                operator="equal", formula=[f'"{label}"'], fill=PatternFill("solid", start_color=colour,
                                                                            end_color=colour)))

    def _release(self) -> None:
        # A write-only workbook holds open row streams per sheet; saving is how openpyxl closes them.
        if self._book is not None:
            with_formulas = [sheet.title for sheet in self._book.worksheets if self._edit and any(
                cell.data_type == "f" for cell in sheet._cells.values())]
            self._book.save(self.path)
            self._book = None
            if with_formulas:
                keep_formula_results(self.source.path, self.path, with_formulas)

    def close(self, summary) -> None:
        self._finish()
        sheet = self._book.create_sheet(_unique_sheet_name("筛查汇总", self._book.sheetnames))
        if self.cleaned:
            summary = [*summary, ("删去的控制字符", f"{self.cleaned} 个单元格含 Excel 不能保存的控制字符（如竖向制表符），已删去；"
                                                f"CSV 等其他输出保留原文 / control characters a workbook cannot hold "
                                                f"removed from {self.cleaned} cells; the other outputs keep them")]
        rows = [["项目", "值"], *([name, value if isinstance(value, (int, float, str)) or value is None
                                    else str(value)] for name, value in summary)]
        if self._edit:
            for number, row in enumerate(rows, start=1):
                for column, value in enumerate(row, start=1):
                    _set(sheet.cell(row=number, column=column), value)
            sheet["A1"].font = sheet["B1"].font = Font(bold=True)
        else:
            for row in rows:
                sheet.append([self._cell(v) for v in row])
        sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 28, 60
        self._release()


def workbook_value(value: Any) -> Any:
    """A value as a workbook can hold it: text without the control characters XML cannot carry (a vertical tab
    pasted from Word, NUL), which openpyxl refuses, failing the whole file; a vertical tab or form feed becomes a
    line break. Anything else is ``value`` itself."""
    if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value):
        return ILLEGAL_CHARACTERS_RE.sub("", value.replace("\x0b", "\n").replace("\x0c", "\n"))
    return value


def _set(cell, value: Any) -> None:
    """Put ``value`` in ``cell``; text that would start a formula stays text (a string-typed cell)."""
    cell.value = value
    if starts_formula(value):
        cell.data_type = "s"


class _GeoJSON(_Writer):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (streamed, closed in _release)
        self._file.write('{"type": "FeatureCollection", "features": [\n')
        self._first = True

    def write(self, chunk, verdicts) -> None:
        frame = self.frame(chunk, verdicts)
        geometries = [None if g is None else shapely.geometry.mapping(g) for g in chunk.geoms]
        for record, geometry in zip(frame.to_dict("records"), geometries):
            feature = {"type": "Feature", "properties": {k: _json(v) for k, v in record.items()},
                       "geometry": geometry}
            self._file.write(("" if self._first else ",\n") + json.dumps(feature, ensure_ascii=False))
            self._first = False

    def close(self, summary) -> None:
        self._file.write("\n]}\n")
        self._file.close()

    def _release(self) -> None:
        self._file.close()


def _json(value: Any) -> Any:
    value = cell_day(_text(value))
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class _Geo(_Writer):
    """Formats written through geopandas: attribute values as text (types vary from row to row in a table)."""

    def geoframe(self, chunk, verdicts):
        import geopandas as gpd

        frame = self.frame(chunk, verdicts)
        for name in frame.columns:
            if name not in ("重叠比例%", "最近距离m"):
                frame[name] = frame[name].map(lambda v: None if _text(v) is None else str(_json(v)))
            else:
                frame[name] = pd.to_numeric(frame[name], errors="coerce")
        return gpd.GeoDataFrame(frame, geometry=list(chunk.geoms), crs="EPSG:4326")


class _Gpkg(_Geo):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self._written = False

    def write(self, chunk, verdicts) -> None:
        import pyogrio

        pyogrio.write_dataframe(self.geoframe(chunk, verdicts), self.path, layer=OWN_LAYERS[0],
                                driver="GPKG", append=self._written, promote_to_multi=False,
                                geometry_type="Unknown")
        self._written = True


class _Parquet(_Geo):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self._writer = None

    def write(self, chunk, verdicts) -> None:
        import pyarrow.parquet as pq

        table = as_table(self.names(), chunk.columns, verdicts, self.verdict_columns, _attribute_text,
                         geoms=chunk.geoms, changes=_kept)
        if self._writer is None:
            self._schema = table.schema
            # The Arrow schema is not stored, so readers take the coded verdict columns (dictionary arrays)
            # as the text they are; the GeoParquet metadata goes in the file's own key-value metadata.
            self._writer = pq.ParquetWriter(self.path, self._schema, store_schema=False)
            self._writer.add_key_value_metadata(geo_metadata())
        self._writer.write_table(table.cast(self._schema))

    def close(self, summary) -> None:
        if self._writer is None:  # no rows: the columns alone
            self.write(SimpleNamespace(cells=[], geoms=np.array([], dtype=object)),
                       {c: [] for c in self.verdict_columns})
        self._release()

    def _release(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def verdict_labels(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(结论, rows) of rows counted by their 结论 (``ScreenReport.verdict_labels``), strictest first, as a summary
    lists them: by the words the rows say (未核查 and 部分未核查 apart), so that a count matches the cells it counts."""
    from gis.batch.verdicts import ERROR_LABEL, FAILED_LABEL
    from gis.rules.evaluate import PARTLY_UNCHECKED
    from gis.rules.model import VERDICT_LABELS, VERDICT_ORDER

    order = [*(VERDICT_LABELS[v] for v in VERDICT_ORDER), PARTLY_UNCHECKED, ERROR_LABEL, FAILED_LABEL]
    return sorted(counts.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


#: Rows per 结论 (a report's ``verdict_labels``) kept in ``verdict_labels``' order, strictest first, however they
#: were counted: the JSON of a report then lists them as the summary and the terminal do, and a page shows them in
#: the object's order without an order of its own.
VerdictLabelCounts = Annotated[dict[str, int], AfterValidator(lambda counts: dict(verdict_labels(counts)))]


def summary_rows(report, input_name: str, assumed: dict[str, Any] | None = None, *,
                 columns: dict[str, str] | None = None, crs: Any = None,
                 encoding: str | None = None) -> list[tuple[str, Any]]:
    """The summary sheet (筛查汇总) of a ``gis.batch.ScreenReport``, in Chinese: the file by its name, the store
    by its display name (never a path), verdicts, layer kinds and rule packs by their Chinese names, the
    batch-wide facts (``assumed``) and the reading options (``option_rows``) the screening was given."""
    from gis.kinds import KINDS
    from gis.rules import default_rule_packs
    from gis.rules.project import FACT_LABELS

    titles = {pack.id: pack.title for pack in default_rule_packs()}
    return [
        ("输入文件", input_name), ("输入行数", report.rows_in), ("输出行数", report.rows_out),
        ("读取失败行数", report.rows_failed), ("图层日期", report.as_of.isoformat()), ("图层库", report.store),
        ("用时（秒，至写出汇总）", report.seconds),
        *((f"结论：{label}", rows) for label, rows in verdict_labels(report.verdict_labels)),
        *((ASSUMED_PREFIX + FACT_LABELS.get(name, name), fact_text(value)) for name, value in (assumed or {}).items()),
        *option_rows(columns, crs, encoding),
        *((f"图层版本：{KINDS[kind].label_zh if kind in KINDS else kind}", version)
          for kind, version in report.layer_versions.items()),
        *((f"规则包：{titles.get(pack, pack)}", version) for pack, version in report.rule_packs.items()),
    ]


def option_rows(columns: dict[str, str] | None, crs: Any = None, encoding: str | None = None) -> list[tuple[str, str]]:
    """The summary's rows of a screening's reading options (``COLUMN_PREFIX``): each mapped column under its
    field's Chinese name and ``--column`` name (列对应：经度（lon） → 东经), or 列对应 → 无 (always written, so that
    a summary says none was mapped); the CRS as given (EPSG:4538) and the encoding, when given."""
    from gis.batch.inputs import FIELD_LABELS

    rows = [(f"{COLUMN_PREFIX}{FIELD_LABELS.get(field, field)}（{field}）", str(column))
            for field, column in (columns or {}).items()] or [_NO_MAPPING]
    if crs is not None:
        rows.append((CRS_LABEL, crs_text(crs)))
    if encoding:
        rows.append((ENCODING_LABEL, encoding.strip()))
    return rows


def crs_text(crs: Any) -> str:
    """A CRS as the user gave it (EPSG:4538, stripped), or given as an object (a pyproj ``CRS``) as text that reads
    back as the same CRS."""
    if isinstance(crs, str):
        return crs.strip()
    from pyproj import CRS

    return CRS.from_user_input(crs).to_string()


def recorded_options(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The reading options a summary (label -> value, as ``option_rows`` wrote them) records: ``columns``
    (field -> column, empty when none was mapped), and ``crs`` and ``encoding`` when given. None for a summary
    that records none (written before ecozone recorded them): the options are then not known."""
    columns, recorded = {}, False
    for label, value in summary.items():
        label = str(label)
        mapped = _MAPPED.fullmatch(label)
        if mapped and value is not None:
            columns[mapped[1]] = str(value)
        recorded = recorded or bool(mapped) or label == _NO_MAPPING[0]
    if not recorded:
        return None
    options: dict[str, Any] = {"columns": columns}
    for key, label in (("crs", CRS_LABEL), ("encoding", ENCODING_LABEL)):
        if summary.get(label) not in (None, ""):
            options[key] = str(summary[label]).strip()
    return options


def fact_text(value: Any) -> str:
    """A batch-wide fact as an officer reads it (existing → 现有), which ``read_project`` reads as the same fact."""
    words = {"existing": "现有", "new": "新建（新、改、扩建）", True: "是", False: "否"}
    value = getattr(value, "value", value)
    return words.get(value, str(value)) if isinstance(value, (str, bool)) else str(value)


def _attribute_text(value: Any) -> str | None:
    """An attribute value as the GIS formats hold it: text (dates in ISO 8601), None when empty."""
    return None if _text(value) is None else str(_json(value))


def _unique_sheet_name(name: str, taken: list[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}{number}", number + 1
    return candidate
