"""``ecozone check SITE``: read a site, check it against every layer and rule pack, and report the verdict."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated

import typer

from pydantic import ValidationError

from gis.check import CheckResult, check_site
from gis.errors import EcozoneError, InputError
from gis.results import Relation
from gis.rules.model import VERDICT_LABELS
from gis.rules.project import Fuel, Project, Scope
from gis.sites import Site, read_site
from gis.store import open_store

__all__ = ["check", "describe_site", "describe_check"]

RELATIONS = {r.value: r.label_zh for r in Relation}


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


def describe_check(result: CheckResult) -> str:
    """The check for a permit officer: the verdict first, then each rule with its zone and source, then layers."""
    lines = [f"结论 / verdict：{result.verdict_label}（{result.verdict.value}）"
             f" — 核查日期 {result.as_of}，图层库 {result.store}"]
    for hit in result.rules.hits:
        soft = "（原则上）" if hit.softened else ""
        lines.append(f"  [{hit.verdict_label}] {hit.rule_id} {hit.title_zh}{soft}")
        if hit.verdict.value == "needs_review" and hit.rule_verdict != hit.verdict:
            lines.append(f"      若适用则为：{VERDICT_LABELS[hit.rule_verdict]}")
        for zone in hit.zones:
            distance = f"，距离 {zone.distance_m:,.0f} m" if zone.distance_m else ""
            lines.append(f"      区域：{zone.name}（{RELATIONS[zone.relation]}{distance}）")
        if hit.condition_zh:
            lines.append(f"      条件：{hit.condition_zh}")
        if hit.deadline:
            late = "，已逾期" if hit.deadline_passed else ""
            lines.append(f"      期限：{hit.deadline}{late}")
        for quantity in hit.quantities:
            value = f"{quantity.value:,.2f} {quantity.unit}" if quantity.value is not None else "（缺少数据）"
            lines.append(f"      计算：{quantity.label_zh} = {quantity.formula} = {value}")
        for reason in hit.reasons:
            lines.append(f"      需核查：{reason}")
        marker = "（非来源文件，国家法规概述）" if hit.not_in_seeds else ""
        article = f" {hit.source_article}" if hit.source_article else ""
        lines.append(f"      依据：{hit.source_doc}{article}{marker}「{hit.source_quote}」")
    if result.verdict.value == "not_checked":
        lines.append("  没有图层覆盖项目位置，无法判定 (no layer covers the site: nothing was checked)")
    elif not result.rules.hits:
        lines.append("  无适用的限制性规则 (no rule restricts this project here)")
    if result.illustrative:
        lines.append("  注意：涉及的区域边界为示意数据（geometry_source = illustrative），仅供演示，须以官方图层为准")
    if result.rules.unchecked:
        lines.append("未核查的规则（所需图层未覆盖项目位置，不能视为无问题）：")
        for hit in result.rules.unchecked:
            lines.append(f"  [{VERDICT_LABELS[hit.rule_verdict]}?] {hit.rule_id} {hit.title_zh} — {hit.reasons[0]}")
    if result.rules.possible:
        lines.append("同址规则（项目未申报相应活动，供参考）：")
        for hit in result.rules.possible:
            lines.append(f"  [{hit.verdict_label}] {hit.rule_id} {hit.title_zh}")
    lines.append("图层 / layers：")
    for layer in result.overlap.layers:
        version = f" v{layer.version}" if layer.version else ""
        if layer.status == "not_checked":
            lines.append(f"  {layer.label_zh}{version}：未核查 — {layer.reason}")
            continue
        touching = [h for h in layer.hits if h.relation.value != "near"]
        if touching:
            text = "；".join(f"{h.name}（{h.relation_zh}" + (f"，重叠 {h.overlap_pct:.1f}%" if h.overlap_pct else "")
                            + "）" for h in touching[:5])
        elif layer.hits:
            nearest = layer.hits[0]
            text = f"无重叠；最近 {nearest.name} {nearest.distance_m:,.0f} m"
        else:
            text = f"无（{layer.search_km:g} km 内无此类区域）"
        partial = f"（部分覆盖：{layer.reason}）" if layer.status == "partial" else ""
        lines.append(f"  {layer.label_zh}{version}：{text}{partial}")
    lines.append(describe_site(result.site))
    return "\n".join(lines)


def check(
    site: Annotated[str, typer.Argument(help="A file (国土 TXT, .csv, .xlsx, .shp, .gpkg, .geojson, .kml, .kmz) "
                                             "or coordinates, e.g. '87.6033,43.8011'.")],
    industry: Annotated[str | None, typer.Option(help="Industry (行业), e.g. 电力, 水泥, 化工, 畜禽养殖.")] = None,
    boiler_tph: Annotated[float | None, typer.Option("--boiler-tph", help="Boiler size, t/h (蒸吨/小时).")] = None,
    fuel: Annotated[Fuel | None, typer.Option(help="Fuel of the boiler or unit.")] = None,
    coal_t: Annotated[float | None, typer.Option("--coal-t", help="New fuel-coal use, t/a.")] = None,
    power_mw: Annotated[float | None, typer.Option("--power-mw", help="Generating capacity, MW.")] = None,
    wastewater: Annotated[bool | None, typer.Option("--wastewater/--no-wastewater",
                                                     help="Discharges production wastewater (涉水).")] = None,
    new: Annotated[bool, typer.Option("--new/--existing", help="New (新、改、扩建) or existing facility.")] = True,
    three_high: Annotated[bool | None, typer.Option("--three-high/--not-three-high", help="A 三高 project.")] = None,
    groundwater: Annotated[bool | None, typer.Option("--groundwater/--no-groundwater",
                                                      help="Abstracts groundwater.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date YYYY-MM-DD: layers and rules in force then.")] = None,
    buffers: Annotated[str, typer.Option(help="Proximity rings, km, comma-separated.")] = "1,5,10",
    tolerance_m: Annotated[float, typer.Option("--tolerance-m", help="Boundary-contact tolerance, m.")] = 0.5,
    store: Annotated[str | None, typer.Option("--store", help="GeoPackage path or postgresql:// URL "
                                                              "(default: the embedded dataset).")] = None,
    site_only: Annotated[bool, typer.Option("--site-only", help="Only read and show the site.")] = False,
    crs: Annotated[str | None, typer.Option("--crs", help="CRS of the input, e.g. EPSG:4517.")] = None,
    gk_zone: Annotated[int | None, typer.Option("--gk-zone", help="Gauss-Krüger zone for Y without its zone number.")] = None,
    datum: Annotated[Datum, typer.Option("--datum", help="gcj02 for Amap/Tencent, bd09 for Baidu coordinates.")] = Datum.wgs84,
    swap_xy: Annotated[bool, typer.Option("--swap-xy", help="Swap the two values of every vertex.")] = False,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding (detected when omitted).")] = None,
    output: Annotated[Output, typer.Option("--format", help="text for people, json for programs.")] = Output.text,
) -> None:
    """Check a project site: the zones it touches, the verdict per rule with its source, and the site as read."""
    from api.cli import fail

    try:
        parsed = read_site(site, crs=crs, gk_zone=gk_zone, datum=datum.value, swap_xy=True if swap_xy else None,
                           encoding=encoding)
        result = None
        if not site_only:
            rings = _parse_buffers(buffers)
            project = Project(industry=industry, boiler_tph=boiler_tph, fuel=fuel, coal_t=coal_t, power_mw=power_mw,
                              wastewater=wastewater, scope=Scope.new if new else Scope.existing,
                              three_high=three_high, groundwater=groundwater)
            with open_store(store) as opened:
                result = check_site(parsed, project, store=opened, as_of=as_of, buffers_km=rings,
                                    tolerance_m=tolerance_m)
    except EcozoneError as error:
        if output is Output.json:
            typer.echo(json.dumps({"error": error.to_dict()}, ensure_ascii=False, indent=2))
            raise typer.Exit(code=2) from None
        fail(error)
    except ValidationError as error:
        first = error.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else None
        raise typer.BadParameter(f"{first['msg']} (got {first.get('input')!r})", param_hint=option) from None
    if output is Output.json:
        body = {"site": parsed.model_dump(mode="json")} if result is None else result.model_dump(mode="json")
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        typer.echo(describe_site(parsed) if result is None else describe_check(result))


def _parse_buffers(text: str) -> tuple[float, ...]:
    try:
        rings = tuple(sorted(float(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise InputError("buffer rings must be numbers in km", field="--buffers", value=text,
                         fix="e.g. --buffers 1,5,10") from None
    if not rings or rings[0] <= 0:
        raise InputError("buffer rings must be positive distances in km", field="--buffers", value=text,
                         fix="e.g. --buffers 1,5,10")
    return rings
