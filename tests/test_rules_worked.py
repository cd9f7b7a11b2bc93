"""Worked cases of the rule families of issue 22, from the documents: a site placed from the store's own zones,
a project as the document describes it, the verdict and the rule the document gives."""

from __future__ import annotations

import shapely
import pytest

from gis.check import check_site
from gis.rules.model import VERDICT_LABELS, Verdict
from gis.rules.project import Fuel, Furnace, Heating, Project, Scope
from gis.sites import read_site


@pytest.fixture(scope="module")
def zones(store):
    return store.snapshot("2021-12-31").zones


def _zone(zones, zone_id):
    rows = zones[zones["zone_id"] == zone_id]
    assert len(rows) == 1, zone_id
    return rows.iloc[0]


def _site(point):
    return read_site(f"{point.x:.7f},{point.y:.7f}")


def _inside(geom):
    return _site(geom.representative_point())


def _hit(result, rule_id):
    hits = {h.rule_id: h for h in result.rules.hits}
    assert rule_id in hits, f"{rule_id} not among {sorted(hits)}"
    return hits[rule_id]


def _ids(result):
    return {h.rule_id for h in result.rules.hits}


def test_access_list_priority_unit_new_chemical_plant_names_the_unit_and_the_item(store, zones):
    """Issue 22: a new 化工 project in a 优先保护单元 breaks its access list's 空间布局约束 item."""
    unit = _zone(zones, "unit:ZH65900110001")  # 石河子市优先保护单元
    result = check_site(_inside(unit.geometry), Project(industry="化工", scope=Scope.new), store=store,
                        as_of="2021-12-31")
    assert result.verdict is Verdict.forbidden
    hit = _hit(result, "NAT-CU-P1")
    assert hit.verdict is Verdict.forbidden
    (item,) = hit.access_items
    assert (item.unit_id, item.unit_name, item.unit_code) == (unit.zone_id, unit["name"], "ZH65900110001")
    assert (item.unit_type, item.part, item.code) == ("优先保护单元", "空间布局约束", "P1-1")
    assert item.text == next(i["text"] for i in unit.attributes["access_items"] if i["code"] == "P1-1")
    # Items no rule can decide are listed under NAT-CU-2; seed rules carry the items that restate them.
    cited = _hit(result, "NAT-CU-2").access_items
    assert {i.code for i in cited} == {i["code"] for i in unit.attributes["access_items"]
                                       if i["rules"] == ["NAT-CU-2"]}
    assert {i.code for i in _hit(result, "IND-29").access_items} == {"BT2-2"}


def test_access_list_key_unit_in_changji_coal_boiler(store, zones):
    """[003] 10.: a 20 t/h coal boiler in 昌吉市's built-up area (a 重点管控单元) — BLR-05, list item CJ1-2."""
    built = _zone(zones, "built_up:changji").geometry
    key = _zone(zones, "unit:ZH65230120001").geometry
    result = check_site(_inside(shapely.intersection(built, key)),
                        Project(industry="热力", boiler_tph=20, fuel=Fuel.coal, scope=Scope.new), store=store,
                        as_of="2021-12-31")
    hit = _hit(result, "BLR-05")
    assert hit.verdict is Verdict.forbidden
    assert [(i.unit_name, i.code) for i in hit.access_items] == [("昌吉市重点管控单元", "CJ1-2")]


def test_2013_plan_coal_unit_without_denitration_may_not_run(store, zones):
    """[000] 六(四): a thermal plant without denitration may not operate; ≥ 5万千瓦 units denitrate by 2014-07-01."""
    site = _inside(_zone(zones, "admin:659004").geometry)  # 第六师五家渠市 (六师煤电)
    unit = Project(industry="电力", fuel=Fuel.coal, power_mw=300, scope=Scope.existing, denitration_missing=True)
    result = check_site(site, unit, store=store, as_of="2014-09-30")
    assert _hit(result, "PWR-14").verdict is Verdict.forbidden
    deadline = _hit(result, "PWR-12")
    assert deadline.verdict is Verdict.obligation and deadline.deadline_passed is True
    # The plan's requirements end with the 十二五 period; a 2013-only rule ends with 2013.
    assert not {"PWR-12", "PWR-14"} & _ids(check_site(site, unit, store=store, as_of="2017-06-30"))
    # 「必须在2014年7月1日前达标排放」: 达标 before 1 July — on 1 July the deadline has passed, on 30 June not yet.
    assert _hit(check_site(site, unit, store=store, as_of="2014-07-01"), "PWR-12").deadline_passed is True
    assert _hit(check_site(site, unit, store=store, as_of="2014-06-30"), "PWR-12").deadline_passed is False
    new_unit = Project(industry="电力", fuel=Fuel.coal, power_mw=300, scope=Scope.new)
    assert _hit(check_site(site, new_unit, store=store, as_of="2013-06-30"), "PWR-11").verdict is Verdict.restricted
    assert "PWR-11" not in _ids(check_site(site, new_unit, store=store, as_of="2014-06-30"))


