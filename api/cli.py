"""The ``ecozone`` command line. Thin: parse options, call ``gis``, print."""

from __future__ import annotations

from collections.abc import Callable
import importlib
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

from gis.errors import EcozoneError, ReadOnlyStoreError

#: Each subcommand: (module, name there, a group of commands). A command's module is imported when the
#: command runs (or help lists it): importing every one took 1.4 s of the 2.3 s of an ``ecozone check``, which
#: needs half of it.
_SUBCOMMANDS = {
    "check": ("api.cli_check", "check", False),
    "screen": ("api.cli_screen", "screen", False),
    "rescreen": ("api.cli_rescreen", "rescreen", False),
    "serve": ("api.cli_serve", "serve", False),
    "map": ("api.cli_map", "map_command", False),
    "layers": ("api.cli_layers", "app", True),
    "rules": ("api.cli_rules", "app", True),
    "report": ("api.cli_records", "report_app", True),
    "audit": ("api.cli_records", "audit_app", True),
}


class _Subcommands(TyperGroup):
    """The ``ecozone`` group: its subcommands' modules imported when first asked for (``_SUBCOMMANDS``)."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        """Commands, then groups, as Typer lists them."""
        own = [name for name in super().list_commands(ctx) if name not in _SUBCOMMANDS]
        return [*(name for name, (*_, group) in _SUBCOMMANDS.items() if not group), *own,
                *(name for name, (*_, group) in _SUBCOMMANDS.items() if group)]

    def get_command(self, ctx: typer.Context, cmd_name: str):
        """The command named ``cmd_name``, its module imported the first time."""
        if cmd_name in _SUBCOMMANDS and cmd_name not in self.commands:
            module, attribute, group = _SUBCOMMANDS[cmd_name]
            found = getattr(importlib.import_module(module), attribute)
            holder = typer.Typer()  # made as Typer makes a registered command or group
            if group:
                holder.add_typer(found, name=cmd_name)
            else:
                holder.command(cmd_name)(found)
            self.add_command(typer.main.get_group(holder).commands[cmd_name], cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=_Subcommands,
    help="ecozone: ecological-zone layers, site checks with cited rules, maps and batch screening.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from gis.evidence import ecozone_version

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


def fail(error: EcozoneError, give: Callable[[str], str] = option_name) -> None:
    """Print an ecozone error for a person and exit with status 2; ``give`` names the inputs its fix speaks of
    (default: this command line's options)."""
    if isinstance(error, ReadOnlyStoreError):
        error.fix = "用 ecozone layers init 我的图层库.gpkg 新建可写副本，再加 --store 我的图层库.gpkg / make a writable " \
                    "copy with 'ecozone layers init my-store.gpkg' and pass --store my-store.gpkg"
    typer.secho(f"错误 / error: {error.text(give)}", err=True, fg=typer.colors.RED)
    for line in problem_lines(error, give):
        typer.secho(line, err=True, fg=typer.colors.RED)
    raise typer.Exit(code=2)


def problem_lines(error: EcozoneError, give: Callable[[str], str] = option_name) -> list[str]:
    """Each problem of an error that stands for several (``EcozoneError.problems``) on its own line, naming its
    row as officers read it (第 12 行（编号 HX-0012）), then how many more were found and not listed."""
    from gis.zones import row_label_zh

    lines = [f"  - {row_label_zh(problem.row) + '：' if problem.row is not None else ''}{problem.text(give)}"
             for problem in error.problems]
    if error.unlisted:
        lines.append(f"  … 另有 {error.unlisted} 个同类问题未列出 / {error.unlisted} more problems of these kinds are "
                     "not listed")
    return lines


app.command("version")(version_command)


def main() -> None:
    """Console-script entry point."""
    from gis.batch.columnar import use_system_memory_pool

    use_system_memory_pool()
    try:
        app()
    except EcozoneError as error:  # raised outside a command's own handling
        typer.secho(f"错误 / error: {error.text(option_name)}", err=True, fg=typer.colors.RED)
        sys.exit(2)
