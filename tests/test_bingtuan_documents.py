"""Worked cases of the 兵团 pack read against its documents ([002] the inspection report and its 附件, [004] the
“十四五” plan): each expectation comes from the words quoted in its test, which are checked to be the seed's own
(whitespace aside), at places of the embedded dataset."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from gis.check import check_site
from gis.rules.model import Verdict
from gis.rules.project import Fuel, Project, Scope
from gis.sites import read_site
from tests.test_rules import SEEDS
from tests.test_rules_worked import _hit, _ids


#: Places of the embedded dataset (lon, lat).
SHIHUTAN = "86.0500,44.4800"  # 十户滩新材料工业园区 (第八师)
NEW_MATERIALS = "85.9900,44.3700"  # 石河子 化工新材料产业园
NORTH_PARK = "86.0500,44.3700"  # 石河子 北工业园区
SHIHEZI_ETDZ = "86.0900,44.3100"  # 石河子经济技术开发区
SHIHEZI = "86.0400,44.3000"  # 石河子市城市建成区, 禁煤区
BEITUN = "87.9458,47.2495"  # 北屯市
WUJIAQU = "87.5400,44.1700"  # 五家渠市城市建成区
ARAL = "81.2425,40.6534"  # 阿拉尔市
BLACK_BEE_CORE = "82.9500,43.6000"  # 伊犁黑蜂自然保护区核心区
BLACK_BEE_EXPERIMENTAL = "83.1705,43.5999"  # 伊犁黑蜂自然保护区实验区
QUASI = "85.9986,44.2000"  # 石河子市饮用水水源地准保护区
ZHENGSHI_POND = "86.0600,44.4300"  # 石河子郑氏化纤沙漠纳污区


def _says(doc: str, words: str) -> str:
    """The words, checked to be the seed document's own (whitespace aside) where the seeds are at hand; the
    check of the rule runs either way (as ``test_rules`` checks every quote when they are)."""
    if not SEEDS.is_dir():
        return words
    (path,) = SEEDS.glob(f"{doc}_*.txt")
    assert re.sub(r"\s+", "", words) in re.sub(r"\s+", "", path.read_text(encoding="utf-8")), words
    return words


def _check(store, where: str, as_of: str = "2021-12-31", **facts):
    return check_site(read_site(where), Project(**facts), store=store, as_of=as_of)


def _same_words(a: str | None, b: str) -> bool:
    return a is not None and re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b)


# -- 1. PARK-04: the 十户滩 freeze ends with its rectification item ---------------------------------------------

def test_shihutan_freeze_holds_while_the_park_builds_its_plant_and_ends_with_the_item(store):
    """附件 二十二 (parks without a sewage plant), 第八师: 「第八师十户滩新材料工业园区污水处理厂已于 2019 年 3 月 5 日开工
    建设」, 「2018 年以来，园区未再审批水污染物排放项目」 — a practice beside the plant being built, under the item's
    「整改时限 : 2018年-2020年底」; the other divisions' freezes of the item last until their plant runs
    (「在兵团准东产业园区污水处理厂未建成投运前，暂停审批涉水项目」). By then [004]: 「31 个兵团级及以上工业集聚区已全部
    建成污水集中处理设施」. So 禁止 in 2019 and 2020, not after the end of 2020, as the other parks."""
    _says("002", "2018 年以来，园区未再审批水污染物排放项目")
    _says("002", "整改时限 : 2018年-2020年底")
    _says("002", "十二师在兵团准东产业园区污水处理厂未建成投运前，暂停审批涉水项目")
    _says("004", "31 个兵团级及以上工业集聚区已全部建成污水集中处理设施")
    project = dict(industry="化工", wastewater=True, scope=Scope.new)
    for day in ("2019-06-01", "2020-12-30"):
        result = _check(store, SHIHUTAN, day, **project)
        hit = _hit(result, "PARK-04")
        assert hit.verdict is Verdict.forbidden, day
        assert "PARK-01" not in {h.rule_id for h in result.rules.hits if h.verdict is Verdict.forbidden}
    for day in ("2020-12-31", "2021-12-31", "2025-06-01"):
        result = _check(store, SHIHUTAN, day, **project)
        assert "PARK-04" not in _ids(result), day
        assert result.verdict is not Verdict.forbidden, day
    # the other side of the facts: a project without production wastewater was never under it
    assert "PARK-04" not in _ids(_check(store, SHIHUTAN, "2019-06-01", industry="化工", wastewater=False,
                                        scope=Scope.new))


def test_shihutan_freeze_ends_the_day_the_plant_bound_freezes_lift(store):
    """附件 二十二, 第一师: 「阿拉尔台州产业园区污水处理厂投运之前园区不得增加有生产废水排放的建设项目」 — lifted when the plant
    runs, which the data dates 2020-12-31; 十户滩's freeze ends that day too."""
    _says("002", "阿拉尔台州产业园区污水处理厂投运之前园区不得增加有生产废水排放的建设项目")
    project = dict(industry="化工", wastewater=True, scope=Scope.new)
    for rule, where in (("PARK-02", "81.2200,40.6000"), ("PARK-04", SHIHUTAN)):
        assert _hit(_check(store, where, "2020-12-30", **project), rule).verdict is Verdict.forbidden, rule
        assert rule not in _ids(_check(store, where, "2020-12-31", **project)), rule


