"""What the project is: the facts the rules ask about (industry, scope, boiler, fuel, coal, power, water).

Every interface (the command line, the API, a batch register's cells, the web form) hands its facts to
``read_project``, the one place where values are read, defaults applied and assumptions stated. A rule that
needs a fact the officer did not give is not guessed: it comes out as 需核查 (needs review) naming the
fact. Each fact's Chinese label, unit and the register headers that name it live on the model's field
(``FactSpec``), so that every interface offers every fact. Some facts an officer declares only when the
project has them (``DECLARED_FACTS``: a furnace, a self-supplied well, a denitration gap ...): left out, they
read as absent.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import typing
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gis.errors import FieldError, Notice

__all__ = ["Project", "ProjectColumn", "read_projects", "Scope", "Fuel", "Furnace", "Heating", "Process",
           "PolicyClass", "INDUSTRIES", "FACT_LABELS", "CHOICE_LABELS",
           "FactSpec", "ProjectFacts", "DEFAULTS", "DECLARED_FACTS", "DERIVED_FACTS", "BATCH_FACT_MARK",
           "batch_facts_said", "fact_specs", "read_project"]


class Scope(str, Enum):
    """New (新建, 改建, 扩建) or existing (现有) facility."""

    new = "new"
    existing = "existing"


class Fuel(str, Enum):
    """Fuel of a boiler or generating unit."""

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


class Process(str, Enum):
    """Production process of a kiln or line, where a rule bans or phases out a process ([001] 三(一)5)."""

    vertical_kiln = "vertical_kiln"
    wet_kiln = "wet_kiln"
    hollow_dry_kiln = "hollow_dry_kiln"
    new_dry_kiln = "new_dry_kiln"
    small_flat_glass = "small_flat_glass"
    float_glass = "float_glass"


PROCESS_LABELS = {
    Process.vertical_kiln: "水泥立窑",
    Process.wet_kiln: "水泥湿法窑",
    Process.hollow_dry_kiln: "水泥中空干法窑",
    Process.new_dry_kiln: "新型干法水泥窑",
    Process.small_flat_glass: "平板玻璃小平拉工艺",
    Process.float_glass: "浮法玻璃",
}


class PolicyClass(str, Enum):
    """The project's class in the national industry catalogue (《产业结构调整指导目录》)."""

    encouraged = "encouraged"
    permitted = "permitted"
    restricted = "restricted"
    eliminated = "eliminated"


POLICY_CLASS_LABELS = {
    PolicyClass.encouraged: "鼓励类",
    PolicyClass.permitted: "允许类",
    PolicyClass.restricted: "限制类",
    PolicyClass.eliminated: "淘汰类",
}


#: Industry vocabulary of the rules (Chinese names as the documents use them), with a GB/T 4754 hint.
#: ``gis.industries`` maps the standard's codes and names, the permit catalogue and common variants to these
#: sectors, and knows which sectors hold which (水泥 is within 建材): a rule naming 建材 applies to a 水泥 project.
INDUSTRIES: dict[str, str] = {
    "电力": "D44 电力、热力生产和供应业",
    "热力": "D443 热力生产和供应",
    "钢铁": "C31 黑色金属冶炼和压延加工业",
    "有色": "C32 有色金属冶炼和压延加工业",
    "电解铝": "C3216 铝冶炼",
    "工业硅": "C3218 硅冶炼",
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
    "农业": "A01 农业",
    "铁合金": "C3140 铁合金冶炼",
    "酒精": "C1511 酒精制造",
    "木材加工": "C20 木材加工和木、竹、藤、棕、草制品业",
    "汽车制造": "C36 汽车制造业",
    "锅炉制造": "C3411 锅炉及辅助设备制造",
    "铅蓄电池": "C3843 铅蓄电池制造",
    "废铅蓄电池利用": "C4210 金属废料和碎屑加工处理",
    "煤炭经营": "F5161 煤炭及制品批发",
    "加油站": "F5265 机动车燃油零售",
    "油库": "G5941 油气仓储",
    "其他": "",
}


@functools.cache
def _within(sector: str, code: str | None) -> frozenset[str]:
    """The sector and every sector holding it in the standard (the code's, or the sector's own code's)."""
    from gis.industries import resolve_industry

    return frozenset({sector, *resolve_industry(code or sector).sectors})


def _fact(label_zh: str, *headers: str, unit: str | None = None, **kwargs: Any) -> Any:
    """A project fact: optional, with its Chinese label, unit and the register headers that name it."""
    extra = {"label_zh": label_zh, "unit": unit, "headers": list(headers)}
    return Field(default=None, json_schema_extra=extra, **kwargs)


def _declared(label_zh: str, *headers: str, unit: str | None = None, **kwargs) -> Any:
    """A fact declared only when the project has it (``DECLARED_FACTS``): optional, with its Chinese label,
    unit and the register headers that name it (as every fact's ``json_schema_extra``)."""
    extra = {"label_zh": label_zh, "unit": unit, "headers": list(headers), "declared": True}
    return Field(default=None, json_schema_extra=extra, **kwargs)


