"""The texts an officer reads of a check, written once: the headline, each rule, zone, relation, quantity,
layer, the site as read and the notices. The command line, the batch columns, the report and the web pages
all take their words from here, so that a verdict reads the same wherever it is read.

Chinese first, English after where it helps. Where a text tells how to give a missing fact, the interface
says how in its own terms: ``give`` maps a fact's name to the interface's way of giving it (a command-line
option, an API field, a form field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from gis.check import CheckResult
from gis.kinds import KINDS
from gis.rules.evaluate import PARTLY_UNCHECKED, AccessItem, ComputedQuantity, MatchedZone, RuleHit
from gis.rules.model import VERDICT_LABELS, Verdict
from gis.rules.project import CHOICE_LABELS, FACT_LABELS
from gis.results import LayerCheck, Relation
from gis.sites import Site
from gis.sites.model import CRS_ORIGINS_ZH

__all__ = ["headline", "access_item_text", "coverage_note", "hit_lines", "rule_heading", "rule_fields", "unchecked_text",
           "LAYER_STATUS", "NO_RESTRICTION", "ILLUSTRATIVE_NOTE", "UNCHECKED_TITLE",
           "POSSIBLE_TITLE", "zone_text", "relation_label", "quantity_text", "source_text", "layer_text",
           "site_lines", "notice_text", "project_lines", "project_name", "check_lines", "reasons_text", "review_reasons",
           "unchecked_reasons", "join_reasons", "zones_text",
           "rules_text", "sources_text", "quantities_text", "Give"]

#: How an interface says to give a fact (``boiler_tph`` -> ``--boiler-tph``); None: name the fact only.
Give = Callable[[str], str] | None

_LEVELS = {"warning": "警告", "info": "说明", "assumed": "假设"}

#: Said when no rule restricts the project (verdict 允许).
NO_RESTRICTION = "无适用的限制性规则 (no rule restricts this project here)"
#: Said when a zone the site meets or comes near has an illustrative geometry.
ILLUSTRATIVE_NOTE = "注意：涉及的区域边界为示意数据（geometry_source = illustrative），仅供演示，须以官方图层为准"
#: Heading of the rules that could not be checked.
UNCHECKED_TITLE = "未核查的规则（所需图层未覆盖项目位置，不能视为无问题）"
#: What 需核查原因 says before the layers that do not cover the site, each with the rules it leaves unchecked.
UNCOVERED_TITLE = "未核查（所需图层未覆盖或未完全覆盖项目位置，不能视为无问题）"
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
#: Heading of the rules of the place for activities the project did not declare.
POSSIBLE_TITLE = "同址规则（项目未申报相应活动，供参考）"


def relation_label(relation: str | Relation) -> str:
    """位于区内, 部分重叠, 边界接触, 邻近 …"""
    return Relation(getattr(relation, "value", relation)).label_zh


def coverage_note(result: CheckResult) -> str:
    """What the verdict cannot say: the layers a rule of this place needs that do not cover the site."""
    kinds = [KINDS[kind].label_zh for kind in result.rules.uncovered_layers]
    if result.verdict is Verdict.not_checked and not kinds:
        return "没有图层覆盖项目位置，无法判定"
    if not kinds:
        return ""
    text = f"{len(kinds)} 个图层未覆盖项目位置（{'、'.join(kinds)}），相关规则未核查"
    return f"{text}，不能视为允许" if result.verdict_label == PARTLY_UNCHECKED else f"另有 {text}"


def headline(result: CheckResult) -> str:
    """The verdict as an officer reads it first, saying when layers a rule needs did not cover the site
    (never 允许 then)."""
    note = coverage_note(result)
    return result.verdict_label + (("；" if note.startswith("另有") else "：") + note if note else "")


def zone_text(zone: MatchedZone) -> str:
    """A zone a rule names: name, relation, distance when apart."""
    distance = f"，距离 {zone.distance_m:,.0f} m" if zone.distance_m else ""
    return f"{zone.name}（{relation_label(zone.relation)}{distance}）"


def quantity_text(quantity: ComputedQuantity) -> str:
    """A computed quantity with its formula, e.g. 需替代现有燃料煤 = 1.3 × 新增燃料煤（t/a） = 1.3 × 80,000 = 104,000.00
    t/a."""
    value = f"{quantity.value:,.2f} {quantity.unit}" if quantity.value is not None else "（缺少项目数据）"
    return f"{quantity.label_zh} = {quantity.formula} = {value}"


def source_text(hit: RuleHit, *, quote: bool = True) -> str:
    """The document, article and (by default) the quote a rule comes from, 「in corner brackets」, or the summary
    of the provision, labelled 概述, for a rule whose document is not quoted."""
    marker = "（非来源文件）" if hit.not_in_seeds and "非来源文件" not in hit.source_doc else ""
    article = f" {hit.source_article}" if hit.source_article else ""
    text = f"{hit.source_doc}{article}{marker}"
    if not quote:
        return text
    return text + (f"「{hit.source_quote}」" if hit.source_quote is not None else f"，概述：{hit.source_summary}")


def _reasons(hit: RuleHit, give: Give) -> list[str]:
    if give is None or not hit.missing_facts:
        return list(hit.reasons)
    hints = "、".join(give(fact) for fact in hit.missing_facts)
    return [*hit.reasons, f"补充项目信息：{hints}"]


def rule_heading(hit: RuleHit) -> str:
    """A rule's first line: verdict, id and title (原则上 when the rule is softened)."""
    soft = "（原则上）" if hit.softened else ""
    return f"[{hit.verdict_label}] {hit.rule_id} {hit.title_zh}{soft}"


