"""Screened chunks as Arrow tables: the writers of CSV and GeoParquet write whole columns, not rows.

A chunk's input cells come by column (``Chunk.columns``: lists, or Arrow text and numbers when Arrow read the
file), and each column is turned into text by its distinct values (a register repeats its industries, dates and
scopes on every row), so the work grows with the distinct values, not with the rows. Arrow text is taken as it
is. The verdict columns are already built by category (``gis.batch.verdicts``). The text of a value is what the
row writers wrote: ``csv_text`` for CSV (what ``csv.writer`` writes), ``attribute_text`` for GeoParquet.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS

__all__ = ["NUMERIC_COLUMNS", "CodedText", "as_list", "as_table", "geo_metadata", "input_columns", "text_column",
           "use_system_memory_pool", "wkb_column"]

def use_system_memory_pool() -> None:
    """Have Arrow take its memory from the system's allocator (malloc) in this process, as ecozone's command
    line, server, jobs and Dask workers do; a program calling ``screen_file`` may do so too.

    Arrow's default pool (mimalloc) asks the kernel for transparent huge pages over its whole reservation and
    gives memory back 64 kB at a time: a batch that makes and drops gigabytes of columns then spends its time
    zeroing 2 MB pages. A million-row register took 15.5 s, 8.7 s of it in the kernel; 9.8 s with malloc, 1.1 s
    in the kernel, and less memory at its peak (``benchmarks/screen_file_bench.py``)."""
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


#: Verdict columns written as numbers; every other column is text.
NUMERIC_COLUMNS = ("重叠比例%", "最近距离m")


class CodedText:
    """A column of texts held as one code per row into its distinct texts (-1: None).

    A verdict column repeats a few thousand long texts on a million rows (需核查原因 averages over 1 kB a row):
    held by code, each text is made once, and the Arrow writers take the column as a dictionary array, so
    Parquet writes each text once per row group instead of copying and re-hashing it for every row."""

    def __init__(self, rows: int) -> None:
        self.codes = np.full(rows, -1, dtype=np.int32)
        self.texts: list[str] = []
        self._code_of: dict[str, int] = {}

    @classmethod
    def of(cls, values: Sequence[str | None]) -> CodedText:
        """The column of a list of texts (None or NaN: no text)."""
        column = cls(len(values))
        codes, uniques = pd.factorize(pd.Series(values, dtype=object))
        column.put(np.arange(len(values)), list(uniques), codes)
        return column

    def code(self, text: str | None) -> int:
        """The code of ``text``, added to the distinct texts if new."""
        if text is None:
            return -1
        code = self._code_of.get(text)
        if code is None:
            code = self._code_of[text] = len(self.texts)
            self.texts.append(text)
        return code

    def put(self, rows: np.ndarray | Sequence[int], texts: str | None | Sequence[str | None],
            which: np.ndarray | None = None) -> None:
        """Set ``rows`` to one text, or each row ``i`` to ``texts[which[i]]`` (``which`` -1: None)."""
        if which is None:
            self.codes[rows] = self.code(texts)
            return
        codes = [*map(self._code_of.get, texts), -1]
        for i in [i for i, code in enumerate(codes) if code is None]:
            codes[i] = self.code(texts[i])
        self.codes[rows] = np.array(codes, dtype=np.int32)[which]

    def tolist(self) -> list[str | None]:
        """The texts row by row."""
        return np.array([*self.texts, None], dtype=object)[self.codes].tolist()

    def counts(self) -> dict[str | None, int]:
        """Rows per text (None: rows without one)."""
        counted = np.bincount(self.codes + 1, minlength=len(self.texts) + 1)
        return {text: int(n) for text, n in zip([None, *self.texts], counted.tolist()) if n}

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, row: int) -> str | None:
        code = self.codes[row]
        return None if code < 0 else self.texts[code]


def as_list(values: CodedText | Sequence[Any]) -> list[Any]:
    """A verdict column as a list of values, row by row, whichever way it is held."""
    return values.tolist() if isinstance(values, CodedText) else list(values)


def input_columns(cells: list[list[Any]], width: int) -> list[list[Any]]:
    """The chunk's cells as ``width`` columns (short rows padded with None)."""
    if not cells:
        return [[] for _ in range(width)]
    if any(len(row) != width for row in cells):
        cells = [list(row[:width]) + [None] * (width - len(row)) for row in cells]
    return [list(column) for column in zip(*cells)]


