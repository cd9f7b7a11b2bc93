"""The industry vocabulary: the GB/T 4754-2017 table, the 排污许可 catalogue, and the resolver on register texts.

The expected values here are facts of the standard and of the catalogue written down independently of the
tables (counts per level, the division ranges of each section, well-known codes, what a register's 行业类别
means for the rule sectors), not values read back from our own files.
"""

from __future__ import annotations

import csv
import re
import threading
import unicodedata

import pytest

from gis.industries import (
    INDUSTRIES_DIR,
    OTHER_SECTOR,
    MatchHow,
    default_industry_table,
    resolve_industry,
)
from gis.rules.project import INDUSTRIES


def _csv(name: str) -> list[dict[str, str]]:
    with open(INDUSTRIES_DIR / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _same(a: str, b: str) -> bool:
    """Names compare equal whatever the width of their brackets."""
    return unicodedata.normalize("NFKC", a) == unicodedata.normalize("NFKC", b)


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    table = _csv("gbt4754_2017.csv")
    codes = [r["code"] for r in table]
    assert len(codes) == len(set(codes)), "a code appears twice"
    return {r["code"]: r for r in table}


# -- the GB/T 4754-2017 table ------------------------------------------------------------------------------

def test_counts_per_level_are_those_of_the_standard(rows):
    levels = {"section": 0, "division": 0, "group": 0, "class": 0}
    for row in rows.values():
        levels[row["level"]] += 1
    # GB/T 4754-2017: 20 门类, 97 大类, 473 中类, 1381 小类; 第1号修改单 (2019) adds 9233 (监察委员会 at 9231).
    assert levels == {"section": 20, "division": 97, "group": 473, "class": 1382}


# Divisions of each section, as the standard numbers them (01–97, none skipped).
SECTIONS = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52), "G": (53, 60),
    "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72), "M": (73, 75), "N": (76, 79),
    "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90), "S": (91, 96), "T": (97, 97),
}


def test_sections_are_a_to_t_with_their_divisions(rows):
    sections = {c for c, r in rows.items() if r["level"] == "section"}
    assert sections == set("ABCDEFGHIJKLMNOPQRST")
    for letter, (first, last) in SECTIONS.items():
        divisions = {c for c, r in rows.items() if r["level"] == "division" and r["parent"] == letter}
        assert divisions == {f"{n:02d}" for n in range(first, last + 1)}, letter


def test_every_code_hangs_under_its_parent(rows):
    lengths = {"section": 1, "division": 2, "group": 3, "class": 4}
    for code, row in rows.items():
        assert len(code) == lengths[row["level"]] and row["name"].strip() == row["name"] != "", code
        if row["level"] == "section":
            assert code.isalpha() and row["parent"] == "" and row["section"] == code
            continue
        assert code.isdigit()
        parent = rows[row["parent"]]
        assert parent["level"] == {"division": "section", "group": "division", "class": "group"}[row["level"]]
        assert row["section"] == parent["section"]
        if row["level"] != "division":
            assert row["parent"] == code[:-1]
    for code, row in rows.items():  # every division has groups and every group has classes
        if row["level"] in ("division", "group"):
            assert any(r["parent"] == code for r in rows.values()), code


@pytest.mark.parametrize("code, name, section", [
    ("4411", "火力发电", "D"), ("4412", "热电联产", "D"), ("4413", "水力发电", "D"), ("4415", "风力发电", "D"),
    ("4416", "太阳能发电", "D"), ("4430", "热力生产和供应", "D"), ("4620", "污水处理及其再生利用", "D"),
    ("3011", "水泥制造", "C"), ("3012", "石灰和石膏制造", "C"), ("3041", "平板玻璃制造", "C"),
    ("2511", "原油加工及石油制品制造", "C"), ("2521", "炼焦", "C"), ("2612", "无机碱制造", "C"),
    ("2614", "有机化学原料制造", "C"), ("2631", "化学农药制造", "C"), ("2811", "化纤浆粕制造", "C"),
    ("3110", "炼铁", "C"), ("3120", "炼钢", "C"), ("3140", "铁合金冶炼", "C"), ("3216", "铝冶炼", "C"),
    ("3218", "硅冶炼", "C"), ("3360", "金属表面处理及热处理加工", "C"), ("1713", "棉印染精加工", "C"),
    ("0311", "牛的饲养", "A"), ("0313", "猪的饲养", "A"), ("0321", "鸡的饲养", "A"), ("0610", "烟煤和无烟煤开采洗选", "B"),
    ("7820", "环境卫生管理", "N"), ("7724", "危险废物治理", "N"), ("7861", "名胜风景区管理", "N"),
    ("7010", "房地产开发经营", "K"), ("4812", "公路工程建筑", "E"), ("5265", "机动车燃油零售", "F"),
    ("9231", "监察委员会", "S"), ("9700", "国际组织", "T"),
])
def test_well_known_codes(rows, code, name, section):
    assert _same(rows[code]["name"], name) and rows[code]["section"] == section


