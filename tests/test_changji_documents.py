"""The 昌吉州 pack against its document, [003] 昌州环发〔2019〕30号: worked cases where the pack once read more or
less into a sentence than it says, each with a neighbouring case that must stay as it was. What each case
expects is the quoted sentence of [003] (checked to be verbatim in the seed), never the program's own output.
Sites are placed from the embedded dataset's own zones (as in ``tests/test_rules_worked.py``)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from gis.check import check_site
from gis.rules.model import Verdict
from gis.rules.project import Fuel, Furnace, Project, Scope
from tests.test_rules import SEEDS
from tests.test_rules_worked import _hit, _ids, _site, _spot, _zone, zones  # noqa: F401  (zones: a fixture)

AS_OF = "2021-12-31"
#: The four 县市 of "乌-昌-石" in 昌吉州 (昌吉市, 阜康市, 呼图壁县, 玛纳斯县): the 4县市2园区 of [003].
RURAL_CHANGJI = ("admin:652301", "built_up_area", "industrial_park")  # 昌吉市 outside towns and parks
RURAL_QITAI = ("admin:652325", "built_up_area", "industrial_park")  # 奇台县: outside the 4县市2园区


def said(quote: str) -> str:
    """A sentence of [003], as the seed has it (spaces aside): the source of a case's expectation."""
    if SEEDS.is_dir():
        seed = next(SEEDS.glob("003_*.txt"))
        assert re.sub(r"\s+", "", quote) in re.sub(r"\s+", "", seed.read_text(encoding="utf-8")), quote
    return quote


def check(store, site, project):
    return check_site(site, project, store=store, as_of=AS_OF)


# -- BLR-14 / BLR-12: the closures are of boilers and small backward CHP, not of the large CHP plant ----------

CLOSURE = said("“乌-昌-石”区域内4县市2园区30万千瓦及以上热电联产电厂供热半径15公里范围内的燃煤锅炉和落后燃煤小热电实行关停整合")
NETWORK = said("加大对纯凝机组和热电联产机组技术改造力度，加快供热管网建设，充分释放和提高供热能力，淘汰管网覆盖范围内的燃煤锅炉和散煤")

BIG_CHP = Project(industry="电力", fuel=Fuel.coal, power_mw=700, boiler_tph=2000, scope=Scope.existing)
BOILER = Project(industry="热力", fuel=Fuel.coal, boiler_tph=20, scope=Scope.existing)


def test_the_large_chp_plant_is_not_closed_by_its_own_heating_radius(store, zones):
    """CLOSURE closes 燃煤锅炉和落后燃煤小热电 within 15 km of a plant of 30万千瓦 or more: the 700 MW plant itself
    (its boilers are the plant's) is neither; NETWORK upgrades 热电联产机组 and eliminates the boilers the
    network replaces, not the unit that feeds it."""
    plant = _site(_zone(zones, "chp:changji").geometry)
    assert not {"BLR-14", "BLR-14S", "BLR-12"} & _ids(check(store, plant, BIG_CHP))
    network = _spot(zones, "heat_network:changji")
    result = check(store, network, BIG_CHP)
    assert not {"BLR-14", "BLR-14S", "BLR-12"} & _ids(result)
    assert result.verdict is not Verdict.phase_out


def test_a_coal_boiler_and_a_small_chp_in_the_radius_stay_closed(store, zones):
    """Neighbours: a plain coal boiler at the same places is closed (CLOSURE) and eliminated (NETWORK); a small
    coal CHP unit (below 30万千瓦) in the radius is 落后燃煤小热电 if backward, which the facts do not say."""
    plant = _site(_zone(zones, "chp:changji").geometry)
    assert _hit(check(store, plant, BOILER), "BLR-14").verdict is Verdict.phase_out
    network = check(store, _spot(zones, "heat_network:changji"), BOILER)
    assert _hit(network, "BLR-12").verdict is Verdict.phase_out
    assert _hit(network, "BLR-14").verdict is Verdict.phase_out
    small = Project(industry="电力", fuel=Fuel.coal, power_mw=50, boiler_tph=200, scope=Scope.existing)
    hit = _hit(check(store, plant, small), "BLR-14S")
    assert hit.verdict is Verdict.needs_review and hit.rule_verdict is Verdict.needs_review
    assert "BLR-14" not in _ids(check(store, plant, small))


# -- IND-16 / IND-17: what is being eliminated may not be built new ------------------------------------------

