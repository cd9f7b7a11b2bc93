"""The map pages in a real browser (Debian's Chromium via Playwright), with the network closed.

The API runs with uvicorn on a loopback port: the layers map and the check page are served by the real
application (``create_app``), and the check page calls the real ``POST /check``. Saved files are opened
from ``file://``. Screenshots go to tests/_artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from typer.testing import CliRunner

from gis.kinds import KINDS
from gis.rules.model import VERDICT_LABELS
from tests import maps_harness as harness



@pytest.fixture(autouse=True, scope="module")
def _real_browser():
    """The map pages are tested in a real Chromium: a missing one is a failure to fix, not a skip."""
    missing = harness.chromium_missing()
    if missing:
        pytest.fail(missing)

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def kinds(store):
    """Kinds present in the layers in force today: each must be drawn."""
    return sorted(set(store.snapshot().zones["kind"]))


@pytest.fixture(scope="module")
def shihezi(store):
    """A small square well inside 石河子市城市建成区, from the store's own zone."""
    zones = store.snapshot().zones
    area = zones[zones["name"] == "石河子市城市建成区"].geometry.iloc[0]
    point = area.representative_point()
    square = shapely.box(point.x - 0.002, point.y - 0.0015, point.x + 0.002, point.y + 0.0015)
    assert area.contains(square)
    return point, square


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(jobs_dir=tmp_path_factory.mktemp("jobs")))
    with harness.serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    with harness.browser() as browser:
        yield browser


def _wait_ready(tab):
    tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=30_000)


def _assert_clean(watch):
    assert watch.blocked == [], f"requests to other hosts were attempted: {watch.blocked}"
    assert watch.page_errors == []
    assert watch.console_errors == []


def _panes_drawn(tab, kinds):
    """SVG paths actually in each kind's pane."""
    return tab.evaluate(
        "kinds => Object.fromEntries(kinds.map(k => [k, document.querySelectorAll("
        "'.leaflet-ez-' + k + '-pane path').length]))", kinds)


def test_layers_map_draws_every_kind_offline(chromium, server, kinds, artifacts):
    with harness.page(chromium) as (tab, watch):
        tab.goto(server + "/")
        _wait_ready(tab)
        drawn = tab.evaluate("ecozone.drawn()")
        assert sorted(drawn) == kinds
        assert all(drawn[kind] > 0 for kind in kinds), drawn
        assert all(count > 0 for count in _panes_drawn(tab, kinds).values())
        legend = tab.inner_text("#ez-legend")
        for label in ["图例", "生态保护红线", "自然保护区", "核心区", "缓冲区", "实验区", "工业园区", "示意"]:
            assert label in legend
        assert all(KINDS[kind].label_zh in legend for kind in kinds)
        assert "示意" in tab.inner_text("#ez-banner")
        tab.screenshot(path=str(artifacts / "maps_layers.png"))
        # A popup says what the zone is, where its facts come from, and that its boundary is 示意.
        popup = tab.evaluate("""() => {
            const group = ecozone.layers.ecological_redline;
            let first = null;
            group.eachLayer(level => level.eachLayer(layer => { first = first || layer; }));
            first.openPopup();
            return document.querySelector('.leaflet-popup-content').innerText;
        }""")
        assert "生态保护红线" in popup and "依据" in popup and "示意" in popup
        _assert_clean(watch)
        assert all(url.startswith(server) for url in watch.requests)


def test_layers_map_loads_finer_levels_when_zoomed(chromium, server, artifacts):
    with harness.page(chromium) as (tab, watch):
        tab.goto(server + "/map")
        _wait_ready(tab)
        coarse = tab.evaluate("ecozone.layers.admin_division.ez.shown")
        tab.evaluate("ecozone.map.setView([44.30, 86.05], 12)")
        tab.wait_for_function("ecozone.layers.admin_division.ez.shown === 3 && "
                              "ecozone.layers.control_unit.ez.shown === 3", timeout=30_000)
        assert coarse == 0
        assert any("/map/layers/admin_division/3.json" in url for url in watch.requests)
        tab.screenshot(path=str(artifacts / "maps_layers_zoom12.png"))
        _assert_clean(watch)