class Project(BaseModel):
    """The project being checked. Units: t/h for boilers, t/a for coal, MW for power."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str | None = Field(default=None, max_length=500, description="Project name.",
                             json_schema_extra={"label_zh": "项目名称", "unit": None,
                                                "headers": ["项目名称", "名称", "企业名称", "单位名称", "排污单位名称"]})
    industry: str | None = _fact("行业", "行业", "行业类别", "所属行业", max_length=200,
                                 description="Industry: a rule sector (电力, 水泥 …), a GB/T 4754 code or name.")
    gbt4754: str | None = _fact("国民经济行业代码", "行业代码", "国民经济行业代码", max_length=20,
                                description="GB/T 4754 industry code, e.g. C3011.")
    scope: Scope | None = _fact("建设性质", "建设性质", "项目性质", "性质",
                                description="new (新、改、扩建) or existing.")
    boiler_tph: float | None = _fact("锅炉规模", "锅炉规模", "锅炉蒸吨", "锅炉容量", "锅炉", unit="t/h", ge=0,
                                     allow_inf_nan=False, description="Boiler capacity, t/h (蒸吨/小时).")
    fuel: Fuel | None = _fact("燃料", "燃料", "燃料类型", "锅炉燃料",
                              description="Fuel of the boiler or generating unit.")
    coal_t: float | None = _fact("新增燃料煤", "新增燃煤量", "新增燃料煤", "燃料煤", "耗煤量", "新增耗煤量", unit="t/a",
                                 ge=0, allow_inf_nan=False, description="New fuel-coal use, tonnes per year.")
    power_mw: float | None = _fact("装机容量", "装机容量", "装机", unit="MW", ge=0, allow_inf_nan=False,
                                   description="Generating capacity, MW.")
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
    wastewater: bool | None = _fact("排放生产废水", "生产废水", "排放生产废水", "是否排放生产废水", "废水",
                                    description="Discharges production wastewater (生产废水).")
    three_high: bool | None = _fact("“三高”项目", "三高", "是否三高",
                                    description="A 三高 project (高耗能、高污染、高排放).")
    groundwater: bool | None = _fact("开采地下水", "地下水", "开采地下水", "取用地下水",
                                     description="Abstracts groundwater (new or more wells).")

    water_intensive: bool | None = _fact("高耗水型工业项目", "高耗水", "是否高耗水",
                                         description="A high-water-use (高耗水型) industrial project.")
    process: Process | None = _fact("生产工艺", "生产工艺", "工艺",
                                    description="Kiln or line process, e.g. vertical_kiln (立窑).")
    open_storage: bool | None = _fact("露天堆存煤炭等物料", "露天堆场", "露天堆存",
                                      description="Stores coal or bulk material in the open (露天堆场).")
    heavy_metals: bool | None = _fact("涉重金属", "涉重金属", "重金属",
                                      description="Handles heavy metals (涉重金属: Pb, Hg, Cd, Cr, As).")
    elimination_overdue: bool | None = _fact("未按期淘汰的落后产能", "未按期淘汰", "落后产能",
                                             description="Backward capacity whose elimination deadline has passed "
                                                         "(未按期淘汰).")
    policy_class: PolicyClass | None = _fact("《产业结构调整指导目录》类别", "产业政策类别", "指导目录类别",
                                             description="Class in the national industry catalogue "
                                                         "(《产业结构调整指导目录》).")
    unknown_facts: tuple[str, ...] = Field(
        default=(), description="Facts the source gave but that could not be read (a register's cell 「二十吨」): a "
                                "rule that needs one is 需核查, never checked as if the fact were not declared or "
                                "taken by default.")

    @field_validator("unknown_facts")
    @classmethod
    def _facts_named(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        """Only facts can be unknown: a name that is none would silently change nothing."""
        wrong = [name for name in names if name not in cls.model_fields or name in ("name", "unknown_facts")]
        if wrong:
            raise ValueError(f"不是项目信息 / not project facts: {', '.join(map(str, wrong))}")
        return tuple(dict.fromkeys(names))

    @property
    def water_related(self) -> bool | None:
        """涉水项目: taken as a project that discharges production wastewater."""
        return self.wastewater

    @property
    def is_power(self) -> bool | None:
        """Power-sector project (电力行业: power generation, 热电联产 included), as the coal-offset rules distinguish
        it: 电力, or 热力 with generating capacity (a heat-supply project with generating units is 热电联产); heat
        supply alone (热力生产和供应, D443, no generating unit) is not power."""
        if self.industry is None:
            return None
        return self.industry == "电力" or (self.industry == "热力" and (self.power_mw or 0) > 0)

    @property
    def generating_mw(self) -> float:
        """Generating capacity, MW, 0 when the project declares no generating unit (a boiler alone): the rules
        that close coal boilers but not the power or CHP units they stand by compare it."""
        return self.power_mw or 0.0

    @property
    def combustion_source(self) -> bool:
        """Burns fuel on site (an air-emission source): a boiler not electric, an industrial furnace or kiln, fuel
        coal, a fuel burnt (coal, oil, gas, biomass), or heating by its own boiler, loose coal or gas. Nothing of
        that declared: no such source."""
        burnt = {Fuel.coal, Fuel.oil, Fuel.gas, Fuel.biomass}
        return bool(self.furnace is not None or (self.coal_t or 0) > 0 or self.fuel in burnt
                    or (self.boiler_tph is not None and self.fuel is not Fuel.electric)
                    or self.heating in {Heating.boiler, Heating.loose_coal, Heating.gas})

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
        """The value of a fact by name (fields and derived facts alike). The industry is the set of sectors
        holding the project's (a 水泥 project is also 建材), so that a rule naming the wider sector applies."""
        if name == "industry":
            return None if self.industry is None else _within(self.industry, self.gbt4754)
        return getattr(self, name)