def test_2013_plan_cement_line_size(store, zones):
    """[000] 六(三): 「4000吨/日熟料以上水泥生产线必须实施脱硝工程」 — 以上 includes the number: a 4000 t/d line
    must build denitration, a smaller one need not."""
    site = _inside(_zone(zones, "admin:659002").geometry)  # 第一师阿拉尔市
    big = check_site(site, Project(industry="水泥", clinker_tpd=5000, scope=Scope.new), store=store,
                     as_of="2014-06-30")
    assert _hit(big, "IND-24").verdict is Verdict.obligation
    exactly = check_site(site, Project(industry="水泥", clinker_tpd=4000, scope=Scope.new), store=store,
                         as_of="2014-06-30")
    assert _hit(exactly, "IND-24").verdict is Verdict.obligation
    small = check_site(site, Project(industry="水泥", clinker_tpd=3999, scope=Scope.new), store=store,
                       as_of="2014-06-30")
    assert "IND-24" not in _ids(small)


def test_2013_regional_freeze_of_lagging_divisions_is_a_question_until_a_division_is_named(store, zones):
    """[000] 六(四) names no lagging division: in 2013 a new polluting project in a 兵团 city needs review."""
    site = _inside(_zone(zones, "admin:659003").geometry)  # 第三师图木舒克市
    project = Project(industry="化工", scope=Scope.new)
    hit = _hit(check_site(site, project, store=store, as_of="2013-06-30"), "PROC-01")
    assert hit.verdict is Verdict.needs_review and hit.rule_verdict is Verdict.forbidden
    assert any("未列出滞后的师" in reason for reason in hit.reasons)
    assert "PROC-01" not in _ids(check_site(site, project, store=store, as_of="2015-06-30"))


def test_heat_network_coal_boiler_in_fukang_and_wujiaqu(store, zones):
    """[003] 10. / [002] 附件十二: coal boilers inside the heating network are phased out."""
    boiler = Project(industry="热力", boiler_tph=20, fuel=Fuel.coal, scope=Scope.existing)
    fukang = check_site(_inside(_zone(zones, "heat_network:fukang").geometry), boiler, store=store,
                        as_of="2021-12-31")
    assert _hit(fukang, "BLR-12").verdict is Verdict.phase_out
    wujiaqu = check_site(_inside(_zone(zones, "built_up:wujiaqu").geometry), boiler, store=store,
                         as_of="2021-12-31")
    assert _hit(wujiaqu, "BLR-15H").verdict is Verdict.phase_out
    loose = check_site(_inside(_zone(zones, "heat_network:fukang").geometry), Project(heating=Heating.loose_coal),
                       store=store, as_of="2021-12-31")
    assert _hit(loose, "BLR-12L").verdict is Verdict.phase_out


def test_coal_drying_kiln_in_the_heat_network_and_hot_air_furnace_deadline(store, zones):
    """[003] 20.: coal drying kilns in the CHP network and coal hot-air furnaces go by June 2020."""
    site = _inside(_zone(zones, "heat_network:changji").geometry)
    kiln = check_site(site, Project(furnace=Furnace.coal_heating_drying, scope=Scope.existing), store=store,
                      as_of="2020-09-01")
    hit = _hit(kiln, "IND-16")
    assert hit.verdict is Verdict.phase_out and hit.deadline_passed is True
    furnace = check_site(site, Project(furnace=Furnace.coal_hot_air, scope=Scope.new), store=store,
                         as_of="2020-09-01")
    assert _hit(furnace, "IND-15").verdict is Verdict.forbidden


def test_self_supplied_well_inside_public_water_supply(store, zones):
    """[002] 附件十八: self-supplied wells inside the public network close (or become drinking/fire wells)."""
    area = _zone(zones, "water_supply:shihezi").geometry
    well = check_site(_inside(area), Project(groundwater=True, self_supplied_well=True, scope=Scope.existing),
                      store=store, as_of="2021-12-31")
    hit = _hit(well, "GW-01")
    assert hit.verdict is Verdict.phase_out and "消防" in hit.condition_zh
    # Outside every coverage (3 km beyond it, in the desert north of 石河子) GW-01 does not apply.
    outside = shapely.Point(shapely.get_coordinates(area)[:, 0].mean(), area.bounds[3] + 0.03)
    assert "GW-01" not in _ids(check_site(_site(outside), Project(groundwater=True, self_supplied_well=True,
                                                                  scope=Scope.existing), store=store))


