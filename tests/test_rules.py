"""Rule packs: they load, their quotes are verbatim, and a bad rule file names the rule and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gis.rules import default_rule_packs
from gis.errors import RuleError
from gis.rules.model import load_pack

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _normalise(text: str) -> str:
    """Ignore what the seeds' machine processing varies: spaces, quote styles, full/half-width punctuation."""
    text = re.sub(r"\s+", "", text)
    for a, b in [("“", '"'), ("”", '"'), ("（", "("), ("）", ")"), ("，", ","), ("：", ":"), ("—", "-"),
                 ("；", ";"), ("、", ",")]:
        text = text.replace(a, b)
    return text


def test_every_pack_loads_with_unique_rule_ids():
    packs = default_rule_packs()
    assert {p.id for p in packs} == {"national", "bingtuan", "changji", "neimenggu"}
    ids = [r.id for p in packs for r in p.rules]
    assert len(ids) == len(set(ids))
    assert all(r.source.not_in_seeds for r in next(p for p in packs if p.id == "national").rules)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents (shared/seeds) are not beside this checkout")
def test_quotes_of_seed_rules_are_verbatim_in_the_seeds():
    corpus = _normalise("".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))))
    checked = 0
    for pack in default_rule_packs():
        for rule in pack.rules:
            if rule.source.not_in_seeds:
                continue
            for piece in rule.source.quote.split("..."):
                assert _normalise(piece) in corpus, f"{pack.id} {rule.id}: quote not in the seeds: {piece}"
            checked += 1
    assert checked >= 40


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
        (('source = { doc = "003", quote = "测试" }', 'source = { doc = "003" }'), "Field required", "source.quote"),
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