KILNS = said("基本淘汰热电联产供热管网覆盖范围内的燃煤加热、烘干炉（窑）；淘汰炉膛直径3米以下燃料类煤气发生炉")


def test_a_new_coal_drying_kiln_in_the_heat_network_is_forbidden(store, zones):
    """KILNS: coal drying kilns inside the CHP network are eliminated; a new one is forbidden, as IND-15 does
    for coal hot-air furnaces. An existing one keeps its deadline."""
    site = _spot(zones, "heat_network:changji")
    new = check(store, site, Project(furnace=Furnace.coal_heating_drying, scope=Scope.new))
    assert _hit(new, "IND-16N").verdict is Verdict.forbidden
    assert "IND-16" not in _ids(new)
    existing = check(store, site, Project(furnace=Furnace.coal_heating_drying, scope=Scope.existing))
    hit = _hit(existing, "IND-16")
    assert hit.verdict is Verdict.phase_out and hit.deadline == dt.date(2020, 6, 30)
    assert "IND-16N" not in _ids(existing)


def test_a_new_small_gas_producer_is_forbidden(store, zones):
    """KILNS: gas producers below 3 m are eliminated; a new 2 m one in rural 昌吉市 is forbidden, an existing one
    phased out, and a 3.2 m one (not 3米以下) is neither."""
    site = _spot(zones, RURAL_CHANGJI)
    new = check(store, site, Project(furnace=Furnace.gas_producer, furnace_diameter_m=2, scope=Scope.new))
    assert _hit(new, "IND-17N").verdict is Verdict.forbidden
    assert "IND-17" not in _ids(new)
    existing = check(store, site, Project(furnace=Furnace.gas_producer, furnace_diameter_m=2, scope=Scope.existing))
    assert _hit(existing, "IND-17").verdict is Verdict.phase_out
    large = check(store, site, Project(furnace=Furnace.gas_producer, furnace_diameter_m=3.2, scope=Scope.new))
    assert not {"IND-17", "IND-17N"} & _ids(large)


# -- PWR-05: a retrofit duty with a sanction, not a phase-out --------------------------------------------------

RETROFIT = said("全州所有具备改造条件的燃煤电厂、热电联产机组在2019年底前完成超低排放和自治区下达的节能改造计划，"
                "未按期完成改造的一律停产治理")
REVIEW = said("对全州30万千瓦以下燃煤机组进行梳理，分类制定方案，对违反产业政策的坚决淘汰取缔")


def test_coal_units_owe_the_ultra_low_retrofit_by_the_end_of_2019(store, zones):
    """RETROFIT: every coal power or CHP unit owes the retrofit by the end of 2019 (stopping if it has not):
    an obligation with its deadline, not the elimination of the unit."""
    site = _spot(zones, RURAL_QITAI)
    result = check(store, site, Project(industry="电力", fuel=Fuel.coal, power_mw=350, scope=Scope.existing))
    hit = _hit(result, "PWR-05")
    assert hit.verdict is Verdict.obligation and hit.deadline == dt.date(2019, 12, 31) and hit.deadline_passed
    assert "停产治理" in hit.condition_zh
    assert result.verdict is not Verdict.phase_out


def test_units_below_300_mw_are_still_reviewed(store, zones):
    """Neighbour, REVIEW: a coal unit below 30万千瓦 is still reviewed (PWR-04), besides its retrofit."""
    site = _spot(zones, RURAL_QITAI)
    result = check(store, site, Project(industry="电力", fuel=Fuel.coal, power_mw=200, scope=Scope.existing))
    assert _hit(result, "PWR-04").verdict is Verdict.needs_review
    assert _hit(result, "PWR-05").verdict is Verdict.obligation


# -- IND-14: fugitive emissions, the "乌-昌-石" deadline and the prefecture's ----------------------------------

FUGITIVE = said("2019年10月底前，“乌-昌-石”区域内4县市2园区基本完成整治任务，2020年底前全州基本完成")


def test_fugitive_emissions_outside_the_4_counties_are_due_by_the_end_of_2020(store, zones):
    """FUGITIVE: outside the 4县市2园区 the prefecture finishes by the end of 2020 (steel in rural 奇台县, and a
    coal boiler there)."""
    site = _spot(zones, RURAL_QITAI)
    steel = check(store, site, Project(industry="钢铁", scope=Scope.existing))
    hit = _hit(steel, "IND-14P")
    assert hit.verdict is Verdict.obligation and hit.deadline == dt.date(2020, 12, 31)
    assert "IND-14" not in _ids(steel)
    boiler = check(store, site, Project(industry="热力", fuel=Fuel.coal, boiler_tph=20, scope=Scope.existing))
    hit = _hit(boiler, "IND-14BP")
    assert hit.verdict is Verdict.obligation and hit.deadline == dt.date(2020, 12, 31)


