"""What a report says, laid out once for every format: headings, paragraphs and tables of text.

The words of the check come from ``gis.presentation`` (headline, rules, zones, relations, layers, the site,
notices); this module only arranges them into sections and adds what only a report has: the 拐点 table in
both coordinate systems and the provenance that makes the report reproducible.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gis.check import CheckResult
from gis.crs import wgs84_to_bd09, wgs84_to_gcj02
from gis.evidence import FORMAT, LEGACY_FORMAT, Evidence
from gis.presentation import (ILLUSTRATIVE_NOTE, NO_RESTRICTION, POSSIBLE_TITLE, UNCHECKED_TITLE,
                              LAYER_STATUS, headline, project_lines, project_name, rule_fields, rule_heading, site_lines,
                              source_text)
from gis.results import Relation
from gis.rules.model import VERDICT_LABELS, Verdict
from gis.sites import Site

__all__ = ["Table", "Section", "Report", "report_content", "TITLE", "MAX_VERTICES"]

TITLE = "建设项目选址生态环境分区管控核查 — 审批前置研判证据材料"

#: 拐点 listed in the report; a larger site's vertices are in the embedded evidence (its site as read).
MAX_VERTICES = 300

#: How the report says it is verified, and its label of the layer versions' digests, by evidence format. A
#: report of format 1 is made again as it was written (its 内容 SHA-256 read as the layer's content now; it is
#: the digest recorded at import, which a check does not recompute), so that ``report verify`` still holds.
_VERIFYING = {
    LEGACY_FORMAT: ("核验方法：ecozone report verify 本文件 [--store 图层库]。该命令从本文件内嵌的核验数据"
                    "（地块、项目信息、核查选项）重新核查，并比较结果摘要；不一致时列出结论、规则和图层版本的变化。",
                    "内容 SHA-256"),
    FORMAT: ("核验方法：ecozone report verify 本文件 [--store 图层库]。该命令从本文件内嵌的核验数据（地块、项目信息、"
             "核查选项）重新核查并比较结果摘要，不一致时列出结论、规则、区域名称和图层版本的变化；一致时按核验数据重新生成"
             "报告，逐字比对本文件的文字。导入时内容 SHA-256 是图层版本导入时记录的摘要，核查时不重新计算；图层库是否仍与之"
             "一致，用 ecozone layers verify 核查。", "导入时内容 SHA-256"),
}


@dataclass
class Table:
    """Rows of text under a header; ``widths`` are relative column widths; ``code`` columns hold digests."""

    header: list[str]
    rows: list[list[str]]
    widths: list[float] | None = None
    caption: str | None = None
    code: set[int] = field(default_factory=set)
    key_value: bool = False  # a two-column table of labels and values (no header row drawn)
    numeric: set[int] = field(default_factory=set)  # columns of numbers, aligned right
    verdict: Verdict | None = None  # a rule's table: marked in its verdict's colour


@dataclass
class Section:
    """A heading with paragraphs, then tables."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    picture: bool = False  # the map picture goes here


@dataclass
class Report:
    """The whole report, format-free."""

    title: str
    headline: str
    verdict: Verdict
    summary: list[tuple[str, str]]
    sections: list[Section]
    picture_caption: str


def report_content(result: CheckResult, evidence: Evidence) -> Report:
    """Arrange a check and its evidence into the report's sections."""
    summary = [("结论", headline(result)), ("项目", project_name(result)),
               ("核查日期", f"{result.as_of.isoformat()}（图层与规则按此日现行）"), ("图层库", evidence.store),
               ("输入", f"{evidence.input.name or '坐标文本'}（SHA-256 {evidence.input.sha256}）"),
               ("结果摘要 SHA-256", evidence.result_sha256)]
    sections = [_verdict_section(result), Section("一、项目信息", paragraphs=project_lines(result)),
                *_rule_sections(result), _layer_section(result), _site_section(result),
                Section("五、位置示意图", picture=True), _provenance_section(evidence)]
    caption = (f"项目地块（★）、{' / '.join(f'{km:g}' for km in result.overlap.buffers_km)} km 缓冲区与周边区域，"
               f"{result.as_of} 现行图层；经纬度（WGS 84 / CGCS2000），按中心纬度等比例绘制。")
    return Report(title=TITLE, headline=headline(result), verdict=result.verdict, summary=summary,
                  sections=sections, picture_caption=caption)


