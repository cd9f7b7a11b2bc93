"""One decision path: the same site and facts get the same verdict from Python, the command line, the API, a
batch row and the web page, whichever facts are missing (one set of defaults, stated where applied)."""

from __future__ import annotations

import csv
import itertools
import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from gis.batch import screen_file
from gis.check import check_site
from gis.rules.evaluate import PARTLY_UNCHECKED
from gis.sites import read_site
from tests import maps_harness as harness
from tests.api_support import api_server, client  # noqa: F401

AS_OF = "2024-06-30"
#: A boiler house in 石河子's built-up area, a cement plant near 乌鲁木齐 where several layers do not reach, a
#: site in the 准东 park, and one in a red line of the embedded dataset.
SITES = {"石河子": (86.0413, 44.3056), "乌鲁木齐": (87.6, 43.8), "准东": (89.05, 44.72), "天池": (88.12, 43.88)}
INDUSTRIES = [None, "热力", "水泥", "化学原料和化学制品制造业", "新型材料"]
SCOPES = [None, "new", "existing"]
BOILERS = [None, 20]
FUELS = [None, "coal"]
COMBINATIONS = [dict(zip(("industry", "scope", "boiler_tph", "fuel"), values))
                for values in itertools.product(INDUSTRIES, SCOPES, BOILERS, FUELS)]
CASES = [(place, facts) for place in SITES for facts in COMBINATIONS]
runner = CliRunner()


def _given(facts: dict) -> dict:
    return {name: value for name, value in facts.items() if value is not None}


def _cli_options(facts: dict) -> list[str]:
    options = []
    for name, value in _given(facts).items():
        if name == "scope":
            options.append("--new" if value == "new" else "--existing")
        else:
            options += ["--" + name.replace("_", "-"), str(value)]
    return options


@pytest.fixture(scope="module")
def expected(store):
    """Python: ``check_site`` with the facts as given."""
    return {i: check_site(read_site("{}, {}".format(*SITES[place])), _given(facts), store=store, as_of=AS_OF)
            for i, (place, facts) in enumerate(CASES)}


def test_python_cli_api_and_batch_give_one_verdict(expected, client, tmp_path):  # noqa: F811
    register = tmp_path / "register.csv"
    with open(register, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["编号", "经度", "纬度", "行业类别", "建设性质", "锅炉规模", "燃料"])
        words = {"new": "新建", "existing": "现有", "coal": "燃煤"}
        for i, (place, facts) in enumerate(CASES):
            writer.writerow([i, *SITES[place], *(words.get(v, v) if v is not None else "" for v in facts.values())])
    screen_file(register, tmp_path / "out.csv", as_of=AS_OF)
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        batch = {int(row["编号"]): row for row in csv.DictReader(handle)}
    assert len(batch) == len(CASES)
    labels = set()
    for i, (place, facts) in enumerate(CASES):
        want = expected[i]
        labels.add(want.verdict_label)
        cli = runner.invoke(app, ["check", "{}, {}".format(*SITES[place]), *_cli_options(facts), "--as-of", AS_OF,
                                  "--format", "json"])
        assert cli.exit_code == 0, cli.output
        api = client.post("/check", json={"site": "{}, {}".format(*SITES[place]), "project": _given(facts),
                                          "as_of": AS_OF})
        assert api.status_code == 200, api.text
        answers = {"cli": json.loads(cli.output), "api": api.json()}
        for name, answer in answers.items():
            assert (answer["verdict"], answer["verdict_label"]) == (want.verdict.value, want.verdict_label), \
                (name, place, facts)
            assert [h["rule_id"] for h in answer["rules"]["hits"]] == [h.rule_id for h in want.rules.hits]
            assert answer["project_notices"] == want.project_notices
        assert (batch[i]["结论代码"], batch[i]["结论"]) == (want.verdict.value, want.verdict_label), (place, facts)
        if facts["scope"] is None:  # the default is stated where it was applied
            assert any(n["code"] == "assumed" and n["field"] == "scope" for n in want.project_notices)
            assert "建设性质未填写" in batch[i]["读取提示"]
        if facts["industry"] == "新型材料":  # no industry of the standard: a notice, the site is still checked
            assert any(n["code"] == "industry_unknown" for n in want.project_notices)
    assert {"禁止", PARTLY_UNCHECKED} <= labels  # the enumeration reaches both ends of the cascade


def test_an_unchecked_layer_never_reads_allowed(expected):
    """The headline never says 允许 while a layer that a rule of the place needs did not cover the site."""
    for result in expected.values():
        if result.rules.uncovered_layers:
            assert result.verdict_label != "允许"
        if result.verdict_label == "允许":
            assert result.rules.unchecked == []


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from api.app import create_app
    from api.settings import Settings

    with harness.serve(create_app(Settings(jobs_dir=tmp_path_factory.mktemp("jobs")))) as url:
        yield url


def test_the_web_page_gives_the_same_verdict(expected, server):
    """The check page's form is made from the project model: every fact can be given, and the verdict is
    the one Python gives (a sample of the combinations, through the real page in Chromium)."""
    sample = [i for i, (place, facts) in enumerate(CASES) if facts["fuel"] == "coal" and facts["boiler_tph"]][::7]
    with harness.browser() as chromium, harness.page(chromium) as (tab, watch):
        tab.goto(server + "/map/check")
        tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=30_000)
        fields = tab.eval_on_selector_all("[data-fact]", "els => els.map(e => e.dataset.fact)")
        from gis.rules.project import fact_specs
        assert fields == [spec.name for spec in fact_specs()]
        tab.fill("#ez-asof", AS_OF)
        for i in sample:
            place, facts = CASES[i]
            tab.fill("#ez-coords", "{}, {}".format(*SITES[place]))
            tab.dispatch_event("#ez-coords", "input")
            for name, value in facts.items():
                selector = f"#ez-fact-{name}"
                if tab.get_attribute(selector, "data-kind") in ("choice", "bool"):
                    tab.select_option(selector, "" if value is None else str(value))
                else:
                    tab.fill(selector, "" if value is None else str(value))
            tab.click("#ez-run")
            tab.wait_for_function("document.getElementById('ez-status').textContent.startsWith('核查完成')",
                                  timeout=30_000)
            status = tab.inner_text("#ez-status")
            assert status == "核查完成：" + expected[i].verdict_label, (place, facts)
        assert watch.blocked == [] and watch.page_errors == []
