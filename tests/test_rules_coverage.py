"""Rule coverage: every rule id of DOMAIN.md §2 is accounted for, and what is called encoded is evaluated."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from gis.errors import RuleError
from gis.rules import RULES_DIR, default_rule_packs
from gis.rules.coverage import COVERAGE_FILE, coverage_report, domain_rule_ids

DOMAIN = Path(__file__).resolve().parents[2] / "shared" / "DOMAIN.md"
COVERAGE = RULES_DIR / COVERAGE_FILE
runner = CliRunner()


@pytest.fixture(scope="module")
def report():
    return coverage_report(default_rule_packs(), COVERAGE)


@pytest.mark.skipif(not DOMAIN.is_file(), reason="DOMAIN.md (shared/) is not beside this checkout")
def test_every_domain_rule_is_accounted_for_and_nothing_else():
    text = DOMAIN.read_text(encoding="utf-8")
    ids = domain_rule_ids(text)
    assert len(ids) == len(set(ids)) > 200
    listed = tomllib.loads(COVERAGE.read_text(encoding="utf-8"))
    assert sorted(listed) == sorted(ids)
    # Each id's documents are those its row of DOMAIN.md cites.
    for line in text.splitlines():
        match = re.match(r"\| ([A-Z]+-\d{2}) \|", line)
        if match:
            assert listed[match.group(1)]["doc"] == sorted(set(re.findall(r"\[(00\d)\]", line))), match.group(1)


def test_encoded_entries_name_rules_that_exist_and_that_say_so(report):
    """The statuses against an independent reading of the pack files' text: rule ids and `covers` lines."""
    by_pack = {}
    for path in sorted(RULES_DIR.glob("*.toml")):
        if path.name == COVERAGE_FILE:
            continue
        text = path.read_text(encoding="utf-8")
        pack_id = re.search(r'^id = "([^"]+)"', text, re.M).group(1)
        for block in text.split("[[rules]]")[1:]:
            rule_id = re.search(r'^id = "([^"]+)"', block, re.M).group(1)
            covers = re.search(r"^covers = \[([^\]]*)\]", block, re.M)
            claimed = re.findall(r'"([^"]+)"', covers.group(1)) if covers else re.findall(r"^[A-Z]+-\d{2}", rule_id)
            by_pack[f"{pack_id}:{rule_id}"] = claimed
    expected = {}
    for rule, claimed in by_pack.items():
        for domain_id in claimed:
            expected.setdefault(domain_id, []).append(rule)
    for entry in report.entries:
        assert sorted(entry.rules) == sorted(expected.get(entry.id, [])), entry.id
        assert (entry.status == "encoded") == bool(entry.rules), entry.id
        if entry.status == "not_encodable":
            assert entry.reason and not entry.test, entry.id
        if entry.status == "missing":
            assert entry.test and not entry.reason, entry.id
    assert set(expected) <= {e.id for e in report.entries}


def test_at_least_90_percent_of_the_xinjiang_rules_with_a_test_are_encoded(report):
    xinjiang = [e for e in report.entries if e.region == "新疆"]
    tested = [e for e in xinjiang if e.test]
    encoded = [e for e in tested if e.status == "encoded"]
    assert len(encoded) / len(tested) >= 0.9
    assert report.by_region["新疆"].share_encoded == pytest.approx(len(encoded) / len(tested), abs=1e-4)
    assert report.totals.ids == len(report.entries)
    assert report.totals.encoded + report.totals.missing + report.totals.not_encodable == report.totals.ids
    # The [000] rules item 5 of issue 22 asks for: denitration deadlines, cement lines, 区域限批 of divisions.
    status = {e.id: e.status for e in report.entries}
    assert {status[i] for i in ("PWR-11", "PWR-12", "PWR-13", "PWR-14", "IND-24", "PROC-01")} == {"encoded"}


def test_cli_coverage_json_and_text(report):
    result = runner.invoke(app, ["rules", "coverage", "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert len(body["entries"]) == len(report.entries)
    assert body["totals"] == report.totals.model_dump(mode="json")
    missing = runner.invoke(app, ["rules", "coverage", "--format", "json", "--status", "missing"])
    assert {e["status"] for e in json.loads(missing.output)["entries"]} == {"missing"}
    text = runner.invoke(app, ["rules", "coverage"])
    assert text.exit_code == 0 and "PWR-14" in text.output and "有判据者已编码" in text.output
    bad = runner.invoke(app, ["rules", "coverage", "--status", "done"])
    assert bad.exit_code != 0 and "not a status" in bad.output


def test_cli_rules_and_layers_list_the_packs():
    packs = runner.invoke(app, ["rules", "--format", "json"])
    assert {p["id"] for p in json.loads(packs.output)} >= {"national", "bingtuan", "changji"}
    layers = runner.invoke(app, ["layers", "--format", "json"])
    body = json.loads(layers.output)
    assert {p["id"] for p in body["rule_packs"]} == {p["id"] for p in json.loads(packs.output)}
    assert {"heat_network", "water_supply_area", "contaminated_site", "traffic_restriction_zone", "mine",
            "enclosure_zone", "overloaded_area"} <= {row["kind"] for row in body["layers"]}


def test_a_bad_coverage_file_names_the_id(tmp_path):
    path = tmp_path / COVERAGE_FILE
    path.write_text('ECO-01 = { doc = ["002"], test = false }\n', encoding="utf-8")
    with pytest.raises(RuleError, match="ECO-01") as info:
        coverage_report(default_rule_packs(), path)
    assert info.value.row == "ECO-01"
    path.write_text('ECO-01 = { doc = ["002"], test = true }\n', encoding="utf-8")
    with pytest.raises(RuleError, match="does not list"):  # the packs encode ids the file lacks
        coverage_report(default_rule_packs(), path)