def test_contaminated_site_before_and_after_remediation(store, zones, tmp_path):
    """[004] 第十章 (issued 2021-12-03): nothing but remediation on an unremediated site. The 郑氏 pond was restored
    by March 2019, before [004]; a later delivery of the layer saying it is unremediated until 2023 brings it in."""
    from gis.store import init_store

    pond = store.snapshot("2018-06-30").zones
    zone = pond[pond["zone_id"] == "contaminated:zhengshi-pond"]
    site = _inside(zone.geometry.iloc[0])
    plant = Project(industry="化工", scope=Scope.new)
    assert "SOIL-01" not in _ids(check_site(site, plant, store=store, as_of="2018-06-30"))  # [004] not yet issued
    assert "SOIL-01" not in _ids(check_site(site, plant, store=store, as_of="2022-06-30"))  # restored in 2019
    copy = init_store(tmp_path / "store.gpkg")
    late = zone.copy()
    late["attributes"] = [{**zone["attributes"].iloc[0], "remediation_status_history": [
        {"as_of": "2017-09-11", "status": "not_remediated"}, {"as_of": "2023-03-31", "status": "remediated"}]}]
    copy.import_layer(late, "contaminated_site", source="污染地块.gpkg", effective_from="2017-01-01")
    before = check_site(site, plant, store=copy, as_of="2022-06-30")
    assert _hit(before, "SOIL-01").verdict is Verdict.forbidden
    remediation = check_site(site, plant.model_copy(update={"remediation": True}), store=copy, as_of="2022-06-30")
    assert "SOIL-01" not in _ids(remediation)
    after = check_site(site, plant, store=copy, as_of="2023-06-30")
    assert "SOIL-01" not in _ids(after)
    dumping = check_site(site, plant.model_copy(update={"wastewater": True}), store=copy, as_of="2023-06-30")
    assert _hit(dumping, "WAT-17").verdict is Verdict.forbidden


def test_shihezi_yellow_label_zone_by_its_four_roads(store, zones):
    """[002] 附件八(九): 黄标车 may not drive between 西三路, S115, 东十路 and 南二路."""
    box = _zone(zones, "traffic:shihezi-yellow").geometry
    carrier = Project(industry="交通", yellow_label_vehicles=True)
    inside = check_site(_inside(box), carrier, store=store, as_of="2021-12-31")
    assert _hit(inside, "MOB-01").verdict is Verdict.forbidden
    built = _zone(zones, "built_up:shihezi").geometry
    beyond = shapely.difference(built, box.buffer(0.005))  # in the town, outside the four roads
    assert "MOB-01" not in _ids(check_site(_inside(beyond), carrier, store=store, as_of="2021-12-31"))
    # Not declared, the project is taken not to run 黄标车: the rule does not apply.
    undeclared = check_site(_inside(box), Project(industry="交通"), store=store, as_of="2021-12-31")
    assert "MOB-01" not in _ids(undeclared) | {h.rule_id for h in undeclared.rules.possible}


def test_building_site_in_shihezi_and_changji(store, zones):
    """[002] 附件八(七) and [003] 16.: no on-site mixing in 石河子; six 100 % rules in 昌吉州 towns."""
    shihezi = _inside(_zone(zones, "built_up:shihezi").geometry)
    mixing = check_site(shihezi, Project(industry="建筑施工", scope=Scope.new, onsite_mixing=True), store=store,
                        as_of="2021-12-31")
    assert _hit(mixing, "IND-31M").verdict is Verdict.forbidden
    assert _hit(mixing, "IND-31").verdict is Verdict.restricted
    changji = check_site(_inside(_zone(zones, "built_up:changji").geometry),
                         Project(industry="建筑施工", scope=Scope.new), store=store, as_of="2021-12-31")
    assert _hit(changji, "IND-32").verdict is Verdict.restricted


def test_discharge_into_the_non_compliant_moguhu_reservoir(store, zones):
    """[004] 第六章 and [002] 附件十五: 蘑菇湖 is 劣V; new discharges into it are restricted and metered."""
    lake = _zone(zones, "water:moguhu").geometry
    result = check_site(_inside(lake), Project(industry="农副食品加工", wastewater=True, scope=Scope.new),
                        store=store, as_of="2021-12-31")
    assert _hit(result, "WAT-10").verdict is Verdict.restricted


