"""Rule packs: they load, their quotes are verbatim, and a bad rule file names the rule and the field."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from gis.rules import default_rule_packs
from gis.errors import RuleError
from gis.rules.model import load_pack

SEEDS = Path(os.environ.get("ECOZONE_SEEDS_DIR", Path(__file__).resolve().parents[2] / "shared" / "seeds"))

#: Chinese text: it has CJK characters and no English word (three lower-case Latin letters in a row; the
#: seeds' Latin is symbols and codes: PM2.5, SO2, NOx, VOCs, S115).
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH_WORD = re.compile(r"[a-z]{3,}")


def _chinese(text: str | None) -> bool:
    return bool(text and _CJK.search(text) and not _ENGLISH_WORD.search(text))


def test_every_pack_loads_with_unique_rule_ids():
    packs = default_rule_packs()
    assert {p.id for p in packs} == {"national", "bingtuan", "changji", "neimenggu"}
    ids = [r.id for p in packs for r in p.rules]
    assert len(ids) == len(set(ids))
    assert all(r.source.not_in_seeds for r in next(p for p in packs if p.id == "national").rules)


def test_every_citation_is_chinese_and_a_summary_is_never_a_quote():
    """A quote is the words of its source, Chinese like every source here; a rule from general regulatory
    knowledge (not_in_seeds) has no document here to quote, so it gives a Chinese summary (概述) instead."""
    for pack in default_rule_packs():
        for rule in pack.rules:
            source, where = rule.source, f"{pack.id} {rule.id}"
            if source.quote is not None:
                assert _chinese(source.quote), f"{where}: the quote is not Chinese text: {source.quote}"
            if source.summary is not None:
                assert _chinese(source.summary), f"{where}: the summary is not Chinese text: {source.summary}"
            if source.not_in_seeds:
                assert source.quote is None and source.summary, f"{where}: no document to quote, give a summary"


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents (shared/seeds, or ECOZONE_SEEDS_DIR) are absent")
def test_quotes_of_seed_rules_are_verbatim_in_their_seed():
    """Each quote of a seed-based rule occurs in its own seed document word for word: only whitespace (which the
    seeds' machine processing varies) is ignored, not quote marks, dashes or elisions."""
    seeds = {path.name.split("_")[0]: re.sub(r"\s+", "", path.read_text(encoding="utf-8"))
             for path in SEEDS.glob("*.txt")}
    checked = 0
    for pack in default_rule_packs():
        for rule in pack.rules:
            if rule.source.not_in_seeds:
                continue
            where = f"{pack.id} {rule.id}"
            assert rule.source.doc in seeds, f"{where}: source '{rule.source.doc}' is no seed document"
            assert rule.source.quote is not None, f"{where}: a rule from a seed document quotes it"
            quote = re.sub(r"\s+", "", rule.source.quote)
            assert quote in seeds[rule.source.doc], f"{where}: quote not in [{rule.source.doc}]: {rule.source.quote}"
            checked += 1
    assert checked >= 180


_GOOD_RULE = """
id = "X-1"
title_zh = "测试"
title_en = "test"
verdict = "forbidden"
in_all = [{ kind = "built_up_area" }]
project = { scope = "new", boiler_tph = { lt = 10 } }
source = { doc = "003", quote = "测试" }
"""


def _pack(tmp_path: Path, rule: str, extra: str = "") -> Path:
    path = tmp_path / "pack.toml"
    path.write_text(
        f'id = "t"\njurisdiction = "测试"\ntitle = "t"\nversion = "1"\n{extra}\n[[rules]]{rule}', encoding="utf-8"
    )
    return path


@pytest.mark.parametrize(
    ("change", "message", "field"),
    [
        (('kind = "built_up_area"', 'kind = "built_area"'), "unknown zone kind 'built_area'", "in_all.0"),
        (('in_all = [{ kind = "built_up_area" }]', 'in_all = [{ kind = "nature_reserve", subtypes = ["core2"] }]'),
         r"kind 'nature_reserve' has no subtype \['core2'\]", "in_all.0"),
        (("boiler_tph = { lt = 10 }", "boiler_th = { lt = 10 }"), "unknown project fact 'boiler_th'", "project"),
        (("boiler_tph = { lt = 10 }", "boiler_tph = { below = 10 }"), "a comparison is one of", "project"),
        (('verdict = "forbidden"', 'verdict = "banned"'), "Input should be", "verdict"),
        (('source = { doc = "003", quote = "测试" }', 'source = { doc = "003" }'), "give either 'quote'", "source"),
        (('quote = "测试" }', 'quote = "测试", summary = "测试" }'), "give either 'quote'", "source"),
        (('scope = "new"', 'industry = "炼油"'), r"unknown industry \['炼油'\]", "project"),
        (('scope = "new"', 'furnace = "coal_kiln"'), r"'furnace' takes one of", "project"),
        (('verdict = "forbidden"', 'verdict = "forbidden"\ncovers = ["BLR5"]'), "'covers' takes DOMAIN.md", "covers"),
    ],
)
def test_a_bad_rule_is_refused_naming_rule_and_field(tmp_path, change, message, field):
    path = _pack(tmp_path, _GOOD_RULE.replace(*change))
    with pytest.raises(RuleError, match=message) as info:
        load_pack(path)
    assert info.value.row == "X-1" and info.value.field == field and info.value.source == "pack.toml"
    assert "invalid rule X-1" in str(info.value)


def test_pack_level_errors(tmp_path):
    assert len(load_pack(_pack(tmp_path, _GOOD_RULE)).rules) == 1
    with pytest.raises(RuleError, match="rule id 'X-1' is used twice"):
        load_pack(_pack(tmp_path, _GOOD_RULE + "\n[[rules]]" + _GOOD_RULE))
    quantity = _GOOD_RULE + '\n[[rules.quantities]]\nname = "q"\nlabel_zh = "q"\nlabel_en = "q"\nfact = "coal_t"\n' \
        'multiplier = "bei"\nunit = "t"\n'
    with pytest.raises(RuleError, match="uses parameter 'bei', which \\[params\\] does not define"):
        load_pack(_pack(tmp_path, quantity))
    assert load_pack(_pack(tmp_path, quantity, extra="[params]\nbei = 2.0\n")).params == {"bei": 2.0}
    path = tmp_path / "broken.toml"
    path.write_text('id = "t"\n[[rules]\n', encoding="utf-8")
    with pytest.raises(RuleError, match="not valid TOML"):
        load_pack(path)





def test_dated_attributes_are_read_on_the_day_and_odd_ones_passed_over():
    import datetime as dt
    from types import SimpleNamespace

    from gis.rules.evaluate import zone_facts

    history = [{"as_of": "2017-09-11", "status": "not_remediated"}, {"as_of": "2019-03-31", "status": "remediated"}]
    zone = SimpleNamespace(kind="contaminated_site", name="纳污库", zone_id="z", subtype="effluent_pond",
                           attributes={"remediation_status_history": history, "owner_history": "text, not a list",
                                       "survey_history": [1, "2019", {"as_of": 2019}, {"status": "x"}]})
    assert zone_facts(zone, dt.date(2018, 6, 30))["remediation_status"] == "not_remediated"
    assert zone_facts(zone, dt.date(2019, 6, 30))["remediation_status"] == "remediated"
    assert zone_facts(zone, dt.date(2016, 1, 1))["remediation_status"] is None
    facts = zone_facts(zone, dt.date(2019, 6, 30))
    assert facts["owner_history"] == "text, not a list" and facts["survey"] is None


def test_a_summary_reads_as_概述_and_a_quote_as_原文(store):
    """A site in the red line: NAT-RL-1 shows its summary as 概述, in the right direction (inside the red line
    development is banned), never as a 「quote」; a seed rule of the same check shows its quote as 原文「…」."""
    import shapely

    from gis.check import check_site
    from gis.presentation import rule_fields, source_text
    from gis.rules.project import Project, Scope
    from gis.sites import read_site

    zones = store.snapshot("2021-12-31").zones
    red_line = zones[zones["kind"] == "ecological_redline"].iloc[0].geometry
    site = read_site(shapely.to_wkt(red_line.representative_point()))
    result = check_site(site, Project(industry="化工", scope=Scope.new), store=store, as_of="2021-12-31")
    hits = {h.rule_id: h for h in result.rules.hits}
    summary = hits["NAT-RL-1"]
    assert summary.source_quote is None and "核心保护区外禁止开发性、生产性建设活动" in summary.source_summary
    assert source_text(summary).endswith(f"，概述：{summary.source_summary}") and "「" not in source_text(summary)
    assert ("概述", summary.source_summary) in rule_fields(summary, quote=False)
    assert "原文" not in dict(rule_fields(summary, quote=False))
    assert '"source_summary":' in result.model_dump_json()
    quoted = next(h for h in result.rules.hits if not h.not_in_seeds)
    assert source_text(quoted).endswith(f"「{quoted.source_quote}」")
    assert ("原文", quoted.source_quote) in rule_fields(quoted, quote=False)


def test_level_2_drinking_water_zone_bans_new_projects_discharging_any_pollutant(store):
    """NAT-WAT-2 family, 水污染防治法 第66条 (the pack's own summary): 「禁止在饮用水水源二级保护区内新建、改建、扩建
    排放污染物的建设项目」; DOMAIN §9.1: 二级 ⇒ FORBIDDEN if the project discharges pollutants. Pollutants are not only
    wastewater: a cement plant that declares no wastewater still emits to air and is 禁止; a project whose
    discharge is not known is 需核查; a clean project (光伏, a road without wastewater) is not caught."""
    from gis.check import check_site
    from gis.rules.model import Verdict
    from gis.rules.project import Fuel, Furnace, Project, Scope
    from gis.sites import read_site

    zones = store.snapshot().zones
    zone = zones[zones["zone_id"] == "drinking_water:wujiaqu-level_2"].iloc[0]
    assert zone["kind"] == "drinking_water_zone" and zone["subtype"] == "level_2"
    point = zone.geometry.representative_point()
    site = read_site(f"{point.x:.6f}, {point.y:.6f}", coverage=None)

    def check(**facts):
        result = check_site(site, Project(scope=Scope.new, **facts), store=store)
        return result, {h.rule_id: h for h in result.rules.hits}

    def water_bans(hits):
        return {r for r, h in hits.items() if r.startswith("NAT-WAT-2") and h.verdict is Verdict.forbidden}

    # The finding: 水泥, no wastewater, new -> was 限制 with no drinking-water rule; air emissions are pollutants.
    result, hits = check(industry="水泥", wastewater=False)
    assert result.verdict is Verdict.forbidden and water_bans(hits) == {"NAT-WAT-2A"}
    assert "排放污染物的建设项目" in hits["NAT-WAT-2A"].source_summary
    assert "drinking_water:wujiaqu-level_2" in {z.zone_id for z in hits["NAT-WAT-2A"].zones}
    # Wastewater is still a discharge.
    assert water_bans(check(industry="其他", wastewater=True)[1]) == {"NAT-WAT-2"}
    # Fuel burners and kilns discharge flue gas, whatever the industry.
    assert "NAT-WAT-2B" in water_bans(check(industry="其他", wastewater=False, boiler_tph=4, fuel=Fuel.gas)[1])
    assert "NAT-WAT-2C" in water_bans(check(industry="电力", wastewater=False, power_mw=50, fuel=Fuel.coal)[1])
    assert "NAT-WAT-2D" in water_bans(check(industry="其他", wastewater=False, furnace=Furnace.other_kiln)[1])
    # Clean projects are not forbidden by the family: solar, a road, an electric boiler.
    for facts in (dict(industry="光伏", wastewater=False), dict(industry="交通", wastewater=False),
                  dict(industry="其他", wastewater=False, boiler_tph=4, fuel=Fuel.electric)):
        _, hits = check(**facts)
        assert not [r for r in hits if r.startswith("NAT-WAT-2")], facts
    # Discharge unknown: needs review, not cleared and not forbidden.
    _, hits = check(industry="交通")
    assert hits["NAT-WAT-2"].verdict is Verdict.needs_review and hits["NAT-WAT-2"].rule_verdict is Verdict.forbidden
    _, hits = check(wastewater=False)
    assert hits["NAT-WAT-2A"].verdict is Verdict.needs_review and "industry" in hits["NAT-WAT-2A"].missing_facts
    _, hits = check(industry="其他", wastewater=False, boiler_tph=4)
    assert hits["NAT-WAT-2B"].verdict is Verdict.needs_review and "fuel" in hits["NAT-WAT-2B"].missing_facts