#: Facts computed from the fields (``Project`` properties) that rules may test as well.
DERIVED_FACTS = ("water_related", "is_power", "abstracts_water", "equal_capacity_replacement", "generating_mw",
                 "combustion_source")

#: The fields each derived fact is computed from: such a field is never read in classes (``read_projects``).
DERIVED_FROM = {"water_related": ("wastewater",), "is_power": ("industry", "power_mw"),
                "abstracts_water": ("groundwater", "surface_water"),
                "equal_capacity_replacement": ("boiler_tph", "replaced_boiler_tph"),
                "generating_mw": ("power_mw",),
                "combustion_source": ("furnace", "coal_t", "fuel", "boiler_tph", "heating")}

#: Numeric fields that derived facts compare with 0 only, or pass on as they are (``generating_mw`` is
#: ``power_mw``): rows are classed by the side of 0 and of the thresholds the rules give the field and those facts,
#: not by every value (a register's coal tonnages differ on every row), unlike the other fields of
#: ``DERIVED_FROM``, which a derived fact compares with each other.
BINNED_INPUTS = {"coal_t": ("coal_t",), "power_mw": ("power_mw", "generating_mw")}

#: Facts the officer declares only when the project has them: left out, the project is taken not to have
#: them (a yes/no fact reads as no), so a rule that needs one does not apply, never 需核查. The fields made
#: with ``_declared`` and the derived facts computed from them.
DECLARED_FACTS = tuple(name for name, info in Project.model_fields.items()
                       if (info.json_schema_extra or {}).get("declared")) + ("abstracts_water",
                                                                              "equal_capacity_replacement")

@dataclass(frozen=True)
class FactSpec:
    """How a fact is asked for: name, Chinese label, kind of value, unit, choices and register headers."""

    name: str
    label_zh: str
    kind: str  # "number", "bool", "choice" or "text"
    unit: str | None
    choices: tuple[str, ...]
    headers: tuple[str, ...]
    description: str


@functools.cache
def fact_specs() -> tuple[FactSpec, ...]:
    """Every fact of ``Project``, in order, as the interfaces offer them (the name is not a fact)."""
    specs = []
    for name, info in Project.model_fields.items():
        if name in ("name", "unknown_facts"):
            continue
        extra = info.json_schema_extra or {}
        base = next(a for a in typing.get_args(info.annotation) if a is not type(None))
        kind = ("bool" if base is bool else "number" if base in (int, float)
                else "choice" if isinstance(base, type) and issubclass(base, Enum) else "text")
        choices = tuple(e.value for e in base) if kind == "choice" else ()
        specs.append(FactSpec(name, extra.get("label_zh", name), kind, extra.get("unit"), choices,
                              tuple(extra.get("headers", ())), info.description or ""))
    return tuple(specs)


@functools.cache
def _specs_by_name() -> Mapping[str, FactSpec]:
    """``fact_specs`` by name (read-only: it is shared)."""
    return MappingProxyType({spec.name: spec for spec in fact_specs()})


#: How each fact (and derived fact) is named to an officer.
FACT_LABELS = {spec.name: spec.label_zh + (f"（{spec.unit}）" if spec.unit else "") for spec in fact_specs()} | {
    "water_related": "是否涉水项目（排放生产废水）",
    "is_power": "行业",
    "abstracts_water": "取用地下水或地表水",
    "equal_capacity_replacement": "等容量替代现有燃煤小锅炉",
    "generating_mw": "发电机组装机容量（MW，未申报发电机组的按0）",
    "combustion_source": "有燃烧排放源（锅炉、工业炉窑、燃料煤或其他燃料）",
}