def test_mine_in_the_ili_black_bee_reserve(store, zones):
    """[002] 附件四: the coal mines of the 伊犁黑蜂 reserve have to leave it."""
    mine = _zone(zones, "mine:sanxin-2").geometry
    result = check_site(_site(mine), Project(industry="煤炭", scope=Scope.existing), store=store,
                        as_of="2021-12-31")
    assert _hit(result, "ECO-05").verdict is Verdict.phase_out
    found = [h for h in result.overlap.layer("mine").hits if h.zone_id == "mine:sanxin-2"]
    assert found and found[0].distance_m < 1.0


def test_chp_heating_radius_counts_only_plants_in_the_4_counties_2_parks(store, zones):
    """[003] 10.: 「“乌-昌-石”区域内4县市2园区30万千瓦及以上热电联产电厂供热半径15公里范围内的燃煤锅炉和落后燃煤
    小热电实行关停整合」 — the plant itself must be in the 4县市2园区; the 兵团 plants of 五家渠 and 石河子 are not."""
    assert not _zone(zones, "chp:wujiaqu").attributes["in_wu_chang_shi_4_counties_2_parks"]
    assert not _zone(zones, "chp:shihezi").attributes["in_wu_chang_shi_4_counties_2_parks"]
    existing = Project(industry="热力", boiler_tph=20, fuel=Fuel.coal, scope=Scope.existing)
    new = Project(industry="热力", boiler_tph=70, fuel=Fuel.coal, scope=Scope.new)
    # 昌吉市, 13.4 km from the 五家渠 plant and 16.3 km from the 昌吉 plant
    near_wujiaqu = read_site("87.403,44.206")
    assert "BLR-14" not in _ids(check_site(near_wujiaqu, existing, store=store, as_of="2021-12-31"))
    assert "BLR-14N" not in _ids(check_site(near_wujiaqu, new, store=store, as_of="2021-12-31"))
    # 玛纳斯县, 11.7 km from the 石河子 plant
    near_shihezi = read_site("86.117,44.442")
    assert "BLR-14" not in _ids(check_site(near_shihezi, existing, store=store, as_of="2021-12-31"))
    # a plant of the 4县市 still counts: 昌吉市's built-up area lies within 15 km of the 昌吉 plant
    changji = check_site(_inside(_zone(zones, "built_up:changji").geometry), existing, store=store,
                         as_of="2021-12-31")
    assert _hit(changji, "BLR-14").verdict is Verdict.phase_out


def _spot(zones, where):
    """A point inside zone ``where`` (a zone id), or inside its first zone and outside every zone of the kinds
    that follow (``("admin:652301", "industrial_park")``)."""
    zone_id, *outside = (where,) if isinstance(where, str) else where
    area = _zone(zones, zone_id).geometry
    for kind in outside:
        area = shapely.difference(area, zones[zones["kind"] == kind].geometry.union_all().buffer(0.005))
    return _site(area.representative_point())


