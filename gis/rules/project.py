"""What the project is: the facts the rules ask about (industry, scope, boiler, fuel, coal, power, water).

Every fact is optional. A rule that needs a fact the officer did not give is not guessed: it comes out as
需核查 (needs review) naming the missing fact, except for the facts an officer declares only when the project
has them (``DECLARED_FACTS``: a furnace, a self-supplied well, a denitration gap ...), which read as absent.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Project", "Scope", "Fuel", "INDUSTRIES", "FACT_LABELS"]


class Scope(str, Enum):
    """New (新建, 改建, 扩建) or existing (现有) facility."""

    new = "new"
    existing = "existing"


class Fuel(str, Enum):
    coal = "coal"
    gas = "gas"
    oil = "oil"
    biomass = "biomass"
    electric = "electric"
    other = "other"


class Furnace(str, Enum):
    """Industrial furnace or kiln the [003] kiln rules name (工业炉窑)."""

    coal_hot_air = "coal_hot_air"
    coal_heating_drying = "coal_heating_drying"
    gas_producer = "gas_producer"
    fixed_bed_gasifier = "fixed_bed_gasifier"
    other_kiln = "other_kiln"


FURNACE_LABELS = {
    Furnace.coal_hot_air: "燃煤热风炉",
    Furnace.coal_heating_drying: "燃煤加热、烘干炉（窑）",
    Furnace.gas_producer: "燃料类煤气发生炉",
    Furnace.fixed_bed_gasifier: "固定床间歇式煤气化炉",
    Furnace.other_kiln: "其他工业炉窑",
}


class Heating(str, Enum):
    """How the project is heated (供热方式)."""

    network = "network"
    boiler = "boiler"
    loose_coal = "loose_coal"
    electric = "electric"
    gas = "gas"
    other = "other"


HEATING_LABELS = {
    Heating.network: "集中供热管网",
    Heating.boiler: "自建锅炉",
    Heating.loose_coal: "散煤",
    Heating.electric: "电采暖",
    Heating.gas: "天然气",
    Heating.other: "其他",
}


#: Industry vocabulary of the rules (Chinese names as the documents use them), with GB/T 4754 hints.
INDUSTRIES: dict[str, str] = {
    "电力": "D44 电力、热力生产和供应业",
    "热力": "D443 热力生产和供应",
    "钢铁": "C31 黑色金属冶炼和压延加工业",
    "有色": "C32 有色金属冶炼和压延加工业",
    "电解铝": "C3216 铝冶炼",
    "工业硅": "C3140 硅冶炼",
    "煤炭": "B06 煤炭开采和洗选业",
    "采矿": "B 采矿业",
    "石油化工": "C25 石油、煤炭及其他燃料加工业",
    "煤化工": "C252 煤炭加工",
    "焦化": "C2520 炼焦",
    "化工": "C26 化学原料和化学制品制造业",
    "烧碱": "C2612 无机碱制造",
    "电石": "C2619 其他基础化学原料制造",
    "建材": "C30 非金属矿物制品业",
    "水泥": "C3011 水泥制造",
    "平板玻璃": "C3041 平板玻璃制造",
    "造纸": "C22 造纸和纸制品业",
    "印染": "C171 棉纺织及印染精加工",
    "皮革": "C19 皮革、毛皮、羽毛及其制品和制鞋业",
    "棉浆粕": "C2211 木竹浆制造",
    "电镀": "C3360 金属表面处理及热处理加工",
    "铸造": "C339 铸造及其他金属制品制造",
    "碳素": "C3091 石墨及碳素制品制造",
    "化肥": "C262 肥料制造",
    "包装印刷": "C2319 包装装潢及其他印刷",
    "工业涂装": "涂装工序（汽车、机械、家具等制造业）",
    "建筑施工": "E47-E50 建筑业",
    "屠宰": "C135 屠宰及肉类加工",
    "水产养殖": "A041 水产养殖",
    "石油天然气开采": "B07 石油和天然气开采业",
    "污水处理": "D4620 污水处理及其再生利用",
    "餐厨垃圾处理": "N7820 环境卫生管理",
    "废铅蓄电池收集": "N7724 危险废物治理",
    "畜禽养殖": "A03 畜牧业",
    "旅游": "N786 游览景区管理",
    "水电": "D4413 水力发电",
    "风电": "D4415 风力发电",
    "光伏": "D4416 太阳能发电",
    "房地产": "K70 房地产业",
    "交通": "G 交通运输",
    "农副食品加工": "C13 农副食品加工业",
    "其他": "",
}

#: How each fact is named to an officer, for "missing information" messages.
FACT_LABELS = {
    "industry": "行业 (--industry)",
    "scope": "新建或现有 (--new / --existing)",
    "boiler_tph": "锅炉规模 t/h (--boiler-tph)",
    "fuel": "燃料 (--fuel)",
    "coal_t": "新增燃料煤 t/a (--coal-t)",
    "power_mw": "装机容量 MW (--power-mw)",
    "wastewater": "是否排放生产废水 (--wastewater / --no-wastewater)",
    "water_related": "是否涉水项目 (--wastewater / --no-wastewater)",
    "three_high": "是否“三高”项目 (--three-high)",
    "groundwater": "是否开采地下水 (--groundwater)",
    "is_power": "行业 (--industry)",
}


def _declared(label_zh: str, *headers: str, unit: str | None = None, **kwargs) -> Any:
    """A fact declared only when the project has it (``DECLARED_FACTS``): optional, with its Chinese label,
    unit and the register headers that name it (as every fact's ``json_schema_extra``)."""
    extra = {"label_zh": label_zh, "unit": unit, "headers": list(headers), "declared": True}
    return Field(default=None, json_schema_extra=extra, **kwargs)


class Project(BaseModel):
    """The project being checked. Units: t/h for boilers, t/a for coal, MW for power."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    industry: str | None = Field(default=None, description="One of INDUSTRIES (Chinese), e.g. 电力, 水泥.")
    gbt4754: str | None = Field(default=None, description="GB/T 4754 industry code, e.g. C3011.")
    scope: Scope | None = Field(default=None, description="new (新、改、扩建) or existing.")
    boiler_tph: float | None = Field(default=None, ge=0, description="Boiler capacity, t/h (蒸吨/小时).")
    fuel: Fuel | None = Field(default=None, description="Fuel of the boiler or generating unit.")
    coal_t: float | None = Field(default=None, ge=0, description="New fuel-coal use, tonnes per year.")
    power_mw: float | None = Field(default=None, ge=0, description="Generating capacity, MW.")
    # Facts of the issue-22 rule families. Each is declared by the officer or left out; left out, the project
    # is taken not to have it (DECLARED_FACTS), so the rules that need it do not apply.
    furnace: Furnace | None = _declared("工业炉窑", "工业炉窑", "炉窑类型",
                                        description="Industrial furnace or kiln (工业炉窑) the project runs.")
    furnace_diameter_m: float | None = _declared("煤气发生炉炉膛直径", "炉膛直径", unit="m", ge=0,
                                                 description="Furnace diameter of a gas producer, m.")
    clinker_tpd: float | None = _declared("水泥熟料生产规模", "熟料规模", "熟料产能", unit="t/d", ge=0,
                                          description="Cement clinker line capacity, t/d (熟料).")
    heating: Heating | None = _declared("供热方式", "供热方式", "采暖方式", description="How the project is heated (供热方式).")
    replaced_boiler_tph: float | None = _declared(
        "替代关停的燃煤小锅炉", "替代锅炉", "关停锅炉", unit="t/h", ge=0,
        description="Small coal boilers the project replaces and closes, total t/h (等容量替代).")
    stack_height_m: float | None = _declared("排气筒高度", "排气筒高度", "烟囱高度", unit="m", ge=0,
                                             description="Height of the tallest stack, m.")
    self_supplied_well: bool | None = _declared("自备井", "自备井", description="Has a self-supplied well (自备井).")
    surface_water: bool | None = _declared("取用地表水", "地表水", "取用地表水",
                                           description="Abstracts surface water (river or lake intake, dam).")
    unlicensed_abstraction: bool | None = _declared("无证取水", "无证取水", "无取水许可",
                                                    description="Abstracts water without a licence (无证取水).")
    yellow_label_vehicles: bool | None = _declared(
        "使用黄标车或尾气不达标车辆", "黄标车", description="Runs 黄标车 or vehicles whose exhaust fails the standards.")
    diesel_truck_stage: int | None = _declared(
        "营运柴油货车排放阶段（国一至国六）", "柴油货车排放阶段", "柴油货车排放标准", ge=1, le=6,
        description="Emission stage of its operating diesel trucks (国一..国六 = 1..6).")
    nonroad_high_emission: bool | None = _declared("使用高排放非道路移动机械", "高排放非道路移动机械",
                                                   description="Uses high-emission non-road machinery.")
    onsite_mixing: bool | None = _declared("施工现场砼、砂搅拌", "现场搅拌", "现场砼砂搅拌",
                                           description="Mixes concrete or sand on the building site.")
    open_pit: bool | None = _declared("露天开采", "露天开采", "露天矿山", description="An open-pit mine (露天矿山).")
    tailings_pond: bool | None = _declared("新建、改建、扩建尾矿库", "尾矿库",
                                           description="Builds or extends a tailings pond (尾矿库).")
    land_reclamation: bool | None = _declared("开荒（开垦新耕地、扩大灌溉面积）", "开荒", "开垦",
                                              description="Reclaims land (开荒) or grows the irrigated area.")
    relocation: bool | None = _declared("退城搬迁或整合搬迁", "搬迁", "退城搬迁", "整合搬迁",
                                        description="A relocation (退城搬迁, 整合搬迁) of an existing firm.")
    scattered_polluter: bool | None = _declared("“散乱污”企业", "散乱污", description="A 散乱污 (scattered, polluting) firm.")
    exceeds_standards: bool | None = _declared("超标排放", "超标排放", "未达标排放",
                                               description="Discharges above the emission standards.")
    denitration_missing: bool | None = _declared(
        "未按规定配套脱硝设施", "未配套脱硝", "缺脱硝设施",
        description="Lacks the denitration the national rules and its EIA approval require.")
    unpermitted_discharge: bool | None = _declared(
        "无证或不按证排污", "无证排污", "未按证排污",
        description="Discharges without a pollutant-discharge permit or against it.")
    no_capacity_replacement: bool | None = _declared(
        "未落实产能置换", "未落实产能置换", description="New capacity without equal or reduced capacity replacement.")
    captive_power: bool | None = _declared("企业自备电厂", "自备电厂", description="A captive power plant (企业自备电厂).")
    high_sulfur_petcoke: bool | None = _declared("掺烧高硫石油焦", "掺烧石油焦", "高硫石油焦",
                                                 description="Co-fires high-sulfur petroleum coke.")
    radiation_source: bool | None = _declared("使用放射源或射线装置", "放射源", "射线装置",
                                              description="Uses radioactive sources or ray devices.")
    hazardous_chemicals: bool | None = _declared("生产危险化学品", "危险化学品", "危化品",
                                                 description="Produces hazardous chemicals (危险化学品).")
    remediation: bool | None = _declared("污染场地治理修复项目", "治理修复", "修复项目",
                                         description="Remediates a contaminated site (治理修复).")
    sensitive_land_use: bool | None = _declared(
        "用途变更为住宅、公共管理与公共服务用地", "用途变更", "敏感用地",
        description="Changes land use to housing or public services (住宅、公共管理与公共服务).")
    co_processing: bool | None = _declared("水泥窑协同处置危险废物", "协同处置",
                                           description="A cement kiln co-processing hazardous waste (协同处置).")
    wastewater: bool | None = Field(default=None, description="Discharges production wastewater (生产废水).")
    three_high: bool | None = Field(default=None, description="A 三高 project (高耗能、高污染、高排放).")
    groundwater: bool | None = Field(default=None, description="Abstracts groundwater (new or more wells).")

    @property
    def water_related(self) -> bool | None:
        """涉水项目: taken as a project that discharges production wastewater."""
        return self.wastewater

    @property
    def is_power(self) -> bool | None:
        """Power-sector project (电力行业), as the coal-offset rules distinguish it."""
        if self.industry is None:
            return None
        return self.industry in {"电力", "热力"}

    @property
    def abstracts_water(self) -> bool | None:
        """Takes groundwater or surface water (水资源论证 applies)."""
        given = [v for v in (self.groundwater, self.surface_water) if v is not None]
        return any(given) if given else None

    @property
    def equal_capacity_replacement(self) -> bool | None:
        """A new boiler no larger than the small coal boilers it replaces (等容量替代)."""
        if self.boiler_tph is None or self.replaced_boiler_tph is None:
            return None
        return self.replaced_boiler_tph >= self.boiler_tph

    def fact(self, name: str):
        """The value of a fact by name (fields and derived facts alike)."""
        return getattr(self, name)


#: Facts computed from the fields (``Project`` properties) that rules may test as well.
DERIVED_FACTS = ("water_related", "is_power", "abstracts_water", "equal_capacity_replacement")

#: Facts the officer declares only when the project has them: left out, the project is taken not to have
#: them (a yes/no fact reads as no), so a rule that needs one does not apply, never 需核查. The fields made
#: with ``_declared`` and the derived facts computed from them.
DECLARED_FACTS = tuple(name for name, info in Project.model_fields.items()
                       if (info.json_schema_extra or {}).get("declared")) + ("abstracts_water",
                                                                              "equal_capacity_replacement")

# The declared facts' labels come from their fields; the derived ones are named here.
FACT_LABELS.update({
    name: info.json_schema_extra["label_zh"] + (f"（{info.json_schema_extra['unit']}）"
                                                if info.json_schema_extra["unit"] else "")
    for name, info in Project.model_fields.items() if name in DECLARED_FACTS
} | {"abstracts_water": "取用地下水或地表水", "equal_capacity_replacement": "等容量替代现有燃煤小锅炉"})
