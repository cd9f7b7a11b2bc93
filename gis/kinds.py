"""The zone-kind vocabulary: one model for every layer, with what each kind must carry.

Every zone feature, whatever its kind, has the common fields of ``ZONE_FIELDS``. What is specific to a kind
(a park's sewage-plant history, a CHP plant's capacity, a control unit's access list ...) lives in the
feature's ``attributes`` mapping; ``KindSpec.required_attributes`` lists the keys the rules rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gis.errors import UnknownKindError

__all__ = ["KindSpec", "KINDS", "ZONE_FIELDS", "GEOMETRY_SOURCES", "get_kind"]

#: Common fields of every zone feature, in storage order (``geometry`` last).
ZONE_FIELDS = (
    "zone_id",  # stable across versions: the same zone keeps its id in a new official version
    "kind",
    "name",  # Chinese name as in the documents
    "name_en",
    "subtype",  # from KindSpec.subtypes, or None where the kind has none
    "jurisdiction",  # e.g. "兵团第八师石河子市" or "昌吉回族自治州呼图壁县"
    "attributes",  # kind-specific mapping (stored as JSON)
    "source_doc",  # document the zone or its facts come from
    "source_quote",  # quote from that document
    "geometry_source",  # one of GEOMETRY_SOURCES
    "valid_from",  # ISO date or None
    "valid_to",  # ISO date or None (exclusive)
)

#: Where a geometry comes from. ``illustrative`` = approximate, placed at the real place, shown as 示意.
GEOMETRY_SOURCES = {
    "official": "官方",
    "derived": "派生",
    "illustrative": "示意",
}


@dataclass(frozen=True)
class KindSpec:
    """What a zone kind is and what its features must carry."""

    name: str
    label_zh: str
    label_en: str
    geometry: str  # "polygon" or "point"
    subtypes: dict[str, str] = field(default_factory=dict)  # code -> Chinese label
    subtype_required: bool = False
    required_attributes: tuple[str, ...] = ()
    description: str = ""

    def subtype_label(self, code: str | None) -> str | None:
        """The Chinese label of a subtype code, None for no code."""
        return self.subtypes.get(code) if code else None


_SPECS = [
    KindSpec(
        "ecological_redline", "生态保护红线", "Ecological protection red line", "polygon",
        subtypes={"bingtuan": "兵团划定", "autonomous_region": "自治区划定"},
        description="Managed as a prohibited-development area; its share of land must not fall (兵团 21.87 %).",
    ),
    KindSpec(
        "nature_reserve", "自然保护区", "Nature reserve (functional zone)", "polygon",
        subtypes={
            "core": "核心区",
            "buffer": "缓冲区",
            "experimental": "实验区",
            "core_protection": "核心保护区",
            "general_control": "一般控制区",
        },
        subtype_required=True,
        required_attributes=("reserve_name", "level"),
        description="One feature per functional zone; attributes name the reserve and its level.",
    ),
    KindSpec(
        "natural_park", "自然公园", "Natural park", "polygon",
        subtypes={"wetland_park": "湿地公园", "desert_park": "沙漠公园"},
        subtype_required=True,
    ),
    KindSpec(
        "drinking_water_zone", "饮用水水源保护区", "Drinking-water source protection zone", "polygon",
        subtypes={"level_1": "一级保护区", "level_2": "二级保护区", "quasi": "准保护区"},
        subtype_required=True,
        required_attributes=("source_name",),
    ),
    KindSpec(
        "industrial_park", "工业园区", "Industrial park", "polygon",
        subtypes={
            "economic_development_zone": "经济技术开发区",
            "industrial_park": "工业园区",
            "high_tech_zone": "高新技术产业开发区",
            "agricultural_park": "农业科技园区",
            "chemical_park": "化工园区",
        },
        required_attributes=("level", "sewage_status_history", "water_project_freezes"),
        description="Sewage-plant status and water-project approval freezes are dated lists (as-of aware).",
    ),
    KindSpec(
        "key_region", "重点区域", "Key air-pollution region", "polygon",
        subtypes={"wu_chang_shi": "乌-昌-石", "kui_du_wu": "奎-独-乌", "nmg_key": "内蒙古重点区域"},
        subtype_required=True,
        required_attributes=("members", "membership_source"),
        description="Union of its member units; membership and its source are attributes.",
    ),
    KindSpec(
        "built_up_area", "城市建成区", "Built-up area", "polygon",
        required_attributes=("city", "city_level"),
    ),
    KindSpec(
        "fuel_ban_zone", "高污染燃料禁燃区", "High-pollution-fuel ban zone", "polygon",
        subtypes={"coal_ban": "禁煤区", "high_pollution_fuel": "高污染燃料禁燃区"},
        subtype_required=True,
        required_attributes=("city",),
    ),
    KindSpec(
        "chp_plant", "热电联产电厂", "Combined heat and power plant", "point",
        required_attributes=("capacity_mw",),
    ),
    KindSpec(
        "groundwater_zone", "地下水管控区", "Groundwater zone", "polygon",
        subtypes={"over_exploited": "地下水超采区", "prohibited": "地下水禁采区", "limited": "地下水限采区"},
        subtype_required=True,
    ),
    KindSpec("livestock_ban_zone", "畜禽养殖禁养区", "Livestock-farming ban zone", "polygon"),
    KindSpec(
        "control_unit", "环境管控单元", "Environmental control unit (三线一单)", "polygon",
        subtypes={"priority": "优先保护单元", "key": "重点管控单元", "general": "一般管控单元"},
        subtype_required=True,
        required_attributes=("unit_code", "access_list"),
        description="A complete, non-overlapping tiling of the covered area, each unit with its access list.",
    ),
    KindSpec(
        "water_body", "水体", "Water body", "polygon",
        subtypes={"reservoir": "水库", "lake": "湖泊", "river": "河流"},
        subtype_required=True,
    ),
    # -- kinds of the rule families of issue 22 (heat, water supply, soil, traffic, mines, land) ------------
    KindSpec(
        "heat_network", "集中供热管网覆盖范围", "Central-heating network coverage", "polygon",
        description="Where a (CHP) central-heating network reaches: coal boilers, loose coal and coal kilns "
                    "inside are phased out ([002], [003]).",
    ),
    KindSpec(
        "water_supply_area", "公共供水管网覆盖范围", "Public water-supply network coverage", "polygon",
        description="Where the public water-supply network reaches: self-supplied wells inside close ([002]).",
    ),
    KindSpec(
        "contaminated_site", "污染地块", "Contaminated site", "polygon",
        subtypes={"contaminated_plot": "污染地块（场地）", "effluent_pond": "纳污库（纳污坑塘）"},
        subtype_required=True,
        description="Contaminated plots and effluent ponds; attributes.remediation_status_history is a dated "
                    "list (as-of aware), read as remediation_status on the check's date.",
    ),
    KindSpec(
        "traffic_restriction_zone", "机动车限行区", "Vehicle restriction zone", "polygon",
        subtypes={"yellow_label": "黄标车限行区", "nonroad_low_emission": "非道路移动机械低排放控制区"},
        subtype_required=True,
        description="attributes.city names the city whose rules apply.",
    ),
    KindSpec(
        "mine", "矿山", "Mine, tailings pond or abandoned shaft", "point",
        subtypes={"coal_mine": "煤矿", "open_pit_mine": "露天矿山", "tailings_pond": "尾矿库",
                  "abandoned_shaft": "报废矿井、钻井"},
        subtype_required=True,
    ),
    KindSpec(
        "enclosure_zone", "封禁保护区", "Enclosure and grazing-ban zone", "polygon",
        subtypes={"sandy_land": "沙化土地封禁保护区", "degraded": "生态严重退化地区（封禁封育）",
                  "grazing_ban": "草原禁牧区"},
        subtype_required=True,
        description="Named by [002] and [004] without places: the default dataset holds none.",
    ),
    KindSpec(
        "overloaded_area", "环境超载地区", "Environmentally overloaded or secondary-risk area", "polygon",
        description="环境已超载或易引发次生环境风险的地区 ([004]); no place is named: the default dataset holds none.",
    ),
    KindSpec(
        "river_basin", "重点流域", "Key river basin", "polygon",
        description="A key basin (e.g. 黄河、辽河、松花江、海河), the part inside the covered province.",
    ),
    KindSpec(
        "headwater_area", "江河源头区", "Headwater area of a key basin", "polygon",
        description="Source area of a river of a key basin, where [001] bars new 造纸、印染、化工、皮革 projects.",
    ),
    KindSpec(
        "water_scarce_area", "缺水地区", "Water-scarce area", "polygon",
        description="Where high-water-use industrial projects are strictly limited ([001]).",
    ),
    KindSpec(
        "eco_sensitive_area", "重要和敏感生态区", "Important or sensitive ecological area", "polygon",
        description="Named lakes and their surroundings whose ecology the documents protect ([001]).",
    ),
    KindSpec(
        "admin_division", "行政区划", "Administrative division", "polygon",
        subtypes={
            "province": "省级",
            "prefecture": "地级",
            "county": "县级",
            "bingtuan_city": "兵团城市",
        },
        subtype_required=True,
        required_attributes=("adcode",),
    ),
]

#: The vocabulary, by kind name.
KINDS: dict[str, KindSpec] = {spec.name: spec for spec in _SPECS}


def get_kind(name: str) -> KindSpec:
    """Return the spec of kind ``name``, or raise an error listing the known kinds."""
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKindError(
            f"「{name}」不是 ecozone 的图层类型 / '{name}' is not a known zone kind",
            field="kind",
            value=name,
            fix="改用以下类型之一 / use one of: " + ", ".join(KINDS),
        ) from None