#: (where, project, as_of, rule, verdict the document gives; None = the rule must not apply)
CASES = [
    # [003] 昌吉州: industry, kilns, power, relocation, permits
    ("admin:652301", dict(industry="化工", scope="existing"), "2021-12-31", "IND-20", Verdict.restricted),
    ("admin:652325", dict(industry="化工", scope="existing"), "2021-12-31", "IND-20", None),  # 奇台 attains PM2.5
    ("admin:652325", dict(industry="化工", scope="new"), "2021-12-31", "IND-07", None),  # (the prefecture has no figure)
    ("admin:652327", dict(industry="化工", scope="new"), "2021-12-31", "IND-07", Verdict.restricted),  # 吉木萨尔 42
    ("admin:652301", dict(industry="化工", scope="existing"), "2021-12-31", "IND-22", Verdict.obligation),
    ("admin:652325", dict(industry="电力", fuel="coal", power_mw=200, scope="existing"), "2021-12-31", "PWR-04",
     Verdict.needs_review),
    ("admin:652325", dict(industry="电力", fuel="coal", power_mw=300, scope="existing"), "2021-12-31", "PWR-04", None),
    ("admin:652323", dict(captive_power=True, industry="电力"), "2021-12-31", "PWR-07", Verdict.restricted),
    ("park:cj-hightech", dict(industry="水泥", relocation=True, scope="new"), "2021-12-31", "PARK-08", Verdict.allowed),
    (("admin:652325", "industrial_park"), dict(industry="水泥", relocation=True, scope="new"), "2021-12-31",
     "PARK-08O", Verdict.restricted),
    (("admin:652325", "industrial_park"), dict(industry="化工", scattered_polluter=True, relocation=True),
     "2021-12-31", "PARK-09O", Verdict.forbidden),
    ("admin:652328", dict(industry="化工", scattered_polluter=True, scope="new"), "2021-12-31", "IND-12",
     Verdict.forbidden),
    ("admin:652302", dict(industry="化工", exceeds_standards=True), "2021-12-31", "IND-13", Verdict.phase_out),
    ("admin:652302", dict(furnace="gas_producer", furnace_diameter_m=2.5, scope="existing"), "2021-12-31", "IND-17",
     Verdict.phase_out),
    ("admin:652302", dict(furnace="gas_producer", furnace_diameter_m=3.2), "2021-12-31", "IND-17", None),
    ("admin:652327", dict(industry="化肥", high_sulfur_petcoke=True), "2021-12-31", "IND-18", Verdict.forbidden),
    ("admin:652325", dict(industry="采矿", open_pit=True), "2021-12-31", "IND-23", Verdict.restricted),
    ("admin:652301", dict(industry="化工", stack_height_m=60), "2021-12-31", "IND-33", Verdict.obligation),
    ("admin:652301", dict(industry="热力", stack_height_m=45), "2021-12-31", "IND-33", None),  # 超过45米
    ("admin:652323", dict(industry="交通", diesel_truck_stage=3), "2021-12-31", "MOB-03", Verdict.phase_out),
    ("admin:652323", dict(industry="交通", diesel_truck_stage=4), "2021-12-31", "MOB-03", None),
    ("admin:652328", dict(industry="化工", unpermitted_discharge=True), "2021-12-31", "PROC-05", Verdict.forbidden),
    ("admin:652301", dict(industry="钢铁", scope="new"), "2021-12-31", "IND-44", Verdict.obligation),
    # [003] 2.: 「环境空气质量未达标县市在2020年6月底前完成」, the others by the end of 2020 (昌吉市 does not attain)
    ("built_up:changji", dict(industry="水泥", scope="existing"), "2020-07-01", "IND-10N", Verdict.phase_out),
    ("built_up:changji", dict(industry="水泥", scope="existing"), "2020-07-01", "IND-10", None),
    ("built_up:qitai", dict(industry="水泥", scope="existing"), "2020-07-01", "IND-10", Verdict.phase_out),
    ("built_up:qitai", dict(industry="水泥", scope="existing"), "2020-07-01", "IND-10N", None),
    # [003] 5.: 「“乌-昌-石”区域内4县市2园区2019年底前基本完成，其他区域2020年底前基本完成」
    ("admin:652301", dict(industry="化工", scattered_polluter=True, scope="existing"), "2020-01-15", "IND-12W",
     Verdict.phase_out),
    ("admin:652301", dict(industry="化工", scattered_polluter=True, scope="existing"), "2020-01-15", "IND-12E", None),
    ("admin:652325", dict(industry="化工", scattered_polluter=True, scope="existing"), "2020-01-15", "IND-12E",
     Verdict.phase_out),
    # [003] 9.: heat supply alone is no 电力行业: 「非电行业实施减量30%替代」
    ("admin:652301", dict(industry="热力", coal_t=1000, scope="new"), "2021-12-31", "PWR-03", Verdict.restricted),
    ("admin:652301", dict(industry="热力", coal_t=1000, scope="new"), "2021-12-31", "PWR-02", None),
    # [003] 10.: 「木垒县、奇台县、吉木萨尔县城市建成区…；“乌-昌-石”区域各县级及以上城市建成区以及国家级、自治区级
    # 工业园区禁止新建每小时65蒸吨以下燃煤锅炉；其他区域原则上不再新建每小时10蒸吨及以下的燃煤锅炉，新建10蒸吨以上
    # 燃煤锅炉需安装高效脱硫脱硝除尘设施」: 其他区域 is what the first two clauses leave, rural 昌吉市 included
    (("admin:652301", "built_up_area", "industrial_park"), dict(industry="热力", fuel="coal", boiler_tph=10.1,
                                                                 scope="new"), "2021-12-31", "BLR-07b",
     Verdict.restricted),
    (("admin:652301", "built_up_area", "industrial_park"), dict(industry="热力", fuel="coal", boiler_tph=10,
                                                                 scope="new"), "2021-12-31", "BLR-07a",
     Verdict.forbidden),
    ("built_up:changji", dict(industry="热力", fuel="coal", boiler_tph=10.1, scope="new"), "2021-12-31", "BLR-07b",
     None),  # the second clause's area: BLR-05 instead
    ("park:cj-hightech", dict(industry="热力", fuel="coal", boiler_tph=10, scope="new"), "2021-12-31", "BLR-07a",
     None),
    # The 兵团 documents bind the 兵团, not a 地方 site. [004] 第六章: 「对地下水超采的地区，师市应加强与地方的联动，
    # 制定并实施压采方案和分年度压采计划」 — the 师市, not 昌吉市
    ("groundwater:changji-over_exploited", dict(industry="农副食品加工", groundwater=True, scope="new"), "2021-12-31",
     "GW-03", None),
    ("groundwater:shihezi-over_exploited", dict(industry="农副食品加工", groundwater=True, scope="new"), "2021-12-31",
     "GW-03", Verdict.restricted),
    # [002] 附件十三 is 五家渠's item (「五家渠市燃煤锅炉整治不力…」): 「“乌-昌-石”区域基本淘汰每小时10蒸吨及以下燃煤
    # 锅炉，城市建成区及工业园区禁止新建每小时65蒸吨以下燃煤锅炉」 — in 五家渠, not in 昌吉市
    ("built_up:changji", dict(industry="热力", fuel="coal", boiler_tph=8, scope="new"), "2021-12-31", "BLR-03", None),
    ("built_up:changji", dict(industry="热力", fuel="coal", boiler_tph=8, scope="new"), "2021-12-31", "BLR-04", None),
    ("built_up:wujiaqu", dict(industry="热力", fuel="coal", boiler_tph=8, scope="new"), "2021-12-31", "BLR-03",
     Verdict.forbidden),
    ("built_up:wujiaqu", dict(industry="热力", fuel="coal", boiler_tph=20, scope="new"), "2021-12-31", "BLR-04",
     Verdict.forbidden),
    # [002] 附件十六: 「石河子经济技术开发区和北工业园区至今未建设工业废水集中处理设施」 — those two parks only
    ("park:cj-hightech", dict(industry="铸造", wastewater=True, scope="new"), "2018-06-30", "PARK-06", None),
    # [002] and [004] 兵团
    # [004] was issued on 2021-12-03: its rules are not in force before (a check of 2015 is of the law then)
    ("admin:659001", dict(industry="热力", fuel="coal", boiler_tph=35, scope="new"), "2015-01-01", "BLR-17N", None),
    ("admin:659001", dict(industry="热力", fuel="coal", boiler_tph=35, scope="new"), "2021-12-31", "BLR-17N",
     Verdict.forbidden),
    # 十户滩 (第八师) is under its division's own freeze (PARK-04), not among the 5 parks the 兵团 froze (PARK-01)
    ("park:bt-shihutan", dict(industry="化工", wastewater=True, scope="new"), "2021-12-31", "PARK-01", None),
    ("admin:659001", dict(groundwater=True, unlicensed_abstraction=True), "2021-12-31", "GW-05", Verdict.forbidden),
    ("admin:659002", dict(groundwater=True, scope="new"), "2021-12-31", "GW-02", Verdict.restricted),
    ("admin:659004", dict(industry="钢铁", scope="new", no_capacity_replacement=True), "2021-12-31", "PROC-03",
     Verdict.forbidden),
    ("admin:659002", dict(industry="废铅蓄电池收集", scope="new"), "2021-12-31", "SOIL-10", Verdict.allowed),
    ("admin:659001", dict(industry="废铅蓄电池收集", scope="new"), "2021-12-31", "SOIL-10", None),
    ("admin:659003", dict(radiation_source=True, industry="其他"), "2021-12-31", "SOIL-09", Verdict.restricted),
    ("water:manas-river", dict(surface_water=True, scope="new"), "2021-12-31", "WAT-11S", Verdict.restricted),
    ("park:bt-shihezi-etdz", dict(industry="农副食品加工", wastewater=True, scope="new"), "2018-06-30", "PARK-06",
     Verdict.restricted),
    ("park:bt-shihezi-etdz", dict(industry="农副食品加工", wastewater=True, scope="new"), "2019-06-30", "PARK-06",
     None),  # by March 2019 its wastewater goes to the town plant
    ("admin:659010", dict(industry="电石", scope="existing"), "2021-12-31", "PWR-10", Verdict.restricted),
    ("admin:659002", dict(industry="电石", scope="existing"), "2021-12-31", "PWR-10", None),  # not in a key region
    ("admin:659002", dict(industry="水泥", scope="existing"), "2021-12-31", "IND-28", Verdict.obligation),
    ("admin:659002", dict(industry="屠宰"), "2021-12-31", "WAT-16", Verdict.obligation),
]