def _check_page(tab, server):
    tab.goto(server + "/map/check")
    _wait_ready(tab)


def _coal_boiler(tab):
    tab.fill("#ez-fact-industry", "热力")
    tab.select_option("#ez-fact-scope", "new")
    tab.fill("#ez-fact-boiler_tph", "20")
    tab.select_option("#ez-fact-fuel", "coal")


def test_check_page_pasted_site_shows_the_verdict(chromium, server, shihezi, artifacts):
    _, square = shihezi
    text = "\n".join(f"{x:.6f},{y:.6f}" for x, y in square.exterior.coords)
    with harness.page(chromium) as (tab, watch):
        _check_page(tab, server)
        tab.fill("#ez-coords", text)
        _coal_boiler(tab)
        tab.click("#ez-run")
        tab.wait_for_selector("#ez-verdict .ez-verdict-head", timeout=30_000)
        verdict = tab.inner_text("#ez-verdict")
        assert tab.inner_text("#ez-verdict .ez-verdict-head .ez-v") == "禁止"
        assert "BLR-02" in verdict and "石河子市城市建成区" in verdict and "依据" in verdict
        assert "示意" in verdict
        # the zone the site lies in is highlighted on the map, the rings are drawn
        highlighted = tab.evaluate("Object.keys(ecozone.layers.built_up_area.ez.highlight)")
        assert "built_up:shihezi" in highlighted
        assert tab.evaluate("ecozone.result.getLayers().length") == 4  # 3 rings + the site
        tab.screenshot(path=str(artifacts / "maps_check_pasted.png"))
        _assert_clean(watch)


def test_check_page_drawn_polygon_shows_a_verdict(chromium, server, shihezi, artifacts):
    point, _ = shihezi
    with harness.page(chromium) as (tab, watch):
        _check_page(tab, server)
        tab.evaluate(f"ecozone.map.setView([{point.y}, {point.x}], 14, {{animate: false}})")
        _coal_boiler(tab)
        tab.click("#ez-draw")
        box = tab.locator("#" + tab.evaluate("ecozone.map.getContainer().id")).bounding_box()
        cx, cy = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.55
        for dx, dy in [(-40, -30), (40, -30), (40, 30)]:
            tab.mouse.click(cx + dx, cy + dy)
        tab.mouse.dblclick(cx - 40, cy + 30)
        assert tab.evaluate("ecozoneCheck.drawn.coordinates[0].length") == 5  # 4 vertices, closed
        tab.click("#ez-run")
        tab.wait_for_selector("#ez-verdict .ez-verdict-head", timeout=30_000)
        label = tab.inner_text("#ez-verdict .ez-verdict-head .ez-v")
        assert label in VERDICT_LABELS.values()
        assert "BLR-02" in tab.inner_text("#ez-verdict")
        tab.screenshot(path=str(artifacts / "maps_check_drawn.png"))
        _assert_clean(watch)


def test_check_page_uploaded_guaidian_file(chromium, server, artifacts):
    with harness.page(chromium) as (tab, watch):
        _check_page(tab, server)
        tab.set_input_files("#ez-file", str(DATA / "samples" / "shihezi_boiler.txt"))
        _coal_boiler(tab)
        tab.click("#ez-run")
        tab.wait_for_selector("#ez-verdict .ez-verdict-head", timeout=30_000)
        assert tab.inner_text("#ez-verdict .ez-verdict-head .ez-v") in VERDICT_LABELS.values()
        tab.screenshot(path=str(artifacts / "maps_check_uploaded.png"))
        _assert_clean(watch)


