"""``ecozone layers``: list, import, version, copy and export zone layers; what changed between versions, and
the share of land they cover."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli_options import StoreOption, check_format, open_cli_store
from gis.errors import EcozoneError
from gis.kinds import GEOMETRY_SOURCES, KINDS

app = typer.Typer(help="Zone layers: list them, import official versions, see their history.",
                  invoke_without_command=True)

AsOfOption = Annotated[str | None, typer.Option("--as-of", help="Date YYYY-MM-DD: the layers in force then.")]
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]

# In a pipe rich assumes 80 columns; tables of Chinese labels need more to stay readable.
console = Console(width=None if sys.stdout.isatty() else 160)


def _fail(error: EcozoneError) -> None:
    from api.cli import fail

    fail(error)


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
    check_format(output)
    try:
        with open_cli_store(store) as opened:
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


#: The option of ``layers import`` that gives each field an import error or notice is about.
IMPORT_OPTIONS = {
    "crs": "--crs", "encoding": "--encoding", "layer": "--layer", "coverage": "--coverage", "kind": "--kind",
    "store": "--store", "geometry_source": "--geometry-source", "effective_from": "--effective-from",
    "subtype": "--field subtype=列名 或 --subtype 代码", "field": "--field 字段=列名",
}


def import_option(field: str | None) -> str | None:
    """The option of ``layers import`` that fixes a problem with ``field``: its own option, or ``--field`` for a
    zone field or an attribute read from a column; None where no option helps (the geometry, the rows)."""
    if field is None or field in ("geometry", "attributes", "file"):
        return None
    return IMPORT_OPTIONS.get(field, f"--field {field}=列名")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Shapefile (.shp), GeoPackage (.gpkg) or GeoJSON file, or a .zip "
                                              "holding one (a zipped shapefile).")],
    kind: Annotated[str, typer.Option("--kind", help="Zone kind: " + ", ".join(KINDS))],
    store: StoreOption = None,
    field: Annotated[list[str] | None, typer.Option(
        "--field", help="TARGET=COLUMN: the column holding a zone field (zone_id, name, subtype, jurisdiction, "
                        "valid_from, valid_to ...) or an attribute (e.g. reserve_name=保护区全称); TARGET= for none. "
                        "Fields left out are found by the columns' names and values.")] = None,
    layer: Annotated[str | None, typer.Option(help="Layer of a multi-layer GeoPackage.")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS when the file declares none, e.g. EPSG:4490.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of a .dbf (default: detected).")] = None,
    name_field: Annotated[str | None, typer.Option(help="Same as --field name=COLUMN.")] = None,
    id_field: Annotated[str | None, typer.Option(help="Same as --field zone_id=COLUMN.")] = None,
    subtype: Annotated[str | None, typer.Option(help="Subtype for every feature (code or Chinese label).")] = None,
    geometry_source: Annotated[str, typer.Option(help="official, derived or illustrative.")] = "official",
    effective_from: Annotated[str | None, typer.Option(help="Date the version comes into force (default today).")] = None,
    note: Annotated[str | None, typer.Option(help="Free text kept with the version.")] = None,
    coverage: Annotated[str | None, typer.Option(
        help="Where the layer is complete: 'all', 'admin:ADCODE,...' or a polygon file (default: every "
             "administrative unit of the store).")] = None,
    output: FormatOption = "text",
) -> None:
    """Import a file as a new version of a layer; earlier versions are kept. A file that holds nothing new
    (the same zones, source, coverage and date as the version in force) makes no version, and says so."""
    from gis.layer_files import notice_text, parse_field_mapping, read_layer_file, resolve_coverage
    check_format(output)
    if geometry_source not in GEOMETRY_SOURCES:
        raise typer.BadParameter(f"use one of {', '.join(GEOMETRY_SOURCES)}", param_hint="--geometry-source")
    try:
        mapping = parse_field_mapping(field or [])
        mapping.update({target: column for target, column in (("name", name_field), ("zone_id", id_field))
                        if column is not None})
        zones, notices = read_layer_file(
            file, kind, layer=layer, crs=crs, encoding=encoding, fields=mapping, subtype=subtype,
            geometry_source=geometry_source,
        )
        with open_cli_store(store) as opened:
            area, notice = resolve_coverage(coverage, opened, zones)
            version = opened.import_layer(
                zones, kind, source=file.name, effective_from=effective_from, note=note, coverage=area,
                notices=[*notices, notice],
            )
            location = opened.location
    except EcozoneError as error:
        for problem in [error, *error.problems]:
            named = import_option(problem.field)
            if named:
                problem.fix = f"{problem.fix}（{named}）" if problem.fix else named
        _fail(error)
    if output == "json":
        data = {k: v for k, v in version.to_dict().items() if k != "coverage_wkb"}
        data["has_coverage"] = bool(version.coverage_wkb)
        typer.echo(json.dumps({"store": location, **data}, ensure_ascii=False, indent=2))
        return
    if not version.created:  # the notices are the kept version's, shown when it was imported
        console.print(f"{version.message}（{kind}，{version.feature_count} 个要素 features，{version.source}）— {location}",
                      markup=False, highlight=False, soft_wrap=True)
        return
    console.print(
        f"已导入 imported {version.feature_count} features as {kind} version {version.version} "
        f"(in force from {version.effective_from}) into {location}", markup=False, highlight=False, soft_wrap=True,
    )
    for notice in version.notices:
        console.print("  " + notice_text(notice, import_option), markup=False, highlight=False, soft_wrap=True)


@app.command()
def versions(
    kind: Annotated[str | None, typer.Argument(help="Only this kind.")] = None,
    store: StoreOption = None,
    output: FormatOption = "text",
) -> None:
    """Show the version history of the layers."""
    check_format(output)
    try:
        with open_cli_store(store) as opened:
            history = opened.versions(kind)
    except EcozoneError as error:
        _fail(error)
    if output == "json":
        typer.echo(json.dumps([v.to_dict() for v in history], ensure_ascii=False, indent=2))
        return
    table = Table(title="版本 / versions")
    for header in ("图层 kind", "版本 version", "生效 from", "导入时间 imported", "要素数 features", "来源 source",
                   "说明 note"):
        table.add_column(header)
    for v in history:
        label = KINDS[v.kind].label_zh if v.kind in KINDS else v.kind
        table.add_row(f"{label} {v.kind}", str(v.version), v.effective_from, v.imported_at, str(v.feature_count),
                      v.source, v.note or "")
    console.print(table)


@app.command()
def init(
    location: Annotated[str, typer.Argument(help="New GeoPackage path or postgresql:// URL.")],
    source: Annotated[str | None, typer.Option("--from", help="Store to copy (default: embedded dataset).")] = None,
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
    from gis.store import verify_store

    try:
        with open_cli_store(store) as opened:
            problems = verify_store(opened)
            count = len(opened.versions())
    except EcozoneError as error:
        _fail(error)
    if problems:
        for problem in problems:
            console.print(problem, style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    console.print(f"完好 intact: {count} layer versions match their import digests.")


def _km2(m2: float) -> str:
    return f"{m2 / 1e6:,.4f}"


@app.command()
def diff(
    kind: Annotated[str, typer.Argument(help="Zone kind, e.g. ecological_redline.")],
    from_: Annotated[str, typer.Argument(metavar="FROM", help="Earlier version: a number, or a date (the version "
                                                               "in force then).")],
    to: Annotated[str, typer.Argument(metavar="TO", help="Later version: a number or a date.")],
    store: StoreOption = None,
    output: FormatOption = "text",
    report: Annotated[Path | None, typer.Option("-o", "--output-file", help="Also write the report: .xlsx "
                                                   "(Chinese summary sheet), .gpkg (layers added/removed), .json or "
                                                   ".html (offline map page).", dir_okay=False)] = None,
    admin_as_of: Annotated[str | None, typer.Option("--admin-as-of", help="Administrative units in force on "
                                                       "this date (default today).")] = None,
) -> None:
    """What changed between two versions of a layer: zones, areas, jurisdictions, the 兵团 share."""
    check_format(output)
    from gis.layer_diff import diff_layer
    try:
        with open_cli_store(store) as opened:
            result = diff_layer(opened, kind, from_, to, admin_as_of=admin_as_of)
            if report is not None:
                _write_report(result, report, opened, admin_as_of)
    except EcozoneError as error:
        _fail(error)
    if output == "json":
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    for warning in result.warnings:
        console.print(f"[bold red]⚠ {warning}[/bold red]", highlight=False)
    from gis.layer_diff_files import summary_rows

    for item, value in summary_rows(result):
        if not item.startswith(("⚠", "兵团范围")):
            console.print(f"{item}：{value}", highlight=False)
    table = Table(title="逐区变化 / zones")
    for header in ("编号 zone_id", "名称", "变化", "字段 fields", "新增 km²", "减少 km²"):
        table.add_column(header)
    change_zh = {"added": "新增", "removed": "删除", "changed": "变更"}
    for zone in result.zones:
        table.add_row(zone.zone_id, zone.name, change_zh[zone.change], "、".join(zone.fields), _km2(zone.added_m2),
                      _km2(zone.removed_m2))
    console.print(table)
    units = Table(title="分辖区 / by jurisdiction (km², %)")
    for header in ("层级", "辖区", "新增", "减少", "变化前占比", "变化后占比"):
        units.add_column(header)
    for unit in result.by_jurisdiction:
        units.add_row(unit.level_label, unit.name, _km2(unit.added_m2), _km2(unit.removed_m2),
                      f"{unit.share_before_pct:.4f}", f"{unit.share_after_pct:.4f}")
    console.print(units)
    console.print(f"兵团范围：{result.basis.note_zh}", highlight=False)
    if report is not None:
        console.print(f"报告已写入 / report written: {report}")


def _write_report(result, path: Path, opened, admin_as_of: str | None) -> None:
    if path.suffix.lower() == ".html":
        from maps.build import render
        from maps.diff_map import diff_map

        path.write_text(render(diff_map(result, opened, admin_as_of=admin_as_of)), encoding="utf-8")
        return
    from gis.layer_diff_files import write_diff

    write_diff(result, path)


@app.command()
def stats(
    kind: Annotated[str, typer.Argument(help="A polygon zone kind, e.g. ecological_redline.")],
    version: Annotated[str | None, typer.Option("--version", help="Version number or date (default the newest).")] = None,
    store: StoreOption = None,
    output: FormatOption = "text",
    admin_as_of: Annotated[str | None, typer.Option("--admin-as-of", help="Administrative units in force on "
                                                       "this date (default today).")] = None,
) -> None:
    """Land area, the layer's area (union) and its share per jurisdiction; the 兵团 share of every version."""
    check_format(output)
    from gis.layer_stats import layer_stats
    try:
        with open_cli_store(store) as opened:
            result = layer_stats(opened, kind, version, admin_as_of=admin_as_of)
    except EcozoneError as error:
        _fail(error)
    if output == "json":
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    for warning in result.warnings:
        console.print(f"[bold red]⚠ {warning}[/bold red]", highlight=False)
    table = Table(title=f"{result.label} 第 {result.version.version} 版（{result.version.effective_from} 起）占比 / share")
    for header in ("层级", "代码", "辖区", "师", "土地 km²", f"{result.label} km²", "占比 %"):
        table.add_column(header)
    for unit in result.units:
        table.add_row(unit.level_label, unit.code, unit.name, unit.division or "", _km2(unit.land_m2),
                      _km2(unit.zone_m2), f"{unit.share_pct:.4f}")
    console.print(table)
    if result.history:
        history = Table(title="兵团占比 各版本 / the 兵团 share of every version")
        for header in ("版本", "生效", "占比 %", "较上版（百分点）", f"下限 {result.basis.floor_pct}%", "是否下降"):
            history.add_column(header)
        for row in result.history:
            floor = "—" if row.meets_floor is None else ("达到" if row.meets_floor else "低于")
            change = "—" if row.change_pct_points is None else f"{row.change_pct_points:+.4f}"
            history.add_row(str(row.version), row.effective_from, f"{row.share_pct:.4f}", change, floor,
                            "是" if row.falls else "否")
        console.print(history)
    console.print(f"兵团范围：{result.basis.note_zh}", highlight=False)
    console.print("代表兵团的单元：" + "、".join(result.basis.bingtuan_units), highlight=False)