@pytest.mark.parametrize(("where", "facts", "as_of", "rule", "verdict"), CASES,
                         ids=[f"{c[3]}-{c[4].value if c[4] else 'none'}-{i}" for i, c in enumerate(CASES)])
def test_document_cases(store, zones, where, facts, as_of, rule, verdict):
    result = check_site(_spot(zones, where), Project(**facts), store=store, as_of=as_of)
    if verdict is None:
        assert rule not in _ids(result)
    else:
        assert _hit(result, rule).verdict is verdict


#: 水污染防治法 第66条, as the national pack cites it (no seed has the law's text: a 概述, DOMAIN §9.1 in words).
ARTICLE_66 = ("禁止在饮用水水源二级保护区内新建、改建、扩建排放污染物的建设项目；"
              "已建成的排放污染物的建设项目，由县级以上人民政府责令拆除或者关闭")
#: 第65条's words for what is already built in the 一级保护区.
ARTICLE_65_BUILT = "饮用水水源一级保护区内已建成的与供水设施和保护水源无关的建设项目，由县级以上人民政府责令拆除或者关闭"


def _water_rules(result, level):
    """The drinking-water rules of 第65条 (level 1) or 第66条 (level 2) among the hits: id -> verdict."""
    prefix = {1: "NAT-WAT-1", 2: "NAT-WAT-2"}[level]
    return {h.rule_id: h.verdict for h in result.rules.hits if h.rule_id.startswith(prefix)}