def test_check_page_reports_a_bad_site(chromium, server):
    with harness.page(chromium) as (tab, watch):
        _check_page(tab, server)
        tab.fill("#ez-coords", "hello, world")
        tab.click("#ez-run")
        tab.wait_for_selector("#ez-status.ez-error", timeout=30_000)
        assert "处理建议" in tab.inner_text("#ez-status")
        assert watch.blocked == [] and watch.page_errors == []


# -- saved files ----------------------------------------------------------------------------------------

_URL = re.compile(r"""https?://[^\s"'<>)\\]+""")
#: URLs that are identifiers or link text inside Leaflet's code, never fetched (the browser test checks that).
_NOT_FETCHED = {"http://www.w3.org/2000/svg", "https://leafletjs.com"}


def _assert_self_contained(html: str) -> None:
    assert set(_URL.findall(html)) <= _NOT_FETCHED, set(_URL.findall(html)) - _NOT_FETCHED


def _open_file(chromium, path, shot):
    with harness.page(chromium) as (tab, watch):
        tab.goto(path.as_uri())
        _wait_ready(tab)
        drawn = tab.evaluate("ecozone.drawn()")
        tab.screenshot(path=str(shot))
        _assert_clean(watch)
        assert all(url.startswith(("file://", "data:")) for url in watch.requests)
        return tab, drawn


def test_cli_map_writes_a_self_contained_file(chromium, kinds, tmp_path, artifacts):
    from api.cli import app

    out = tmp_path / "layers.html"
    result = CliRunner().invoke(app, ["map", "-o", str(out), "--detail", "1"])
    assert result.exit_code == 0, result.output
    _assert_self_contained(out.read_text(encoding="utf-8"))
    _, drawn = _open_file(chromium, out, artifacts / "maps_cli_file.png")
    assert sorted(drawn) == kinds and all(drawn.values())


def test_check_map_file_shows_the_verdict(chromium, store, shihezi, tmp_path, artifacts):
    from gis.check import check_site
    from gis.rules.project import Project
    from gis.sites import read_site
    from maps.build import check_map, render

    point, _ = shihezi
    result = check_site(read_site(f"{point.x},{point.y}"),
                        Project(industry="热力", scope="new", boiler_tph=20, fuel="coal"), store=store)
    out = tmp_path / "check.html"
    out.write_text(render(check_map(result, store)), encoding="utf-8")
    _assert_self_contained(out.read_text(encoding="utf-8"))
    with harness.page(chromium) as (tab, watch):
        tab.goto(out.as_uri())
        _wait_ready(tab)
        assert tab.inner_text("#ez-verdict .ez-verdict-head .ez-v") == "禁止"
        assert "BLR-02" in tab.inner_text("#ez-verdict")
        tab.screenshot(path=str(artifacts / "maps_check_file.png"))
        _assert_clean(watch)


def test_batch_map_colours_sites_by_verdict(chromium, store, shihezi, tmp_path, artifacts):
    from maps.build import batch_map, render

    point, _ = shihezi
    sites = gpd.GeoDataFrame(
        {"序号": [1, 2, 3], "verdict": ["forbidden", "允许", "needs_review"]},
        geometry=[point, shapely.Point(87.6, 43.8), shapely.Point(86.2, 44.2)], crs=4326,
    )
    out = tmp_path / "batch.html"
    out.write_text(render(batch_map(sites, store, label_column="序号")), encoding="utf-8")
    with harness.page(chromium) as (tab, watch):
        tab.goto(out.as_uri())
        _wait_ready(tab)
        colours = tab.evaluate("""() => {
            const out = [];
            ecozone.result.eachLayer(g => g.eachLayer(m => out.push(m.options.fillColor)));
            return out;
        }""")
        spec = tab.evaluate("ecozone.spec.verdicts")
        assert colours == [spec["allowed"]["color"], spec["needs_review"]["color"], spec["forbidden"]["color"]]
        legend = tab.inner_text("#ez-legend")
        assert "禁止：1 个" in legend and "允许：1 个" in legend
        tab.screenshot(path=str(artifacts / "maps_batch_file.png"))
        _assert_clean(watch)