#: Facts that take a value when none is given, the value, and how the assumption is stated. A check before
#: approval (审批前置研判) is of a new, rebuilt or expanded project; a register of existing works says so
#: once for the whole file (the batch's defaults).
DEFAULTS: dict[str, Any] = {"scope": Scope.new}

#: What the notice of a fact taken from ``read_project``'s ``defaults`` (a batch's 整批假定: every row that does
#: not give the fact) ends with, in its Chinese text: 建设性质未填写，按现有核查（整批假定）. It tells such a fact
#: from one of ``DEFAULTS``, which every check takes; ``batch_facts_said`` finds it in a screening's 读取提示.
BATCH_FACT_MARK = "整批假定"
#: A fact taken by default is said 「建设性质未填写，按现有核查」, a batch-wide one with （整批假定） after it
#: (``read_project`` writes it); ``batch_facts_said`` finds the batch-wide ones by this pattern of the same words.
_TAKEN_BATCH_FOUND = re.compile(r"([^：；。，\s]+?)未填写，按([^：；。]+?)核查（" + re.escape(BATCH_FACT_MARK) + "）")


def _said(value: Any) -> str:
    """A fact's value as a notice says it to an officer (existing → 现有, True → 是)."""
    if isinstance(value, bool):
        return "是" if value else "否"
    value = getattr(value, "value", value)
    return str(CHOICE_LABELS.get(value, value)) if isinstance(value, str) else str(value)


def batch_facts_said(text: str | None) -> list[tuple[str, str]]:
    """The batch-wide facts (``BATCH_FACT_MARK``) a row's notices say it took, as (fact name, value as said):
    what a screening's 读取提示 tells of its ``defaults`` when nothing else records them (a CSV)."""
    names = {spec.label_zh: spec.name for spec in fact_specs()}
    return [(names[label], value) for label, value in _TAKEN_BATCH_FOUND.findall(text or "") if label in names]

_CHOICE_WORDS = {
    # the words of a work still to be built first (拟建, 未建, 搬迁 to a new site), then those of one standing
    "scope": (("改扩建", "new"), ("新建", "new"), ("改建", "new"), ("扩建", "new"), ("技改", "new"),
              ("迁建", "new"), ("搬迁", "new"), ("拟建", "new"), ("未建", "new"), ("在建", "new"), ("new", "new"),
              ("现有", "existing"), ("已建", "existing"), ("建成", "existing"), ("在产", "existing"),
              ("运营", "existing"), ("运行", "existing"), ("投产", "existing"), ("投运", "existing"),
              ("停产", "existing"), ("existing", "existing")),
    # gases first (液化石油气 is no oil, 煤气 and 煤层气 no coal), then coal and its products (兰炭, 焦炭: 高污染燃料目录)
    "fuel": (("生物质", "biomass"), ("液化石油气", "gas"), ("液化气", "gas"), ("石油气", "gas"), ("lpg", "gas"),
             ("lng", "gas"), ("cng", "gas"), ("天然气", "gas"), ("燃气", "gas"), ("煤气", "gas"), ("煤层气", "gas"),
             ("沼气", "gas"), ("木柴", "biomass"), ("木材", "biomass"), ("薪柴", "biomass"), ("秸秆", "biomass"),
             ("兰炭", "coal"), ("焦炭", "coal"), ("半焦", "coal"), ("煤", "coal"), ("油", "oil"),
             ("气", "gas"), ("电", "electric"), ("coal", "coal"), ("gas", "gas"), ("oil", "oil"),
             ("biomass", "biomass"), ("electric", "electric"), ("other", "other"), ("其他", "other"), ("其它", "other")),
    # the Chinese names of the other choices, longest first
    **{name: tuple(sorted(((label, key.value) for key, label in labels.items()), key=lambda w: -len(w[0])))
       for name, labels in (("furnace", FURNACE_LABELS), ("heating", HEATING_LABELS), ("process", PROCESS_LABELS),
                            ("policy_class", POLICY_CLASS_LABELS))},
}
#: How a choice is shown to an officer.
CHOICE_LABELS = {"new": "新建（新、改、扩建）", "existing": "现有", "coal": "煤", "gas": "天然气", "oil": "油",
                  "biomass": "生物质", "electric": "电", "other": "其他",
                  **{k.value: v for k, v in FURNACE_LABELS.items()},
                  **{k.value: v for k, v in PROCESS_LABELS.items()},
                  **{k.value: v for k, v in POLICY_CLASS_LABELS.items()},
                  **{k.value: v for k, v in HEATING_LABELS.items() if k.value not in ("electric", "gas", "other")}}
