"""What the project is: the facts the rules ask about (industry, scope, boiler, fuel, coal, power, water).

Every fact is optional. A rule that needs a fact the officer did not give is not guessed: it comes out as
需核查 (needs review) naming the missing fact.
"""

from __future__ import annotations

from enum import Enum

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


class Project(BaseModel):
    """The project being checked. Units: t/h for boilers, t/a for coal, MW for power."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

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