def _verdict_section(result: CheckResult) -> Section:
    """What the headline rests on: how many rules apply, what was not checked, what is illustrative."""
    lines = []
    counts: dict[str, int] = {}
    for hit in result.rules.hits:
        counts[hit.verdict_label] = counts.get(hit.verdict_label, 0) + 1
    if counts:
        lines.append("适用或需核查的规则：" + "，".join(f"{label} {n} 条" for label, n in counts.items())
                     + "（见第二部分）")
    if result.verdict is Verdict.allowed:
        lines.append(NO_RESTRICTION)
    if result.rules.unchecked:
        lines.append(f"未核查的规则 {len(result.rules.unchecked)} 条：所需图层未覆盖项目位置（见第二、三部分）")
    if result.illustrative:
        lines.append(ILLUSTRATIVE_NOTE)
    return Section("结论依据", paragraphs=lines)


def _rule_sections(result: CheckResult) -> list[Section]:
    section = Section("二、规则核查")
    if not result.rules.hits:
        section.paragraphs.append(NO_RESTRICTION)
    for hit in result.rules.hits:
        rows = [[label, text] for label, text in rule_fields(hit, quote=False)]
        section.tables.append(Table(["项目", "内容"], rows, widths=[1, 5], caption=rule_heading(hit), key_value=True,
                                    verdict=hit.verdict))
    if result.rules.unchecked:
        section.tables.append(Table(
            ["规则", "若适用则为", "规则内容", "未核查原因"],
            [[hit.rule_id, VERDICT_LABELS[hit.rule_verdict], hit.title_zh, "；".join(hit.reasons)]
             for hit in result.rules.unchecked],
            widths=[1.1, 1, 3, 3], caption=UNCHECKED_TITLE))
    if result.rules.possible:
        section.tables.append(Table(
            ["规则", "若适用则为", "规则内容", "依据"],
            [[hit.rule_id, hit.verdict_label, hit.title_zh, source_text(hit, quote=False)]
             for hit in result.rules.possible],
            widths=[1.1, 1, 3, 3], caption=POSSIBLE_TITLE))
    return [section]


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _layer_section(result: CheckResult) -> Section:
    rows = []
    for layer in result.overlap.layers:
        head = [layer.label_zh, f"第 {layer.version} 版" if layer.version else "—", LAYER_STATUS[layer.status]]
        if layer.reason and layer.status != "checked":
            rows.append([*head, layer.reason, "", "", "", ""])
            head = ["", "", ""]
        elif not layer.hits:
            rows.append([*head, f"{layer.search_km:g} km 内无此类区域", "", "", "", ""])
        for hit in layer.hits:
            apart = hit.relation is Relation.NEAR
            rows.append([*head, hit.name, hit.relation_zh, "" if apart else _number(hit.overlap_m2),
                         "" if apart else _number(hit.overlap_pct, 2), _number(hit.distance_m, 0)])
            head = ["", "", ""]  # the layer is named once
    table = Table(["图层", "版本", "状态", "区域", "关系", "重叠面积 m²", "占地块 %", "距离 m"], rows,
                  widths=[1.3, 0.8, 0.9, 3.9, 0.9, 1.1, 0.8, 0.9], numeric={5, 6, 7})
    note = (f"搜索半径 {result.overlap.search_km:g} km（部分图层按规则更远）；面积、距离为 WGS 84 椭球面上的大地测量值；"
            f"边界接触容差 {result.overlap.tolerance_m:g} m。")
    return Section("三、各图层核查情况", paragraphs=[note], tables=[table])


def _site_section(result: CheckResult) -> Section:
    site = result.site
    table = vertex_table(site)
    return Section("四、项目地块（按输入读取）", paragraphs=site_lines(site), tables=[table] if table else [])


