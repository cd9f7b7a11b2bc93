"""Options that several ``ecozone`` commands share, each defined once with the ``ECOZONE_*`` variable it reads.

``ecozone serve`` reads its settings from ``ECOZONE_*`` variables (``api.settings``); the other commands read
the same variables through these options, so a shell (or a service unit) that sets ``ECOZONE_STORE`` gets the
same store from ``check``, ``screen``, ``layers``, ``map``, ``report`` and ``audit`` as from the server, never
the embedded dataset by surprise. An option given on the command line wins over the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from contextvars import ContextVar

import typer

from gis.store import Store, open_store

__all__ = ["STORE_ENV", "StoreOption", "JobsDirOption", "BasemapOption", "TiandituKeyOption", "LogFormatOption",
           "ColumnOption", "CrsOption", "batch_input", "column_mapping", "open_cli_store"]

STORE_ENV = "ECOZONE_STORE"

#: Whether this command's store came from ECOZONE_STORE, noted while its options are parsed.
_store_from_env: ContextVar[bool] = ContextVar("store_from_env", default=False)


def _note_store_source(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    _store_from_env.set(getattr(ctx.get_parameter_source(param.name), "name", "") == "ENVIRONMENT")
    return value


StoreOption = Annotated[str | None, typer.Option(
    "--store", envvar=STORE_ENV, show_envvar=True, callback=_note_store_source,
    help="Layer store: a GeoPackage path or a postgresql:// URL (default: the embedded Xinjiang dataset).")]
JobsDirOption = Annotated[Path | None, typer.Option(
    "--jobs-dir", envvar="ECOZONE_JOBS_DIR", show_envvar=True, help="Folder of batch jobs.")]
BasemapOption = Annotated[str | None, typer.Option(
    "--basemap", envvar="ECOZONE_MAP_BASEMAP_URL", show_envvar=True,
    help="Tile URL with {z}/{x}/{y}, e.g. an intranet tile server (default: no basemap).")]
TiandituKeyOption = Annotated[str | None, typer.Option(
    "--tianditu-key", envvar="ECOZONE_MAP_TIANDITU_KEY", show_envvar=True,
    help="天地图 key: draw 天地图's vector map (needs internet when viewed).")]
LogFormatOption = Annotated[str, typer.Option(
    "--log-format", envvar="ECOZONE_LOG_FORMAT", show_envvar=True,
    help="text for people, json for one JSON object per line (for a log collector).")]


#: The options of a batch's input (``ecozone screen``, ``ecozone rescreen``): headers mapped, the CRS of its rows.
ColumnOption = Annotated[list[str] | None, typer.Option(
    "--column", help="FIELD=COLUMN for headers ecozone does not recognise (x/east is the easting, y/north the "
                     "northing).")]
CrsOption = Annotated[str | None, typer.Option(
    "--crs", help="CRS of the input, e.g. EPSG:4538 (overrides the file's own; the X/Y of a register without 带号).")]


def column_mapping(pairs: list[str] | None) -> dict[str, str]:
    """``--column FIELD=COLUMN`` options as ``screen_file``'s ``columns``, each field by its own name (east and
    north as x and y, ``mapping_fields``)."""
    from gis.batch import FIELDS
    from gis.batch.inputs import mapping_fields
    from gis.errors import InputError

    mapping = {}
    for pair in pairs or []:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InputError("列对应写作 字段=列名 / a column mapping is FIELD=COLUMN", field="--column", value=pair,
                             fix=f"例如 / e.g. --column lon=东经度 --column industry=所属行业；字段 / fields: "
                                 f"{', '.join(FIELDS)}")
        mapping[field.strip()] = column.strip()
    return mapping_fields(mapping)


def batch_input(name: str) -> str:
    """How a batch command is given what a fix names: its own option, or what the register holds (a 带号 column,
    the values swapped) for those a single check takes as options."""
    from api.cli import option_name
    from gis.batch.inputs import REGISTER_INPUTS

    if name == "columns":
        return "--column 字段=列名（如 --column lon=东经）"
    if name == "crs":  # an option of the whole input, as of a single check
        return option_name(name)
    return REGISTER_INPUTS.get(name) or option_name(name)


def check_format(value: str) -> str:
    """The ``--format`` of a listing command: text or json."""
    if value not in {"text", "json"}:
        raise typer.BadParameter(f"'{value}' is not a format; use text or json", param_hint="--format")
    return value


def open_cli_store(location: str | None) -> Store:
    """``open_store``, saying on stderr which store a command uses when it is not the embedded dataset (stdout
    stays the command's answer, JSON included). Passwords of a PostgreSQL URL are not shown."""
    store = open_store(location)
    if location is not None:
        source = f"（{STORE_ENV}）" if _store_from_env.get() else ""
        typer.echo(f"图层库 / store: {store.location}{source}", err=True)
    return store