@app.command()
def export(
    kind: Annotated[str, typer.Argument(help="Zone kind.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="FILE.shp, FILE.gpkg or FILE.geojson.", dir_okay=False)],
    version: Annotated[str | None, typer.Option("--version", help="Version number (default the newest).")] = None,
    as_of: AsOfOption = None,
    crs: Annotated[str | None, typer.Option("--crs", help="Output CRS: EPSG:4490 CGCS2000 (default; EPSG:4326 for "
                                               "GeoJSON), or a CGCS2000 Gauss-Krüger zone, e.g. EPSG:4517.")] = None,
    encoding: Annotated[str, typer.Option("--encoding", help="Shapefile text encoding: utf-8 or gbk.")] = "utf-8",
    store: StoreOption = None,
) -> None:
    """Write a layer version as a file GIS tools open; says whether it imports back to the same content."""
    from gis.layer_export import export_layer
    try:
        with open_cli_store(store) as opened:
            result = export_layer(opened, kind, output, version=version, as_of=as_of, crs=crs, encoding=encoding)
    except EcozoneError as error:
        _fail(error)
    console.print(f"已导出 exported {kind} version {result.version.version}: {result.features} features, "
                  f"{result.crs}" + (f", {result.encoding}" if result.encoding else ""), highlight=False)
    for name in result.files:
        console.print(f"  {name}", highlight=False)
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in result.import_options.items())
    if result.round_trip == "exact":
        console.print(f"再导入内容一致 / re-imports to the same digest with: ecozone layers import {output} "
                      f"--kind {kind} {flags}".rstrip(), highlight=False)
    else:
        console.print(f"[yellow]再导入内容不一致 / re-import differs: {result.round_trip_note}[/yellow]", highlight=False)