def test_existing_discharging_project_in_a_level_2_drinking_water_zone_is_ordered_removed_or_closed(store, zones):
    """第66条: 「已建成的排放污染物的建设项目，由县级以上人民政府责令拆除或者关闭」. 责令拆除或者关闭 of what is already
    built is DOMAIN §2's PHASE-OUT (「an existing facility must close, be removed ...」), the packs' phase_out (限期淘汰),
    not the ban on building (禁止). 排放污染物 is the same as for a new project (NAT-WAT-2 to 2D): wastewater, an
    air-polluting industry, a boiler or generating unit burning fuel, a kiln. A project that discharges nothing
    (光伏, a road) is not ordered closed; one whose discharge is not known needs review."""
    site = _inside(_zone(zones, "drinking_water:changji-level_2").geometry)

    def check(**facts):
        return check_site(site, Project(scope=Scope.existing, **facts), store=store, as_of="2021-12-31")

    boiler = check(industry="热力", boiler_tph=20, fuel=Fuel.coal, wastewater=False)
    hit = _hit(boiler, "NAT-WAT-2BE")
    assert hit.verdict is Verdict.phase_out and hit.verdict_label == "限期淘汰"
    assert hit.source_article == "第66条" and hit.source_summary == ARTICLE_66 and hit.source_quote is None
    assert "drinking_water:changji-level_2" in {z.zone_id for z in hit.zones}
    assert _water_rules(boiler, 2) == {"NAT-WAT-2BE": Verdict.phase_out}  # not the ban on new projects
    assert boiler.verdict in (Verdict.forbidden, Verdict.phase_out)
    discharger = check(industry="其他", wastewater=True)
    assert _water_rules(discharger, 2) == {"NAT-WAT-2E": Verdict.phase_out}
    assert _hit(discharger, "NAT-WAT-2E").source_summary == ARTICLE_66
    # Air emitters with no wastewater: the industry, a gas boiler, a gas generating unit, a kiln.
    assert _water_rules(check(industry="水泥", wastewater=False), 2) == {"NAT-WAT-2AE": Verdict.phase_out}
    assert "NAT-WAT-2BE" in _water_rules(check(industry="其他", wastewater=False, boiler_tph=4, fuel=Fuel.gas), 2)
    assert "NAT-WAT-2CE" in _water_rules(check(industry="电力", wastewater=False, power_mw=50, fuel=Fuel.gas), 2)
    assert _water_rules(check(industry="其他", wastewater=False, furnace=Furnace.other_kiln), 2) == {
        "NAT-WAT-2DE": Verdict.phase_out}
    # Nothing discharged: solar, a road, an electric boiler are not ordered closed.
    for facts in (dict(industry="光伏", wastewater=False), dict(industry="交通", wastewater=False),
                  dict(industry="其他", wastewater=False, boiler_tph=4, fuel=Fuel.electric)):
        result = check(**facts)
        assert not _water_rules(result, 2), facts
        assert result.verdict not in (Verdict.forbidden, Verdict.phase_out), facts
    # Discharge not known: needs review, neither cleared nor closed.
    unknown = check()
    assert _water_rules(unknown, 2) == {"NAT-WAT-2E": Verdict.needs_review, "NAT-WAT-2AE": Verdict.needs_review}
    assert _hit(unknown, "NAT-WAT-2E").missing_facts == ["wastewater"]
    assert _hit(unknown, "NAT-WAT-2E").rule_verdict is Verdict.phase_out
    assert _hit(unknown, "NAT-WAT-2AE").missing_facts == ["industry"]
    no_fuel = _hit(check(industry="其他", wastewater=False, boiler_tph=4), "NAT-WAT-2BE")
    assert no_fuel.verdict is Verdict.needs_review and no_fuel.missing_facts == ["fuel"]


