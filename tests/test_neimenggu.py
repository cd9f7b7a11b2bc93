"""Inner Mongolia ([001]): worked cases from the plan, end to end, one per rule family.

Sites are read from text through the site reader (without the Xinjiang sanity box: ``coverage=None``) and
placed from the embedded dataset's own zones, except the 包头 point of the issue, which the test first finds
inside 包头市 in the dataset. What each case expects is what [001] says (its sentence is quoted in the rule),
not a number taken from a result.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import shapely
from pyproj import Geod

from gis.check import check_site
from gis.rules import default_rule_packs
from gis.rules.model import Verdict
from gis.rules.project import Fuel, PolicyClass, Process, Project, Scope
from gis.sites import read_site

GEOD = Geod(ellps="WGS84")
DOMAIN = Path(__file__).resolve().parents[2] / "shared" / "DOMAIN.md"
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"

#: The 包头 site of the issue: a new 300 MW coal unit there must get PWR-19.
BAOTOU = (109.84, 40.66)

#: DOMAIN.md §2 rows citing [001] that the pack does not encode, and why.
NOT_ENCODABLE = {
    "IND-43": "regional elimination quotas for 2011-2015, no test on one project",
    "SOIL-16": "a monitoring duty of the government around mining zones, no test on one project",
}


@pytest.fixture(scope="module")
def zones(store):
    return store.snapshot().zones


def _zone(zones, zone_id):
    rows = zones[zones["zone_id"] == zone_id]
    assert len(rows) == 1, zone_id
    return rows.iloc[0]


def _check(store, point, project, **kwargs):
    site = read_site(f"{point[0]:.6f}, {point[1]:.6f}", coverage=None)
    return check_site(site, project, store=store, **kwargs)


def _hits(result):
    return {h.rule_id: h for h in result.rules.hits}


def _inside(zones, zone_id):
    point = _zone(zones, zone_id).geometry.representative_point()
    return point.x, point.y


def test_the_pack_encodes_every_001_rule_with_a_test_and_quotes_it():
    pack = next(p for p in default_rule_packs() if p.id == "neimenggu")
    assert pack.jurisdiction == "内蒙古自治区"
    province = {"adcode": {"op": "eq", "value": "150000"}}
    assert [c.model_dump(exclude_none=True) for c in pack.applies_within] == [
        {"kind": "admin_division", "subtypes": ["province"], "where": province}]
    encoded = {re.sub(r"[a-z]$", "", r.id) for r in pack.rules}
    assert all(r.source.doc == "001" and not r.source.not_in_seeds for r in pack.rules)
    # Values the rule file compares facts with are values the project model can take.
    for rule in pack.rules:
        for fact, enum in (("process", Process), ("policy_class", PolicyClass)):
            if fact in rule.project:
                values = rule.project[fact].value
                assert {enum(v) for v in (values if isinstance(values, list) else [values])}
    if DOMAIN.is_file():
        text = DOMAIN.read_text(encoding="utf-8")
        section = text[text.index("## 2. Rule table"):text.index("## 3. Gazetteer")]
        cited = {m.group(1) for m in re.finditer(r"^\| ([A-Z]+-\d+) \|[^\n]*\[001\]", section, re.MULTILINE)}
        assert len(cited) >= 24
        assert cited - encoded == set(NOT_ENCODABLE)
        assert encoded <= cited


def test_new_300_mw_coal_unit_in_baotou_is_restricted_with_its_desulfurisation_condition(store, zones):
    baotou = _zone(zones, "admin:150200").geometry
    assert baotou.contains(shapely.Point(BAOTOU))  # the dataset puts the point in 包头市
    project = Project(industry="电力", scope=Scope.new, power_mw=300, fuel=Fuel.coal)
    result = _check(store, BAOTOU, project)
    assert result.overlap.layer("admin_division").status == "checked"
    hit = _hits(result)["PWR-19"]
    assert hit.verdict is Verdict.restricted and hit.pack == "neimenggu"
    assert hit.source_doc.startswith("[001]")
    assert "综合脱硫效率达到90%以上" in hit.condition_zh and "综合脱硝效率达到70%以上" in hit.condition_zh
    assert "新建燃煤机组全部配套建设脱硫、脱硝设施" in hit.source_quote
    assert "admin:150000" in {z.zone_id for z in hit.zones}
    assert result.verdict is Verdict.restricted  # nothing in [001] forbids it; the rest is review or duty
    assert all(h.verdict is not Verdict.forbidden for h in result.rules.hits)
    # The same unit as an existing one: desulfurization duties; at 200 MW or more also denitration.
    existing = _hits(_check(store, BAOTOU, project.model_copy(update={"scope": Scope.existing})))
    assert "PWR-19" not in existing
    assert existing["PWR-20a"].verdict is existing["PWR-20b"].verdict is Verdict.obligation
    small = project.model_copy(update={"scope": Scope.existing, "power_mw": 135})
    small = _hits(_check(store, BAOTOU, small))
    assert "PWR-20a" in small and "PWR-20b" not in small


def test_the_pack_stays_in_inner_mongolia(store, zones):
    shihezi = _inside(zones, "admin:659001")
    result = _check(store, shihezi, Project(industry="电力", scope=Scope.new, power_mw=300, fuel=Fuel.coal))
    every = result.rules.hits + result.rules.possible + result.rules.unchecked
    assert not [h for h in every if h.pack == "neimenggu"]


def test_the_sample_parcel_of_baotou_reads_and_gets_pwr_19(store):
    site = read_site(SAMPLES / "baotou_coal_unit.txt", coverage=None)
    centre = site.shape.centroid
    assert GEOD.inv(centre.x, centre.y, *BAOTOU)[2] < 50
    project = Project(industry="电力", scope=Scope.new, power_mw=300, fuel=Fuel.coal)
    assert _hits(check_site(site, project, store=store))["PWR-19"].verdict is Verdict.restricted


def test_new_chemical_project_at_a_headwater_is_forbidden(store, zones):
    spot = _inside(zones, "headwater:nmg-xilamulun")
    result = _check(store, spot, Project(industry="化工", scope=Scope.new, wastewater=True))
    hit = _hits(result)["WAT-05"]
    assert result.verdict is Verdict.forbidden and hit.verdict is Verdict.forbidden
    assert "headwater:nmg-xilamulun" in {z.zone_id for z in hit.zones}
    assert hit.source_quote == "禁止在重点流域江河源头新建造纸、印染、化工、皮革等项目"
    # A wind farm there is not caught; nor is the chemical project 20 km outside the headwater area.
    assert "WAT-05" not in _hits(_check(store, spot, Project(industry="风电", scope=Scope.new)))
    area = _zone(zones, "headwater:nmg-xilamulun").geometry
    east = max(area.exterior.coords, key=lambda xy: xy[0])
    lon, lat, _ = GEOD.fwd(east[0], east[1], 90, 20_000)
    away = _check(store, (lon, lat), Project(industry="化工", scope=Scope.new))
    assert away.overlap.layer("headwater_area").status == "checked"
    assert "WAT-05" not in _hits(away)


def test_high_water_use_project_in_a_water_scarce_area_is_restricted_or_asked(store, zones):
    spot = _inside(zones, "scarce:nmg-ordos")
    project = Project(industry="煤化工", scope=Scope.new, water_intensive=True)
    hit = _hits(_check(store, spot, project))["WAT-06"]
    assert hit.verdict is Verdict.restricted and "scarce:nmg-ordos" in {z.zone_id for z in hit.zones}
    unknown = _hits(_check(store, spot, project.model_copy(update={"water_intensive": None})))["WAT-06"]
    assert unknown.verdict is Verdict.needs_review and unknown.rule_verdict is Verdict.restricted
    assert any("高耗水" in reason for reason in unknown.reasons)


def test_farming_in_a_sensitive_lake_area_is_restricted(store, zones):
    spot = _inside(zones, "sensitive:nmg-wuliangsuhai")
    hit = _hits(_check(store, spot, Project(industry="农业")))["ECO-17"]
    assert hit.verdict is Verdict.restricted and "施用强度" in hit.source_quote


def test_town_sewage_plant_in_the_yellow_river_basin_has_the_basin_duty(store, zones):
    spot = _inside(zones, "built_up:nmg-hohhot")
    assert _zone(zones, "basin:nmg-huanghe").geometry.contains(shapely.Point(spot))
    hit = _hits(_check(store, spot, Project(industry="污水处理", scope=Scope.existing)))["WAT-18"]
    assert hit.verdict is Verdict.obligation


def test_coal_boilers_new_and_existing(store, zones):
    town = _inside(zones, "built_up:nmg-hohhot")
    new = _hits(_check(store, town, Project(industry="热力", scope=Scope.new, boiler_tph=10, fuel=Fuel.coal)))
    assert new["BLR-22a"].verdict is Verdict.restricted and new["BLR-22d"].verdict is Verdict.allowed
    assert "BLR-22c" not in new and "BLR-23a" not in new
    assert new["BLR-23b"].verdict is Verdict.needs_review  # a small scattered one is of the kind eliminated
    boiler = Project(industry="热力", scope=Scope.existing, boiler_tph=35, fuel=Fuel.coal)
    old = _hits(_check(store, town, boiler))
    assert old["BLR-23a"].verdict is Verdict.needs_review  # eliminated if small and scattered: asked
    assert old["BLR-22b"].verdict is old["BLR-22c"].verdict is Verdict.obligation  # 35 t/h counts as 35 以上
    gas = _hits(_check(store, town, boiler.model_copy(update={"fuel": Fuel.gas})))
    assert not {"BLR-22a", "BLR-22b", "BLR-22c", "BLR-23a", "BLR-23b"} & set(gas)


def test_industry_rules(store, zones):
    baotou_town = _inside(zones, "built_up:nmg-baotou")
    kiln = _hits(_check(store, baotou_town, Project(industry="水泥", scope=Scope.existing,
                                                    process=Process.vertical_kiln)))
    assert kiln["IND-40c"].verdict is Verdict.phase_out
    assert kiln["IND-41"].verdict is Verdict.needs_review  # whether it is a firm to be moved out is asked
    assert kiln["PROC-26"].verdict is Verdict.obligation
    dry = Project(industry="水泥", scope=Scope.new, process=Process.new_dry_kiln)
    dry = _hits(_check(store, baotou_town, dry))
    assert "IND-40c" not in dry and dry["IND-38"].verdict is Verdict.restricted
    asked = _hits(_check(store, baotou_town, Project(industry="水泥", scope=Scope.new)))
    assert asked["IND-40e"].verdict is Verdict.needs_review  # which kiln? the officer must say
    assert "IND-40c" not in asked  # the phase-out is for existing lines
    glass = _hits(_check(store, baotou_town, Project(industry="平板玻璃", scope=Scope.new,
                                                     process=Process.small_flat_glass)))
    assert glass["IND-40a"].verdict is Verdict.restricted and glass["IND-40d"].verdict is Verdict.forbidden
    assert "IND-40b" not in glass
    old_glass = _hits(_check(store, baotou_town, Project(industry="平板玻璃", scope=Scope.existing,
                                                         process=Process.small_flat_glass)))
    assert old_glass["IND-40b"].verdict is Verdict.phase_out and "IND-40d" not in old_glass
    # Open coal yards around the town go; 3 km out of the built-up area counts as "城区周边".
    area = _zone(zones, "built_up:nmg-baotou").geometry
    east = max(area.exterior.coords, key=lambda xy: xy[0])
    lon, lat, _ = GEOD.fwd(east[0], east[1], 90, 3_000)
    assert 2_900 < min(GEOD.inv(lon, lat, x, y)[2] for x, y in area.exterior.coords) < 3_100
    yard = Project(industry="煤炭经营", scope=Scope.existing, open_storage=True)
    assert _hits(_check(store, (lon, lat), yard))["IND-39b"].verdict is Verdict.phase_out
    closed = _hits(_check(store, (lon, lat), yard.model_copy(update={"open_storage": False})))
    assert "IND-39b" not in closed
    assert _hits(_check(store, (lon, lat), yard.model_copy(update={"scope": Scope.new})))["IND-39a"].verdict \
        is Verdict.restricted
    # Petrol stations in the key region: vapour recovery.
    station = _hits(_check(store, BAOTOU, Project(industry="加油站", scope=Scope.existing)))
    assert station["IND-45a"].verdict is Verdict.obligation
    boiler_maker = _hits(_check(store, BAOTOU, Project(industry="锅炉制造", scope=Scope.new)))
    assert boiler_maker["IND-42"].verdict is Verdict.restricted


def test_new_mine_in_pastoral_land_is_restricted(store, zones):
    banner = _zone(zones, "admin:152921").geometry  # 阿拉善左旗: its seat 巴彦浩特 is a built-up area
    town = _zone(zones, "built_up:nmg-alxa").geometry
    spot = shapely.difference(banner, town.buffer(0.2)).representative_point()
    result = _check(store, (spot.x, spot.y), Project(industry="采矿", scope=Scope.new))
    assert result.overlap.layer("built_up_area").status == "checked"
    hits = _hits(result)
    assert hits["IND-46"].verdict is Verdict.restricted and hits["PROC-24"].verdict is Verdict.restricted


def test_vehicles_heavy_metals_and_batteries(store, zones):
    assert _hits(_check(store, BAOTOU, Project(industry="汽车制造", scope=Scope.new)))["MOB-08a"].verdict \
        is Verdict.restricted
    assert _hits(_check(store, BAOTOU, Project(industry="交通", scope=Scope.existing)))["MOB-08b"].verdict \
        is Verdict.obligation
    smelter = Project(industry="有色", scope=Scope.new, heavy_metals=True)
    in_key = _hits(_check(store, BAOTOU, smelter))
    assert in_key["SOIL-13"].verdict is Verdict.restricted
    assert "key_region:nmg_key" in {z.zone_id for z in in_key["SOIL-13"].zones}
    outside = _check(store, _inside(zones, "built_up:nmg-chifeng"), smelter)  # 赤峰: no key region here
    assert "SOIL-13" not in _hits(outside)
    assert "SOIL-13" in {h.rule_id for h in outside.rules.unchecked}  # the key-region layer does not cover 赤峰
    batteries = _hits(_check(store, BAOTOU, Project(industry="废铅蓄电池利用", scope=Scope.existing)))
    assert batteries["SOIL-17"].verdict is Verdict.restricted


def test_approvals_and_sanctions(store, zones):
    steel = Project(industry="钢铁", scope=Scope.new, policy_class=PolicyClass.permitted)
    hits = _hits(_check(store, BAOTOU, steel))
    # Whether 包头 is behind on its elimination tasks or out of air-quality attainment is not in [001].
    for rule_id in ("PROC-20", "PROC-21", "PROC-23a"):
        assert hits[rule_id].verdict is Verdict.needs_review
        assert hits[rule_id].rule_verdict is Verdict.forbidden
        assert any("需核查" in reason for reason in hits[rule_id].reasons)
    assert "PROC-23b" not in hits and hits["PROC-25a"].verdict is Verdict.obligation
    banned = _hits(_check(store, BAOTOU, steel.model_copy(update={"policy_class": PolicyClass.eliminated})))
    assert banned["PROC-23b"].verdict is Verdict.forbidden
    overdue = _check(store, BAOTOU, Project(industry="钢铁", scope=Scope.existing, elimination_overdue=True))
    assert overdue.verdict is Verdict.forbidden and _hits(overdue)["PROC-22"].verdict is Verdict.forbidden
    three_high = _hits(_check(store, BAOTOU, steel.model_copy(update={"three_high": True})))
    assert three_high["PROC-25b"].verdict is Verdict.restricted
    housing = Project(industry="房地产", scope=Scope.new)
    housing = _hits(_check(store, _inside(zones, "built_up:nmg-baotou"), housing))
    assert housing["PROC-27a"].verdict is housing["PROC-27b"].verdict is Verdict.restricted
    assert "65%" in housing["PROC-27b"].condition_zh
    chp = Project(industry="热电联产", scope=Scope.new)
    chp = _hits(_check(store, _inside(zones, "built_up:nmg-chifeng"), chp))
    assert chp["PWR-21a"].verdict is Verdict.allowed
    paper = _hits(_check(store, BAOTOU, Project(industry="造纸", scope=Scope.existing)))
    assert paper["PROC-28"].verdict is Verdict.obligation


def test_a_site_outside_both_regions_is_not_checked(store):
    project = Project(industry="电力", scope=Scope.new, power_mw=300, fuel=Fuel.coal)
    result = _check(store, (116.4, 39.9), project)
    assert result.overlap.layer("admin_division").status == "not_checked"
    assert result.verdict is Verdict.not_checked and not result.rules.hits


# -- worked cases of the tester's findings: what [001] says, quoted ------------------------------------------

#: The point of the findings, inside 呼和浩特's built-up area in the embedded dataset.
HOHHOT = (111.70, 40.82)


def test_a_new_cement_line_with_an_eliminated_kiln_is_forbidden_not_phased_out(store, zones):
    """[001] 三(一)5: 「加快淘汰立窑、湿法窑和中空干法窑等落后工艺，发展以新型干法生产工艺为主的水泥生产技术」;
    五(一)3: 「对不符合国家产业政策的项目，一律停止建设」. A line being built with a kiln the plan eliminates is
    not one to phase out later (限期淘汰 is for existing lines): it is not built (禁止)."""
    assert _zone(zones, "built_up:nmg-hohhot").geometry.contains(shapely.Point(HOHHOT))
    for process in (Process.vertical_kiln, Process.wet_kiln, Process.hollow_dry_kiln):
        result = _check(store, HOHHOT, Project(industry="水泥", scope=Scope.new, process=process))
        hits = _hits(result)
        assert result.verdict is Verdict.forbidden
        assert hits["IND-40e"].verdict is Verdict.forbidden and "IND-40c" not in hits
        assert "加快淘汰立窑、湿法窑和中空干法窑等落后工艺" in hits["IND-40e"].source_quote
        assert "一律停止建设" in hits["IND-40e"].condition_zh
    # The same kiln in an existing line is phased out, not forbidden (「加快淘汰」).
    old = _hits(_check(store, HOHHOT, Project(industry="水泥", scope=Scope.existing, process=Process.vertical_kiln)))
    assert old["IND-40c"].verdict is Verdict.phase_out and "IND-40e" not in old
    # A new dry-process line is what the plan develops: neither rule.
    dry = _hits(_check(store, HOHHOT, Project(industry="水泥", scope=Scope.new, process=Process.new_dry_kiln)))
    assert not {"IND-40c", "IND-40e"} & set(dry)
    # New glass line with the small flat-drawing process: 「淘汰落后的小平拉工艺」 -> 禁止.
    glass = _hits(_check(store, HOHHOT, Project(industry="平板玻璃", scope=Scope.new,
                                                process=Process.small_flat_glass)))
    assert glass["IND-40d"].verdict is Verdict.forbidden and "IND-40b" not in glass


def test_town_coal_boilers_only_small_scattered_ones_go_and_only_chp_is_supported(store, zones):
    """[001] 四(二)5: 「因地制宜发展热电联产和集中供热，建设集中供热管网，提高集中供热率。提高城镇清洁能源比例，
    减少城镇直接燃用原煤，淘汰燃煤供热、茶水锅炉」; 三(二): 「中小城市逐步淘汰小型、分散、高能耗的燃煤锅炉」. The
    plan gives no size for "small": a town's coal boiler is asked (需核查, the test stated), never 限期淘汰 for
    every size. 三(一)1: 「支持具备条件的盟市、旗县政府所在地发展热电联产」 supports CHP, not any coal heating
    boiler."""
    assert _zone(zones, "built_up:nmg-hohhot").geometry.contains(shapely.Point(HOHHOT))
    big = _check(store, HOHHOT, Project(industry="热力", scope=Scope.existing, fuel=Fuel.coal, boiler_tph=220))
    hits = _hits(big)
    assert big.verdict is not Verdict.phase_out and not [h for h in big.rules.hits if h.verdict is Verdict.phase_out]
    assert hits["BLR-23a"].verdict is Verdict.needs_review
    assert "小型、分散" in hits["BLR-23a"].condition_zh and "需核查" in hits["BLR-23a"].condition_zh
    assert "淘汰燃煤供热、茶水锅炉" in hits["BLR-23a"].source_quote
    assert hits["BLR-22b"].verdict is Verdict.obligation  # 「现有35蒸吨以上锅炉全部实施烟气脱硫」: it runs on
    # A CHP unit (power sector) is not a heating or tea-water boiler.
    unit = _hits(_check(store, HOHHOT, Project(industry="热电联产", scope=Scope.existing, fuel=Fuel.coal,
                                               boiler_tph=220, power_mw=50)))
    assert "BLR-23a" not in unit
    # A new coal heating boiler is not CHP: no 允许 from PWR-21; it is asked whether it is a small scattered one.
    boiler = _check(store, HOHHOT, Project(industry="热力", scope=Scope.new, fuel=Fuel.coal, boiler_tph=35))
    hits = _hits(boiler)
    assert not {"PWR-21a", "PWR-21b"} & set(hits)
    assert not [h for h in boiler.rules.hits if h.verdict is Verdict.allowed and h.rule_id.startswith("PWR-21")]
    assert hits["BLR-23b"].verdict is Verdict.needs_review and hits["BLR-22a"].verdict is Verdict.restricted
    # A CHP project is supported: declared as 热电联产 (D4412), or heat supply with generating units.
    for project in (Project(industry="热电联产", scope=Scope.new, fuel=Fuel.coal, power_mw=50),
                    Project(industry="热力", scope=Scope.new, fuel=Fuel.coal, power_mw=50, boiler_tph=220)):
        chp = _hits(_check(store, HOHHOT, project))
        assert {"PWR-21a", "PWR-21b"} & set(chp)
        assert all(chp[r].verdict is Verdict.allowed for r in {"PWR-21a", "PWR-21b"} & set(chp))
        assert "发展热电联产" in next(chp[r] for r in ("PWR-21a", "PWR-21b") if r in chp).source_quote


# -- worked cases of the second round of findings ------------------------------------------------------------

#: [001]'s words, the source of each expectation below.
Q_MOVE = "加大城镇人口稠密区域工业企业转迁力度，使城镇工业区和居民区适当分离"  # 四(二)5
Q_CHP = "支持具备条件的盟市、旗县政府所在地发展热电联产"  # 三(一)1
Q_URBAN_BOILERS = "提高城区燃煤锅炉除尘脱硫效率，20蒸吨以上燃煤锅炉安装袋式或静电除尘器，鼓励20蒸吨以下燃煤锅炉使用低灰低硫优质煤或清洁能源"  # 四(二)4
Q_BIG_BOILERS = "开展大中型燃煤锅炉烟气治理，新建锅炉必须安装脱硫脱硝设施，现有35蒸吨以上锅炉全部实施烟气脱硫"  # 四(二)2
Q_DENOX = "对循环硫化床、干法及半干法脱硫设施和单机容量20万千瓦及以上现役燃煤机组实行脱硝改造"  # 四(二)1
SEEDS = Path(__import__("os").environ.get("ECOZONE_SEEDS_DIR", Path(__file__).resolve().parents[2] / "shared" / "seeds"))


def _seed_001() -> str | None:
    found = sorted(SEEDS.glob("001_*.txt")) if SEEDS.is_dir() else []
    return re.sub(r"\s+", "", found[0].read_text(encoding="utf-8")) if found else None


def test_the_quoted_words_of_these_cases_are_the_plans():
    text = _seed_001()
    if text is None:
        pytest.skip("seed [001] is not at hand (ECOZONE_SEEDS_DIR)")
    for quote in (Q_MOVE, Q_CHP, Q_URBAN_BOILERS, Q_BIG_BOILERS, Q_DENOX, *COVERAGE_TESTS.values()):
        assert quote in text, quote


def test_a_town_firm_is_asked_whether_it_is_to_be_moved_and_chp_is_left_out(store, zones):
    """「加大城镇人口稠密区域工业企业转迁力度，使城镇工业区和居民区适当分离」 asks for more effort in moving firms
    out of dense town areas; it names no firm and no deadline: not 限期淘汰 for every firm in a town, but 需核查
    (whether this firm is one to be moved). The same plan supports CHP in those towns: 「支持具备条件的盟市、旗县政府
    所在地发展热电联产」, so a power or CHP unit is not asked to move under it."""
    assert _zone(zones, "built_up:nmg-hohhot").geometry.contains(shapely.Point(HOHHOT))
    for industry in ("热电联产", "电力"):
        unit = Project(industry=industry, scope=Scope.existing, fuel=Fuel.coal, power_mw=300)
        result = _check(store, HOHHOT, unit)
        assert "IND-41" not in _hits(result), industry
        assert result.verdict is not Verdict.phase_out, industry
        assert not [h for h in result.rules.hits if h.verdict is Verdict.phase_out], industry
        assert _hits(result)["PWR-20a"].verdict is Verdict.obligation  # its emission duties stay
    # An existing cement plant in the town: asked whether it is to be moved; its vertical kiln is phased out by
    # IND-40c (「加快淘汰立窑、湿法窑和中空干法窑等落后工艺」), not by IND-41.
    kiln = _check(store, HOHHOT, Project(industry="水泥", scope=Scope.existing, process=Process.vertical_kiln))
    hits = _hits(kiln)
    assert hits["IND-41"].verdict is Verdict.needs_review and hits["IND-41"].rule_verdict is Verdict.needs_review
    assert hits["IND-41"].source_quote == Q_MOVE and "需核查" in hits["IND-41"].condition_zh
    assert "built_up:nmg-hohhot" in {z.zone_id for z in hits["IND-41"].zones}
    assert hits["IND-40c"].verdict is Verdict.phase_out and kiln.verdict is Verdict.phase_out
    assert [h.rule_id for h in kiln.rules.hits if h.verdict is Verdict.phase_out] == ["IND-40c"]
    # A dry-process plant there is asked, never phased out; a new one is not a firm to move.
    dry = _check(store, HOHHOT, Project(industry="水泥", scope=Scope.existing, process=Process.new_dry_kiln))
    assert _hits(dry)["IND-41"].verdict is Verdict.needs_review
    assert not [h for h in dry.rules.hits if h.verdict is Verdict.phase_out]
    new = _hits(_check(store, HOHHOT, Project(industry="水泥", scope=Scope.new, process=Process.new_dry_kiln)))
    assert "IND-41" not in new
    # Outside the dense town area the question does not arise.
    banner = _zone(zones, "admin:152921").geometry
    spot = shapely.difference(banner, _zone(zones, "built_up:nmg-alxa").geometry.buffer(0.2)).representative_point()
    away = _check(store, (spot.x, spot.y), Project(industry="水泥", scope=Scope.existing, process=Process.new_dry_kiln))
    assert away.overlap.layer("built_up_area").status == "checked" and "IND-41" not in _hits(away)


def _baotou_outskirts(zones):
    """A point of 包头's districts that its built-up area reaches, some 5 km outside that area: a place the
    built-up layer covers (so the answer is "not in 城区", not "not checked")."""
    town = _zone(zones, "built_up:nmg-baotou").geometry
    districts = zones[(zones["kind"] == "admin_division") & (zones["subtype"] == "county")
                      & zones["zone_id"].str.startswith("admin:1502")]
    near = shapely.union_all(districts[districts.geometry.intersects(town)].geometry.values)
    spot = shapely.difference(near, town.buffer(0.05)).representative_point()
    assert _zone(zones, "admin:150200").geometry.contains(spot) and not town.contains(spot)
    return spot.x, spot.y


def test_the_20_tph_boiler_rules_are_for_urban_boilers(store, zones):
    """「提高城区燃煤锅炉除尘脱硫效率，20蒸吨以上燃煤锅炉安装袋式或静电除尘器，鼓励20蒸吨以下燃煤锅炉使用低灰低硫
    优质煤或清洁能源」: one sentence about the boilers of 城区 (the built-up area). A coal boiler outside it gets
    neither BLR-22c nor BLR-22d; inside, 20 t/h counts as 20以上 and 19.9 t/h as 20以下. BLR-22b (「现有35蒸吨以上
    锅炉全部实施烟气脱硫」, 四(二)2) names no place and applies outside as well."""
    outskirts = _baotou_outskirts(zones)
    for tph in (20, 19.9):
        boiler = Project(industry="热力", scope=Scope.existing, fuel=Fuel.coal, boiler_tph=tph)
        rural = _check(store, outskirts, boiler)
        assert rural.overlap.layer("built_up_area").status == "checked"
        every = {h.rule_id for h in rural.rules.hits + rural.rules.possible + rural.rules.unchecked}
        assert not {"BLR-22c", "BLR-22d"} & every, tph
    assert _zone(zones, "built_up:nmg-baotou").geometry.contains(shapely.Point(BAOTOU))
    at_20 = _hits(_check(store, BAOTOU, Project(industry="热力", scope=Scope.existing, fuel=Fuel.coal, boiler_tph=20)))
    assert at_20["BLR-22c"].verdict is Verdict.obligation and "BLR-22d" not in at_20
    assert "提高城区燃煤锅炉除尘脱硫效率" in at_20["BLR-22c"].source_quote
    assert "built_up:nmg-baotou" in {z.zone_id for z in at_20["BLR-22c"].zones}
    below = _hits(_check(store, BAOTOU, Project(industry="热力", scope=Scope.existing, fuel=Fuel.coal,
                                                boiler_tph=19.9)))
    assert below["BLR-22d"].verdict is Verdict.allowed and "BLR-22c" not in below
    assert below["BLR-22d"].source_quote == Q_URBAN_BOILERS
    # 35 t/h outside the town: flue-gas desulfurization still, filters not (no 城区).
    big = _hits(_check(store, outskirts, Project(industry="热力", scope=Scope.existing, fuel=Fuel.coal, boiler_tph=35)))
    assert big["BLR-22b"].verdict is Verdict.obligation and "BLR-22c" not in big


def test_an_existing_coal_unit_below_200_mw_is_asked_about_its_desulfurization(store):
    """「对循环硫化床、干法及半干法脱硫设施和单机容量20万千瓦及以上现役燃煤机组实行脱硝改造」: units with CFB, dry or
    semi-dry desulfurization are retrofitted whatever their size. No project fact says how a unit is
    desulfurized, so a 100 MW unit is asked (需核查), not let go; a 200 MW one has the duty outright."""
    unit = Project(industry="电力", scope=Scope.existing, fuel=Fuel.coal, power_mw=100)
    small = _hits(_check(store, BAOTOU, unit))
    assert "PWR-20b" not in small and small["PWR-20a"].verdict is Verdict.obligation
    asked = small["PWR-20c"]
    assert asked.verdict is asked.rule_verdict is Verdict.needs_review
    assert asked.source_quote == Q_DENOX
    assert "循环流化床、干法或半干法脱硫" in asked.condition_zh and "需核查" in asked.condition_zh
    for mw in (200, 300):
        big = _hits(_check(store, BAOTOU, unit.model_copy(update={"power_mw": mw})))
        assert big["PWR-20b"].verdict is Verdict.obligation and "PWR-20c" not in big, mw
    # A new unit is PWR-19's (脱硫、脱硝 built with it), and a gas unit is neither.
    new = _hits(_check(store, BAOTOU, unit.model_copy(update={"scope": Scope.new})))
    assert new["PWR-19"].verdict is Verdict.restricted and not {"PWR-20b", "PWR-20c"} & set(new)
    gas = _hits(_check(store, BAOTOU, unit.model_copy(update={"fuel": Fuel.gas})))
    assert not {"PWR-20a", "PWR-20b", "PWR-20c"} & set(gas)


#: The [001] ids coverage.toml once said had no test although the pack encodes them, and the words of [001]
#: that give each its test (a place, an industry, a state of the firm).
COVERAGE_TESTS = {
    "PWR-21": "支持具备条件的盟市、旗县政府所在地发展热电联产",  # CHP at the 盟市 and 旗县 seats
    "SOIL-17": "取缔污染严重的废弃铅酸蓄电池非法利用设施",  # a kind of facility, illegal and seriously polluting
    "PROC-22": "对未按期淘汰的企业，依法吊销排污许可证、生产许可证和安全生产许可证",  # a firm past its deadline
    "PROC-26": "对电解铝、铁合金、电石、烧碱和水泥等高耗能行业，实行差别电价",  # named industries
    "PROC-28": "列入国家、自治区重点环境监控的电力、钢铁、造纸等行业的企业要安装运行管理监控平台和污染物排放自动监控系统",
}


def test_coverage_says_every_001_id_the_pack_encodes_has_a_test():
    """coverage.toml's `test = false` means the documents give no siting or project test; an id the pack
    evaluates has one, so it must say `test = true`. The 001 ids without a test are the two NOT_ENCODABLE."""
    from gis.rules import RULES_DIR
    from gis.rules.coverage import COVERAGE_FILE, load_coverage

    declared = load_coverage(RULES_DIR / COVERAGE_FILE)
    pack = next(p for p in default_rule_packs() if p.id == "neimenggu")
    encoded = {domain_id for rule in pack.rules for domain_id in rule.domain_ids}
    contradictions = sorted(i for i in encoded if not declared[i].test)
    assert contradictions == []
    assert {i for i, e in declared.items() if "001" in e.doc and not e.test} == set(NOT_ENCODABLE)
    for domain_id, words in COVERAGE_TESTS.items():
        assert declared[domain_id].test and domain_id in encoded
        quotes = [r.source.quote for r in pack.rules if domain_id in r.domain_ids]
        assert any(words in quote or quote in words for quote in quotes), domain_id