_YES = {"是", "有", "y", "yes", "true", "1", "√", "✓"}
_NO = {"否", "无", "n", "no", "false", "0", "×", "✗"}
_BLANK = {"", "-", "—", "/", "、", "未填", "未填写"}
#: Largest number a fact takes: above it a value is a typing error, not a project.
_MAX_NUMBER = 1e12
_FUEL_CHANGE = re.compile(r"改(?:为|用|成|烧|燃)?|→|->")
_FUEL_DENIED = re.compile(r"[无非不]")
_MORE_NUMBERS = re.compile(r"[×x*~\-—–至到、,，/+]\s*\d")
#: The longest project name kept (``Project.name``'s max_length).
_NAME_MAX = 500
#: Words of a unit written in a number's cell (吨, t/h, 蒸吨, MW, 千瓦): the cell then gives its own unit.
_UNIT_WORDS = ("吨", "t", "瓦", "w")
_NUMBER = re.compile(r"^([+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(万)?\s*(.*)$", re.IGNORECASE)


class ProjectFacts(BaseModel):
    """The project as read, and what the reading assumed or could not use (``Notice`` as dicts)."""

    model_config = ConfigDict(frozen=True)

    project: Project
    notices: list[dict[str, Any]] = Field(default_factory=list)


def read_project(values: Mapping[str, Any] | Project | None = None, *, defaults: Mapping[str, Any] | None = None,
                 strict: bool = True, row: Any = None, source: str | None = None,
                 multipliers: Mapping[str, float] | None = None, read: dict | None = None) -> ProjectFacts:
    """Read a project's facts from any interface: typed values or text (``"20"``, ``"新建"``, ``"是"``,
    ``"30万千瓦"``).

    Parameters
    ----------
    values
        Fact name -> value; a ``Project``; or None. Blank values are missing facts.
    defaults
        Values of missing facts, over ``DEFAULTS`` (e.g. ``{"scope": "existing"}`` for a register of
        existing works); each default applied is stated as an ``assumed`` notice.
    strict
        A value that cannot be read is a ``FieldError`` (commands, the API); otherwise it is left out with a
        notice (a register's cell: the row is still screened).
    row, source
        Where the values come from, for notices and errors.
    multipliers
        Per fact, a factor the values are given in (e.g. ``{"coal_t": 10_000}`` under a 万吨 header).
    read
        Values already read, kept by the caller for the next projects of the same ``row``, ``source`` and
        ``multipliers`` (a register's project classes repeat the same cells).

    Returns
    -------
    ProjectFacts
        The project and the notices: assumptions, an industry outside the rules' sectors, values left out.
    """
    if isinstance(values, Project):
        values = values.model_dump(exclude_none=True)
    values = dict(values or {})
    specs = _specs_by_name()
    notices: list[Notice] = []
    facts: dict[str, Any] = {}
    unknown: list[str] = list(values.pop("unknown_facts", ()))  # given, not read: never replaced by a default
    for name, value in values.items():
        if name not in specs and name != "name":
            raise FieldError(f"未知的项目信息「{name}」 / unknown project fact", field=name, value=value, row=row,
                             source=source, fix="使用以下项目信息之一 / use one of the project facts: " + ", ".join(specs))
        if name == "name":
            if not _blank(value):
                text = str(value).strip()
                if len(text) > _NAME_MAX:
                    if strict:
                        raise FieldError(f"项目名称过长（{len(text)} 个字符，至多 {_NAME_MAX}） / the project name is too long "
                                         f"({len(text)} characters, at most {_NAME_MAX})", field="name",
                                         value=text[:100], row=row, source=source,
                                         fix=f"给出至多 {_NAME_MAX} 个字符的名称 / give a name of at most {_NAME_MAX} characters")
                    notices.append(Notice("name_shortened", f"项目名称过长（{len(text)} 个字符），只取前 {_NAME_MAX} 个 / the "
                                          f"project name is cut to its first {_NAME_MAX} characters", row=row,
                                          field="name", value=text[:100], source=source, level="warning"))
                facts["name"] = text[:_NAME_MAX]
            continue
        if strict and isinstance(value, float) and math.isnan(value):  # a blank cell is NaN; a typed NaN is a slip
            raise FieldError(f"{specs[name].label_zh}「nan」不是数字 / not a number", field=name, value="nan", row=row,
                             source=source, fix=_fix(specs[name]))
        key = (name, type(value), value) if read is not None else None
        try:
            found = read.get(key) if key is not None else None
        except TypeError:  # a value that cannot be a key (a list): read each time
            key = found = None
        if found is not None:
            notices.extend(found[1])
        else:
            said = len(notices)
            try:
                found = ({}, ()) if _blank(value) else (
                    _read_fact(specs[name], value, (multipliers or {}).get(name, 1.0), notices, row, source),
                    notices[said:])
            except FieldError:
                if strict:
                    raise
                unknown.append(name)
                notices.append(Notice("fact_unreadable", f"无法识别{specs[name].label_zh}「{value}」，视为未知：需要此项的"
                                      f"规则判为需核查 / the value of '{name}' cannot be read: rules that need it "
                                      "need review", row=row, field=name,
                                      value=str(value)[:100], source=source, fix=_fix(specs[name]), level="warning"))
                continue
            if key is not None:
                read[key] = found
        facts.update(found[0])
    if facts.get("industry") is None and facts.get("gbt4754"):  # a 国民经济行业代码 column alone names the industry
        facts.update(_industry(facts["gbt4754"], notices, row, source))
    if facts.get("fuel") is None and "fuel" not in unknown and (facts.get("coal_t") or 0) > 0:  # new fuel coal declared: it burns coal
        facts["fuel"] = "coal"
        notices.append(Notice("fuel_from_coal", f"燃料未填写，按新增燃料煤（{facts['coal_t']:,.10g} 吨/年）推定为煤 / fuel not "
                              "given: coal, as new fuel coal is declared", row=row, field="fuel", value="coal",
                              source=source, fix="如不符，请填写燃料", level="assumed"))
    for name, default in {**DEFAULTS, **(defaults or {})}.items():
        if facts.get(name) is None and name not in unknown and not _blank(default):
            facts.update(_read_fact(specs[name], default, 1.0, notices, row, source))
            chosen = facts[name]
            mark = f"（{BATCH_FACT_MARK}）" if name in (defaults or {}) else ""
            notices.append(Notice("assumed", f"{specs[name].label_zh}未填写，按{_said(chosen)}核查{mark} / {name} not "
                                  f"given: checked as {getattr(chosen, 'value', chosen)}",
                                  row=row, field=name, value=chosen, source=source,
                                  fix=f"如不符，请填写{specs[name].label_zh}", level="assumed"))
    if unknown:
        facts["unknown_facts"] = tuple(dict.fromkeys(unknown))
    try:
        project = Project(**facts)
    except ValidationError as error:  # a value the model refuses (e.g. too long): name the fact
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else None
        raise FieldError(f"项目信息有误 / invalid project fact: {first['msg']}", field=field, row=row, source=source,
                         value=facts.get(field) if field else None,
                         fix=_fix(specs[field]) if field in specs else None) from None
    # built from values just checked: no need for pydantic to check them again
    return ProjectFacts.model_construct(project=project, notices=[n.to_dict() for n in notices])


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _BLANK