# -- 2. WAT-08: the 新材料 park requires reuse and bans discharge to surface water ------------------------------

def test_new_materials_park_requires_reuse_rather_than_banning_every_wastewater_project(store):
    """附件 十七: 「要求园区综合废水处理全部回用，严禁工业废水进入地表水系」 — what is banned is wastewater reaching surface
    water; a project with wastewater is restricted to full reuse, not refused."""
    words = _says("002", "要求园区综合废水处理全部回用，严禁工业废水进入地表水系")
    result = _check(store, NEW_MATERIALS, "2019-06-01", industry="化工", wastewater=True, scope=Scope.new)
    hit = _hit(result, "WAT-08")
    assert hit.verdict is Verdict.restricted
    assert "全部回用" in hit.condition_zh and "严禁工业废水进入地表水系" in hit.condition_zh
    assert words in hit.source_quote
    assert result.verdict is not Verdict.forbidden
    dry = _check(store, NEW_MATERIALS, "2019-06-01", industry="化工", wastewater=False, scope=Scope.new)
    assert "WAT-08" not in _ids(dry)


# -- 3. ECO-16: the rule is [004]'s task, not the view [002] criticises ----------------------------------------

def test_land_reclamation_is_restricted_by_the_irrigated_area_task_not_forbidden(store):
    """[002] 附件 一 reports a view it corrects: 「有的同志认为，国家要求兵团向南发展，但又不允许开荒，还要退地减水，开发与保护
    很难统筹」 — no rule. The rule is [004] 第六章第一节: 「严格落实退地减水、灌溉面积控制任务」, a control of the irrigated
    area: 限制, from the plan's date (2021-12-03)."""
    _says("002", "有的同志认为，国家要求兵团向南发展，但又不允许开荒，还要退地减水，开发与保护很难统筹")
    task = _says("004", "严格落实退地减水、灌溉面积控制任务")
    for where in (SHIHEZI, BEITUN):
        result = _check(store, where, "2021-12-31", land_reclamation=True, industry="农业", scope=Scope.new)
        hit = _hit(result, "ECO-16")
        assert hit.verdict is Verdict.restricted, where
        assert _same_words(hit.source_quote, task) and hit.source_article == "第六章第一节"
        assert "不允许开荒" not in hit.source_quote
        assert result.verdict is not Verdict.forbidden
    before = _check(store, SHIHEZI, "2021-12-02", land_reclamation=True, industry="农业", scope=Scope.new)
    assert "ECO-16" not in _ids(before)
    # moved from tests/test_rules_worked.py (it expected 禁止): 五家渠市
    result = _check(store, WUJIAQU, "2021-12-31", land_reclamation=True)
    assert _hit(result, "ECO-16").verdict is Verdict.restricted


# -- 4. PARK-06: 限制 until the 北工业园区 plant runs ----------------------------------------------------------------

