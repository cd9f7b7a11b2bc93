"""The layers of the issue-22 rule families: heat networks, water supply, contaminated sites, vehicle zones, mines.

Each feature stands for a place the seed documents describe (the 石河子 黄标车 zone by its four roads, the
五家渠 heating network with the 昌吉–五家渠 urban fringe, the two cotton-pulp effluent ponds, the coal mines of the
伊犁黑蜂 reserve ...). None has a published boundary, so every geometry is illustrative (示意), placed at the
real place, and says so in ``geometry_source`` and ``geometry_note``; quotes are verbatim substrings of the
seeds. Places the documents only count or name in general (388 self-supplied wells in 8 divisions, tailings
ponds, 沙化土地封禁保护区, 环境已超载地区) get no feature: their kinds stay empty until an official layer is imported.
"""

from __future__ import annotations

import shapely

from data.boundaries import ellipse, grow
from data.zones_catalogue import BUILT_UP, CHP_PLANTS, D002, D003, feature, note

__all__ = ["LAYER_NOTES", "EMPTY_KINDS", "rule_layer_features"]

LAYER_NOTES = {
    "heat_network": "五家渠市区（含昌吉—五家渠城乡结合部，[002]）及昌吉州示意热电联产电厂所在城区（[003]）的集中供热管网覆盖范围；边界为示意。",
    "water_supply_area": "石河子市、五家渠市城区公共供水管网覆盖范围（[002] 自备井关闭）；边界为示意。",
    "contaminated_site": "棉浆粕企业纳污库：石河子郑氏化纤沙漠纳污区、芳草湖农场万翔化纤纳污地（[002]）；边界为示意。",
    "traffic_restriction_zone": "石河子市黄标车限行区（按西三路、S115线、东十路、南二路四条道路示意）、五家渠市建成区黄标车限行区域（[002]）。",
    "mine": "伊犁黑蜂自然保护区内的第四师71团三新煤业二矿、72团煤矿（[002]）；位置为示意。",
}

#: Kinds the documents name without any place: the default dataset holds no feature of them.
EMPTY_KINDS = ("enclosure_zone", "overloaded_area")

Q_WJQ_HEAT = "将昌吉-五家渠市城乡结合部区域纳入五家渠市集中供热范围"
Q_CJ_HEAT = "加快供热管网建设，充分释放和提高供热能力，淘汰管网覆盖范围内的燃煤锅炉和散煤"
Q_WELLS = "已摸排公共供水管网覆盖范围内自备井 388 眼，分布在 8 个师"
Q_ZHENGSHI = "第八师石河子市完成 236 亩沙漠纳污区域生态修复无害化治理工作"
Q_FANGCAOHU = "2018年11月11日完成20亩纳污地和周围150亩裸露地机械翻耕、土壤改良等生态修复工作"
Q_POND_FOUND = "但第八师师市政府及环境保护部门督促不力，对企业仍未开展纳污库无害化治理工作"
Q_POND_FOUND_6 = "但第六师师市政府及环境保护部门督促不力，对企业仍未开展纳污库无害化治理工作"
Q_SHZ_ZONE = "限行区域：石河子市西三路以东、S115 线以南、东十路以西、南二路以北范围内所有道路，禁止尾气排放不达标车辆通行"
Q_WJQ_ZONE = "划定建成区黄标车限行区域，发布黄标车禁行区域公告"
Q_MINES = "第四师71团三新煤业二矿、72团煤矿已停止一切生产经营活动"
Q_MINES_EXIT = "兵团发展改革委未将伊犁黑蜂自然保护区内的煤矿列入2016至2020年煤炭产能退出清单"

_MU_M2 = 10_000 / 15  # one 亩 in m²


def _built_up(key: str) -> shapely.Geometry:
    """The illustrative built-up area of ``key`` (as data.zones_catalogue draws it)."""
    _, _, lon, lat, a, b, rot, _, _ = BUILT_UP[key]
    return ellipse(lon, lat, a, b, rot)