def _fix(spec: FactSpec) -> str:
    if spec.kind == "number":
        return f"填写数字（{spec.unit}），如 20"
    if spec.kind == "bool":
        return "填写 是 或 否"
    if spec.kind == "choice":
        return "填写 " + "、".join(dict.fromkeys(CHOICE_LABELS.get(c, c) for c in spec.choices))
    return f"填写{spec.label_zh}"


def _read_fact(spec: FactSpec, value: Any, multiplier: float, notices: list[Notice], row: Any,
               source: str | None) -> dict[str, Any]:
    """The fact(s) a value gives: ``{name: value}`` (the industry also gives its GB/T 4754 code)."""
    text = unicodedata.normalize("NFKC", str(value.value if isinstance(value, Enum) else value)).strip()

    def bad(why: str) -> FieldError:
        return FieldError(f"{spec.label_zh}「{text[:50]}」{why}", field=spec.name, value=text[:100], row=row,
                          source=source, fix=_fix(spec))

    if spec.kind == "number":
        return {spec.name: _number(value, text, spec, multiplier, bad)}
    if spec.kind == "bool":
        if isinstance(value, bool):
            return {spec.name: value}
        if text.lower() in _YES:
            return {spec.name: True}
        if text.lower() in _NO:
            return {spec.name: False}
        raise bad("不是“是”或“否” / not yes or no")
    if spec.kind == "choice":
        lowered = text.lower()
        if lowered in spec.choices:
            return {spec.name: lowered}
        if spec.name == "fuel":
            return {spec.name: _fuel(text, bad, notices, row, source)}
        for word, choice in _CHOICE_WORDS.get(spec.name, ()):
            if word in lowered:
                return {spec.name: choice}
        if "other" in spec.choices:
            return {spec.name: "other"}
        raise bad("无法识别 / not recognised")
    if spec.name == "industry":
        return _industry(text, notices, row, source)
    return {spec.name: text[:200]}


#: Fuels from the strictest for the rules (coal and oil are 高污染燃料) to the cleanest: a boiler that burns
#: several is checked as burning the strictest.
_FUEL_SEVERITY = ("coal", "oil", "biomass", "gas", "electric", "other")