def test_north_park_stays_restricted_while_its_plant_is_being_built(store):
    """附件 十六: 「石河子经济技术开发区和北工业园区至今未建设工业废水集中处理设施」, 「整改时限：2019年9月底」, and in March
    2019 the plant is unfinished: 「截止目前，土建工程完成总施工进度的 55%」. A plant being built treats nothing: the
    restriction holds until it runs (the data: the 兵团 parks' plants built by 2020-12-31)."""
    quote = _says("002", "石河子经济技术开发区和北工业园区至今未建设工业废水集中处理设施")
    _says("002", "整改时限：2019年9月底")
    _says("002", "截止目前，土建工程完成总施工进度的 55%")
    project = dict(industry="化工", wastewater=True, scope=Scope.new)
    for day in ("2018-06-01", "2019-03-30", "2019-06-01", "2019-10-01", "2020-06-01"):
        hit = _hit(_check(store, NORTH_PARK, day, **project), "PARK-06")
        assert hit.verdict is Verdict.restricted, day
        assert _same_words(hit.source_quote, quote)
    assert "PARK-06" not in _ids(_check(store, NORTH_PARK, "2020-12-31", **project))
    # the 开发区 sends its wastewater to the town plant from March 2019 (「污水收集进入市政管网」): another case
    _says("002", "完成工业园区企业排水口在线监测设施建设，污水收集进入市政管网")
    assert _hit(_check(store, SHIHEZI_ETDZ, "2018-06-01", **project), "PARK-06").verdict is Verdict.restricted
    assert "PARK-06" not in _ids(_check(store, SHIHEZI_ETDZ, "2019-06-01", **project))


# -- 5. deadlines the documents give ---------------------------------------------------------------------------

DEADLINES = [
    # (rule, place, project, the document's time limit, its last day)
    ("BLR-02E", SHIHEZI, dict(industry="热力", fuel=Fuel.coal, boiler_tph=8, scope=Scope.existing),
     ("002", "九、石河子市燃煤锅炉整治不力，2014 年后仍违规新建 36 台每小时 10 蒸吨以下燃煤锅炉。整改时限：2018 年 12 月"),
     dt.date(2018, 12, 31)),
    ("BLR-03E", WUJIAQU, dict(industry="热力", fuel=Fuel.coal, boiler_tph=10, scope=Scope.existing),
     ("002", "十三、五家渠市燃煤锅炉整治不力，2014 年后仍违规新建 65 台每小时 10 蒸吨及以下燃煤锅炉。整改时限：2018 年 12 月"),
     dt.date(2018, 12, 31)),
    ("WAT-12", SHIHEZI, dict(industry="棉浆粕", scope=Scope.existing),
     ("002", "但第八师师市政府及环境保护部门督促不力，对企业仍未开展纳污库无害化治理工作。整改时限：2018年12月"),
     dt.date(2018, 12, 31)),
    ("SOIL-05", ZHENGSHI_POND, dict(industry="棉浆粕", scope=Scope.existing),
     ("002", "但第六师师市政府及环境保护部门督促不力，对企业仍未开展纳污库无害化治理工作。整改时限：2018年12月"),
     dt.date(2018, 12, 31)),
    # the “十四五” plan's task: by the end of its period, 2025
    ("BLR-17", SHIHEZI, dict(industry="热力", fuel=Fuel.coal, boiler_tph=35, scope=Scope.existing),
     ("004", "《新疆生产建设兵团“十四五”生态环境保护规划》"), dt.date(2025, 12, 31)),
]


@pytest.mark.parametrize(("rule", "where", "facts", "words", "last_day"), DEADLINES,
                         ids=[d[0] for d in DEADLINES])
def test_deadlines_are_the_documents_time_limits(store, rule, where, facts, words, last_day):
    """附件 九, 十三, 二十, 二十一: 「整改时限：2018 年 12 月」 (a month's time limit is its last day, as PWR-12's
    「2014年7月1日前」 is 30 June); BLR-17 is a task of the 2021-2025 plan. On the last day the deadline has not passed;
    the day after it has."""
    _says(*words)
    day = max(last_day, dt.date(2021, 12, 3)) if rule == "BLR-17" else last_day  # [004] is in force from 2021-12-03
    on_time = _hit(_check(store, where, day.isoformat(), **facts), rule)
    assert on_time.deadline == last_day and on_time.deadline_passed is False
    late = _hit(_check(store, where, (last_day + dt.timedelta(days=1)).isoformat(), **facts), rule)
    assert late.deadline == last_day and late.deadline_passed is True


