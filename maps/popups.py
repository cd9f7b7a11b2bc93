"""Popup HTML of a zone: what an officer needs to read off the map, and where it comes from.

Built once in Python (escaped here, so the page never interprets data as markup) and carried to the page
as a string per zone.
"""

from __future__ import annotations

from html import escape
from typing import Any

from gis.kinds import GEOMETRY_SOURCES, KINDS
from maps.style import PARK_STATUS

__all__ = ["zone_popup"]

#: Attributes worth showing per kind, with their Chinese labels (others stay in the engine and the API).
KEY_ATTRIBUTES: dict[str, dict[str, str]] = {
    "ecological_redline": {"redline_function": "主导功能", "owner": "划定主体", "share_indicator": "面积比例指标"},
    "nature_reserve": {"reserve_name": "保护区", "functional_zone": "功能区", "level": "级别", "authority": "管理"},
    "natural_park": {"zoning": "分区"},
    "drinking_water_zone": {"source_name": "水源地", "source_type": "水源类型", "protection_level": "保护级别"},
    "industrial_park": {"division": "所属师", "city": "城市", "level": "级别", "chemical_park": "化工园区"},
    "key_region": {"members": "组成单元", "membership_source": "组成依据"},
    "built_up_area": {"city": "城市", "city_level": "城市级别"},
    "fuel_ban_zone": {"city": "城市", "banned_fuels": "禁燃燃料"},
    "chp_plant": {"capacity_mw": "装机容量 (MW)", "units": "机组"},
    "groundwater_zone": {"delineating_authority": "划定机关"},
    "livestock_ban_zone": {"basis": "划定依据"},
    "water_body": {"water_quality_class": "水质类别", "national_control_section": "国控断面"},
    "control_unit": {"unit_code": "单元编码", "access_list": "生态环境准入清单"},
    "admin_division": {"adcode": "行政区划代码", "level": "级别", "division": "所属师",
                       "targets_2011_2015": "“十二五”节能减排目标"},
    "heat_network": {"city": "城市", "network_type": "供热方式", "includes_urban_fringe": "含城乡结合部"},
    "water_supply_area": {"city": "城市"},
    "contaminated_site": {"operator": "责任单位", "area_mu": "面积（亩）", "accepted": "验收"},
    "traffic_restriction_zone": {"city": "城市", "bounding_roads": "边界道路", "sign_sets": "限行标识（套）"},
    "mine": {"regiment": "所属团场", "in_reserve": "所在保护区", "status": "状态"},
    "river_basin": {"basin_name": "流域"},
    "headwater_area": {"river": "河流", "place_basis": "位置依据"},
    "water_scarce_area": {"basis": "划定依据"},
    "eco_sensitive_area": {"lake": "湖泊（水库）", "basis": "依据"},
}

_QUOTE_CHARS = 160


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "".join(f"<div><b>{escape(str(k))}</b>：{escape(str(v))}</div>" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return escape("、".join(str(v) for v in value))
    return escape(str(value))


def _row(label: str, value: str) -> str:
    return f"<tr><th>{escape(label)}</th><td>{value}</td></tr>"


def zone_popup(row: dict[str, Any], park_status: str | None = None) -> str:
    """Popup of one zone row (ZONE_FIELDS); ``park_status`` is the park's status code on the map's date."""
    spec = KINDS[row["kind"]]
    attributes = row.get("attributes") or {}
    kind_text = spec.label_zh + (f" · {spec.subtype_label(row.get('subtype'))}" if row.get("subtype") else "")
    rows = [_row("类型", escape(kind_text))]
    if row.get("jurisdiction"):
        rows.append(_row("所在地", escape(row["jurisdiction"])))
    if park_status is not None:
        rows.append(_row("污水处理/限批", escape(PARK_STATUS[park_status][0])))
    for key, label in KEY_ATTRIBUTES.get(row["kind"], {}).items():
        value = attributes.get(key)
        if value not in (None, "", [], {}):
            rows.append(_row(label, _value(value)))
    if row.get("valid_from") or row.get("valid_to"):
        rows.append(_row("有效期", escape(f"{row.get('valid_from') or '…'} 至 {row.get('valid_to') or '今'}")))
    source = GEOMETRY_SOURCES.get(row["geometry_source"], row["geometry_source"])
    note = attributes.get("geometry_note")
    rows.append(_row("边界来源", escape(source) + (f"<div class='ez-note'>{escape(note)}</div>" if note else "")))
    if row.get("source_doc"):
        quote = row.get("source_quote") or ""
        if len(quote) > _QUOTE_CHARS:
            quote = quote[:_QUOTE_CHARS] + "…"
        rows.append(_row("依据", escape(row["source_doc"]) + (f"<div class='ez-quote'>「{escape(quote)}」</div>"
                                                            if quote else "")))
    badge = "<span class='ez-badge'>示意</span>" if row["geometry_source"] == "illustrative" else ""
    return (f"<div class='ez-popup'><h4>{escape(row['name'])}{badge}</h4>"
            f"<table>{''.join(rows)}</table><div class='ez-id'>{escape(row['zone_id'])}</div></div>")