def test_fugitive_emissions_in_the_4_counties_keep_october_2019(store, zones):
    """Neighbour, FUGITIVE: in 昌吉市 the deadline is the end of October 2019, and only that one."""
    steel = check(store, _spot(zones, RURAL_CHANGJI), Project(industry="钢铁", scope=Scope.existing))
    hit = _hit(steel, "IND-14")
    assert hit.verdict is Verdict.obligation and hit.deadline == dt.date(2019, 10, 31)
    assert not {"IND-14P", "IND-14BP"} & _ids(steel)


# -- BLR-09: the other coal appliances of the built-up areas -------------------------------------------------

APPLIANCES = said("2019年6月底前，完成县级及以上城市建成区每小时10蒸吨及以下燃煤锅炉及茶水炉、经营性炉灶、储粮烘干设备等"
                  "燃煤设施的淘汰工作")


def test_a_coal_grain_dryer_in_a_built_up_area_is_eliminated_by_june_2019(store, zones):
    """APPLIANCES: a coal drying appliance (储粮烘干设备, declared as a coal drying kiln) in 奇台县's built-up area
    is eliminated by the end of June 2019, whatever its size."""
    result = check(store, _spot(zones, "built_up:qitai"),
                   Project(furnace=Furnace.coal_heating_drying, scope=Scope.existing))
    hit = _hit(result, "BLR-09F")
    assert hit.verdict is Verdict.phase_out and hit.deadline == dt.date(2019, 6, 30)


def test_outside_the_built_up_area_and_boilers_above_10_tph_are_not_concerned(store, zones):
    """Neighbours, APPLIANCES: the same dryer outside the built-up area is not concerned; in it, a 10 t/h coal
    boiler is (BLR-09) and a 12 t/h one is not."""
    rural = check(store, _spot(zones, RURAL_QITAI), Project(furnace=Furnace.coal_heating_drying, scope=Scope.existing))
    assert "BLR-09F" not in _ids(rural)
    town = _spot(zones, "built_up:qitai")
    small = check(store, town, Project(industry="热力", fuel=Fuel.coal, boiler_tph=10, scope=Scope.existing))
    assert _hit(small, "BLR-09").verdict is Verdict.phase_out
    large = check(store, town, Project(industry="热力", fuel=Fuel.coal, boiler_tph=12, scope=Scope.existing))
    assert not {"BLR-09", "BLR-09F"} & _ids(large)


# -- IND-06 / IND-07: 所有新（改、扩）建项目 — any project that emits ---------------------------------------------

STRICTEST = said("“乌-昌-石”区域内4县市2园区区域所有新（改、扩）建项目应执行最严格的大气污染物排放标准")
OFFSET = said("PM2.5年平均浓度不达标县市（园区），禁止新（改、扩）建未落实SO2、NOx、烟粉尘、挥发性有机物（VOCs）"
              "等四项大气污染物总量指标昌吉州区域内倍量替代的项目")


def test_a_housing_estate_with_a_gas_boiler_meets_the_strictest_limits_and_offsets(store, zones):
    """STRICTEST and OFFSET: 所有 new projects — a 房地产 project burning gas in a 10 t/h boiler in 昌吉市 (which
    does not attain PM2.5) emits, so it meets the strictest limits and offsets its totals."""
    result = check(store, _spot(zones, "built_up:changji"),
                   Project(industry="房地产", boiler_tph=10, fuel=Fuel.gas, scope=Scope.new))
    assert _hit(result, "IND-06C").verdict is Verdict.restricted
    assert _hit(result, "IND-07C").verdict is Verdict.restricted
    assert result.verdict is Verdict.restricted