def _fuel(text: str, bad, notices: list[Notice], row: Any, source: str | None) -> str:
    """The fuel a text names: after a change, the new one (``_fuel_burnt``); of several (燃煤+天然气, 天然气（备用
    燃煤）), the strictest, each assumption stated."""
    burnt = rest = _fuel_burnt(text.lower(), bad)
    found: list[str] = []
    for word, choice in _CHOICE_WORDS["fuel"]:  # longest words first where one holds another (煤气 before 煤)
        if word in rest:
            rest = rest.replace(word, " " * len(word))
            found.append(choice)
    if not found:
        raise bad("无法识别（煤、天然气、油、生物质、电或其他） / not recognised (coal, gas, oil, biomass, electric, other)")
    fuel = min(found, key=_FUEL_SEVERITY.index)
    if burnt != text.lower():
        notices.append(Notice("fuel_changed", f"燃料「{text[:50]}」按改用后的{CHOICE_LABELS[fuel]}核查 / checked as "
                              f"the fuel after the change: {fuel}", row=row, field="fuel", value=text[:100],
                              source=source, fix="如不符，请填写现用的燃料", level="assumed"))
    if len(set(found)) > 1:
        names = "、".join(dict.fromkeys(CHOICE_LABELS[f] for f in found))
        notices.append(Notice("fuel_several", f"燃料「{text[:50]}」含多种燃料（{names}），按其中最严的{CHOICE_LABELS[fuel]}"
                              f"核查 / several fuels: checked as the strictest, {fuel}", row=row, field="fuel",
                              value=text[:100], source=source, fix="如主要燃料不同，请只填写主要燃料", level="assumed"))
    return fuel


def _fuel_burnt(text: str, bad) -> str:
    """The part of a fuel text that names the fuel burnt: after a change (煤改气, 燃煤锅炉改燃气, 电（煤改电）), the
    new fuel; a fuel denied (无煤, 非煤, 不燃煤) names none, which is refused rather than read as coal."""
    burnt = _FUEL_CHANGE.split(text)[-1]
    if _FUEL_DENIED.search(burnt):
        raise bad("未指明所用燃料 / names no fuel burnt")
    return burnt


def _number(value: Any, text: str, spec: FactSpec, multiplier: float, bad) -> float:
    if isinstance(value, bool):
        raise bad("不是数字 / not a number")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _NUMBER.match(text.replace(",", "").replace(" ", ""))
        if not match:
            raise bad("不是数字 / not a number")
        unit = match.group(3).lower()
        if _MORE_NUMBERS.match(unit):  # 2×35 (two boilers, or 70?), 10~20: no one number to compare
            raise bad("含多个数字，请只填一个（如单台锅炉的规模） / holds more than one number: give one (e.g. one "
                      "boiler's size)")
        number = float(match.group(1)) * (10_000 if match.group(2) else 1)
        if spec.name == "power_mw" and ("千瓦" in unit or "kw" in unit) and "mw" not in unit:
            number /= 1000  # kW (万千瓦 = 10 MW)
        if match.group(2) or any(word in unit for word in _UNIT_WORDS):
            multiplier = 1.0  # 「1.2万吨」 under a 万吨 header is 12,000 t: the cell's own unit, not the header's again
    number *= multiplier
    if not math.isfinite(number) or number < 0 or number > _MAX_NUMBER:
        raise bad(f"应为 0 至 {_MAX_NUMBER:g} 之间的数字 / not a number from 0 to {_MAX_NUMBER:g}")
    return number


def _industry(text: str, notices: list[Notice], row: Any, source: str | None) -> dict[str, Any]:
    """The rule sector and GB/T 4754 code an industry text names (``gis.industries.resolve_industry``); what
    cannot be placed is a notice, and the rules that need the industry are then under review."""
    from gis.industries import resolve_industry

    match = resolve_industry(text)
    notices.extend(dataclasses.replace(n, row=row, source=source) for n in match.notices)
    facts = {"gbt4754": match.code} if match.code else {}
    return {**facts, "industry": match.sector} if match.sector else facts


@dataclass
class ProjectColumn:
    """The projects of many rows (a register): a class per row, the project of each class, each row's own
    value of the numeric facts (for quantities), and the notices of each row's reading."""

    codes: np.ndarray  # per row, index into ``projects``
    projects: list[Project]
    values: dict[str, np.ndarray]  # numeric fact -> each row's value (NaN when missing)
    notices: list[list[dict[str, Any]]]  # per class: the notices of reading its facts

    @classmethod
    def of(cls, projects: Sequence[Project]) -> ProjectColumn:
        """The column of projects given one per row (each distinct project a class; its values its own)."""
        read = [read_project(project) for project in dict.fromkeys(projects)]
        index = {project: i for i, project in enumerate(dict.fromkeys(projects))}
        codes = np.array([index[project] for project in projects], dtype=np.int64)
        numeric = [spec.name for spec in fact_specs() if spec.kind == "number"]
        values = {name: np.array([np.nan if p.fact(name) is None else float(p.fact(name)) for p in projects])
                  for name in numeric}
        return cls(codes, [facts.project for facts in read], values, [facts.notices for facts in read])


