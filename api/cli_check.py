"""``ecozone check SITE``: read a site and report it (the overlap result joins with the overlap engine)."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated

import typer

from gis.errors import EcozoneError
from gis.sites import Site, read_site

__all__ = ["check", "describe_site"]


class Datum(str, Enum):
    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"


class Output(str, Enum):
    text = "text"
    json = "json"


_LEVELS = {"warning": "警告", "info": "说明"}


def describe_site(site: Site) -> str:
    """The site for a permit officer, Chinese first: plots, area, where the coordinates came from, changes, warnings."""
    name = site.name or ("坐标文本" if site.source == "text" else site.source)
    lines = [f"项目地块：{name}（{site.geometry['type']}，{len(site.plots)} 个地块）"]
    if site.area_m2:
        lines.append(f"面积：{site.area_m2 / 10_000:,.4f} 公顷（{site.area_m2:,.1f} m²，WGS 84 椭球面积）")
    bounds = site.shape.bounds
    lines.append(f"位置：经度 {bounds[0]:.6f}–{bounds[2]:.6f}，纬度 {bounds[1]:.6f}–{bounds[3]:.6f}")
    lines.append(f"坐标来源 / source CRS：{site.source_crs.label}（{site.source_crs.origin}）")
    if site.datum != "wgs84":
        lines.append(f"网络地图坐标 / web-map datum：{site.datum}")
    for number, conversion in enumerate(site.conversions, start=1):
        lines.append(f"转换 {number}：{conversion.description}")
    described = {c.description for c in site.conversions}
    shown = [n for n in site.notices if not (n["level"] == "info" and n["message"] in described)]
    for notice in shown:
        where = f"（第 {notice['row']} 行）" if notice.get("row") is not None else ""
        fix = f" 处理建议：{notice['fix']}" if notice.get("fix") else ""
        lines.append(f"{_LEVELS.get(notice['level'], notice['level'])}{where}：{notice['message']}。{fix}")
    if not any(n["level"] == "warning" for n in shown):
        lines.append("警告：无")
    return "\n".join(lines)


def check(
    site: Annotated[str, typer.Argument(help="A file (国土 TXT, .csv, .xlsx, .shp, .gpkg, .geojson, .kml, .kmz) "
                                             "or coordinates, e.g. '87.6033,43.8011'.")],
    crs: Annotated[str | None, typer.Option("--crs", help="CRS of the input, e.g. EPSG:4517.")] = None,
    gk_zone: Annotated[int | None, typer.Option("--gk-zone", help="Gauss-Krüger zone for Y without its zone number.")] = None,
    datum: Annotated[Datum, typer.Option("--datum", help="gcj02 for Amap/Tencent, bd09 for Baidu coordinates.")] = Datum.wgs84,
    swap_xy: Annotated[bool, typer.Option("--swap-xy", help="Swap the two values of every vertex.")] = False,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding (detected when omitted).")] = None,
    output: Annotated[Output, typer.Option("--format", help="text for people, json for programs.")] = Output.text,
) -> None:
    """Read a project site and show it: geometry, area, source CRS, conversions and warnings."""
    from api.cli import fail

    try:
        parsed = read_site(site, crs=crs, gk_zone=gk_zone, datum=datum.value, swap_xy=True if swap_xy else None,
                           encoding=encoding)
    except EcozoneError as error:
        if output is Output.json:
            typer.echo(json.dumps({"error": error.to_dict()}, ensure_ascii=False, indent=2))
            raise typer.Exit(code=2) from None
        fail(error)
    if output is Output.json:
        typer.echo(json.dumps({"site": parsed.model_dump(mode="json")}, ensure_ascii=False, indent=2))
    else:
        typer.echo(describe_site(parsed))
