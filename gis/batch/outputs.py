"""Writing screened chunks: the input's columns as they were, then the verdict columns, row for row.

Every writer streams: a chunk is written as soon as it is screened, so memory stays bounded whatever the
input size. Formats by suffix: .xlsx (openpyxl write-only: every sheet of an .xlsx input is copied in order,
the data sheet gets the verdict columns, and a 筛查汇总 sheet is added), .csv (UTF-8 with BOM, so Excel
opens Chinese text), .geojson (RFC 7946, WGS 84), .gpkg and .parquet (GeoParquet), all with the site
geometry in WGS 84 lon/lat (empty for rows that could not be read).
"""

from __future__ import annotations

import datetime as dt
import json
from itertools import islice
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gis.batch.columnar import as_table, geo_metadata
from gis.errors import FormatError
from gis.sites.limits import MAX_COLUMNS
from gis.sites.tables import sheet_rows

__all__ = ["OUTPUT_SUFFIXES", "open_writer"]

OUTPUT_SUFFIXES = (".xlsx", ".csv", ".geojson", ".gpkg", ".parquet")


def open_writer(path: str | Path, source, verdict_columns: list[str]):
    """A writer for ``path`` by its suffix; ``source`` is the opened input (``gis.batch.inputs.Input``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    writers = {".xlsx": _Xlsx, ".csv": _Csv, ".geojson": _GeoJSON, ".gpkg": _Gpkg, ".parquet": _Parquet}
    if suffix not in writers:
        raise FormatError(f"ecozone does not write {suffix or 'files without a suffix'}", source=str(path),
                          value=suffix, fix=f"use one of {', '.join(OUTPUT_SUFFIXES)}")
    if path.resolve() == Path(source.path).resolve():
        raise FormatError("the output would overwrite the input", source=str(path),
                          fix="give another output path; the input is never changed")
    path.parent.mkdir(parents=True, exist_ok=True)
    return writers[suffix](path, source, verdict_columns)


def _text(value: Any) -> Any:
    """A value for a text format: None stays empty, numbers stay numbers."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


class _Writer:
    def __init__(self, path: Path, source, verdict_columns: list[str]) -> None:
        self.path = path
        self.source = source
        self.header = list(source.header)
        self.verdict_columns = verdict_columns

    def names(self) -> list[str]:
        """Output column names: the input's, then ours (ours get a suffix if the input already used the name)."""
        names = list(self.header)
        for column in self.verdict_columns:
            name = column
            while name in names:
                name += "_ecozone"
            names.append(name)
        return names

    def frame(self, chunk, verdicts: dict[str, list]) -> pd.DataFrame:
        columns = self.names()
        data = [list(row) + [None] * (len(self.header) - len(row)) for row in chunk.cells]
        frame = pd.DataFrame(data, columns=columns[: len(self.header)], dtype=object)
        for name, column in zip(columns[len(self.header):], self.verdict_columns):
            frame[name] = pd.Series(verdicts[column], dtype=object)
        return frame

    def close(self, summary: list[tuple[str, Any]]) -> None:
        """Finish the file; formats with room for it keep the summary."""
        self._release()

    def abort(self) -> None:
        """Remove a partly written output: a cancelled or failed screening leaves no half file."""
        self._release()
        self.path.unlink(missing_ok=True)

    def _release(self) -> None:
        """Close what the writer holds open."""


class _Csv(_Writer):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self._file = open(self.path, "wb")  # noqa: SIM115 (streamed, closed in _release)
        self._file.write("\ufeff".encode())  # the BOM: Excel then opens the UTF-8 text as such
        self._csv = None

    def write(self, chunk, verdicts) -> None:
        import pyarrow.csv as pacsv

        table = as_table(self.names(), len(self.header), chunk.cells, verdicts, self.verdict_columns, _csv_text,
                         numbers=False)
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


def _csv_text(value: Any) -> str | None:
    """A cell as ``csv.writer`` writes it (None and NaN empty, numbers as Python prints them)."""
    value = _text(value)
    return None if value is None else str(value)


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


class _Xlsx(_Writer):
    def __init__(self, *args) -> None:
        from openpyxl import Workbook, load_workbook

        super().__init__(*args)
        self._book = Workbook(write_only=True)
        info = self.source.workbook
        self._sheet = None
        if info:
            original = load_workbook(self.source.path, read_only=True, data_only=True)
            try:
                for name in info["sheets"]:
                    sheet = self._book.create_sheet(name)
                    if name == info["data_sheet"]:
                        self._sheet = sheet
                        _copy_rows(original[name], sheet, self.source.path.name, info["header_row"] - 1)
                        sheet.append(self.names())
                    else:
                        _copy_rows(original[name], sheet, self.source.path.name)
            finally:
                original.close()
        else:
            self._sheet = self._book.create_sheet("筛查结果")
            self._sheet.append(self.names())

    def write(self, chunk, verdicts) -> None:
        columns = [verdicts[c] for c in self.verdict_columns]
        for i, row in enumerate(chunk.cells):
            self._sheet.append([_text(v) for v in row] + [_text(c[i]) for c in columns])

    def _release(self) -> None:
        # A write-only workbook holds open row streams per sheet; saving is how openpyxl closes them.
        if self._book is not None:
            self._book.save(self.path)
            self._book = None

    def close(self, summary) -> None:
        sheet = self._book.create_sheet(_unique_sheet_name("筛查汇总", self._book.sheetnames))
        sheet.append(["项目 / item", "值 / value"])
        for name, value in summary:
            sheet.append([name, value if isinstance(value, (int, float, str)) or value is None else str(value)])
        self._release()


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
    value = _text(value)
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
        if self.path.exists():
            self.path.unlink()

    def write(self, chunk, verdicts) -> None:
        import pyogrio

        pyogrio.write_dataframe(self.geoframe(chunk, verdicts), self.path, layer="screening",
                                driver="GPKG", append=self._written, promote_to_multi=False,
                                geometry_type="Unknown")
        self._written = True


class _Parquet(_Geo):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self._writer = None

    def write(self, chunk, verdicts) -> None:
        import pyarrow.parquet as pq

        table = as_table(self.names(), len(self.header), chunk.cells, verdicts, self.verdict_columns,
                         _attribute_text, geoms=chunk.geoms)
        if self._writer is None:
            self._schema = table.schema.with_metadata(geo_metadata())
            self._writer = pq.ParquetWriter(self.path, self._schema)
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


def _attribute_text(value: Any) -> str | None:
    """An attribute value as the GIS formats hold it: text (dates in ISO 8601), None when empty."""
    return None if _text(value) is None else str(_json(value))


def _unique_sheet_name(name: str, taken: list[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}{number}", number + 1
    return candidate