def test_sectors_are_rule_sectors_inherited_from_the_parent(rows):
    for code, row in rows.items():
        assert row["sector"] == "" or row["sector"] in INDUSTRIES, code
        assert row["sector"] != OTHER_SECTOR, "'其他' is what a code without a sector resolves to"
        if row["sector_own"] != "1":
            inherited = rows[row["parent"]]["sector"] if row["parent"] else ""
            assert row["sector"] == inherited, code


def test_every_rule_sector_has_its_place_in_the_standard(rows):
    sectors = {r["sector"]: r["code"] for r in _csv("sectors.csv")}
    assert set(sectors) == set(INDUSTRIES) - {OTHER_SECTOR}
    # 电石 is one product of 2619 (the rest of 2619 is 化工), 餐厨垃圾处理 and 废铅蓄电池收集 parts of a class,
    # 工业涂装 a process of many industries: aliases name them, no code of the standard is theirs alone.
    by_alias = {"电石", "工业涂装", "餐厨垃圾处理", "废铅蓄电池收集", "废铅蓄电池利用"}
    for sector in sectors:
        assert any(r["sector"] == sector for r in rows.values()) or sector in by_alias, sector
    for sector, code in sectors.items():
        if code and sector not in by_alias:
            assert rows[code]["sector"] == sector, sector


def test_aliases_name_known_codes_and_do_not_shadow_names(rows):
    names = {unicodedata.normalize("NFKC", r["name"]) for r in rows.values()}
    for alias in _csv("aliases.csv"):
        assert alias["code"] in rows or (alias["code"] == "" and alias["sector"]), alias
        assert alias["sector"] == "" or alias["sector"] in INDUSTRIES, alias
        assert unicodedata.normalize("NFKC", alias["alias"]) not in names | set(INDUSTRIES), alias


# -- the permit catalogue ----------------------------------------------------------------------------------

def test_permit_catalogue_agrees_with_the_standard(rows):
    catalogue = _csv("pollutant_permit_catalogue.csv")
    assert [int(r["number"]) for r in catalogue] == list(range(1, 113))
    assert [r["category"] for r in catalogue if r["kind"] == "general_process"] == ["锅炉", "工业炉窑", "表面处理",
                                                                                      "水处理"]
    assert [r["number"] for r in catalogue if r["kind"] == "other"] == ["108"]
    # Where the catalogue's own wording differs from the standard's names (checked against both texts).
    catalogue_wording = {("069", "其他煤炭洗选"), ("37", "铁路、船舶、航空航天和其他运输设备制造"),
                         ("81", "机动车、电子产品和日用品修理业")}
    differences = set()
    for row in catalogue:
        heading = re.fullmatch(r"[一二三四五六七八九十]+、(.+?)(\d{2})", row["heading"])
        if row["kind"] != "industry":
            continue
        name, division = heading.groups()
        if not _same(rows[division]["name"], name):
            differences.add((division, name))
        for code in filter(None, row["codes"].split(";") + row["excluded_codes"].split(";")
                           + row["covered_codes"].split(";")):
            assert code in rows and code.startswith(division), (row["number"], code)
        for piece in row["category"].split("，"):
            name, code = re.match(r"(.+?)(\d{3,4})", piece).groups()
            if not _same(rows[code]["name"], name):
                differences.add((code, name))
    assert differences == catalogue_wording


# -- the resolver on what registers write ------------------------------------------------------------------