# -- 6. WAT-01: clearing what is there, no ban of its own -------------------------------------------------------

def test_drinking_water_zone_clears_illegal_buildings_and_outfalls_and_bans_nothing_new(store):
    """[004] 第六章第四节: 「依法清理饮用水水源保护区内违法建筑和排污口」 — it clears what is there. An existing discharger's
    outfall is cleared (WAT-01E, 限期淘汰); whether an existing building is illegal is checked (WAT-01, 需核查). A new
    project has the law's verdicts (第64条: no outfall in the zone, NAT-WAT-0), not a ban from these words."""
    quote = _says("004", "依法清理饮用水水源保护区内违法建筑和排污口")
    new = _check(store, QUASI, industry="化工", wastewater=True, scope=Scope.new)
    assert "WAT-01" not in _ids(new) and "WAT-01E" not in _ids(new)
    assert _hit(new, "NAT-WAT-0").verdict is Verdict.forbidden  # the law still refuses the outfall
    dry_new = _check(store, QUASI, industry="农副食品加工", wastewater=False, scope=Scope.new)
    assert "WAT-01" not in _ids(dry_new)
    built = _check(store, QUASI, industry="农副食品加工", wastewater=False, scope=Scope.existing)
    hit = _hit(built, "WAT-01")
    assert hit.verdict is Verdict.needs_review and _same_words(hit.source_quote, quote)
    assert "WAT-01E" not in _ids(built)
    outfall = _check(store, QUASI, industry="农副食品加工", wastewater=True, scope=Scope.existing)
    assert _hit(outfall, "WAT-01E").verdict is Verdict.phase_out
    assert "WAT-01" not in _ids(outfall)
    # moved from tests/test_rules_worked.py (it expected WAT-01 禁止 for a new discharger in the 二级保护区)
    level_2 = _check(store, "86.0187,44.2000", industry="农副食品加工", wastewater=True, scope=Scope.new)
    assert "WAT-01" not in _ids(level_2) and level_2.verdict is Verdict.forbidden


# -- 7. MOB-06: 五家渠's GPS, not 石河子's ----------------------------------------------------------------------

def test_muck_truck_gps_is_wujiaqus_rule(store):
    """正文 一(五)一是, under 「第六师五家渠市」: 「强化施工工地扬尘治理，渣土、物料运输车辆全部安装 GPS 定位系统」; 附件
    十二(七) (五家渠): 「未安装车辆禁止进出建筑施工工地」. 石河子's 附件 八(七) has its muck trucks sealed
    (「完成 184 辆渣土车辆密闭改装工作」), no GPS."""
    _says("002", "第六师五家渠市，完善制度体系建设")
    quote = _says("002", "强化施工工地扬尘治理，渣土、物料运输车辆全部安装 GPS 定位系统")
    _says("002", "未安装车辆禁止进出建筑施工工地")
    _says("002", "完成 184 辆渣土车辆密闭改装工作")
    hit = _hit(_check(store, WUJIAQU, industry="建筑施工", scope=Scope.new), "MOB-06")
    assert hit.verdict is Verdict.restricted and hit.source_article == "一(五)一"
    assert _same_words(hit.source_quote, quote)
    shihezi = _check(store, SHIHEZI, industry="建筑施工", scope=Scope.new)
    assert "MOB-06" not in _ids(shihezi)
    assert _hit(shihezi, "IND-31").verdict is Verdict.restricted  # 石河子's own site rules stay


# -- 8. IND-26: heavy-metal projects -----------------------------------------------------------------------------

def test_heavy_metal_layout_control_follows_the_heavy_metals_fact(store):
    """[004] 第九章第二节: 「严格有色金属冶炼、电镀、化工等涉重金属项目空间布局管理」 — 涉重金属 projects of those
    industries: a 化工 project with heavy metals is restricted, a 有色 one without is not; one that does not say needs
    review."""
    quote = _says("004", "严格涉重金属行业准入，优化涉重金属产业空间布局，严格有色金属冶炼、电镀、化工等涉重金属项目空间布局管理")
    for industry in ("化工", "电镀", "有色", "电解铝"):
        hit = _hit(_check(store, ARAL, industry=industry, heavy_metals=True, scope=Scope.new), "IND-26")
        assert hit.verdict is Verdict.restricted, industry
        assert _same_words(hit.source_quote, quote)
    for industry in ("有色", "化工"):
        assert "IND-26" not in _ids(_check(store, ARAL, industry=industry, heavy_metals=False, scope=Scope.new))
    asked = _hit(_check(store, ARAL, industry="化工", scope=Scope.new), "IND-26")
    assert asked.verdict is Verdict.needs_review and asked.missing_facts == ["heavy_metals"]
    assert "IND-26" not in _ids(_check(store, ARAL, industry="光伏", scope=Scope.new))