def test_new_projects_in_a_level_2_zone_keep_the_ban_and_other_zones_keep_their_articles(store, zones):
    """第66条's first half (禁止...新建、改建、扩建) still gives 禁止 to a new project, not the closure of what is built;
    the closure is the 二级保护区's: the 一级保护区 has 第65条's own (「...已建成的与供水设施和保护水源无关的建设项目，
    由县级以上人民政府责令拆除或者关闭」, NAT-WAT-1E, for any unrelated project, discharging or not), and the
    准保护区's 第67条 speaks only of new and rebuilt projects."""
    level_2 = _inside(_zone(zones, "drinking_water:changji-level_2").geometry)
    coal = dict(industry="热力", boiler_tph=20, fuel=Fuel.coal, wastewater=False)
    new = check_site(level_2, Project(scope=Scope.new, **coal), store=store, as_of="2021-12-31")
    assert _water_rules(new, 2) == {"NAT-WAT-2B": Verdict.forbidden}
    new_water = check_site(level_2, Project(scope=Scope.new, industry="其他", wastewater=True), store=store)
    assert _water_rules(new_water, 2) == {"NAT-WAT-2": Verdict.forbidden}

    level_1 = _inside(_zone(zones, "drinking_water:changji-level_1").geometry)
    for facts in (coal, dict(industry="光伏", wastewater=False)):
        built = check_site(level_1, Project(scope=Scope.existing, **facts), store=store, as_of="2021-12-31")
        assert _water_rules(built, 1) == {"NAT-WAT-1E": Verdict.phase_out}, facts
        assert _hit(built, "NAT-WAT-1E").source_summary == ARTICLE_65_BUILT
        assert not _water_rules(built, 2), facts  # the 一级保护区 is not the 二级's ring
    assert _water_rules(check_site(level_1, Project(scope=Scope.new, **coal), store=store), 1) == {
        "NAT-WAT-1": Verdict.forbidden}

    quasi = _inside(_zone(zones, "drinking_water:changji-quasi").geometry)
    built = check_site(quasi, Project(scope=Scope.existing, industry="其他", wastewater=True), store=store)
    assert not _water_rules(built, 2) and not _water_rules(built, 1)


def test_a_register_of_existing_works_in_a_level_2_zone_screens_as_the_single_check(store, zones, tmp_path):
    """The batch gives each row of a register of existing works the verdict and the 第66条 rules of the single check."""
    import csv

    from gis.batch import screen_file

    point = _zone(zones, "drinking_water:changji-level_2").geometry.representative_point()
    header = ["项目名称", "经度", "纬度", "建设性质", "行业类别", "排放生产废水", "锅炉规模", "燃料", "工业炉窑"]
    facts = {"建设性质": "scope", "行业类别": "industry", "排放生产废水": "wastewater", "锅炉规模": "boiler_tph",
             "燃料": "fuel", "工业炉窑": "furnace"}
    #: (row's facts, the 第66条 rule and verdict it must get; None: none of them)
    rows = [
        (["现有", "热力", "否", "20", "燃煤", ""], ("NAT-WAT-2BE", Verdict.phase_out)),
        (["现有", "其他", "是", "", "", ""], ("NAT-WAT-2E", Verdict.phase_out)),
        (["现有", "其他", "否", "", "", "其他工业炉窑"], ("NAT-WAT-2DE", Verdict.phase_out)),
        (["现有", "光伏", "否", "", "", ""], None),
        (["现有", "", "", "", "", ""], ("NAT-WAT-2E", Verdict.needs_review)),
        (["新建", "热力", "否", "20", "燃煤", ""], ("NAT-WAT-2B", Verdict.forbidden)),
    ]
    source, out = tmp_path / "register.csv", tmp_path / "register.out.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *[[f"项目{i}", f"{point.x:.7f}", f"{point.y:.7f}", *cells]
                                                for i, (cells, _) in enumerate(rows)]])
    screen_file(source, out, as_of="2021-12-31")
    with open(out, encoding="utf-8-sig", newline="") as handle:
        screened = list(csv.DictReader(handle))
    assert len(screened) == len(rows)
    site = _site(point)
    for got, (cells, expected) in zip(screened, rows):
        single = check_site(site, {facts[name]: value for name, value in zip(header[3:], cells) if value},
                            store=store, as_of="2021-12-31")
        assert got["结论代码"] == single.verdict.value, cells
        assert got["命中规则"] == "；".join(f"{h.rule_id} {h.verdict_label}：{h.title_zh}" for h in single.rules.hits)
        if expected is None:
            assert not _water_rules(single, 2), cells
        else:
            assert _water_rules(single, 2)[expected[0]] is expected[1], cells
            assert f"{expected[0]} {VERDICT_LABELS[expected[1]]}：" in got["命中规则"], cells