# 行业类别 as 排污许可 registers and 环评 lists write them, with the rule sector and GB/T code they mean.
REGISTER_TEXTS = [
    ("火力发电", "电力", "4411"),
    ("热电联产", "电力", "4412"),
    ("热力生产和供应", "热力", "4430"),
    ("生物质能发电", "电力", "4417"),
    ("水力发电", "水电", "4413"),
    ("风力发电", "风电", "4415"),
    ("太阳能发电", "光伏", "4416"),
    ("水泥制造", "水泥", "3011"),
    ("石灰和石膏制造", "建材", "3012"),
    ("平板玻璃制造", "平板玻璃", "3041"),
    ("粘土砖瓦及建筑砌块制造", "建材", "3031"),
    ("炼焦", "焦化", "2521"),
    ("煤制液体燃料生产", "煤化工", "2523"),
    ("原油加工及石油制品制造", "石油化工", "2511"),
    ("有机化学原料制造", "化工", "2614"),
    ("无机碱制造", "烧碱", "2612"),
    ("无机盐制造", "化工", "2613"),
    ("氮肥制造", "化肥", "2621"),
    ("化学农药制造", "化工", "2631"),
    ("化学原料和化学制品制造业", "化工", "26"),
    ("炼铁", "钢铁", "3110"),
    ("炼钢", "钢铁", "3120"),
    ("铁合金冶炼", "铁合金", "3140"),
    ("铝冶炼", "电解铝", "3216"),
    ("硅冶炼", "工业硅", "3218"),
    ("铜冶炼", "有色", "3211"),
    ("铅锌冶炼", "有色", "3212"),
    ("金属表面处理及热处理加工", "电镀", "3360"),
    ("化纤浆粕制造", "棉浆粕", "2811"),
    ("机制纸及纸板制造", "造纸", "2221"),
    ("皮革鞣制加工", "皮革", "1910"),
    ("棉印染精加工", "印染", "1713"),
    ("牲畜饲养", "畜禽养殖", "031"),
    ("牛的饲养", "畜禽养殖", "0311"),
    ("猪的饲养", "畜禽养殖", "0313"),
    ("鸡的饲养", "畜禽养殖", "0321"),
    ("烟煤和无烟煤开采洗选", "煤炭", "0610"),
    ("陆地石油开采", "石油天然气开采", "0711"),
    ("铁矿采选", "采矿", "0810"),
    ("屠宰及肉类加工", "屠宰", "135"),
    ("乳制品制造", OTHER_SECTOR, "144"),
    ("污水处理及其再生利用", "污水处理", "4620"),
    ("环境卫生管理", OTHER_SECTOR, "7820"),
    ("生活垃圾处理", OTHER_SECTOR, "7820"),
    ("危险废物治理", OTHER_SECTOR, "7724"),
    ("机动车燃油零售", "加油站", "5265"),
    ("综合医院", OTHER_SECTOR, "8411"),
    ("房地产开发经营", "房地产", "7010"),
    ("游览景区管理", "旅游", "786"),
    ("公路工程建筑", "交通", "4812"),
]


@pytest.mark.parametrize("text, sector, code", REGISTER_TEXTS)
def test_register_texts_resolve_to_sector_and_code(text, sector, code):
    match = resolve_industry(text)
    assert (match.sector, match.code) == (sector, code)
    assert match.sectors[0] == sector and match.known


@pytest.mark.parametrize("text, sector, code, how", [
    ("电力", "电力", "4411", MatchHow.sector),  # the rules' 电力 is thermal power
    ("水泥", "水泥", "3011", MatchHow.sector),
    ("C3011", "水泥", "3011", MatchHow.code),
    ("3011", "水泥", "3011", MatchHow.code),
    ("D4411", "电力", "4411", MatchHow.code),
    ("d 4411", "电力", "4411", MatchHow.code),
    ("3011 水泥制造", "水泥", "3011", MatchHow.code),
    ("水泥制造（C3011）", "水泥", "3011", MatchHow.code),
    ("火力发电4411", "电力", "4411", MatchHow.code),
    ("３０１１", "水泥", "3011", MatchHow.code),  # full-width digits
    (3011.0, "水泥", "3011", MatchHow.code),  # a spreadsheet's number cell
    ("3011.0", "水泥", "3011", MatchHow.code),
    ("  水泥 制造 ", "水泥", "3011", MatchHow.standard_name),
    ("羽毛(绒)加工", OTHER_SECTOR, "1941", MatchHow.standard_name),  # half-width brackets for the standard's （）
    ("火电", "电力", "4411", MatchHow.alias),
    ("热电厂", "电力", "4412", MatchHow.alias),
    ("化工行业", "化工", "26", MatchHow.sector),
    ("化学原料", "化工", "26", MatchHow.partial_name),
    ("牲畜饲养031，家禽饲养032", "畜禽养殖", "03", MatchHow.permit_category),
    ("皮革鞣制加工191，毛皮鞣制及制品加工193", "皮革", "19", MatchHow.permit_category),
    ("某公司2×350MW热电联产项目", "电力", "4412", MatchHow.partial_name),
])
def test_every_way_of_writing_an_industry(text, sector, code, how):
    match = resolve_industry(text)
    assert (match.sector, match.code, match.how) == (sector, code, how)