def rule_fields(hit: RuleHit, give: Give = None, *, quote: bool = True) -> list[tuple[str, str]]:
    """What a rule says of this project, as (label, text) pairs: what it would say if it applies, the zones,
    condition, deadline, quantities, reasons and source (the quote apart, as 原文, or the summary, as 概述, when
    ``quote`` is False)."""
    fields = []
    if hit.verdict is Verdict.needs_review and hit.rule_verdict != hit.verdict:
        fields.append(("若适用则为", VERDICT_LABELS[hit.rule_verdict]))
    fields += [("区域", zone_text(zone)) for zone in hit.zones]
    if hit.condition_zh:
        fields.append(("条件", hit.condition_zh))
    if hit.deadline:
        fields.append(("期限", f"{hit.deadline}" + ("，已逾期" if hit.deadline_passed else "")))
    fields += [("计算", quantity_text(q)) for q in hit.quantities]
    fields += [("需核查", reason) for reason in _reasons(hit, give)]
    fields += [("准入清单", access_item_text(item)) for item in hit.access_items]
    fields.append(("依据", source_text(hit, quote=quote)))
    if not quote:
        fields.append(("原文", hit.source_quote) if hit.source_quote is not None else ("概述", hit.source_summary))
    return fields


def access_item_text(item: AccessItem) -> str:
    """A 三线一单 access-list item a rule applies: the unit (and its type), the part, the item's code and text."""
    unit = item.unit_name + (f"（{item.unit_type}）" if item.unit_type else "")
    return f"{unit} {item.part} {item.code}：{item.text}"


def hit_lines(hit: RuleHit, give: Give = None) -> list[str]:
    """One rule that applies or needs review: verdict, id and title, then zones, condition, deadline,
    quantities, reasons and source, one per line (the first unindented)."""
    return [rule_heading(hit), *(f"    {label}：{text}" for label, text in rule_fields(hit, give))]


def unchecked_text(hit: RuleHit) -> str:
    """A rule that could not be checked: what it would say, id, title and why."""
    return f"[{VERDICT_LABELS[hit.rule_verdict]}?] {hit.rule_id} {hit.title_zh} — {hit.reasons[0]}"


#: What a layer's status means for the site.
LAYER_STATUS = {"checked": "已核查", "partial": "部分覆盖", "not_checked": "未核查"}


def layer_text(layer: LayerCheck) -> str:
    """What one layer says of the site: the zones met, or the nearest, or none, or why it was not checked."""
    version = f" v{layer.version}" if layer.version else ""
    if layer.status == "not_checked":
        return f"{layer.label_zh}{version}：未核查 — {layer.reason}"
    touching = [h for h in layer.hits if h.relation is not Relation.NEAR]
    if touching:
        text = "；".join(f"{h.name}（{h.relation_zh}" + (f"，重叠 {h.overlap_pct:.1f}%" if h.overlap_pct else "")
                        + "）" for h in touching[:5])
    elif layer.hits:
        nearest = layer.hits[0]
        text = f"无重叠；最近 {nearest.name} {nearest.distance_m:,.0f} m"
    else:
        text = f"无（{layer.search_km:g} km 内无此类区域）"
    partial = f"（部分覆盖：{layer.reason}）" if layer.status == "partial" else ""
    return f"{layer.label_zh}{version}：{text}{partial}"


