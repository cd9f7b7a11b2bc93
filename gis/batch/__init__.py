"""Batch screening (批量筛查): a file of sites in, the same rows out with verdict columns added.

``screen_file`` reads the input in chunks (``gis.batch.inputs``), screens each chunk with the vectorised
engine (``gis.batch.spatial``, ``gis.batch.verdicts``) on this machine or on a Dask cluster
(``gis.batch.distributed``), and streams the rows to every output (``gis.batch.outputs``). Every input row
comes out exactly once, in order: a row that cannot be read keeps its cells, gets 结论 = 读取失败 and the
reason in 读取错误, and the batch goes on. The verdict of every row equals what ``gis.check.check_site``
gives for that site and project. A register's county column (所在县市 ...) is no fact of the rules: a row
whose county names an administrative unit its site does not lie in is told so in 读取提示
(``gis.batch.county``), the commonest sign of wrong coordinates; its verdict is the same.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from itertools import chain
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pydantic import BaseModel, Field

from gis.batch.collector import fewer_collections
from gis.batch.county import AdminUnits
from gis.forked import can_fork
from gis.batch.inputs import FIELDS, INPUT_SUFFIXES, open_input
from gis.batch.outputs import OUTPUT_SUFFIXES, VerdictLabelCounts, open_writer, summary_rows
from gis.batch.spatial import BatchEngine
from gis.batch.screening import ChunkScreener
from gis.batch.verdicts import COLUMNS, ERROR_CODE, ERROR_LABEL
from gis.check import covered_area
from gis.errors import CancelledError, EcozoneError
from gis.rules import default_rule_packs
from gis.store import Store, open_store
from gis.store.base import iso_day

__all__ = ["COLUMNS", "FIELDS", "INPUT_SUFFIXES", "OUTPUT_SUFFIXES", "ScreenReport", "screen_file",
           "watched_chunk_rows"]

#: A batch's first rows, up to this many, have their points checked one by one (``Screener``'s ``by_row_upto``):
#: fewer checks (about 1 ms each) than the batch engine's grid costs to make (0.7 s on the embedded dataset, 3 s
#: on a red line of 20,000 patches). A register of a few hundred rows never needs the grid.
_FEW_ROWS = 1_000
#: A register of at most this many rows (as the file declares them) is read before it is screened, so that only
#: the zones within reach of its sites are prepared (``BatchEngine.for_area``): memory of one default chunk.
_AREA_ROWS = 100_000
#: At most this many processes are forked for the exact checks of many places: each copies the part of this
#: process it touches (330 MB each on a red line of 20,000 patches), and thousands of checks need no more.
_CHECK_PROCESSES = 8


def watched_chunk_rows(input_bytes: int) -> int:
    """Rows per chunk of a batch whose progress and cancel someone watches (a job, a re-screening), from the
    input's size: 500 rows for a small file, about a thousandth of its bytes for a large one (ten to twenty
    chunks of a CSV), at most 20,000. Every chunk costs a fixed share: 100,000 rows took 12.9 s in chunks of 500
    and 3.3 s in chunks of 12,700."""
    return max(500, min(20_000, input_bytes // 1_000))


class ScreenReport(BaseModel):
    """What a batch screening did: rows in and out, verdicts, outputs, and the data it used."""

    rows_in: int = Field(description="Data rows read from the input (blank rows are not rows).")
    rows_out: int = Field(description="Rows written to each output; always equal to rows_in.")
    rows_failed: int = Field(description="Rows that could not be read or checked (结论代码 = error, reason in 读取错误).")
    rows_exact: int = Field(description="Rows checked one by one with the per-site engine, not in a group.")
    verdict_counts: dict[str, int] = Field(description="Rows per verdict code (结论代码), 'error' for unread rows.")
    verdict_labels: VerdictLabelCounts = Field(default_factory=dict, description="Rows per 结论 as the rows say it "
                                               "(未核查 and 部分未核查, 读取失败 and 检查失败 apart), strictest first: "
                                               "what a summary shows, in its order.")
    outputs: list[str]
    seconds: float = Field(description="Wall time of the whole screening, the outputs finished (the summaries they "
                                       "hold give the time up to their writing).")
    as_of: dt.date
    store: str
    layer_versions: dict[str, int] = Field(description="Layer version used, by kind.")
    rule_packs: dict[str, str] = Field(description="Rule pack id -> version.")
    columns: dict[str, str] = Field(default_factory=lambda: dict(COLUMNS), description="The verdict columns.")


def screen_file(
    input_path: str | PathLike,
    output_paths: str | PathLike | Sequence[str | PathLike],
    *,
    store: Store | str | PathLike | None = None,
    as_of: dt.date | str | None = None,
    workers: int | None = None,
    columns: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    dask_address: str | None = None,
    chunk_rows: int = 100_000,
    defaults: dict[str, Any] | None = None,
    encoding: str | None = None,
    row_numbers: Callable[[list[int]], None] | None = None,
    crs: Any = None,
) -> ScreenReport:
    """Screen every row of ``input_path`` and write the rows with verdict columns to each output.

    Parameters
    ----------
    input_path
        .xlsx, .csv (UTF-8 or GBK), .gpkg, .shp, .geojson or .parquet (GeoParquet).
    output_paths
        One path or several; the same rows go to each, the format by suffix (``OUTPUT_SUFFIXES``).
    store
        An open store, or its location; default the embedded dataset.
    as_of
        Date whose layers and rules are in force; default today.
    workers
        Threads, and processes forked for the exact checks of many places (from a main thread, where the system
        forks); or the worker processes of a local Dask cluster. Default the number of CPU cores.
    columns
        ``{field: input column}`` for headers ecozone does not recognise; fields are those of ``FIELDS``.
    progress
        Called as ``progress(done_rows, total_rows)`` once the input is open (0 done), after each chunk is read,
        screened and written, and once more when every output is finished (total is an estimate until then).
    cancel
        Called before each chunk; returning True stops the screening with ``CancelledError``.
    dask_address
        Screen on a Dask cluster: a scheduler address, or ``"local"`` to start worker processes on this machine
        (a script that does so needs Python's ``if __name__ == "__main__":`` guard, as for any new process).
    chunk_rows
        Rows per chunk: memory grows with it, not with the input.
    defaults
        Facts of every row that does not give them, e.g. ``{"scope": "existing"}`` for a register of existing
        works (each row says what it assumed, as ``read_project`` does).
    encoding
        The text encoding of a CSV or of a shapefile's .dbf when it is neither UTF-8 nor GBK (UTF-16, Big5 ...);
        by default UTF-8 or GBK is told from the file.
    row_numbers
        Called with each chunk's row numbers as a person sees them, in the order its rows go to the outputs: the
        worksheet row of an .xlsx, the row of a CSV as a spreadsheet opens it (the header is 1, blank lines count,
        a cell over two lines is one row), the feature number of a GIS file; the numbers the rows' errors cite.
        For a caller that reads an output back and must point at the input's rows (``gis.rescreen``).
    crs
        The CRS of every row (an EPSG code such as ``"EPSG:4538"``, PROJ or WKT), overriding what the file says, as
        ``read_site``'s ``crs`` does: a GIS file's features (each row says when the file declared another), a
        table's X/Y (a Gauss-Krüger register without 带号), its WKT, or its lon/lat (a geographic CRS only).

    Returns
    -------
    ScreenReport

    Raises
    ------
    InputError
        The input cannot be opened, or has no location columns (the message says which columns to add), or
        ``crs`` is unknown or contradicts the columns (lon/lat in a projected CRS, a 带号 column).
    CancelledError
        ``cancel()`` returned True; outputs written so far are incomplete and removed.
    """
    started = time.perf_counter()
    if not isinstance(store, Store):
        store = open_store(store)
    day = dt.date.fromisoformat(iso_day(as_of))
    packs = default_rule_packs()
    outputs = [Path(p) for p in ([output_paths] if isinstance(output_paths, (str, PathLike)) else output_paths)]
    source = open_input(input_path, columns=columns, chunk_rows=chunk_rows, encoding=encoding,
                        coverage=covered_area(store), crs=crs)
    register = {"defaults": defaults, "multipliers": source.multipliers, "source": source.path.name}
    chunks = source.chunks
    if dask_address is None:
        # A register of at most _AREA_ROWS rows (most are) is read before it is screened, and screened with the
        # zones of its own area only; a longer one has the whole store's grid made while its first chunk is read.
        ahead, whole = ([], False)
        if source.total <= _AREA_ROWS:
            ahead, whole = _read_ahead(chunks, _AREA_ROWS, cancel, source.path.name)
        chunks = chain(ahead, chunks)
        area = _sites_area([chunk.geoms for chunk in ahead]) if whole else None
        batch = (BatchEngine.for_store(store, day.isoformat(), packs) if area is None
                 else BatchEngine.for_area(store, day.isoformat(), packs, area))
        batch.workers = workers
        versions = batch.engine.snapshot.versions  # what the engine holds
        processes = min(workers or os.cpu_count() or 1, _CHECK_PROCESSES) if can_fork() else 0
        units = AdminUnits.of_store(store, day) if "county" in source.fields else None
        screener = ChunkScreener(batch, packs, day, by_row_upto=_FEW_ROWS, processes=processes, units=units,
                                 **register)
    else:  # the workers prepare the engine: this machine reads and writes
        from gis.batch.distributed import DaskScreener

        versions = store.in_force(day)
        screener = DaskScreener(dask_address, store.open_location, day, workers, by_row_upto=_FEW_ROWS,
                                county="county" in source.fields, **register)
    try:
        writers = [open_writer(path, source, list(COLUMNS)) for path in outputs]
    except BaseException:
        screener.close()
        raise
    counts: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    rows_in = rows_out = failed = 0
    if progress is not None:  # reading has begun: the rows to come, as far as the file says
        progress(0, source.total)
    # A chunk is written in a thread of its own while the next one is screened: the Arrow writers spend their
    # time in C++, off the interpreter lock. One chunk at most is in writing; the writers are that thread's
    # until its write is done. On a cluster, the next chunk is read while the workers screen this one. Before
    # the first write, a register too long to be checked row by row has that thread make the engine's grid
    # while this one reads the first chunk and its facts (0.9 s of 12 on a million rows; seconds on a real layer).
    writing = ThreadPoolExecutor(1, thread_name_prefix="ecozone-write")
    if dask_address is None and source.total > _FEW_ROWS:
        writing.submit(batch.prepare_grid)
    pending: tuple[Future, int] | None = None  # the write under way, and the rows done when it is
    screening: deque[tuple[Any, Any]] = deque()  # chunks sent to be screened, with their screening
    ahead = 0 if dask_address is None else 1  # chunks left screening while the next is read

    def finish(chunk, sent) -> None:
        nonlocal rows_in, rows_out, failed, pending
        verdicts = sent.result()
        read = np.array([e is None for e in chunk.errors], dtype=bool)
        said = verdicts["读取提示"]  # of the facts, per class; what the site reader noticed comes first
        for row in [i for i, notice in enumerate(chunk.notices) if notice]:
            said.put(row, "；".join(filter(None, (chunk.notices[row], said[row]))))
        verdicts["读取错误"] = [e or v for e, v in zip(chunk.errors, verdicts["读取错误"])]
        verdicts["结论"].put(np.flatnonzero(~read), ERROR_LABEL)
        verdicts["结论代码"].put(np.flatnonzero(~read), ERROR_CODE)
        rows_in += len(chunk)
        rows_out += len(verdicts["结论"])
        if row_numbers is not None:
            row_numbers(chunk.rows)
        by_code = verdicts["结论代码"].counts()
        failed += by_code.get(ERROR_CODE, 0)
        counts.update(by_code)
        labels.update(verdicts["结论"].counts())
        if pending is not None:
            _written(*pending, progress, source.total)
        pending = writing.submit(_write_chunk, writers, chunk, verdicts), rows_in

    with fewer_collections():
        try:
            for chunk in chunks:
                if cancel is not None and cancel():
                    raise CancelledError(f"筛查已在处理 {rows_in} 行后取消 / screening cancelled after {rows_in} rows",
                                         source=Path(input_path).name)
                screening.append((chunk, screener.submit(chunk.geoms, chunk.facts, chunk.county)))
                while len(screening) > ahead:
                    finish(*screening.popleft())
            while screening:
                finish(*screening.popleft())
            if pending is not None:
                _written(*pending, progress, source.total)
            if rows_out != rows_in:  # by construction; a failure here is a bug, never a silent loss
                raise EcozoneError(f"读入 {rows_in} 行，写出 {rows_out} 行，两者不符 / {rows_in} rows read but {rows_out} "
                                   "written", source=Path(input_path).name)
            report = ScreenReport(
                rows_in=rows_in, rows_out=rows_out, rows_failed=failed,
                rows_exact=screener.rows_exact,
                verdict_counts=dict(counts), verdict_labels=dict(labels), outputs=[str(p) for p in outputs],
                seconds=round(time.perf_counter() - started, 3), as_of=day, store=store.name,
                layer_versions={k: v.version for k, v in versions.items()},
                rule_packs={p.id: p.version for p in packs},
            )
            summary = summary_rows(report, Path(input_path).name, defaults, columns=columns, crs=crs,
                                   encoding=encoding)
            for writer in writers:
                writer.close(summary)
            for writer in writers:  # all or none: each was written beside its path
                writer.commit()
            if progress is not None:  # only now is every output written
                progress(rows_in, rows_in)
            # the summaries give the time to their writing; the caller, the whole time
            return report.model_copy(update={"seconds": round(time.perf_counter() - started, 3)})
        except BaseException:
            if pending is not None:
                for writer in writers:
                    writer.stop()
                wait([pending[0]])
            for writer in writers:
                writer.abort()
            raise
        finally:
            writing.shutdown()
            screener.close()


def _read_ahead(chunks, rows: int, cancel: Callable[[], bool] | None, source: str) -> tuple[list, bool]:
    """The chunks of the first ``rows`` rows and more (up to the chunk past them), and whether that is all."""
    ahead, count = [], 0
    for chunk in chunks:
        ahead.append(chunk)
        count += len(chunk)
        if cancel is not None and cancel():
            raise CancelledError(f"筛查已在读取 {count} 行后取消 / screening cancelled after reading {count} rows",
                                 source=source)
        if count > rows:
            return ahead, False
    return ahead, True


def _sites_area(geoms: list[np.ndarray]) -> tuple[float, float, float, float] | None:
    """The box (lon/lat) around the sites read (of each chunk), None when none was."""
    bounds = shapely.total_bounds(np.concatenate(geoms)) if geoms else np.full(4, np.nan)  # None, empty: left out
    return None if np.isnan(bounds).any() else tuple(float(b) for b in bounds)


def _write_chunk(writers: list, chunk, verdicts: dict) -> None:
    """Write one screened chunk to every output (in the writing thread)."""
    for writer in writers:
        writer.write(chunk, verdicts)


def _written(write: Future, rows: int, progress: Callable[[int, int], None] | None, total: int) -> None:
    """Wait for a chunk's write (raising what it raised), then say the rows done."""
    write.result()
    if progress is not None:
        progress(rows, max(total, rows))
