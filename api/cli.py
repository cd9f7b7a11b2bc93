"""The ``ecozone`` command line. Thin: parse options, call ``gis``, print."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gis.errors import EcozoneError, ReadOnlyStoreError
from gis.evidence import ecozone_version

app = typer.Typer(
    help="ecozone: ecological-zone layers, site checks with cited rules, maps and batch screening.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ecozone {ecozone_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the installed version and exit.")] = False,
) -> None:
    """ecozone: ecological-zone layers, site checks with cited rules, maps and batch screening."""


def version_command() -> None:
    """Print the installed version (the one reports and the API's /health name)."""
    _print_version(True)


def option_name(name: str) -> str:
    """How the command line takes the input ``name`` that an error's fix speaks of: ``gk_zone`` -> ``--gk-zone``."""
    return "--" + name.replace("_", "-")


def fail(error: EcozoneError) -> None:
    """Print an ecozone error for a person and exit with status 2."""
    if isinstance(error, ReadOnlyStoreError):
        error.fix = "用 ecozone layers init 我的图层库.gpkg 新建可写副本，再加 --store 我的图层库.gpkg / make a writable " \
                    "copy with 'ecozone layers init my-store.gpkg' and pass --store my-store.gpkg"
    typer.secho(f"错误 / error: {error.text(option_name)}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=2)


# --- layers commands -------------------------------------------------------------------------------------
from api import cli_layers  # noqa: E402  (registers the ``layers`` group)

app.add_typer(cli_layers.app, name="layers")

# --- check command (site reader) ------------------------------------------------------------------------
from api import cli_check  # noqa: E402

app.command("check")(cli_check.check)

# --- screen command (batch screening) ------------------------------------------------------------------
from api import cli_screen  # noqa: E402

app.command("screen")(cli_screen.screen)

# --- rescreen command (verdict changes after a layer update) -------------------------------------------------
from api import cli_rescreen  # noqa: E402

app.command("rescreen")(cli_rescreen.rescreen)

# --- serve command (HTTP API) ------------------------------------------------------------------------------
from api import cli_serve  # noqa: E402

app.command("serve")(cli_serve.serve)

# --- rules commands (rule packs and their coverage) ------------------------------------------------------
from api import cli_rules  # noqa: E402

app.add_typer(cli_rules.app, name="rules")

# --- map command (maps) ----------------------------------------------------------------------------------
from api import cli_map  # noqa: E402

app.command("map")(cli_map.map_command)

# --- report and audit commands (the records a check leaves) ---------------------------------------------
from api import cli_records  # noqa: E402

app.add_typer(cli_records.report_app, name="report")
app.add_typer(cli_records.audit_app, name="audit")

app.command("version")(version_command)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except EcozoneError as error:  # raised outside a command's own handling
        typer.secho(f"错误 / error: {error.text(option_name)}", err=True, fg=typer.colors.RED)
        sys.exit(2)