def notice_text(notice: dict[str, Any], give: Give = None) -> str:
    """A notice: level, row, message and what to do."""
    where = f"（第 {notice['row']} 行）" if notice.get("row") is not None else ""
    fix = notice.get("fix")  # said with input names already (``Notice.to_dict``)
    if give is not None and notice.get("field") and notice.get("level") in ("warning", "assumed"):
        fix = f"{fix}（{give(notice['field'])}）" if fix else give(notice["field"])
    return f"{_LEVELS.get(notice.get('level'), notice.get('level'))}{where}：{notice['message']}。" + (
        f" 处理建议：{fix}" if fix else "")


def origin_text(origin: str) -> str:
    """Where a site's CRS came from, Chinese first (the reader's English after it)."""
    columns = re.fullmatch(r"columns (.+)", origin)
    zh = f"{columns[1]} 列" if columns else CRS_ORIGINS_ZH.get(origin)
    return f"{zh} / {origin}" if zh else origin


def site_lines(site: Site) -> list[str]:
    """The site as read: plots, area, extent, where the coordinates came from, each conversion, warnings."""
    name = site.name or ("坐标文本" if site.source == "text" else site.source)
    lines = [f"项目地块：{name}（{site.geometry['type']}，{len(site.plots)} 个地块）"]
    if site.area_m2:
        lines.append(f"面积：{site.area_m2 / 10_000:,.4f} 公顷（{site.area_m2:,.1f} m²，WGS 84 椭球面积）")
    bounds = site.shape.bounds
    lines.append(f"位置：经度 {bounds[0]:.6f}–{bounds[2]:.6f}，纬度 {bounds[1]:.6f}–{bounds[3]:.6f}")
    lines.append(f"坐标来源 / source CRS：{site.source_crs.label}（{origin_text(site.source_crs.origin)}）")
    if site.datum != "wgs84":
        lines.append(f"网络地图坐标 / web-map datum：{site.datum}")
    lines += [f"转换 {n}：{c.description}" for n, c in enumerate(site.conversions, start=1)]
    described = {c.description for c in site.conversions}
    shown = [n for n in site.notices if not (n["level"] == "info" and n["message"] in described)]
    lines += [notice_text(notice) for notice in shown]
    if not any(n["level"] == "warning" for n in shown):
        lines.append("警告：无")
    return lines


def project_name(result: CheckResult) -> str:
    """The project's name as given; else said to be missing, with the site's own name (a 国土 TXT's 地块名称, a
    file's 项目名称) for the officer to know the decision by."""
    if result.project.name:
        return result.project.name
    return f"（未填写；地块：{result.site.name}）" if result.site.name else "（未命名）"


def project_lines(result: CheckResult, give: Give = None) -> list[str]:
    """The project's facts as given and assumed."""
    project = result.project
    given = [f"{FACT_LABELS.get(name, name)}：{_fact_value(value)}"
             for name, value in project.model_dump(exclude_none=True).items() if name not in ("name", "unknown_facts")]
    if project.unknown_facts:
        given.append("无法识别（需要的规则判为需核查）：" + "、".join(FACT_LABELS.get(n, n) for n in project.unknown_facts))
    lines = [f"项目：{project_name(result)}；" + ("，".join(given) if given else "未提供项目信息")]
    return lines + [notice_text(notice, give) for notice in result.project_notices]