def text_column(values: Sequence[Any], text: Callable[[Any], str | None],
                changes: Callable[[pa.Array], pa.Array] | None = None) -> pa.Array:
    """A column of values as an Arrow string array, ``text(value)`` once per distinct value.

    Values of one type (and None) are told apart by ``pd.factorize`` and the rows take their distinct texts in
    Arrow. When ``text`` keeps a string as it is except where ``changes(strings)`` (a boolean array) says, a
    column of strings goes to Arrow as it is and only those strings go through ``text`` (a register's names and
    coordinates are distinct on every row; the verdict columns that repeat texts are ``CodedText``). A column mixing types (1 and True hash alike) is
    converted value by value. A column of Arrow text (a file Arrow read) stays Arrow text: only the strings
    ``changes`` picks go through ``text``; Arrow numbers go through ``text`` once per distinct value. A
    ``CodedText`` becomes a dictionary array of its texts."""
    if isinstance(values, CodedText):  # its texts are distinct already: no need to tell them apart again
        strings = changes is not None and all(isinstance(t, str) for t in values.texts)
        texts = (_with_changes(pa.array(values.texts, type=pa.string()), text, changes) if strings
                 else text_column(values.texts, text, changes))
        return pa.DictionaryArray.from_arrays(pa.array(values.codes, mask=values.codes < 0), texts)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        texts = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):  # Arrow numbers
            encoded = pc.dictionary_encode(texts)
            return pa.array([text(v) for v in encoded.dictionary.to_pylist()], type=pa.string()).take(encoded.indices)
        texts = texts.cast(pa.string())
        if changes is None:
            return pa.array([text(v) for v in texts.to_pylist()], type=pa.string())
        return _with_changes(texts, text, changes)
    types = set(map(type, values))
    types.discard(type(None))
    if len(types) > 1:
        return pa.array([text(v) for v in values], type=pa.string())
    if changes is not None and types <= {str}:  # Arrow takes them as they are, but for those ``changes`` picks
        return _with_changes(pa.array(values, type=pa.string()), text, changes)
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    texts = pa.array([text(u) for u in uniques], type=pa.string())
    return texts.take(pa.array(codes)) if len(codes) else pa.array([], type=pa.string())


def _with_changes(texts: pa.Array, text: Callable[[Any], str | None],
                  changes: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Arrow text as it is, but for the strings ``changes`` picks, which go through ``text``."""
    changed = np.flatnonzero(changes(texts).fill_null(False).to_numpy(zero_copy_only=False))
    if not len(changed):
        return texts
    mask = np.zeros(len(texts), dtype=bool)
    mask[changed] = True
    return pc.replace_with_mask(texts, pa.array(mask),
                                pa.array([text(texts[int(i)].as_py()) for i in changed], type=pa.string()))


def as_table(names: list[str], columns: list[list[Any]], verdicts: dict[str, list],
             verdict_columns: list[str], text: Callable[[Any], str | None], *, numbers: bool = True,
             geoms: np.ndarray | None = None, changes: Callable[[pa.Array], pa.Array] | None = None) -> pa.Table:
    """The chunk as a table named ``names``: the input's ``columns`` (``Chunk.columns``), then the verdict
    columns (``NUMERIC_COLUMNS`` as numbers when ``numbers``, else as text), then the geometry as WKB when
    ``geoms`` is given (None where a row was not read). ``changes``: as ``text_column`` takes it."""
    arrays = [text_column(column, text, changes) for column in columns]
    for column in verdict_columns:
        values = verdicts[column]
        if numbers and column in NUMERIC_COLUMNS:
            arrays.append(pa.array(np.asarray(values, dtype=float), type=pa.float64(), from_pandas=True))
        else:
            arrays.append(text_column(values, text, changes))
    fields = list(names)
    if geoms is not None:
        arrays.append(wkb_column(np.asarray(geoms, dtype=object)))
        fields.append("geometry")
    return pa.Table.from_arrays(arrays, names=fields)


#: WKB of a two-dimensional point: byte order (1, little-endian), type (1), x, y.
_POINT_WKB = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def wkb_column(geoms: np.ndarray) -> pa.Array:
    """The WKB of each geometry as an Arrow binary column (null where None), byte for byte what
    ``shapely.to_wkb`` writes on a little-endian machine (every machine ecozone runs on). The two-dimensional
    points most registers hold are written straight from their coordinates: a Python bytes object per row cost
    0.4 s per million rows of the writing thread's hold on the interpreter lock."""
    types = shapely.get_type_id(geoms)
    points = (types == shapely.GeometryType.POINT) & ~shapely.has_z(geoms) & ~shapely.is_empty(geoms)
    others = np.flatnonzero((types >= 0) & ~points)
    written = shapely.to_wkb(geoms[others]) if len(others) else np.empty(0, dtype=object)
    lengths = np.zeros(len(geoms), dtype=np.int64)
    lengths[points] = _POINT_WKB.itemsize
    lengths[others] = [len(wkb) for wkb in written]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    if offsets[-1] >= 2**31:  # past the offsets of one binary array: Arrow splits the column itself
        return pa.array(shapely.to_wkb(geoms), type=pa.binary())
    data = np.empty(offsets[-1], dtype=np.uint8)
    xy = shapely.get_coordinates(geoms[points])
    record = np.empty(len(xy), dtype=_POINT_WKB)
    record["order"], record["type"], record["x"], record["y"] = 1, 1, xy[:, 0], xy[:, 1]
    at = offsets[:-1][points]
    data[(at[:, None] + np.arange(_POINT_WKB.itemsize)).ravel()] = record.view(np.uint8)
    if len(others):
        joined = np.frombuffer(b"".join(written), dtype=np.uint8)
        starts = np.concatenate([[0], np.cumsum(lengths[others])[:-1]])
        data[np.arange(len(joined)) + np.repeat(offsets[others] - starts, lengths[others])] = joined
    valid = pa.array(types >= 0)
    return pa.Array.from_buffers(pa.binary(), len(geoms), [
        valid.buffers()[1] if valid.false_count else None, pa.py_buffer(offsets.astype(np.int32)),
        pa.py_buffer(data)], null_count=valid.false_count)


def geo_metadata(crs: str = "EPSG:4326") -> dict[bytes, bytes]:
    """The GeoParquet 1.0 metadata of a table whose ``geometry`` column holds WKB in ``crs``."""
    geo = {"version": "1.0.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "WKB", "geometry_types": [],
                                    "crs": CRS.from_user_input(crs).to_json_dict()}}}
    return {b"geo": json.dumps(geo).encode()}
