"""What the project is: the facts the rules ask about (industry, scope, boiler, fuel, coal, power, water).

Every fact is optional. A rule that needs a fact the officer did not give is not guessed: it comes out as
需核查 (needs review) naming the missing fact.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Project", "Scope", "Fuel", "Process", "PolicyClass", "INDUSTRIES", "FACT_LABELS",
           "PROCESS_LABELS", "POLICY_CLASS_LABELS"]


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
    "酒精": "C1521 酒精制造",
    "木材加工": "C20 木材加工和木、竹、藤、棕、草制品业",
    "汽车制造": "C36 汽车制造业",
    "锅炉制造": "C3411 锅炉及辅助设备制造",
    "铅蓄电池": "C3843 铅蓄电池制造",
    "废铅蓄电池利用": "C4210 金属废料和碎屑加工处理",
    "煤炭经营": "F5161 煤炭及制品批发",
    "加油站": "F5265 机动车燃油零售",
    "油库": "G5941 油气仓储",
    "污水处理": "D4620 污水处理及其再生利用",
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
    "water_intensive": "是否高耗水型工业项目 (--water-intensive)",
    "process": "生产工艺（立窑、湿法窑、中空干法窑、小平拉等）(--process)",
    "open_storage": "是否露天堆存煤炭等物料 (--open-storage)",
    "heavy_metals": "是否涉重金属（铅、汞、镉、铬、砷等）(--heavy-metals)",
    "elimination_overdue": "是否属未按期淘汰的落后产能 (--elimination-overdue)",
    "policy_class": "《产业结构调整指导目录》类别 (--policy-class)",
}


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
    wastewater: bool | None = Field(default=None, description="Discharges production wastewater (生产废水).")
    three_high: bool | None = Field(default=None, description="A 三高 project (高耗能、高污染、高排放).")
    groundwater: bool | None = Field(default=None, description="Abstracts groundwater (new or more wells).")
    water_intensive: bool | None = Field(
        default=None, description="A high-water-use (高耗水型) industrial project.")
    process: Process | None = Field(
        default=None, description="Kiln or line process, e.g. vertical_kiln (立窑).")
    open_storage: bool | None = Field(
        default=None, description="Stores coal or bulk material in the open (露天堆场).")
    heavy_metals: bool | None = Field(
        default=None, description="Handles heavy metals (涉重金属: Pb, Hg, Cd, Cr, As).")
    elimination_overdue: bool | None = Field(
        default=None, description="Backward capacity whose elimination deadline has passed (未按期淘汰).")
    policy_class: PolicyClass | None = Field(
        default=None, description="Class in the national industry catalogue (《产业结构调整指导目录》).")

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

    def fact(self, name: str):
        """The value of a fact by name (fields and derived facts alike)."""
        return getattr(self, name)
