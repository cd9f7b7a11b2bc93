"""``ecozone screen INPUT -o OUTPUT``: batch screening of a table or vector file of sites (批量筛查)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api.cli_options import StoreOption, open_cli_store
from gis.batch import COLUMNS, FIELDS, screen_file
from gis.errors import EcozoneError, InputError

__all__ = ["screen"]


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InputError("a column mapping is FIELD=COLUMN", field="--column", value=pair,
                             fix=f"e.g. --column lon=东经度 --column industry=所属行业; fields: {', '.join(FIELDS)}")
        mapping[field.strip()] = column.strip()
    return mapping


def screen(
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help="Sites: .xlsx, .csv, .gpkg, .shp, .geojson, .parquet.")],
    output: Annotated[list[str], typer.Option("--output", "-o", help="Output file(s): .xlsx, .csv, .geojson, .gpkg, .parquet.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Layers and rules in force on this date (YYYY-MM-DD).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Threads (or local Dask workers); default all cores.")] = None,
    column: Annotated[list[str] | None, typer.Option("--column", help="FIELD=COLUMN for headers ecozone does not recognise.")] = None,
    dask: Annotated[str | None, typer.Option("--dask", help="Dask scheduler address, or 'local' for a local cluster.")] = None,
    store: StoreOption = None,
) -> None:
    """Screen every row of INPUT and write it, with verdict columns added, to each OUTPUT."""
    from api.cli import fail

    try:
        with open_cli_store(store) as opened, _Progress() as progress:
            report = screen_file(input_path, output, store=opened, as_of=as_of, workers=workers,
                                 columns=_mapping(column or []), progress=progress, dask_address=dask)
    except EcozoneError as error:
        fail(error)
    counts = "，".join(f"{k} {v}" for k, v in sorted(report.verdict_counts.items()))
    typer.echo(f"输入 {report.rows_in} 行，输出 {report.rows_out} 行，读取失败 {report.rows_failed} 行 "
               f"/ rows in {report.rows_in}, rows out {report.rows_out}, failed {report.rows_failed}")
    typer.echo(f"结论 / verdicts：{counts}")
    typer.echo(f"图层日期 / as of {report.as_of}；用时 / {report.seconds:.1f} s；输出 / outputs: {', '.join(report.outputs)}")
    typer.echo(f"新增列 / columns added: {'、'.join(COLUMNS)}")


class _Progress:
    """A progress bar on a terminal (stderr), nothing in a pipe or a log file."""

    def __enter__(self):
        self._bar = None
        if sys.stderr.isatty():
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._bar.start()
            self._task = self._bar.add_task("筛查 / screening", total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