def read_projects(columns: Mapping[str, Sequence[Any]], rows: int, *, thresholds: Mapping[str, Sequence[float]],
                  defaults: Mapping[str, Any] | None = None, multipliers: Mapping[str, float] | None = None,
                  source: str | None = None, classes: dict[tuple, ProjectFacts] | None = None) -> ProjectColumn:
    """Read the facts of ``rows`` rows (fact name -> a cell per row), as ``read_project`` reads one project's.

    Rows whose facts say the same to every rule share a class, read once through ``read_project`` (so every
    interface's defaults and notices apply): the same text in every fact, except that a numeric fact only the
    rules' comparisons read (``thresholds``: the values they compare it with) counts by the side of each
    threshold it lies on. Each row keeps its own numeric values for what is computed from them (quantities).
    A value that cannot be read leaves the fact out of that row, with a notice (the row is still screened).
    Work is done once per distinct cell text, not per row. ``classes`` keeps the classes read, for the next
    chunks of the same register (same columns, defaults and units; its owner bounds it): a class met again is
    not read again, and keeps its project (so that what is kept by project, ``facts_of``, is found again too).
    """
    specs = _specs_by_name()
    derived_inputs = {field for fields in DERIVED_FROM.values() for field in fields} - BINNED_INPUTS.keys()
    values: dict[str, np.ndarray] = {}
    combined = np.zeros(rows, dtype=np.int64)
    said: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # per fact: each row's cell code, what each cell says
    for name, cells in columns.items():
        codes, uniques = pd.factorize(pd.Series(np.asarray(cells, dtype=object), dtype=object), use_na_sentinel=True)
        uniques = np.asarray(uniques, dtype=object)
        blank = np.array([_blank(u) for u in uniques], dtype=bool)
        if name in specs and specs[name].kind == "number":
            number = _numbers(uniques, blank, specs[name], (multipliers or {}).get(name, 1.0))
            values[name] = np.append(number, np.nan)[codes]  # code -1 (a missing cell) reads as the NaN
            cuts = []  # a derived input: by its value
            if name not in derived_inputs:  # the rules' thresholds of it and of the facts it is passed on as, and 0
                facts = BINNED_INPUTS.get(name, (name,))
                cuts = sorted({*(cut for fact in facts for cut in thresholds.get(fact, ())),
                               *((0.0,) if name in BINNED_INPUTS else ())})
            if cuts:  # by the side of each threshold (equal counts apart); unreadable texts apart by text
                cut = np.asarray(cuts, dtype=float)
                side = (np.searchsorted(cut, number, side="left") * 2 + np.isin(number, cut)).astype(np.int64)
                key = np.where(np.isnan(number) & ~blank, len(uniques) + np.arange(len(uniques)),
                               np.where(np.isnan(number), -1, side))
                meaning = np.where(np.isnan(number) & ~blank, uniques.astype(str), side.astype(str)).astype(object)
            else:  # by its value (or text, unread), as rules compare it with other facts
                meaning = np.where(np.isnan(number), uniques.astype(str), number.astype(str)).astype(object)
                key = np.where(blank, -1, pd.factorize(meaning)[0])
        else:  # by its text, stripped
            meaning = np.array([None if b else (u.strip() if isinstance(u, str) else u)
                                for u, b in zip(uniques, blank)], dtype=object)
            key = pd.factorize(meaning, use_na_sentinel=True)[0]
        meaning[key < 0] = None
        said[name] = (codes, np.append(meaning, None))  # code -1 (a missing cell) says nothing
        row_key = np.append(key, -1)[codes] + 1  # 0: missing
        combined = pd.factorize(combined * (int(row_key.max(initial=0)) + 1) + row_key)[0].astype(np.int64)
    codes, first = combined, pd.Series(np.arange(rows)).groupby(combined).first().to_numpy()
    # what each class's facts say, as a key that means the same in every chunk
    keys = zip(*(meaning[cell_codes[first]] for cell_codes, meaning in said.values())) if said else [()] * len(first)
    projects, notices = [], []
    names = tuple(said)
    read: dict = {}  # cells read, for the classes that share them
    for row, key in zip(first, keys):
        key = (names, key)
        facts = classes.get(key) if classes is not None else None
        if facts is None:
            facts = read_project({name: columns[name][row] for name in columns}, defaults=defaults, strict=False,
                                 source=source, multipliers=multipliers, read=read)
            if classes is not None:
                classes[key] = facts
        projects.append(facts.project)
        notices.append(facts.notices)
    return ProjectColumn(codes, projects, values, notices)


def _numbers(texts: np.ndarray, blank: np.ndarray, spec: FactSpec, multiplier: float) -> np.ndarray:
    """Each distinct cell's number as ``read_project`` reads it (NaN when blank or unreadable): plain numbers
    at once, other texts ("20蒸吨", "2万吨") one by one."""
    number = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy(dtype=float) * multiplier
    for i in np.flatnonzero(np.isnan(number) & ~blank):
        try:
            number[i] = _read_fact(spec, texts[i], multiplier, [], None, None)[spec.name]
        except FieldError:
            pass
    number[~np.isfinite(number) | (number < 0) | (number > _MAX_NUMBER)] = np.nan
    return number