def _fact_value(value: Any) -> str:
    value = getattr(value, "value", value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return CHOICE_LABELS.get(value, f"{value:,.10g}" if isinstance(value, float) else str(value))


def check_lines(result: CheckResult, give: Give = None) -> list[str]:
    """The whole check for an officer: the headline first, then each rule with its zone and source, the
    rules not checked, the rules of this place for undeclared activities, every layer, the project, the site."""
    lines = [f"结论 / verdict：{result.verdict_label}（{result.verdict.value}） — 核查日期 {result.as_of}，"
             f"图层库 {result.store}"]
    if note := coverage_note(result):
        lines.append(f"  {note}")
    for hit in result.rules.hits:
        lines += ["  " + line for line in hit_lines(hit, give)]
    if result.verdict is Verdict.allowed:
        lines.append(f"  {NO_RESTRICTION}")
    if result.illustrative:
        lines.append(f"  {ILLUSTRATIVE_NOTE}")
    if result.rules.unchecked:
        lines.append(f"{UNCHECKED_TITLE}：")
        for hit in result.rules.unchecked:
            lines.append(f"  {unchecked_text(hit)}")
    if result.rules.possible:
        lines.append(f"{POSSIBLE_TITLE}：")
        lines += [f"  [{hit.verdict_label}] {hit.rule_id} {hit.title_zh}" for hit in result.rules.possible]
    lines.append("图层 / layers：")
    lines += ["  " + layer_text(layer) for layer in result.overlap.layers]
    lines += project_lines(result, give)
    return lines + site_lines(result.site)


# -- one line per rule list, for the batch columns ------------------------------------------------------------
def rules_text(hits: Iterable[RuleHit]) -> str:
    """命中规则: rule id, verdict and title of each rule, worst first."""
    return "；".join(f"{h.rule_id} {h.verdict_label}：{h.title_zh}" for h in hits)


def sources_text(hits: Iterable[RuleHit]) -> str:
    """规则依据: the document and article of each rule."""
    return "；".join(f"{h.rule_id}：{source_text(h, quote=False)}" for h in hits)


def quantities_text(hits: Iterable[RuleHit]) -> str:
    """计算量: each rule's computed quantities."""
    return "；".join(f"{h.rule_id} {quantity_text(q)}" for h in hits for q in h.quantities)


def reasons_text(hits: Iterable[RuleHit], unchecked: Iterable[RuleHit], give: Give = None) -> str:
    """需核查原因: why each rule needs review, then the rules not checked: under each layer that does not cover
    the site (said once, however many rules need it), else by reason."""
    return join_reasons(review_reasons(hits, give), unchecked_reasons(unchecked))


def review_reasons(hits: Iterable[RuleHit], give: Give = None) -> list[str]:
    """The parts of 需核查原因 that say why each rule needs review."""
    return [f"{h.rule_id}：{r}" for h in hits for r in _reasons(h, give)]


def unchecked_reasons(unchecked: Iterable[RuleHit]) -> list[str]:
    """The parts of 需核查原因 that list the rules not checked, under each layer that does not cover the site,
    else by reason. The same for every project at one place: a batch makes them once per place."""
    by_layer: dict[str, list[str]] = {}
    by_reason: dict[str, list[str]] = {}
    for hit in unchecked:
        for kind in hit.uncovered_layers:
            by_layer.setdefault(kind, []).append(hit.rule_id)
        for reason in () if hit.uncovered_layers else hit.reasons:
            by_reason.setdefault(reason, []).append(hit.rule_id)
    reasons = []
    if by_layer:
        layers = "，".join(f"{KINDS[kind].label_zh}（{'、'.join(ids)}）" for kind, ids in
                          sorted(by_layer.items(), key=lambda item: _KIND_ORDER[item[0]]))
        reasons.append(f"{UNCOVERED_TITLE}：{layers}")
    return reasons + [f"{'、'.join(ids)} 未核查：{reason}" for reason, ids in by_reason.items()]


def join_reasons(review: list[str], unchecked: list[str]) -> str:
    """需核查原因 from its parts (``review_reasons``, ``unchecked_reasons``), each said once."""
    return "；".join(dict.fromkeys(review + unchecked))


def zones_text(layers: Iterable[LayerCheck]) -> str:
    """涉及区域: the zones the site lies in, overlaps or touches, with the share of the site for parcels."""
    zones = [f"{layer.label_zh}「{hit.name}」{hit.relation_zh}"
             + (f" {hit.overlap_pct:.2f}%" if hit.overlap_pct is not None else "")
             for layer in layers for hit in layer.hits if hit.relation is not Relation.NEAR]
    return "；".join(dict.fromkeys(zones))
