"""The map pages in a real browser (Debian's Chromium via Playwright), with the network closed.

The API runs with uvicorn on a loopback port: the layers map and the check page are served by the real
application (``create_app``), and the check page calls the real ``POST /check``; one server has a generated
3,000-polygon red line. Saved files are opened from ``file://``. Screenshots go to tests/_artifacts/.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import pytest
import shapely
from typer.testing import CliRunner

from gis.kinds import KINDS
from gis.rules.model import VERDICT_LABELS
from gis.store import open_store
from tests import maps_harness as harness
from tests.large_layer import KIND, large_store



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


def _app(tmp_path_factory, store: str | None = None):
    from api.app import create_app
    from api.settings import Settings

    return create_app(Settings(store=store, jobs_dir=tmp_path_factory.mktemp("jobs")))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with harness.serve(_app(tmp_path_factory)) as url:
        yield url


@pytest.fixture(scope="module")
def large_path(tmp_path_factory):
    """A writable copy of the embedded dataset with a 3,000-polygon red line (516,000 vertices)."""
    return large_store(tmp_path_factory.getbasetemp(), 3000)


@pytest.fixture(scope="module")
def large_server(tmp_path_factory, large_path):
    with harness.serve(_app(tmp_path_factory, str(large_path))) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    with harness.browser() as browser:
        yield browser


def _wait_ready(tab):
    tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=60_000)


def _go(tab, lon: float, lat: float, zoom: int) -> None:
    """Move the map and wait until every layer has the tiles of the new view."""
    tab.evaluate(f"ecozone.map.setView([{lat}, {lon}], {zoom}, {{animate: false}})")
    tab.wait_for_function("ecozone.idle()", timeout=60_000)


def _click_at(tab, lon: float, lat: float) -> str:
    """Click the map where (lon, lat) is drawn; the text of the popup that opens."""
    x, y = tab.evaluate(f"""(() => {{
        const p = ecozone.map.latLngToContainerPoint([{lat}, {lon}]);
        const box = ecozone.map.getContainer().getBoundingClientRect();
        return [p.x + box.left, p.y + box.top];
    }})()""")
    tab.mouse.click(x, y)
    tab.wait_for_selector(".leaflet-popup-content .ez-popup", timeout=30_000)
    return tab.inner_text(".leaflet-popup-content")


def _assert_clean(watch):
    assert watch.blocked == [], f"requests to other hosts were attempted: {watch.blocked}"
    assert watch.page_errors == []
    assert watch.console_errors == []


def _panes_drawn(tab, kinds):
    """SVG paths actually in each kind's pane."""
    return tab.evaluate(
        "kinds => Object.fromEntries(kinds.map(k => [k, document.querySelectorAll("
        "'.leaflet-ez-' + k + '-pane path').length]))", kinds)


def test_layers_map_draws_every_kind_offline(chromium, server, kinds, store, artifacts):
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
        # A click on a zone opens its popup: what it is, where its facts come from, that its boundary is 示意.
        zones = store.snapshot().zones
        redline = zones[zones["kind"] == "ecological_redline"].geometry.iloc[0].representative_point()
        _go(tab, redline.x, redline.y, 11)
        popup = _click_at(tab, redline.x, redline.y)
        assert "生态保护红线" in popup and "依据" in popup and "示意" in popup
        tab.screenshot(path=str(artifacts / "maps_layers_popup.png"))
        _assert_clean(watch)
        assert all(url.startswith(server) for url in watch.requests)
        assert not any("/map/layers/" in url for url in watch.requests)


