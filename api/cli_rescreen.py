"""``ecozone rescreen SCREENED``: the permits of a screened file whose verdict changes as of another date or
with another layer version (发证后图层更新的影响), screened with the options of ``ecozone screen``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli_check import name_fact_option, read_fact_options, with_fact_options
from api.cli_options import ColumnOption, CrsOption, StoreOption, batch_input, column_mapping, open_cli_store
from gis.errors import EcozoneError, InputError

__all__ = ["SHOWN", "rescreen"]

#: Changes the terminal lists, the first of the file; the outputs (``-o``) and ``--format json`` hold every one.
SHOWN = 20


def _rescreen(
    screened: Annotated[Path, typer.Argument(metavar="SCREENED", help="The .xlsx or .csv that 'ecozone screen' wrote.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Screen again with the layers and rules in force on "
                                              "this date (YYYY-MM-DD).")] = None,
    layer: Annotated[str | None, typer.Option("--layer", help="KIND:N: screen again as of the date version N of a "
                                              "layer comes into force, e.g. ecological_redline:2.")] = None,
    output: Annotated[list[Path] | None, typer.Option("-o", "--output", help="Write the changed rows: .xlsx, .csv "
                                                      "or .json; repeat for several.", dir_okay=False)] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    store: StoreOption = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Threads; default all cores.")] = None,
    column: ColumnOption = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding of a screened CSV saved again "
                                                                   "in neither UTF-8 nor GBK (e.g. utf-16); a "
                                                                   "screening's own CSV is read as UTF-8.")] = None,
    crs: CrsOption = None,
    **facts: Any,
) -> None:
    """List the rows of a screened file whose verdict changes when screened again as of another date.

    Give the options the file was screened with (--column, --crs; --existing, --industry ...), or verdicts that
    depend on them show as changes. Those not given are read from an .xlsx's 筛查汇总 (整批假定, 列对应, 坐标系);
    a CSV records none. The terminal shows the summary and the first 20 changes; -o writes every one, as
    --format json prints them.
    """
    from api.cli import fail
    from gis.batch.outputs import checked_output
    from gis.rescreen import RESCREEN_SUFFIXES, assumed_text, options_text, rescreen_file, write_rescreen
    from gis.versions import layer_version_date

    if fmt not in {"text", "json"}:
        raise typer.BadParameter(f"'{fmt}' is not a format; use text or json", param_hint="--format")
    try:
        defaults = read_fact_options(facts)
        outputs = [checked_output(path, screened, RESCREEN_SUFFIXES) for path in output or []]
        columns = column_mapping(column)
        if (as_of is None) == (layer is None):
            raise InputError("请给出重新筛查的日期或图层版本 / say what to screen against: a date or a layer version",
                             field="--as-of", fix="给 --as-of 2021-06-30 或 --layer ecological_redline:2（二者选一） / "
                                                  "give --as-of 2021-06-30, or --layer ecological_redline:2 (not both)")
        with open_cli_store(store) as opened:
            if layer is not None:
                as_of = layer_version_date(opened, layer, field="--layer")
            report = rescreen_file(screened, as_of=as_of, store=opened, workers=workers, defaults=defaults or None,
                                   columns=columns or None, encoding=encoding, crs=crs)
            for path in outputs:
                write_rescreen(report, path)
    except EcozoneError as error:
        name_fact_option(error, facts)
        fail(error, batch_input)
    if fmt == "json":
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    # a workbook's sheet that was screened (a workbook may hold several)
    sheet_zh, sheet_en = (f"（工作表 {report.sheet}）", f" of sheet {report.sheet}") if report.sheet else ("", "")
    assumed_zh, assumed_en = assumed_text(report)
    options_zh, options_en = options_text(report)
    typer.echo(f"{report.input}{sheet_zh}：{report.rows} 行，结论变化 {report.changed} 行（原筛查日期 "
               f"{report.old_as_of or '未记录'} → {report.new_as_of}；{assumed_zh}；{options_zh}）/ {report.changed} of "
               f"{report.rows} rows{sheet_en} change verdict ({assumed_en}; {options_en})")
    for change in report.changes[:SHOWN]:
        name = change.cells.get(report.name_column, "")  # the column the reader takes for the row's name
        typer.echo(f"  原表第 {change.row} 行 {name}：{change.reason_zh}")  # the line the officer finds it on
    if len(report.changes) > SHOWN:
        typer.echo(_more(len(report.changes), outputs))
    for path in outputs:
        typer.echo(f"已写入 / written: {path}")


#: The ``ecozone rescreen`` command, with the project options of ``ecozone screen``.
rescreen = with_fact_options(_rescreen)


def _more(changes: int, outputs: list[Path]) -> str:
    """The line under the first ``SHOWN`` changes: how many more there are, and the files that hold every one (or
    how to write them)."""
    more = changes - SHOWN
    if outputs:
        names = [str(path) for path in outputs]
        return (f"…另有 {more} 行结论变化未列出，全部 {changes} 行见 {'、'.join(names)} / {more} more changes not shown: "
                f"all {changes} are in {', '.join(names)}")
    return (f"…另有 {more} 行结论变化未列出；用 -o 结论变化.xlsx（或 .csv、.json）写出全部 {changes} 行，或 --format json / "
            f"{more} more changes not shown: write all {changes} with -o changes.xlsx (or .csv, .json), or "
            "--format json")