def heat_network_features() -> list[dict]:
    """五家渠 (with the 昌吉–五家渠 fringe, [002]) and the towns of 昌吉州's illustrative CHP plants ([003])."""
    fringe = ellipse(87.45, 44.11, 3.5, 2.0, 35)  # between 昌吉市 and 五家渠市, the fringe [002] names
    out = [feature(
        "heat_network:wujiaqu", "五家渠市集中供热管网覆盖范围", shapely.union(grow(_built_up("wujiaqu"), 500), fringe),
        source_doc=D002, source_quote=Q_WJQ_HEAT, jurisdiction="兵团第六师五家渠市", name_en="Wujiaqu heating network",
        attributes={"city": "五家渠市", "network_type": "热电联产集中供热", "includes_urban_fringe": "昌吉—五家渠市城乡结合部",
                    "admin_adcode": "659004",
                    "geometry_note": note("五家渠城区外扩 500 m 并加上昌吉—五家渠城乡结合部（椭圆）")},
    )]
    for key in ("changji", "fukang", "manas"):
        city, adcode, lon, lat, mw, _ = CHP_PLANTS[key]
        out.append(feature(
            f"heat_network:{key}", f"{city}热电联产集中供热管网覆盖范围（示意）", grow(_built_up(key), 1000),
            source_doc=D003, source_quote=Q_CJ_HEAT, jurisdiction=f"昌吉回族自治州{city}",
            name_en=f"Illustrative CHP heating network ({key})",
            attributes={"city": city, "network_type": "热电联产集中供热", "chp_plant": f"chp:{key}",
                        "admin_adcode": adcode, "named_in_sources": False,
                        "geometry_note": note(f"来源文件未给出管网范围；按{city}示意城区外扩 1 km 绘制，热源为示意电厂")},
        ))
    return out


def water_supply_features() -> list[dict]:
    """Public water-supply coverage of 石河子 and 五家渠 ([002]: self-supplied wells inside close)."""
    out = []
    for key, division in (("shihezi", "第八师"), ("wujiaqu", "第六师")):
        city, adcode = BUILT_UP[key][:2]
        out.append(feature(
            f"water_supply:{key}", f"{city}公共供水管网覆盖范围（示意）", grow(_built_up(key), 500), source_doc=D002,
            source_quote=Q_WELLS, jurisdiction=f"兵团{division}{city}", name_en=f"{city} public water-supply coverage",
            attributes={"city": city, "admin_adcode": adcode,
                        "wells_found_xpcc_2019": "388 眼，分布在 8 个师（未逐一列名）",
                        "geometry_note": note(f"{city}城区外扩 500 m 绘制；来源文件未给出管网范围")},
        ))
    return out


def _remediation(as_of: str, status: str, detail: str, quote: str) -> dict:
    return {"as_of": as_of, "status": status, "detail": detail, "source_doc": D002, "source_quote": quote}


def contaminated_site_features() -> list[dict]:
    """The two cotton-pulp effluent ponds [002] reports, with their remediation as dated statuses."""
    def pond(lon: float, lat: float, mu: float):
        radius_km = (mu * _MU_M2 / 3.14159) ** 0.5 / 1000
        return ellipse(lon, lat, radius_km * 1.25, radius_km * 0.8)

    return [
        feature("contaminated:zhengshi-pond", "石河子郑氏化纤沙漠纳污区", pond(86.06, 44.43, 236), source_doc=D002,
                source_quote=Q_ZHENGSHI, subtype="effluent_pond", jurisdiction="兵团第八师石河子市",
                name_en="Zhengshi Chemical Fibre desert effluent area (Shihezi)",
                attributes={"operator": "石河子郑氏化纤有限公司", "industry": "棉浆粕", "area_mu": 236, "admin_adcode": "659001",
                            "remediation_status_history": [
                                _remediation("2017-09-11", "not_remediated", "中央环保督察发现纳污库未开展无害化治理", Q_POND_FOUND),
                                _remediation("2019-03-31", "remediated", "完成 236 亩沙漠纳污区域生态修复无害化治理", Q_ZHENGSHI)],
                            "geometry_note": note("236 亩纳污区按石河子市北部荒漠大致位置绘制为等面积椭圆")}),
        feature("contaminated:fangcaohu-pond", "芳草湖农场万翔化纤纳污地", pond(86.78, 44.70, 170), source_doc=D002,
                source_quote=Q_FANGCAOHU, subtype="effluent_pond", jurisdiction="兵团第六师芳草湖农场",
                name_en="Wanxiang Chemical Fibre effluent pond (Fangcaohu farm)",
                attributes={"operator": "新疆芳草湖万翔化纤有限公司", "industry": "棉浆粕", "area_mu": 170,
                            "admin_adcode": "652323", "accepted": "2018-11-18 通过专家及相关部门验收",
                            "remediation_status_history": [
                                _remediation("2017-09-11", "not_remediated", "中央环保督察发现纳污库未开展无害化治理",
                                             Q_POND_FOUND_6),
                                _remediation("2018-11-11", "remediated", "20 亩纳污地及周围 150 亩裸露地翻耕、土壤改良", Q_FANGCAOHU)],
                            "geometry_note": note("20 亩纳污地及周围 150 亩裸露地按芳草湖农场大致位置绘制为等面积椭圆")}),
    ]