def vertex_table(site: Site) -> Table | None:
    """The site's 拐点: in the input's coordinate system (as the officer wrote them, recomputed from the site
    as read) and as CGCS2000 longitude/latitude; at most ``MAX_VERTICES`` rows. Numbered in the order of the
    site as read, not by the input's 点号: reading winds each outer ring anticlockwise and each hole clockwise
    (RFC 7946), from the same first point, so a ring given the other way round is listed in reverse."""
    rows: list[list[str]] = []
    source = _source_crs(site.source_crs.epsg)
    to_source = _from_wgs84(site.source_crs.epsg) if source is not None else None
    to_cgcs = _from_wgs84(4490)
    projected = source is not None and source.is_projected
    total = 0
    for plot_number, plot in enumerate(site.plots or [None], start=1):
        geometry = shapely.geometry.shape(plot.geometry if plot else site.geometry)
        for part_number, part in enumerate(shapely.get_parts(geometry), start=1):
            rings = ([part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part])
            for ring_number, ring in enumerate(rings, start=1):
                lonlat = np.asarray(ring.coords)[:, :2]
                if ring.geom_type == "LinearRing":
                    lonlat = lonlat[:-1]  # the closing point repeats the first
                given = _in_input(site, lonlat, to_source)
                lon, lat = to_cgcs.transform(lonlat[:, 0], lonlat[:, 1])
                for n in range(len(lonlat)):
                    total += 1
                    if len(rows) < MAX_VERTICES:
                        first, second = (given[n, 1], given[n, 0]) if projected else (given[n, 0], given[n, 1])
                        digits = 3 if projected else 7
                        rows.append([f"{plot_number}-{part_number}-{ring_number}", str(n + 1),
                                     f"{first:.{digits}f}", f"{second:.{digits}f}", f"{lon[n]:.7f}", f"{lat[n]:.7f}"])
    if not rows:
        return None
    label = site.source_crs.label + (f"，{site.datum.upper()}" if site.datum != "wgs84" else "")
    first, second = ("X（北）", "Y（东）") if projected else ("经度", "纬度")
    caption = (f"拐点坐标：输入坐标系 {label}，及 CGCS2000 经纬度（EPSG:4490）；按读取后的顺序编号（外圈逆时针、内圈"
               "顺时针，起点同输入），不是输入文件的点号：输入按相反方向排列的圈，此处顺序相反")
    if total > len(rows):
        caption += f"；共 {total} 个拐点，列出前 {len(rows)} 个，全部见内嵌的核验数据"
    return Table(["地块-部分-圈", "序号", f"输入 {first}", f"输入 {second}", "CGCS2000 经度", "CGCS2000 纬度"], rows,
                 widths=[1.2, 0.7, 1.6, 1.6, 1.5, 1.5], caption=caption, code={2, 3, 4, 5})


@functools.cache
def _source_crs(epsg: int | None) -> CRS | None:
    if epsg is None:
        return None
    try:
        return CRS.from_epsg(epsg)
    except CRSError:  # an EPSG code PROJ does not know: lon/lat only
        return None


@functools.cache
def _from_wgs84(epsg: int) -> Transformer:
    """A transformer from WGS 84 lon/lat, made once per CRS (making one looks up PROJ's database)."""
    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


def _in_input(site: Site, lonlat: np.ndarray, to_source: Transformer | None) -> np.ndarray:
    """The vertices back in the input's terms: the web map's datum, or the input CRS (x = east, y = north)."""
    if site.datum in ("gcj02", "bd09"):
        convert = wgs84_to_gcj02 if site.datum == "gcj02" else wgs84_to_bd09
        return shapely.get_coordinates(convert(shapely.multipoints(lonlat)))
    if to_source is None:
        return lonlat
    x, y = to_source.transform(lonlat[:, 0], lonlat[:, 1])
    return np.column_stack([x, y])


def _provenance_section(evidence: Evidence) -> Section:
    facts = [["ecozone 版本", evidence.ecozone_version], ["图层库", evidence.store],
             ["核查日期（as of）", evidence.options.as_of.isoformat()],
             ["缓冲区", " / ".join(f"{km:g}" for km in evidence.options.buffers_km) + " km"],
             ["边界接触容差", f"{evidence.options.tolerance_m:g} m"],
             ["输入", f"{evidence.input.name or '坐标文本'}（{'文件' if evidence.input.kind == 'file' else '文本'}）"],
             ["输入 SHA-256", evidence.input.sha256], ["结果摘要 SHA-256", evidence.result_sha256],
             ["核查时间（UTC）", evidence.created_at]]
    layers = [[layer.label_zh, str(layer.version), layer.effective_from, str(layer.feature_count), layer.content_sha256]
              for layer in evidence.layers]
    packs = [[pack.id, pack.version, pack.file or "", pack.sha256 or ""] for pack in evidence.rule_packs]
    how, digest = _VERIFYING[evidence.format]
    return Section("六、可核验信息（来源与摘要）", paragraphs=[how], tables=[
        Table(["项目", "内容"], facts, widths=[1.4, 5], code={1}, key_value=True),
        Table(["图层", "版本", "生效日期", "要素数", digest], layers, widths=[1.5, 0.6, 1.1, 0.7, 5.2],
              caption="所用图层版本", code={4}),
        Table(["规则包", "版本", "文件", "文件 SHA-256"], packs, widths=[1.2, 1.0, 1.3, 5.2], caption="所用规则包",
              code={3}),
    ])