def _tile_lonlat(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """West, south, east, north of an XYZ tile (the slippy-map formulas)."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def _tile_requests(urls: list[str]) -> list[tuple[int, int, int]]:
    tiles = []
    for url in urls:
        match = re.fullmatch(r"/tiles/all/(\d+)/(\d+)/(\d+)\.pbf", urlsplit(url).path)
        if match:
            tiles.append(tuple(int(v) for v in match.groups()))
    return tiles


def test_a_zoom_on_a_large_layer_fetches_only_the_tiles_in_view(chromium, large_server, large_path, artifacts):
    """With 3,000 red-line polygons, zooming in fetches the tiles of the view, each once, and nothing else: no
    layer as a whole. The popups of the generated zones show their attributes."""
    with open_store(large_path, read_only=True) as opened:
        zones = opened.snapshot(kinds=[KIND]).zones
    zone = zones[shapely.area(zones.geometry.values) > 2e-3].iloc[0]  # a polygon of a few kilometres (degrees²)
    spot = zone.geometry.representative_point()
    with harness.page(chromium) as (tab, watch):
        tab.goto(large_server + "/map")
        _wait_ready(tab)
        assert tab.evaluate("ecozone.drawn()")[KIND] > 1000  # the whole red line at the first view
        tab.screenshot(path=str(artifacts / "maps_large_layer.png"))
        before = len(watch.requests)
        _go(tab, spot.x, spot.y, 12)
        after = watch.requests[before:]
        west, south, east, north = tab.evaluate(
            "(() => { const b = ecozone.map.getBounds(); "
            "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()")
        tiles = _tile_requests(after)
        assert tiles and len(tiles) == len(set(tiles)) == len(after), after  # tiles, each once, nothing else
        for z, x, y in tiles:
            w, s, e, n = _tile_lonlat(z, x, y)
            assert z == 12 and w <= east and e >= west and s <= north and n >= south, (z, x, y)
        columns = math.ceil((east - west) / (360 / 2**12)) + 1
        assert len(tiles) <= columns * (math.ceil(800 / 256) + 1)
        assert tab.evaluate("ecozone.drawn()")[KIND] >= 1
        popup = _click_at(tab, spot.x, spot.y)
        assert zone["name"] in popup and "主导功能" in popup and zone["attributes"]["redline_function"] in popup
        assert "测试生成的红线图层" in popup  # 依据
        tab.screenshot(path=str(artifacts / "maps_large_layer_zoom12.png"))
        _assert_clean(watch)
        assert not any("/map/layers/" in url for url in watch.requests)


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
    result = CliRunner().invoke(app, ["map", "-o", str(out), "--max-zoom", "7"])
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


def test_saved_map_of_a_large_layer_opens_within_its_bound(chromium, large_path, tmp_path, artifacts):
    from api.cli import app

    out = tmp_path / "large.html"
    result = CliRunner().invoke(app, ["map", "-o", str(out), "--store", str(large_path), "--max-mb", "4"])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size <= 4_000_000 and "未包含" in result.output  # the whole file
    lines = result.output.splitlines()[1:]  # after the store's name: what the file holds and left out
    for line in lines:  # Chinese first, then English
        zh, _, en = line.rpartition(" / ")
        assert re.search("[\u4e00-\u9fff]", zh) and en and not re.search("[\u4e00-\u9fff]", en), line
    assert f"{out.stat().st_size / 1e6:.1f} MB" in lines[0]
    _assert_self_contained(out.read_text(encoding="utf-8"))
    with harness.page(chromium) as (tab, watch):
        tab.goto(out.as_uri())
        _wait_ready(tab)
        assert tab.evaluate("ecozone.drawn()")[KIND] > 1000
        assert "未嵌入" in tab.inner_text("#ez-legend")
        tab.evaluate("ecozone.map.setView([44.3, 86.05], 12, {animate: false})")  # deeper than the file holds
        tab.wait_for_function("ecozone.idle()")
        assert tab.evaluate("ecozone.drawn()")["admin_division"] >= 1
        tab.screenshot(path=str(artifacts / "maps_large_file.png"))
        _assert_clean(watch)


_RGB = "c => { const d = document.createElement('i'); d.style.color = c; document.body.append(d); " \
       "const v = getComputedStyle(d).color; d.remove(); return v; }"


def test_red_lines_without_a_subtype_are_drawn_and_labelled_as_red_lines(chromium, tmp_path_factory, tmp_path,
                                                                        artifacts):
    """An official delivery's 类型 holds the ecological function, so its red lines have no subtype: the legend
    and the drawing say 生态保护红线, never 兵团划定 or 自治区划定."""
    from api.cli import app
    from maps.style import zone_style

    path = large_store(tmp_path_factory.getbasetemp(), 300, subtype=None)
    out = tmp_path / "redline.html"
    result = CliRunner().invoke(app, ["map", "-o", str(out), "--store", str(path), "--max-zoom", "6"])
    assert result.exit_code == 0, result.output
    with harness.page(chromium) as (tab, watch):
        tab.goto(out.as_uri())
        _wait_ready(tab)
        rows = tab.evaluate(f"""() => {{
            const rgb = {_RGB};
            const head = [...document.querySelectorAll('#ez-legend .ez-legend-kind')]
                .find(d => d.querySelector('b').textContent === {KINDS[KIND].label_zh!r});
            const rows = [];
            for (let d = head.nextElementSibling; d && d.classList.contains('ez-legend-row'); d = d.nextElementSibling) {{
                rows.push([d.textContent.trim(), rgb(d.querySelector('.ez-swatch').style.backgroundColor)]);
            }}
            return rows;
        }}""")
        fills = tab.evaluate(f"""() => {{
            const rgb = {_RGB};
            return [...new Set([...document.querySelectorAll('.leaflet-ez-{KIND}-pane path')]
                .map(p => rgb(p.getAttribute('fill'))))];
        }}""")
        subtype_fills = tab.evaluate(f"cs => cs.map({_RGB})", [zone_style(KIND, subtype, "official")["fillColor"]
                                                            for subtype in KINDS[KIND].subtypes])
        tab.screenshot(path=str(artifacts / "maps_redline_no_subtype.png"))
        _assert_clean(watch)
    assert [label for label, _ in rows] == ["生态保护红线"], rows
    assert len(fills) == 1 and fills == [rows[0][1]] and fills[0] not in subtype_fills, (fills, subtype_fills)


def test_cli_map_opens_on_its_bbox(chromium, tmp_path, artifacts):
    from api.cli import app

    west, south, east, north = 85.8, 44.1, 86.3, 44.5
    out = tmp_path / "shihezi.html"
    result = CliRunner().invoke(app, ["map", "-o", str(out), "--bbox", f"{west},{south},{east},{north}",
                                      "--max-zoom", "12"])
    assert result.exit_code == 0, result.output
    with harness.page(chromium) as (tab, watch):
        tab.goto(out.as_uri())
        _wait_ready(tab)
        view = tab.evaluate("""() => { const b = ecozone.map.getBounds(), s = ecozone.map.getSize();
            return {w: b.getWest(), s: b.getSouth(), e: b.getEast(), n: b.getNorth(), zoom: ecozone.map.getZoom(),
                    width: s.x, height: s.y}; }""")
        tab.screenshot(path=str(artifacts / "maps_cli_bbox.png"))
        _assert_clean(watch)
    assert view["w"] <= west and view["s"] <= south and view["e"] >= east and view["n"] >= north, view

    def mercator(lat: float) -> float:  # Web Mercator y, the world 2π across
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    # the deepest whole zoom at which the bbox fits the map's size in 256-pixel tiles
    fits = math.floor(math.log2(min(view["width"] / 256 / ((east - west) / 360),
                                    view["height"] / 256 / ((mercator(north) - mercator(south)) / (2 * math.pi)))))
    assert view["zoom"] >= fits, (view, fits)
