"""``ecozone layers``: list, import, version and copy zone layers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from gis.errors import EcozoneError
from gis.kinds import GEOMETRY_SOURCES, KINDS

app = typer.Typer(help="Zone layers: list them, import official versions, see their history.",
                  invoke_without_command=True)

StoreOption = Annotated[
    Optional[str],
    typer.Option("--store", help="Layer store: a GeoPackage path or a postgresql:// URL (default: embedded dataset)."),
]
AsOfOption = Annotated[Optional[str], typer.Option("--as-of", help="Date YYYY-MM-DD: the layers in force then.")]
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]

# In a pipe rich assumes 80 columns; tables of Chinese labels need more to stay readable.
console = Console(width=None if sys.stdout.isatty() else 160)


def _fail(error: EcozoneError) -> None:
    from api.cli import fail

    fail(error)


def _check_format(value: str) -> str:
    if value not in {"text", "json"}:
        raise typer.BadParameter(f"'{value}' is not a format; use text or json", param_hint="--format")
    return value


@app.callback()
def layers(
    ctx: typer.Context,
    store: StoreOption = None,
    as_of: AsOfOption = None,
    output: FormatOption = "text",
) -> None:
    """List every zone kind with its feature count, version in force and source."""
    if ctx.invoked_subcommand is not None:
        return
    _check_format(output)
    from gis.store import open_store

    try:
        with open_store(store) as opened:
            rows = opened.summary(as_of)
            location = opened.location
    except EcozoneError as error:
        _fail(error)
    from api.cli_rules import pack_rows

    packs = pack_rows()
    if output == "json":
        typer.echo(json.dumps({"store": location, "layers": rows, "rule_packs": packs}, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"图层 / layers — {location}")
    for header in ("类型 kind", "名称", "要素数 features", "现行版本 version", "版本数 versions", "生效 from", "来源 source"):
        table.add_column(header)
    for row in rows:
        table.add_row(
            row["kind"], row["label"], str(row["features"]), str(row["version"] or "—"), str(row["versions"]),
            row["effective_from"] or "—", row["source"] or "—",
        )
    console.print(table)
    total = sum(r["features"] for r in rows)
    console.print(f"{sum(1 for r in rows if r['features'])} of {len(rows)} kinds hold features; {total} features in force.")
    console.print("规则包 rule packs: " + "; ".join(f"{p['id']} ({p['jurisdiction']}, {p['rules']} 条, v{p['version']})"
                                                    for p in packs) + " — ecozone rules coverage")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Shapefile (.shp), GeoPackage (.gpkg) or GeoJSON file.")],
    kind: Annotated[str, typer.Option("--kind", help="Zone kind: " + ", ".join(KINDS))],
    store: StoreOption = None,
    layer: Annotated[Optional[str], typer.Option(help="Layer of a multi-layer GeoPackage.")] = None,
    crs: Annotated[Optional[str], typer.Option(help="CRS when the file declares none, e.g. EPSG:4490.")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="Text encoding of a .dbf (default: detected).")] = None,
    name_field: Annotated[Optional[str], typer.Option(help="Column holding the zone names.")] = None,
    id_field: Annotated[Optional[str], typer.Option(help="Column holding stable zone ids.")] = None,
    subtype: Annotated[Optional[str], typer.Option(help="Subtype for every feature (code or Chinese label).")] = None,
    geometry_source: Annotated[str, typer.Option(help="official, derived or illustrative.")] = "official",
    effective_from: Annotated[Optional[str], typer.Option(help="Date the version comes into force (default today).")] = None,
    note: Annotated[Optional[str], typer.Option(help="Free text kept with the version.")] = None,
    coverage: Annotated[Optional[str], typer.Option(
        help="Where the layer is complete: 'all', 'admin:ADCODE,...' or a polygon file (default: every "
             "administrative unit of the store).")] = None,
) -> None:
    """Import a file as a new version of a layer; earlier versions are kept."""
    from gis.layer_files import read_layer_file, resolve_coverage
    from gis.store import open_store

    if geometry_source not in GEOMETRY_SOURCES:
        raise typer.BadParameter(f"use one of {', '.join(GEOMETRY_SOURCES)}", param_hint="--geometry-source")
    try:
        zones, notices = read_layer_file(
            file, kind, layer=layer, crs=crs, encoding=encoding, name_field=name_field, id_field=id_field,
            subtype=subtype, geometry_source=geometry_source,
        )
        with open_store(store) as opened:
            area, notice = resolve_coverage(coverage, opened)
            version = opened.import_layer(
                zones, kind, source=file.name, effective_from=effective_from, note=note, coverage=area,
                notices=[*notices, notice],
            )
            location = opened.location
    except EcozoneError as error:
        _fail(error)
    console.print(
        f"已导入 imported {version.feature_count} features as {kind} version {version.version} "
        f"(in force from {version.effective_from}) into {location}"
    )
    for notice in version.notices:
        console.print(f"  [{notice['level']}] {notice['message']}" + (f" — {notice['fix']}" if notice.get("fix") else ""))


@app.command()
def versions(
    kind: Annotated[Optional[str], typer.Argument(help="Only this kind.")] = None,
    store: StoreOption = None,
    output: FormatOption = "text",
) -> None:
    """Show the version history of the layers."""
    _check_format(output)
    from gis.store import open_store

    try:
        with open_store(store) as opened:
            history = opened.versions(kind)
    except EcozoneError as error:
        _fail(error)
    if output == "json":
        typer.echo(json.dumps([v.to_dict() for v in history], ensure_ascii=False, indent=2))
        return
    table = Table(title="版本 / versions")
    for header in ("kind", "version", "effective_from", "imported_at", "features", "source", "note"):
        table.add_column(header)
    for v in history:
        table.add_row(v.kind, str(v.version), v.effective_from, v.imported_at, str(v.feature_count), v.source, v.note or "")
    console.print(table)


@app.command()
def init(
    location: Annotated[str, typer.Argument(help="New GeoPackage path or postgresql:// URL.")],
    source: Annotated[Optional[str], typer.Option("--from", help="Store to copy (default: embedded dataset).")] = None,
) -> None:
    """Create a writable store holding a copy of the default dataset (or of --from)."""
    from gis.store import init_store

    try:
        with init_store(location, source=source) as created:
            count = len(created.versions())
    except EcozoneError as error:
        _fail(error)
    console.print(f"已创建 created {location} with {count} layer versions. Use it with --store {location}")


@app.command()
def verify(store: StoreOption = None) -> None:
    """Re-read every layer version and check it against the digest taken when it was imported."""
    from gis.store import open_store, verify_store

    try:
        with open_store(store) as opened:
            problems = verify_store(opened)
            count = len(opened.versions())
    except EcozoneError as error:
        _fail(error)
    if problems:
        for problem in problems:
            console.print(f"[red]{problem}[/red]")
        raise typer.Exit(code=1)
    console.print(f"完好 intact: {count} layer versions match their import digests.")