def test_a_solar_farm_without_a_combustion_source_is_not_concerned(store, zones):
    """Neighbours: a 光伏 farm that burns nothing emits no air pollutant to limit or offset; a 化工 project is
    concerned as before."""
    solar = check(store, _spot(zones, RURAL_CHANGJI), Project(industry="光伏", power_mw=50, scope=Scope.new))
    assert not {"IND-06", "IND-06C", "IND-07", "IND-07C"} & _ids(solar)
    chemical = check(store, _spot(zones, RURAL_CHANGJI), Project(industry="化工", scope=Scope.new))
    assert _hit(chemical, "IND-06").verdict is Verdict.restricted
    assert _hit(chemical, "IND-07").verdict is Verdict.restricted
    assert not {"IND-06C", "IND-07C"} & _ids(chemical)


# -- PWR-02 / PWR-03: CHP declared as 热力 is the power sector -------------------------------------------------

COAL_OFFSET = said("“乌-昌-石”区域内涉及燃料煤的新（改、扩）建电力行业实行减量20%替代（如新、改、扩建项目拟耗燃料煤"
                   "100万吨/年，需替代现有燃料煤120万吨/年），非电行业实施减量30%替代")


@pytest.mark.parametrize("industry", ["热力", "电力", "热电联产"])
def test_chp_offsets_as_the_power_sector_however_declared(store, zones, industry):
    """COAL_OFFSET: a CHP project (热力 with 50 MW of generating units) is 电力行业: 1.2 × its new coal."""
    result = check(store, _spot(zones, RURAL_CHANGJI),
                   Project(industry=industry, power_mw=50, coal_t=100_000, scope=Scope.new))
    hit = _hit(result, "PWR-02")
    assert hit.verdict is Verdict.restricted
    assert [q.value for q in hit.quantities] == [pytest.approx(100_000 * 1.2)]
    assert "PWR-03" not in _ids(result)


def test_heat_supply_without_generating_units_is_not_power(store, zones):
    """Neighbour, COAL_OFFSET: a heating plant (热力, no generating unit) is 非电行业: 1.3 × its new coal."""
    result = check(store, _spot(zones, RURAL_CHANGJI), Project(industry="热力", coal_t=100_000, scope=Scope.new))
    hit = _hit(result, "PWR-03")
    assert [q.value for q in hit.quantities] == [pytest.approx(100_000 * 1.3)]
    assert "PWR-02" not in _ids(result)


# -- PWR-01 / PWR-03: a coal power project declares its generating units and its new coal by what it is --------

NO_NEW_COAL_UNITS = said("“乌-昌-石”区域内4县市2园区不再新增燃煤机组装机规模")


def test_a_new_coal_power_plant_without_its_capacity_needs_review_not_only_a_possible_rule(store, zones):
    """NO_NEW_COAL_UNITS: a new 火力发电 project burning coal adds coal generating units whatever capacity it
    leaves out: PWR-01 is among the hits as 需核查 for the capacity (it was set aside as a rule for an activity
    the project did not declare); given the capacity, it forbids. A new heating boiler (热力, no generating unit)
    is still not a generating unit: PWR-01 stays out of its hits."""
    spot = _spot(zones, RURAL_CHANGJI)
    plant = check(store, spot, Project(industry="火力发电", fuel=Fuel.coal, coal_t=500_000, scope=Scope.new))
    hit = _hit(plant, "PWR-01")
    assert hit.verdict is Verdict.needs_review and hit.missing_facts == ["power_mw"]
    assert "PWR-01" not in {h.rule_id for h in plant.rules.possible}
    given = check(store, spot, Project(industry="火力发电", fuel=Fuel.coal, coal_t=500_000, power_mw=660,
                                       scope=Scope.new))
    assert _hit(given, "PWR-01").verdict is Verdict.forbidden and given.verdict is Verdict.forbidden
    heating = check(store, spot, Project(industry="热力", fuel=Fuel.coal, boiler_tph=20, scope=Scope.new))
    assert "PWR-01" not in _ids(heating)


def test_a_new_coal_project_without_its_tonnage_needs_review_for_the_offset(store, zones):
    """COAL_OFFSET: a new project burning coal uses new fuel coal: without the tonnage the 1.3× offset (PWR-03)
    needs review for it, where it was only a possible rule. An existing one adds no new coal: not concerned."""
    spot = _spot(zones, RURAL_CHANGJI)
    new = check(store, spot, Project(industry="水泥", fuel=Fuel.coal, scope=Scope.new))
    hit = _hit(new, "PWR-03")
    assert hit.verdict is Verdict.needs_review and hit.missing_facts == ["coal_t"]
    existing = check(store, spot, Project(industry="水泥", fuel=Fuel.coal, scope=Scope.existing))
    assert "PWR-03" not in _ids(existing)
