"""``ecozone screen INPUT -o OUTPUT``: batch screening of a table or vector file of sites (批量筛查)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from api.cli_check import name_fact_option, option_of, read_fact_options, with_fact_options
from api.cli_options import ColumnOption, CrsOption, StoreOption, batch_input, column_mapping, open_cli_store
from gis.batch import COLUMNS, screen_file, watched_chunk_rows
from gis.errors import EcozoneError, InputError
from gis.batch.outputs import verdict_labels

__all__ = ["screen"]


def _chunk_rows(path: Path) -> int:
    """Rows per chunk for a terminal: some ten chunks of a file (the bar moves, and a chunk's time tells the time
    left), never fewer rows than a watched job's (``watched_chunk_rows``) nor more than the library's 100,000."""
    size = path.stat().st_size if path.is_file() else 0
    return min(100_000, max(watched_chunk_rows(size), size // 1_300))


def _screen(
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help="Sites: .xlsx, .csv, .gpkg, .shp (or zipped), "
                                                                  ".geojson, .parquet.")],
    output: Annotated[list[str], typer.Option("--output", "-o", help="Output file(s): .xlsx, .csv, .geojson, .gpkg, .parquet.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Layers and rules in force on this date (YYYY-MM-DD).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Threads, and processes for the exact checks of many places (or the worker processes of --dask local); default all cores.")] = None,
    column: ColumnOption = None,
    dask: Annotated[str | None, typer.Option("--dask", "--dask-address", help="Dask scheduler address (tcp://host:8786), or 'local' for worker processes on this machine.")] = None,
    store: StoreOption = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding of a CSV or a shapefile's .dbf "
                                                                   "that is neither UTF-8 nor GBK (e.g. utf-16).")] = None,
    crs: CrsOption = None,
    patches: Annotated[bool, typer.Option("--patches", help="Remote-sensing patches (图斑): each patch's area in "
                                                            "every zone it meets, a GeoPackage of the intersections "
                                                            "(-o x.gpkg) and a handover list 移交清单 (-o x.xlsx).")] = False,
    **facts: Any,
) -> None:
    """Screen every row of INPUT and write it, with verdict columns added, to each OUTPUT.

    Project options (--existing, --industry ...) are facts of every row that does not give them, e.g. a register
    of existing enterprises; each row says what it assumed.
    """
    from api.cli import fail

    unused = [name for name, given in (("--dask", dask), ("--column", column), ("--workers", workers),
                                       ("--encoding", encoding)) if given] + \
        [option_of(name) for name, value in facts.items() if value is not None]
    if patches and unused:  # the patch workflow reads geometries only, on this machine
        fail(InputError("--patches 只读取图斑的几何，在本机计算，不用这些选项 / --patches reads the patches' geometry only, "
                        "on this machine, and takes none of these options", field=unused[0], value="、".join(unused),
                        fix="去掉这些选项，或去掉 --patches 作逐行筛查 / leave them out, or leave out --patches to screen "
                            "each row"))
    try:
        defaults = read_fact_options(facts)
        with open_cli_store(store) as opened, _Progress() as progress:
            if patches:
                from gis.batch.patches import screen_patches

                summary = screen_patches(input_path, output, store=opened, as_of=as_of, progress=progress,
                                         crs=crs)
            else:
                report = screen_file(input_path, output, store=opened, as_of=as_of, workers=workers,
                                     columns=column_mapping(column), progress=progress, dask_address=dask,
                                     defaults=defaults or None, encoding=encoding, crs=crs,
                                     chunk_rows=_chunk_rows(Path(input_path)))
    except EcozoneError as error:
        name_fact_option(error, facts)
        fail(error, batch_input)
    except KeyboardInterrupt:
        written = "、".join(output)
        typer.secho(f"已中断，未写出 {written}（原有的同名文件未改动） / interrupted, {written} not written (a file "
                    "already there is unchanged)", err=True, fg=typer.colors.RED)
        raise typer.Exit(130) from None
    if patches:
        typer.echo(f"图斑 {summary.patches} 个，涉及区域 {summary.pieces} 处 / patches {summary.patches}, "
                   f"patch-zone pieces {summary.pieces}；输出 / outputs: {', '.join(summary.outputs)}")
        return
    counts = "，".join(f"{label} {rows}" for label, rows in verdict_labels(report.verdict_labels))
    typer.echo(f"输入 {report.rows_in} 行，输出 {report.rows_out} 行，读取失败 {report.rows_failed} 行 "
               f"/ rows in {report.rows_in}, rows out {report.rows_out}, failed {report.rows_failed}")
    typer.echo(f"结论 / verdicts：{counts}")
    typer.echo(f"图层日期 / as of {report.as_of}；用时 / {report.seconds:.1f} s；输出 / outputs: {', '.join(report.outputs)}")
    typer.echo(f"新增列 / columns added: {'、'.join(COLUMNS)}")


#: The ``ecozone screen`` command, with one option per project fact (as ``ecozone check`` has).
screen = with_fact_options(_screen)


class _Rate(ProgressColumn):
    """Rows per second."""

    def render(self, task) -> Text:
        # from the start rather than rich's recent samples: a chunk of rows comes as one jump
        rate = task.completed / task.elapsed if task.elapsed else None
        return Text(f"{rate:,.0f} 行/秒" if rate else "")


class _Progress:
    """A progress bar on a terminal (stderr) with the row count, rate and time left, up to the end of writing;
    nothing in a pipe or a log file."""

    def __enter__(self):
        self._bar = None
        if sys.stderr.isatty():
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(),
                                 TimeElapsedColumn(), TextColumn("剩余 / left"), TimeRemainingColumn(),
                                 console=Console(stderr=True))
            self._bar.start()
            # until the input is open and the layers prepared (seconds on a full-size red line), which the first
            # call says
            self._task = self._bar.add_task("准备图层 / preparing the layers", total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            # every row written to the outputs, which are still being finished (a workbook saved, say)
            stage = "筛查 / screening" if done < total else "写出文件 / finishing the outputs"
            self._bar.update(self._task, description=stage, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            if exc[0] is None:
                self._bar.update(self._task, description="完成 / done")
            self._bar.stop()