# -- 9. PWR-14 and ECO-05 say what they name ---------------------------------------------------------------------

def test_denitration_ban_is_for_thermal_power_and_cement_only(store):
    """[000] 六(四): 「对没有按照国家规定和环评批复配套落实脱硝设施等“三同时”要求的火电和水泥企业，一律不准投入运行」 —
    火电 and 水泥; a heat-only boiler house (热力) is neither."""
    _says("000", "对没有按照国家规定和环评批复配套落实脱硝设施等“三同时”要求的火电和水泥企业，一律不准投入运行")
    for industry in ("电力", "水泥"):
        result = _check(store, ARAL, "2014-06-01", industry=industry, denitration_missing=True, scope=Scope.existing)
        assert _hit(result, "PWR-14").verdict is Verdict.forbidden, industry
    heat = _check(store, ARAL, "2014-06-01", industry="热力", denitration_missing=True, scope=Scope.existing)
    assert "PWR-14" not in _ids(heat)


def test_reserve_exit_is_for_coal_mines(store):
    """[002] 附件 四: 「将位于自然保护区内的煤矿依法依规有序退出」 — 煤矿, not every mine."""
    _says("002", "将位于自然保护区内的煤矿依法依规有序退出")
    assert _hit(_check(store, BLACK_BEE_CORE, industry="煤炭", scope=Scope.existing), "ECO-05").verdict is \
        Verdict.phase_out
    for where in (BLACK_BEE_CORE, BLACK_BEE_EXPERIMENTAL):
        assert "ECO-05" not in _ids(_check(store, where, industry="采矿", scope=Scope.existing)), where


# -- 10. citations -------------------------------------------------------------------------------------------

def test_citations_name_the_rule_and_its_article(store):
    """ECO-01: 「划定并严守生态保护红线，严禁“三高”项目进兵团」 is 附件 三(三) (三、「在督察中还有同志反映…」). GW-05: the
    ground of the ban is that unlicensed abstraction is illegal and prosecuted (正文 一(五)四是: 「对天业集团、天富集团非法
    抽取地下水违法问题进行了立案查处」), not one firm's figure. PROC-03: 附件 五's rule, 「须在落实等量或减量置换的基础上，
    由地方政府按规定办理备案手续」, not the revocation of one filing."""
    _says("002", "三、在督察中还有同志反映")
    eco = _hit(_check(store, BLACK_BEE_CORE, industry="化工", three_high=True, scope=Scope.new), "ECO-01")
    assert eco.source_article == "附件 三(三)"
    assert _same_words(eco.source_quote, _says("002", "划定并严守生态保护红线，严禁“三高”项目进兵团，合理控制空间开发强度"))

    gw = _hit(_check(store, SHIHEZI, groundwater=True, unlicensed_abstraction=True), "GW-05")
    assert gw.verdict is Verdict.forbidden and gw.source_article == "一(五)四"
    assert _says("002", "对天业集团、天富集团非法抽取地下水违法问题进行了立案查处") in gw.source_quote
    assert "3323" not in gw.source_quote

    proc = _hit(_check(store, WUJIAQU, industry="钢铁", no_capacity_replacement=True, scope=Scope.new), "PROC-03")
    assert proc.verdict is Verdict.forbidden and proc.source_article == "附件 五"
    assert _says("002", "须在落实等量或减量置换的基础上，由地方政府按规定办理备案手续") in proc.source_quote
    assert "撤销" not in proc.source_quote
    assert "PROC-03" not in _ids(_check(store, WUJIAQU, industry="钢铁", no_capacity_replacement=False,
                                        scope=Scope.new))