def traffic_zone_features() -> list[dict]:
    """石河子's 黄标车 zone as its four roads bound it, and 五家渠's built-up restricted area ([002])."""
    # West: 西三路; north: S115; east: 东十路; south: 南二路 (approximate WGS 84 positions of the roads).
    shihezi = shapely.box(86.010, 44.285, 86.090, 44.330)
    return [
        feature("traffic:shihezi-yellow", "石河子市黄标车限行区", shihezi, source_doc=D002, source_quote=Q_SHZ_ZONE,
                subtype="yellow_label", jurisdiction="兵团第八师石河子市", name_en="Shihezi 黄标车 restricted zone",
                attributes={"city": "石河子市", "bounding_roads": "西三路以东、S115线以南、东十路以西、南二路以北",
                            "sign_sets": 74, "admin_adcode": "659001",
                            "geometry_note": note("按四条边界道路的大致位置绘制为矩形；以实际道路为准")}),
        feature("traffic:wujiaqu-yellow", "五家渠市建成区黄标车限行区域", _built_up("wujiaqu"), source_doc=D002,
                source_quote=Q_WJQ_ZONE, subtype="yellow_label", jurisdiction="兵团第六师五家渠市",
                name_en="Wujiaqu 黄标车 restricted area",
                attributes={"city": "五家渠市", "admin_adcode": "659004",
                            "inspections_stopped_from": "2018-07-01",
                            "geometry_note": note("与示意建成区相同")}),
    ]


def mine_features() -> list[dict]:
    """The two coal mines of the 伊犁黑蜂 reserve that have to leave it ([002])."""
    common = {"in_reserve": "伊犁黑蜂自然保护区", "status": "已停止一切生产经营活动；待自治区划定保护区后依法依规有序退出",
              "exit_required": True, "exit_quote": Q_MINES_EXIT}
    return [
        feature("mine:sanxin-2", "新疆三新煤业有限责任公司二矿", shapely.Point(83.14, 43.60), source_doc=D002,
                source_quote=Q_MINES, subtype="coal_mine", jurisdiction="兵团第四师71团", name_en="Sanxin Coal No. 2 mine",
                attributes={**common, "regiment": "71团", "admin_adcode": "654025",
                            "geometry_note": note("位于示意伊犁黑蜂自然保护区内，位置近似")}),
        feature("mine:tuan72", "72团煤矿", shapely.Point(82.75, 43.56), source_doc=D002, source_quote=Q_MINES,
                subtype="coal_mine", jurisdiction="兵团第四师72团", name_en="Regiment 72 coal mine",
                attributes={**common, "regiment": "72团", "admin_adcode": "654028",
                            "geometry_note": note("位于示意伊犁黑蜂自然保护区内，位置近似")}),
    ]


def rule_layer_features() -> dict[str, list[dict]]:
    """Every feature of the issue-22 kinds that hold any (polygons not yet clipped to the province)."""
    return {
        "heat_network": heat_network_features(),
        "water_supply_area": water_supply_features(),
        "contaminated_site": contaminated_site_features(),
        "traffic_restriction_zone": traffic_zone_features(),
        "mine": mine_features(),
    }
