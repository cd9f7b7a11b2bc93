"""A register's fact cell that cannot be read (「二十吨」, 「待查」) is a fact given but unknown: a rule that needs
it is 需核查, never checked as if the fact were not declared, nor replaced by a default or a batch-wide fact.

The rules' conditions are read from the pack files themselves (tomllib); batch rows are compared with
``check_site`` on the same site and facts.
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest

from gis.batch import screen_file
from gis.check import check_site
from gis.rules.project import Project, read_project
from gis.sites import read_site

AS_OF = "2024-01-01"
#: 昌吉市, inside 昌吉回族自治州: where the 昌吉州 pack's prefecture-wide rules hold.
CHANGJI = (87.30, 44.01)
RULES = Path(__file__).resolve().parents[1] / "data" / "rules"


def _rule(pack: str, rule_id: str) -> dict:
    rules = tomllib.loads((RULES / f"{pack}.toml").read_text(encoding="utf-8"))["rules"]
    return next(rule for rule in rules if rule["id"] == rule_id)


def _hits(facts: dict, defaults: dict | None = None) -> dict[str, tuple[str, list[str]]]:
    site = read_site(f"{CHANGJI[0]}, {CHANGJI[1]}", coverage=None)
    project = read_project(facts, defaults=defaults, strict=False).project
    result = check_site(site, project, as_of=AS_OF)
    return {hit.rule_id: (hit.verdict.value, hit.missing_facts) for hit in result.rules.hits}


def test_unreadable_declared_fact_needs_review_rather_than_reading_as_not_declared():
    rule = _rule("changji", "IND-23")  # open-pit mines: the rule asks for open_pit = true of a mining project
    assert rule["project"]["open_pit"] is True and "采矿" in rule["project"]["industry"]["in"]
    said = {"industry": "采矿"}
    assert _hits({**said, "open_pit": "是"})["IND-23"] == (rule["verdict"], [])
    assert "IND-23" not in _hits({**said, "open_pit": ""})  # not declared: no open pit
    assert _hits({**said, "open_pit": "待查"})["IND-23"] == ("needs_review", ["open_pit"])


def test_unreadable_fact_is_never_replaced_by_a_default():
    for defaults in (None, {"scope": "existing"}):
        facts = read_project({"scope": "待定", "boiler_tph": "二十吨"}, defaults=defaults, strict=False)
        assert facts.project.scope is None and facts.project.boiler_tph is None
        assert facts.project.unknown_facts == ("scope", "boiler_tph")
        about_scope = [n for n in facts.notices if n["field"] == "scope"]
        assert [n["code"] for n in about_scope] == ["fact_unreadable"]  # no 「未填写，按…核查」 after it
        assert "待定" in about_scope[0]["message"] and "需核查" in about_scope[0]["message"]
    # a blank cell still takes the default, and says so
    blank = read_project({"scope": ""}, defaults={"scope": "existing"}, strict=False)
    assert blank.project.scope.value == "existing" and not blank.project.unknown_facts
    assert [n["code"] for n in blank.notices] == ["assumed"]


def test_unreadable_fuel_is_not_inferred_from_coal():
    facts = read_project({"fuel": "待定", "coal_t": "5000"}, strict=False)
    assert facts.project.fuel is None and facts.project.unknown_facts == ("fuel",)
    assert "fuel_from_coal" not in [n["code"] for n in facts.notices]
    inferred = read_project({"coal_t": "5000"}, strict=False)
    assert inferred.project.fuel.value == "coal"


@pytest.mark.parametrize("text, scope", [("拟建", "new"), ("已批未建", "new"), ("异地搬迁", "new"),
                                         ("在建", "new"), ("已建成投产", "existing"), ("停产整治", "existing"),
                                         ("运行中", "existing"), ("现有", "existing")])
def test_scope_words_of_registers(text, scope):
    assert read_project({"scope": text}).project.scope.value == scope


def test_batch_rows_with_unreadable_cells_equal_single_checks(tmp_path):
    rows = [
        {"名称": "甲", "行业": "采矿", "露天开采": "待查", "建设性质": "待定", "锅炉规模": ""},
        {"名称": "乙", "行业": "采矿", "露天开采": "是", "建设性质": "新建", "锅炉规模": ""},
        {"名称": "丙", "行业": "采矿", "露天开采": "", "建设性质": "", "锅炉规模": ""},
        {"名称": "丁", "行业": "火力发电", "露天开采": "", "建设性质": "规划中", "锅炉规模": "二十吨"},
        {"名称": "戊", "行业": "火力发电", "露天开采": "", "建设性质": "现有", "锅炉规模": "20"},
    ]
    source = tmp_path / "登记.csv"
    with source.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["名称", "经度", "纬度", *rows[0].keys() - {"名称"}])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "经度": CHANGJI[0], "纬度": CHANGJI[1]})
    out = tmp_path / "结果.csv"
    defaults = {"scope": "existing"}
    screen_file(source, out, as_of=AS_OF, defaults=defaults)
    with out.open(encoding="utf-8-sig") as f:
        screened = list(csv.DictReader(f))
    names = {"行业": "industry", "露天开采": "open_pit", "建设性质": "scope", "锅炉规模": "boiler_tph"}
    site = read_site(f"{CHANGJI[0]}, {CHANGJI[1]}", coverage=None)
    for row, got in zip(rows, screened, strict=True):
        project = read_project({names[k]: v for k, v in row.items() if k in names}, defaults=defaults,
                               strict=False).project
        expected = check_site(site, project, as_of=AS_OF)
        assert got["结论代码"] == expected.verdict.value, row["名称"]
        hit_ids = [part.split(" ")[0] for part in got["命中规则"].split("；") if part]
        assert hit_ids == [hit.rule_id for hit in expected.rules.hits], row["名称"]
    # the rows whose 建设性质 could not be read say so, and were not checked as existing (整批假定)
    for got in (screened[0], screened[3]):
        assert "无法识别建设性质" in got["读取提示"] and "整批假定" not in got["读取提示"]
    assert "整批假定" in screened[2]["读取提示"]


def test_a_register_name_too_long_is_cut_and_said_so():
    """A register's cell is read as far as it can be: a 600-character name is cut to the model's 500 with a
    warning (a check through an interface refuses it instead)."""
    limit = Project.model_fields["name"].metadata[0].max_length
    facts = read_project({"name": "厂" * 600}, strict=False)
    assert facts.project.name == "厂" * limit
    assert [n["code"] for n in facts.notices if n["field"] == "name"] == ["name_shortened"]