def test_the_most_specific_sector_wins_and_the_broader_ones_follow():
    aluminium = resolve_industry("铝冶炼")
    assert aluminium.sector == "电解铝" and aluminium.sectors == ("电解铝", "有色")
    assert resolve_industry("3216").sector == "电解铝"
    assert resolve_industry("铜冶炼").sectors == ("有色",)
    assert resolve_industry("水泥制造").sectors == ("水泥", "建材")
    assert resolve_industry("无机碱制造").sectors == ("烧碱", "化工")
    assert resolve_industry("炼焦").sectors == ("焦化", "煤化工", "石油化工")
    # An alias may narrow or widen a code's sector: alumina is 铝冶炼 but not electrolysis; coal-to-olefins is
    # an organic chemical made from coal.
    assert resolve_industry("氧化铝").sectors == ("有色",)
    assert resolve_industry("煤制烯烃").sectors == ("煤化工", "化工")


def test_broad_codes_say_what_finer_sectors_lie_below():
    metals = resolve_industry("有色金属冶炼和压延加工业")
    assert metals.sector == "有色" and {n.code for n in metals.notices} == {"industry_finer"}
    assert "电解铝" in metals.notices[0].message
    # Generation in general may be coal, hydro, wind or solar, which the rules tell apart.
    for text in ("C", "制造业", "纺织业", "棉纺织及印染精加工", "17", "44", "电力生产"):
        broad = resolve_industry(text)
        assert broad.sector is None and broad.code is not None, text
        assert "industry_too_broad" in {n.code for n in broad.notices}


def test_several_industries_in_one_text():
    match = resolve_industry("火力发电，热力生产和供应")
    assert (match.sector, match.code) == ("电力", "4411")
    assert match.sectors == ("电力", "热力")
    assert "industry_several" in {n.code for n in match.notices}
    wrapped = resolve_industry("火力发电\r\n热力生产和供应")  # two entries on two lines of one cell
    assert (wrapped.sector, wrapped.sectors) == ("电力", ("电力", "热力"))


def test_a_code_and_a_name_that_disagree():
    mismatch = resolve_industry("3011 火力发电")
    assert (mismatch.sector, mismatch.code) == ("水泥", "3011")
    assert [n.code for n in mismatch.notices] == ["industry_name_mismatch"]
    padded = resolve_industry("311牛的饲养")  # a spreadsheet dropped the leading zero of 0311
    assert (padded.sector, padded.code) == ("畜禽养殖", "0311")
    letter = resolve_industry("C4411")
    assert letter.code == "4411" and [n.code for n in letter.notices] == ["industry_section_letter"]


@pytest.mark.parametrize("text", [
    "铸铁件毛坯", "新型材料", "XYZ", "0000", "C9999", "", "   ", "锅炉", "除1-107外的其他行业", "发电",
    "行" * 10_000, "\x00\x01", "DROP TABLE", None,
])
def test_unknown_industries_give_a_notice_not_an_exception(text):
    match = resolve_industry(text)
    assert match.sector is None and match.sectors == ()
    assert len(match.notices) == 1
    notice = match.notices[0]
    assert notice.field == "industry" and notice.level == "warning"
    assert re.match(r"[\u4e00-\u9fff]", notice.message), "Chinese first"
    assert "需核查" in notice.message and "needs review" in notice.message
    assert "--" not in notice.message + (notice.fix or "") and "HTTP" not in notice.message


def test_known_industries_without_a_rule_sector_are_other_not_unknown():
    for text in ("乳制品制造", "1441", "综合医院", "金属结构制造"):
        match = resolve_industry(text)
        assert match.sector == OTHER_SECTOR and match.sectors == (OTHER_SECTOR,), text


def test_results_are_cached_and_the_table_is_shared_safely():
    table = default_industry_table()
    texts = [row[0] for row in REGISTER_TEXTS] + ["化学原料", "D4411", "铸铁件毛坯"]
    expected = {t: resolve_industry(t) for t in texts}
    assert resolve_industry("化学原料") is resolve_industry("化学原料")
    table.resolve.cache_clear()
    results: list[dict] = []

    def work():
        results.append({t: resolve_industry(t) for t in texts * 20})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(r == expected for r in results)


def test_every_code_and_name_of_the_standard_resolves_to_itself():
    table = default_industry_table()
    for code, row in table.codes.items():
        written = code if row.level == "section" else row.section + code
        assert resolve_industry(written).code == code, written
        # Names repeat down a line of single children (炼铁 is 311 and 3110): any code on that line will do.
        line = {code, *table.ancestors(code), *table.descendants(code)}
        assert resolve_industry(row.name).code in line, row.name
