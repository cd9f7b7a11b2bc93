"""The officer's workspace in a real browser (Debian's Chromium via Playwright), with the network closed.

Each page is served by the real application on a loopback port and driven as an officer would: a place search
moves the map to the zone's bounds (read from the store with shapely), a check with a pasted GCJ-02 point
shows the verdict ``gis.check.check_site`` gives, a batch upload ends in a downloaded file whose rows are the
input's, the layers page lists the store's kinds and imports a version, the records page shows the check just
made, a screened workbook re-screened on its page lists the changes ``gis.rescreen.rescreen_file`` gives, and with
ECOZONE_REQUIRE_READ_KEY the pages ask for the key and work after it is given. Screenshots go to
tests/_artifacts/.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from gis.kinds import KINDS
from gis.store import open_store
from tests import maps_harness as harness

READ = "s3cret-read"
WRITE = "s3cret-write"


@pytest.fixture(autouse=True, scope="module")
def _real_browser():
    missing = harness.chromium_missing()
    if missing:
        pytest.fail(missing)


@pytest.fixture(scope="module")
def chromium():
    with harness.browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def copy_store(tmp_path_factory) -> Path:
    """A writable copy of the embedded dataset (imports add versions to it)."""
    from api.cli import app

    path = tmp_path_factory.mktemp("store") / "store.gpkg"
    result = CliRunner().invoke(app, ["layers", "init", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _settings(tmp_path_factory, **extra):
    from api.settings import Settings

    folder = tmp_path_factory.mktemp("server")
    return Settings(jobs_dir=folder / "jobs", audit_db=folder / "audit.sqlite", job_workers=1,
                    read_keys=[f"alice:{READ}"], write_keys=[f"ops:{WRITE}"], **extra)


@pytest.fixture(scope="module")
def server(tmp_path_factory, copy_store):
    """Reads open, keys configured (the audit trail and imports need them), a writable store."""
    from api.app import create_app

    with harness.serve(create_app(_settings(tmp_path_factory, store=str(copy_store)))) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    from api.app import create_app

    with harness.serve(create_app(_settings(tmp_path_factory, require_read_key=True))) as url:
        yield url


def _assert_clean(watch, expected: str | None = None):
    """No request left the machine, no script failed, no console error but the load that ``expected`` names."""
    assert watch.blocked == [], f"requests to other hosts were attempted: {watch.blocked}"
    assert watch.page_errors == []
    assert [text for text in watch.console_errors if not (expected and expected in text)] == []


def _with_key(tab, key: str) -> None:
    """Give the key as the key form does: in this tab's sessionStorage, before any page script runs."""
    tab.add_init_script(f"sessionStorage.setItem('ecozone.key', {json.dumps(key)})")


def _wait_map(tab):
    tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=60_000)


def _boxes_apart(a: dict, b: dict) -> bool:
    return (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
            or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def _map_bounds(tab) -> tuple[float, float, float, float]:
    return tuple(tab.evaluate("(() => { const b = ecozone.map.getBounds(); "
                              "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()"))


# -- 一张图 ----------------------------------------------------------------------------------------------------


def test_home_navigates_searches_places_and_changes_the_date(chromium, server, store, artifacts):
    name = "石河子市城市建成区"
    zones = store.snapshot().zones
    west, south, east, north = zones[zones["name"] == name].geometry.iloc[0].bounds
    with harness.page(chromium) as (tab, watch):
        tab.goto(server + "/")
        _wait_map(tab)
        assert tab.get_attribute("html", "lang") == "zh-CN"
        links = tab.eval_on_selector_all("#ez-nav a", "as => as.map(a => [a.textContent, a.getAttribute('href')])")
        assert [text.split()[0] for text, _ in links] == ["一张图", "项目核查", "批量筛查", "重新筛查", "图层管理",
                                                          "核查记录"]
        for _, href in links:  # every page of the bar is served
            assert httpx.get(server + href).status_code == 200
        # the legend sits beside the open layer switcher, not over it
        tab.hover(".leaflet-control-layers")
        tab.wait_for_selector(".leaflet-control-layers-expanded")
        assert _boxes_apart(tab.locator(".leaflet-control-layers").bounding_box(),
                            tab.locator("#ez-legend").bounding_box())
        tab.mouse.move(400, 400)
        tab.fill("#ez-place", "石河子市城市")
        tab.wait_for_selector(".ez-place-item")
        tab.locator(".ez-place-item", has_text=name).first.click()
        tab.wait_for_function("ecozone.idle()", timeout=60_000)
        w, s, e, n = _map_bounds(tab)
        assert w <= west and s <= south and e >= east and n >= north  # the zone is in view ...
        assert (e - w) < 2.2 * (east - west) or (n - s) < 2.2 * (north - south)  # ... as large as fits
        tab.screenshot(path=str(artifacts / "workspace_home_search.png"))
        # another date reloads the page with the layers in force then
        tab.fill("#ez-map-asof", "2024-06-30")
        tab.dispatch_event("#ez-map-asof", "change")
        tab.wait_for_url("**as_of=2024-06-30")
        _wait_map(tab)
        assert tab.evaluate("ecozone.spec.as_of") == "2024-06-30"
        assert tab.input_value("#ez-map-asof") == "2024-06-30"
        _assert_clean(watch)


def test_places_endpoint_is_bounded_and_ranks_exact_names_first(server):
    answer = httpx.get(server + "/places", params={"q": "石河子市城市建成区", "limit": 3}).json()
    assert answer[0]["name"] == "石河子市城市建成区" and len(answer) <= 3
    assert httpx.get(server + "/places", params={"q": "石", "limit": 500}).status_code == 400
    assert httpx.get(server + "/places", params={"q": "没有这个地名"}).json() == []


# -- 项目核查 ---------------------------------------------------------------------------------------------------


def _gcj02_point(store):
    """A point well inside 石河子市城市建成区 as text, taken as GCJ-02 (Amap) coordinates by the check."""
    zones = store.snapshot().zones
    point = zones[zones["name"] == "石河子市城市建成区"].geometry.iloc[0].representative_point()
    return f"{point.x:.6f},{point.y:.6f}"


def test_check_page_with_a_gcj02_point_clears_and_downloads(chromium, server, store, copy_store, artifacts):
    from gis.check import check_site
    from gis.rules.project import Project
    from gis.sites import read_site

    text = _gcj02_point(store)
    facts = {"industry": "热力", "scope": "new", "boiler_tph": 20, "fuel": "coal"}
    with open_store(copy_store, read_only=True) as served:  # the server's store
        expected = check_site(read_site(text, datum="gcj02"), Project(**facts), store=served)
        as_wgs = check_site(read_site(text), Project(**facts), store=served)
    with harness.page(chromium) as (tab, watch):
        _with_key(tab, READ)
        tab.goto(server + "/map/check")
        _wait_map(tab)
        tab.fill("#ez-coords", text)
        tab.select_option("#ez-datum", "gcj02")
        tab.fill("#ez-fact-industry", "热力")
        tab.select_option("#ez-fact-scope", "new")
        tab.fill("#ez-fact-boiler_tph", "20")
        tab.select_option("#ez-fact-fuel", "coal")
        tab.click("#ez-run")
        tab.wait_for_selector("#ez-verdict .ez-verdict-head", timeout=30_000)
        assert tab.inner_text("#ez-verdict .ez-verdict-head .ez-v") == expected.verdict_label
        shown = tab.inner_text("#ez-verdict")
        assert all(hit.rule_id in shown for hit in expected.rules.hits)
        site = tab.evaluate("ecozone.result.getLayers().map(l => l.toGeoJSON()).pop()")
        lon, lat = site["features"][0]["geometry"]["coordinates"]
        assert (lon, lat) == pytest.approx(expected.site.geometry["coordinates"], abs=1e-6)  # as the API rounds
        assert (lon, lat) != pytest.approx(as_wgs.site.geometry["coordinates"], abs=1e-4)  # the datum was applied
        # the verdict panel stands beside the form, not over it
        assert _boxes_apart(tab.locator("#ez-check-panel").bounding_box(), tab.locator("#ez-verdict").bounding_box())
        tab.screenshot(path=str(artifacts / "workspace_check_gcj02.png"))
        for button, magic in (("#ez-report", b"%PDF"), ("#ez-report-docx", b"PK")):
            with tab.expect_download(timeout=60_000) as download:
                tab.click(button)
            assert Path(download.value.path()).read_bytes()[:4].startswith(magic)
        # a failed check leaves no old verdict beside its error; 清除 clears the error
        tab.fill("#ez-coords", "hello, world")
        tab.click("#ez-run")
        tab.wait_for_selector("#ez-status.ez-error", timeout=30_000)
        assert "处理建议" in tab.inner_text("#ez-status")
        assert tab.inner_text("#ez-verdict") == "" and tab.evaluate("ecozone.result") is None
        tab.click("#ez-clear")
        assert tab.inner_text("#ez-status") == "" and tab.input_value("#ez-coords") == ""
        tab.emulate_media(media="print")
        assert not tab.is_visible("#ez-check-panel") and not tab.is_visible("#ez-nav")
        tab.emulate_media(media="screen")
        _assert_clean(watch, expected="status of 400")  # the bad site's answer


# -- 批量筛查 ---------------------------------------------------------------------------------------------------


def _register(store) -> list[dict[str, str]]:
    """Rows of a small permit list: points at zones of the store and one outside any, with project facts."""
    zones = store.snapshot().zones
    rows = []
    for i, name in enumerate(["石河子市城市建成区", *zones[zones["kind"] == "nature_reserve"]["name"].head(3)]):
        point = zones[zones["name"] == name].geometry.iloc[0].representative_point()
        rows.append({"项目名称": f"项目{i + 1}", "行业": "水泥", "经度": f"{point.x:.6f}", "纬度": f"{point.y:.6f}"})
    rows.append({"项目名称": "项目5", "行业": "光伏", "经度": "87.6168", "纬度": "43.8256"})
    return rows


def _csv_bytes(rows: list[dict[str, str]], header: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header or list(rows[0]))
    writer.writerows([list(row.values()) for row in rows])
    return out.getvalue().encode("utf-8")


def test_batch_page_previews_screens_and_downloads(chromium, server, store, tmp_path, artifacts):
    rows = _register(store)
    plain = tmp_path / "permits.csv"
    plain.write_bytes(_csv_bytes(rows))
    odd = tmp_path / "odd.csv"  # headers nobody recognises: the officer maps them
    odd.write_bytes(_csv_bytes(rows, ["名", "业", "甲", "乙"]))
    with harness.page(chromium) as (tab, watch):
        _with_key(tab, READ)
        tab.goto(server + "/map/screen")
        tab.set_input_files("#ez-screen-file", str(odd))
        tab.wait_for_selector("#ez-preview .ez-warn")
        assert "处理建议" in tab.inner_text("#ez-preview")
        tab.select_option("select[data-column='甲']", "lon")
        tab.select_option("select[data-column='乙']", "lat")
        tab.click("#ez-preview-again")
        tab.wait_for_selector("#ez-preview th.ez-recognised")
        assert tab.locator("#ez-preview .ez-warn").count() == 0
        tab.set_input_files("#ez-screen-file", str(plain))
        tab.wait_for_function("document.querySelectorAll('#ez-preview th.ez-recognised').length >= 3")
        recognised = tab.eval_on_selector_all("#ez-preview th.ez-recognised", "ths => ths.map(t => t.firstChild.textContent)")
        assert {"经度", "纬度", "项目名称", "行业"} <= set(recognised)
        tab.screenshot(path=str(artifacts / "workspace_batch_preview.png"))
        tab.click("#ez-screen-go")
        tab.wait_for_selector("#ez-jobs tr[data-job] .ez-download", timeout=120_000)
        assert tab.inner_text("#ez-jobs .ez-job-status") == "已完成"
        assert tab.inner_text("#ez-jobs .ez-progress-text") == f"{len(rows)} / {len(rows)}"
        formats = tab.eval_on_selector_all("#ez-jobs .ez-download", "bs => bs.map(b => b.dataset.format)")
        assert {"xlsx", "csv", "geojson"} <= set(formats)
        with tab.expect_download(timeout=60_000) as download:
            tab.click("#ez-jobs .ez-download[data-format='csv']")
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        screened = list(csv.DictReader(io.StringIO(text)))
        assert [{k: row[k] for k in rows[0]} for row in screened] == rows
        assert all(row["结论"] for row in screened)
        tab.click("#ez-jobs button[data-map]")
        frame = tab.frame_locator("#ez-batch-map")
        frame.locator("#ez-legend").wait_for(timeout=60_000)
        assert f"{len(rows)}" in tab.inner_text("#ez-jobs") and "个" in frame.locator("#ez-legend").inner_text()
        tab.screenshot(path=str(artifacts / "workspace_batch_done.png"), full_page=True)
        _assert_clean(watch)


def test_batch_page_takes_the_whole_files_options(chromium, server, store, tmp_path, artifacts):
    """A register of existing enterprises in Gauss-Krüger X/Y without 带号 (CGCS2000 CM 87°E, EPSG:4538) and
    without 建设性质: with 现有企业 and the CRS chosen on the page, the preview reads every row and the job's rows
    are those of ``screen_file`` given the same options; without them they are not."""
    from pyproj import Transformer

    from gis.batch import screen_file

    zones = store.snapshot().zones
    points = [g.representative_point() for g in zones.geometry if 85.6 < g.representative_point().x < 88.4][:12]
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4538", always_xy=True)
    rows = [{"项目名称": f"企业{i + 1}", "行业": "水泥", "东坐标": f"{e:.2f}", "北坐标": f"{n:.2f}"}
            for i, (e, n) in enumerate(to_gk.transform(p.x, p.y) for p in points)]
    register = tmp_path / "现有企业.csv"
    register.write_bytes(_csv_bytes(rows))
    with harness.page(chromium) as (tab, watch):
        _with_key(tab, READ)
        tab.goto(server + "/map/screen")
        tab.select_option("#ez-screen-scope", "existing")
        tab.fill("#ez-screen-crs", "EPSG:4538")
        tab.set_input_files("#ez-screen-file", str(register))
        tab.wait_for_selector("#ez-preview-table")
        assert tab.locator("#ez-preview .ez-row-error").count() == 0
        tab.click("#ez-screen-go")
        tab.wait_for_selector("#ez-jobs tr[data-job] .ez-download", timeout=120_000)
        with tab.expect_download(timeout=60_000) as download:
            tab.click("#ez-jobs .ez-download[data-format='csv']")
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        _assert_clean(watch)
    screened = list(csv.DictReader(io.StringIO(text)))
    assert len(screened) == len(rows) and not any(row["读取错误"] for row in screened)

    def expected(**options) -> list[dict[str, str]]:
        out = tmp_path / f"expected-{len(options)}.csv"
        screen_file(register, out, store=store, **options)
        return list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))

    columns = ["结论", "命中规则", "涉及区域", "读取提示"]
    given = expected(defaults={"scope": "existing"}, crs="EPSG:4538")
    assert [[row[c] for c in columns] for row in screened] == [[row[c] for c in columns] for row in given]
    assert [[row[c] for c in columns] for row in screened] != [[row[c] for c in columns] for row in expected()]


def _screen_on_page(tab, server: str, register: Path, previewed: str) -> None:
    """Upload ``register`` on the batch page with the read key, wait for its preview (``previewed``, a script
    that turns true), start the screening and wait until its result can be downloaded."""
    _with_key(tab, READ)
    tab.goto(server + "/map/screen")
    tab.set_input_files("#ez-screen-file", str(register))
    tab.wait_for_function(previewed)
    tab.click("#ez-screen-go")
    tab.wait_for_selector("#ez-jobs tr[data-job] .ez-download", timeout=120_000)


def test_batch_page_screens_the_sample_workbook_into_a_screened_workbook(chromium, server, tmp_path, artifacts):
    """The officer's round trip: data/samples/permits.xlsx (title row, 说明 sheet) uploaded on the page, the
    screened workbook downloaded: the original sheets and rows kept, and each row's 结论 what a batch run from
    Python gives for the same file."""
    import openpyxl

    from gis.batch import screen_file

    sample = Path(__file__).resolve().parents[1] / "data" / "samples" / "permits.xlsx"
    with harness.page(chromium) as (tab, watch):
        _screen_on_page(tab, server, sample,
                        "document.querySelectorAll('#ez-preview th.ez-recognised').length >= 3")
        with tab.expect_download(timeout=60_000) as download:
            tab.click("#ez-jobs .ez-download[data-format='xlsx']")
        download.value.save_as(tmp_path / "screened.xlsx")
        screened = openpyxl.load_workbook(tmp_path / "screened.xlsx")
        tab.screenshot(path=str(artifacts / "workspace_batch_sample.png"), full_page=True)
        _assert_clean(watch)
    original = openpyxl.load_workbook(sample)
    assert [ws.title for ws in original.worksheets] == screened.sheetnames[:len(original.worksheets)]
    before, after = original.worksheets[0], screened[original.worksheets[0].title]
    width = before.max_column
    assert [r[:width] for r in after.iter_rows(max_row=before.max_row, values_only=True)] == list(
        before.iter_rows(values_only=True))
    header = [c.value for c in after[2]]
    expected = tmp_path / "expected.csv"
    screen_file(sample, expected)
    verdicts = [row["结论"] for row in csv.DictReader(io.StringIO(expected.read_text(encoding="utf-8-sig")))]
    column = header.index("结论") + 1
    assert [after.cell(row, column).value for row in range(3, before.max_row + 1)] == verdicts


#: A register whose rows give 部分未核查 (the desert and the northern site: layers cover them in part, see
#: tests/test_rescreen.py's LEDGER_SITES) and 读取失败 (coordinates that are no number, none, or outside the
#: store's area) besides a verdict of the rules.
COUNTED_REGISTER = [
    ["项目名称", "行业", "建设性质", "经度", "纬度", "生产废水"],
    ["准东化工涉水", "化工", "新建", "89.05", "44.55", "是"],
    ["戈壁光伏", "光伏", "新建", "84.0", "41.0", "否"],
    ["北疆仓储", "仓储", "新建", "85.0", "45.5", "否"],
    ["坏坐标", "仓储", "新建", "abc", "44.1", "否"],
    ["无坐标", "仓储", "新建", "", "", "否"],
    ["境外", "仓储", "新建", "116.4", "39.9", "否"],
]


def _counted_register(path: Path) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(COUNTED_REGISTER)
    return path


def test_batch_page_counts_each_verdict_as_the_report_says_it(chromium, server, tmp_path, artifacts):
    """The job's row counts the rows per 结论 in the report's words and order (``verdict_labels``, strictest
    first, as 筛查汇总 lists them): 部分未核查 apart from 未核查, and the rows not read once, as 读取失败, never
    again under another name. Each count is the number of cells of that 结论 in the screened workbook; the job's
    record in the audit trail (核查记录) says the same."""
    from collections import Counter

    import openpyxl

    from gis.batch.outputs import verdict_labels

    register = _counted_register(tmp_path / "登记表.csv")
    with harness.page(chromium) as (tab, watch):
        _screen_on_page(tab, server, register, "document.querySelector('#ez-preview-table') !== null")
        job_id = tab.get_attribute("#ez-jobs tr[data-job]", "data-job")
        shown = tab.eval_on_selector("#ez-jobs tr[data-job]", "tr => tr.children[4].innerText")
        tab.screenshot(path=str(artifacts / "workspace_batch_counts.png"), full_page=True)
        _assert_clean(watch)
    headers = {"X-API-Key": READ}
    job = httpx.get(f"{server}/screen/{job_id}", headers=headers, timeout=30).json()
    workbook = tmp_path / "screened.xlsx"
    workbook.write_bytes(httpx.get(f"{server}/screen/{job_id}/result.xlsx", headers=headers, timeout=60).content)
    book = openpyxl.load_workbook(workbook, read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    cells = Counter(row[rows[0].index("结论")] for row in rows[1:])
    summary = [(str(k).removeprefix("结论："), v) for k, v in book["筛查汇总"].iter_rows(values_only=True)
               if str(k).startswith("结论：")]
    book.close()
    assert {"部分未核查", "读取失败"} <= set(cells) and sum(cells.values()) == len(COUNTED_REGISTER) - 1
    said = [(part.rsplit(" ", 1)[0], int(part.rsplit(" ", 1)[1])) for part in shown.split("；")]
    assert said == list(job["report"]["verdict_labels"].items()) == summary == verdict_labels(dict(cells))
    assert "未能读取" not in shown
    trail = httpx.get(f"{server}/audit", params={"action": "batch_result", "details": "true"}, headers=headers,
                      timeout=30).json()["records"]
    recorded = [r["verdict"] for r in trail if r["details"]["job_id"] == job_id]
    assert recorded == [shown]  # as 核查记录 shows the job's result


def test_column_mapping_offers_only_columns_each_named_once(chromium, server, tmp_path):
    """列对应 on the batch page (each column's choices after the preview) and on the re-screening page (the
    fields it names): every field a register column can hold, each under its own label, and no derived fact
    (涉水, 电力行业 ...), which is computed from the columns and never read from one."""
    from gis.batch.inputs import FIELDS
    from gis.rules.project import DERIVED_FACTS

    register = _counted_register(tmp_path / "登记表.csv")
    with harness.page(chromium) as (tab, watch):
        _with_key(tab, READ)
        tab.goto(server + "/map/screen")
        tab.set_input_files("#ez-screen-file", str(register))
        tab.wait_for_selector("#ez-preview-table")
        offered = tab.eval_on_selector_all("#ez-preview select[data-column='行业'] option[value]:not([value=''])",
                                           "os => os.map(o => [o.value, o.textContent])")
        tab.goto(server + "/map/rescreen")
        named = tab.evaluate("() => Object.entries(window.ezws.config.column_fields)")
        _assert_clean(watch)
    for choices in (offered, named):
        fields, labels = [f for f, _ in choices], [label for _, label in choices]
        assert fields == list(FIELDS) and not set(fields) & set(DERIVED_FACTS)
        assert len(set(labels)) == len(labels), [lb for lb in labels if labels.count(lb) > 1]


@pytest.mark.parametrize("derived", ["is_power", "water_related", "generating_mw"])
def test_a_derived_fact_in_the_column_mapping_is_refused_by_name(server, tmp_path, derived):
    """A derived fact is computed from other facts: mapped to a column (POST /screen, its preview, ecozone
    screen), it is refused, the error naming it, rather than read as an unknown field or as a column."""
    from api.cli import app

    register = _counted_register(tmp_path / "登记表.csv")
    headers = {"X-API-Key": READ}
    for path in ("/screen/preview", "/screen"):
        answer = httpx.post(server + path, headers=headers, timeout=30,
                            files={"file": (register.name, register.read_bytes(), "text/csv")},
                            data={"columns": json.dumps({derived: "行业", "lon": "经度"})})
        assert answer.status_code == 400, answer.text
        problem = answer.json()
        assert problem["field"] == "columns" and problem["value"] == derived
        assert problem["detail"].startswith(f"列对应中的 {derived} 由其他项目信息推算"), problem
    result = CliRunner().invoke(app, ["screen", str(register), "-o", str(tmp_path / "out.csv"),
                                      "--column", f"{derived}=行业"])
    assert result.exit_code == 2 and f"列对应中的 {derived} 由其他项目信息推算" in result.output, result.output
    assert not (tmp_path / "out.csv").exists()


# -- 重新筛查 ---------------------------------------------------------------------------------------------------

#: Between these dates the 准东 park's water-project freeze ends (its sewage plant runs): the verdict of a
#: project with wastewater there changes (see tests/test_rescreen.py).
RESCREEN_OLD, RESCREEN_NEW = "2018-06-01", "2021-06-01"


def _zhundong_register(path: Path) -> Path:
    """A workbook of permits without 建设性质: three with wastewater in the 准东 park, one without, one in the desert."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "许可证"
    sheet.append(["项目名称", "行业", "经度", "纬度", "生产废水"])
    for row in [("准东化工涉水", "化工", 89.05, 44.55, "是"), ("准东印染涉水", "印染", 89.049, 44.549, "是"),
                ("准东化工二期", "化工", 89.0505, 44.5505, "是"), ("准东化工无废水", "化工", 89.051, 44.551, "否"),
                ("戈壁光伏", "光伏", 84.0, 41.0, "否")]:
        sheet.append(list(row))
    book.save(path)
    return path


#: Records, at every change of the form, whether the button is disabled, the spinner shown, and its text.
_WATCH_BUSY = """() => {
  window.ezBusySeen = [];
  const form = document.getElementById('ez-rescreen-form');
  new MutationObserver(() => window.ezBusySeen.push([document.getElementById('ez-rescreen-go').disabled,
    !document.getElementById('ez-rescreen-busy').hidden, document.getElementById('ez-rescreen-busy').innerText]))
    .observe(form, {attributes: true, childList: true, characterData: true, subtree: true});
}"""


def _shown_changes(tab) -> list[tuple]:
    """The change table as the page shows it: row, name, old and new verdict, then the items of each list cell."""
    return [(int(cells[0]), cells[1], cells[2], cells[3], *lists) for cells, lists in tab.eval_on_selector_all(
        "#ez-rescreen-changes tbody tr[data-row]",
        "trs => trs.map(tr => { const tds = [...tr.children]; return [tds.slice(0, 4).map(td => td.innerText), "
        "tds.slice(5).map(td => [...td.querySelectorAll('.ez-item')].map(d => d.innerText))]; })")]


def _expected_changes(report) -> list[tuple]:
    return [(c.row, c.cells.get(report.name_column, ""), c.old_verdict, c.new_verdict, c.rules_added,
             c.rules_removed, c.zones_added, c.zones_removed) for c in report.changes]


def test_rescreen_page_lists_the_changes_of_a_screened_workbook(chromium, server, copy_store, tmp_path, artifacts):
    """A workbook screened as of 2018 (建设性质 新建 for the batch, recorded in its 筛查汇总), re-screened on the
    page as of 2021: the summary, the counts per old → new verdict and the change table are those of an
    independent ``rescreen_file`` of the same file and date; the button is disabled and a spinner shown while the
    request runs; the change workbook downloads; 现有企业 chosen on the page is a what-if, as ``rescreen_file``
    with that fact; an unscreened file shows the API's error in Chinese with its fix."""
    import datetime as dt
    from collections import Counter

    import openpyxl

    from gis.batch import screen_file
    from gis.rescreen import assumed_text, options_text, rescreen_file

    register = _zhundong_register(tmp_path / "许可清单.xlsx")
    screened = tmp_path / "许可清单-筛查结果.xlsx"
    with open_store(copy_store, read_only=True) as served:  # the server's store
        screen_file(register, screened, store=served, as_of=RESCREEN_OLD, defaults={"scope": "new"})
        expected = rescreen_file(screened, as_of=RESCREEN_NEW, store=served)
        what_if = rescreen_file(screened, as_of=RESCREEN_NEW, store=served, defaults={"scope": "existing"})
    assert expected.changed >= 2 and expected.assumed_from == "file"  # the test is about something
    refused = httpx.post(server + "/rescreen", headers={"X-API-Key": READ}, data={"as_of": RESCREEN_NEW},
                         files={"file": (register.name, register.read_bytes())})
    assert refused.status_code == 400
    problem = refused.json()
    with harness.page(chromium) as (tab, watch):
        _with_key(tab, READ)
        tab.goto(server + "/map/screen")
        tab.click("#ez-nav a[data-page='rescreen']")  # reached from the bar, beside 批量筛查
        tab.wait_for_url("**/map/rescreen")
        assert tab.title().startswith("重新筛查") and tab.get_attribute("html", "lang") == "zh-CN"
        assert tab.input_value("#ez-rescreen-asof") == dt.date.today().isoformat()
        assert tab.locator("#ez-rescreen-options [data-option]").count() == tab.locator(  # the batch page's options
            "#ez-rescreen-options select, #ez-rescreen-options input").count() == 4
        tab.evaluate(_WATCH_BUSY)
        tab.set_input_files("#ez-rescreen-file", str(screened))
        tab.fill("#ez-rescreen-asof", RESCREEN_NEW)
        tab.click("#ez-rescreen-go")
        tab.wait_for_selector("#ez-rescreen-result:not([hidden])", timeout=60_000)
        assert not tab.is_disabled("#ez-rescreen-go") and tab.is_hidden("#ez-rescreen-busy")
        assert any(disabled and spinning and "正在重新筛查" in text  # while it ran
                   for disabled, spinning, text in tab.evaluate("window.ezBusySeen"))
        assert _shown_changes(tab) == _expected_changes(expected)
        assert tab.inner_text("#ez-rescreen-rows") == str(expected.rows)
        assert tab.inner_text("#ez-rescreen-changed") == str(expected.changed)
        pairs = tab.eval_on_selector_all("#ez-rescreen-pairs tbody tr",
                                         "trs => trs.map(tr => [...tr.children].map(td => td.innerText))")
        assert {(label, int(n)) for label, n in pairs} == {
            (f"{old} → {new}", n) for (old, new), n in Counter(
                (c.old_verdict, c.new_verdict) for c in expected.changes).items()}
        assumed = tab.inner_text("#ez-rescreen-assumed")
        assert "建设性质 新建" in assumed and "取自文件的筛查汇总" in assumed
        assert assumed == assumed_text(expected)[0]  # the words the terminal and the change workbook say
        assert tab.inner_text("#ez-rescreen-reading") == options_text(expected)[0]
        tab.screenshot(path=str(artifacts / "workspace_rescreen.png"), full_page=True)
        with tab.expect_download(timeout=60_000) as download:
            tab.click("#ez-rescreen-xlsx")
        assert download.value.suggested_filename == "许可清单-筛查结果-结论变化.xlsx"
        download.value.save_as(tmp_path / "changes.xlsx")
        table = openpyxl.load_workbook(tmp_path / "changes.xlsx")["结论变化"]
        assert [line[0] for line in table.iter_rows(min_row=2, values_only=True)] == [c.row for c in expected.changes]
        # the batch-wide facts chosen on the page: a what-if, as rescreen_file with them
        tab.select_option("#ez-rescreen-scope", "existing")
        tab.click("#ez-rescreen-go")
        tab.wait_for_function("() => document.getElementById('ez-rescreen-assumed')?.innerText.includes('重新筛查时给出')",
                              timeout=60_000)
        assert _shown_changes(tab) == _expected_changes(what_if)
        assert "建设性质 现有" in tab.inner_text("#ez-rescreen-assumed")
        # a file that was never screened: the API's answer, in Chinese, with its fix; no earlier result beside it
        tab.set_input_files("#ez-rescreen-file", str(register))
        tab.click("#ez-rescreen-go")
        tab.wait_for_selector("#ez-rescreen-status.ez-error", timeout=60_000)
        shown = tab.inner_text("#ez-rescreen-status")
        assert problem["detail"] in shown and "处理建议：" + problem["fix"] in shown
        assert "不是筛查结果" in shown and "先筛查许可清单" in shown
        assert tab.is_hidden("#ez-rescreen-result") and not tab.is_disabled("#ez-rescreen-go")
        tab.screenshot(path=str(artifacts / "workspace_rescreen_error.png"), full_page=True)
        _assert_clean(watch, expected="status of 400")


#: Permit sites of the red-line versions below: (项目名称, lon, lat); v2 covers the first two, v3 the second only.
_REDLINE_SITES = [("石河子北化工", 86.20, 44.40), ("石河子南化工", 86.30, 44.20)]


def _red_squares(sites):
    """A red-line layer of one small square (about 1.6 × 2.2 km) around each site."""
    import geopandas as gpd
    import shapely

    rows = [{"zone_id": f"hx-{i}", "name": f"{name}所在红线", "subtype": "bingtuan", "jurisdiction": "兵团第八师",
             "attributes": {}, "geometry_source": "official"} for i, (name, _, _) in enumerate(sites)]
    return gpd.GeoDataFrame(rows, geometry=[shapely.box(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
                                            for _, lon, lat in sites], crs=4326)


@pytest.fixture(scope="module")
def versioned(tmp_path_factory):
    """A copy of the embedded dataset with two later red-line versions (v2 in force from 2020 over both
    ``_REDLINE_SITES``, v3 from 2023 over the second), served as ``server`` is: (its URL, the store's path)."""
    from api.app import create_app
    from gis.store import init_store

    path = tmp_path_factory.mktemp("versioned") / "store.gpkg"
    with init_store(path) as made:
        for day, sites in (("2020-01-01", _REDLINE_SITES), ("2023-01-01", _REDLINE_SITES[1:])):
            made.import_layer(_red_squares(sites), "ecological_redline", source=f"红线-{day}.gpkg", effective_from=day)
    with harness.serve(create_app(_settings(tmp_path_factory, store=str(path)))) as url:
        yield url, path


def test_rescreen_page_takes_a_layer_version(chromium, versioned, tmp_path, artifacts):
    """The page offers the store's layers and their versions as ``GET /layers`` lists them; 生态保护红线 第 2 版
    chosen instead of a date re-screens as of the day it comes into force, and the changes shown are those of an
    independent ``rescreen_file`` with that date, read from the store's own version listing; the summary says the
    date and whose it is. 第 3 版 then gives its own changes (the first site leaves the red line)."""
    from openpyxl import Workbook

    from gis.batch import screen_file
    from gis.rescreen import rescreen_file

    url, path = versioned
    kind = "ecological_redline"
    register = tmp_path / "红线许可.xlsx"
    book = Workbook()
    book.active.append(["项目名称", "行业", "建设性质", "经度", "纬度", "生产废水"])
    for name, lon, lat in [*_REDLINE_SITES, ("戈壁光伏", 84.0, 41.0)]:
        book.active.append([name, "化工" if "化工" in name else "光伏", "新建", lon, lat, "否"])
    book.save(register)
    screened = tmp_path / "红线许可-筛查结果.xlsx"
    with open_store(path, read_only=True) as served:  # the server's store
        screen_file(register, screened, store=served, as_of=RESCREEN_OLD)
        kinds = {v.kind for v in served.versions()}
        versions = [(str(v.version), v.effective_from) for v in served.versions(kind)]
        expected = {number: rescreen_file(screened, as_of=day, store=served) for number, day in versions[1:]}
    assert [number for number, _ in versions] == ["1", "2", "3"]
    assert expected["2"].changed >= 1 and _expected_changes(expected["2"]) != _expected_changes(expected["3"])
    label = KINDS[kind].label_zh
    with harness.page(chromium) as (tab, watch):
        _with_key(tab, READ)
        tab.goto(url + "/map/rescreen")
        tab.wait_for_selector("#ez-rescreen-version option", state="attached")
        assert set(tab.eval_on_selector_all("#ez-rescreen-kind option", "os => os.map(o => o.value)")) == kinds
        assert tab.input_value("#ez-rescreen-kind") == kind  # the layer with several versions
        assert tab.eval_on_selector_all("#ez-rescreen-version option", "os => os.map(o => [o.value, o.dataset.date])"
                                        ) == [list(v) for v in versions]
        assert tab.is_disabled("#ez-rescreen-version") and not tab.is_disabled("#ez-rescreen-asof")  # a date first
        tab.check("#ez-rescreen-by-layer")
        assert tab.is_disabled("#ez-rescreen-asof") and not tab.is_disabled("#ez-rescreen-version")
        tab.set_input_files("#ez-rescreen-file", str(screened))
        for number, day in versions[1:]:
            tab.select_option("#ez-rescreen-version", number)
            assert day in tab.inner_text("#ez-rescreen-layer-date")
            tab.click("#ez-rescreen-go")
            tab.wait_for_function("d => document.getElementById('ez-rescreen-newdate')?.innerText.startsWith(d)", arg=day,
                                  timeout=60_000)
            assert tab.inner_text("#ez-rescreen-newdate") == f"{day}（{label} 第 {number} 版生效日期）"
            assert _shown_changes(tab) == _expected_changes(expected[number])
            assert tab.inner_text("#ez-rescreen-changed") == str(expected[number].changed)
            if number == "2":
                tab.screenshot(path=str(artifacts / "workspace_rescreen_layer.png"), full_page=True)
        _assert_clean(watch)

# -- 图层管理 ---------------------------------------------------------------------------------------------------


def test_layers_page_lists_kinds_imports_and_reports_the_change(chromium, server, copy_store, tmp_path, artifacts):
    kind = "natural_park"
    with open_store(copy_store, read_only=True) as opened:
        kinds = {v.kind for v in opened.versions()}
    exported = httpx.get(f"{server}/layers/{kind}/export.geojson", headers={"X-API-Key": READ})
    assert exported.status_code == 200
    layer = json.loads(exported.content)
    dropped = layer["features"].pop()
    changed = tmp_path / f"{kind}.geojson"
    changed.write_text(json.dumps(layer, ensure_ascii=False), encoding="utf-8")
    with harness.page(chromium) as (tab, watch):
        _with_key(tab, WRITE)
        tab.goto(server + "/map/versions")
        tab.wait_for_selector("#ez-layers tr[data-kind]")
        listed = set(tab.eval_on_selector_all("#ez-layers tr[data-kind]", "trs => trs.map(t => t.dataset.kind)"))
        with_versions = set(tab.eval_on_selector_all("#ez-layers button[data-history]",
                                                     "bs => bs.map(b => b.dataset.history)"))
        assert listed == set(KINDS) and with_versions == kinds
        tab.screenshot(path=str(artifacts / "workspace_layers.png"), full_page=True)
        tab.select_option("#ez-import-kind", kind)
        tab.set_input_files("#ez-import-file", str(changed))
        tab.fill("#ez-import-note", "测试：删去一个公园")
        tab.click("#ez-import-go")
        tab.wait_for_selector("#ez-diff-table", timeout=120_000)
        assert "已导入" in tab.inner_text("#ez-import-status")
        report = tab.inner_text("#ez-diff")
        assert "删除区域\t1 个" in report and "新增区域\t0 个" in report
        with open_store(copy_store, read_only=True) as opened:
            versions = opened.versions(kind)
            assert versions[-1].note == "测试：删去一个公园"
            removed = set(opened.read(kind, versions[-2].version)["zone_id"]) - set(
                opened.read(kind, versions[-1].version)["zone_id"])
        assert removed == {dropped["properties"]["zone_id"]}
        tab.click("#ez-stats-go")
        tab.wait_for_selector("#ez-units", timeout=60_000)
        tab.click("#ez-diff-html")
        tab.frame_locator("#ez-diff-map").locator("#ez-legend").wait_for(timeout=60_000)
        tab.screenshot(path=str(artifacts / "workspace_layers_change.png"), full_page=True)
        # The same file again, as an officer would send it twice: nothing new, said so, no version made.
        tab.select_option("#ez-import-kind", kind)
        tab.set_input_files("#ez-import-file", str(changed))
        tab.fill("#ez-import-note", "测试：删去一个公园")
        tab.click("#ez-import-go")
        tab.wait_for_function("() => document.querySelector('#ez-import-status').textContent.includes('未新建版本')",
                              timeout=120_000)
        assert tab.inner_text("#ez-import-status").startswith(f"与现行第 {versions[-1].version} 版内容相同")
        with open_store(copy_store, read_only=True) as opened:
            assert [v.to_dict() for v in opened.versions(kind)] == [v.to_dict() for v in versions]
        _assert_clean(watch)


# -- 核查记录 ---------------------------------------------------------------------------------------------------


def test_records_page_shows_the_check_just_made(chromium, server, store, artifacts):
    name = "记录页测试项目"
    point = _gcj02_point(store)
    answer = httpx.post(server + "/check", headers={"X-API-Key": READ},
                        json={"site": point, "project": {"name": name, "industry": "水泥"}})
    assert answer.status_code == 200
    with harness.page(chromium) as (tab, watch):
        _with_key(tab, READ)
        tab.goto(server + "/map/records")
        tab.wait_for_selector("#ez-records tr[data-record]")
        first = tab.locator("#ez-records tr[data-record]").first
        assert name in first.inner_text() and "alice" in first.inner_text() and "单项核查" in first.inner_text()
        assert answer.json()["verdict_label"] in first.inner_text()
        tab.fill("#ez-records-site", name)
        tab.click("#ez-records-go")
        tab.wait_for_function("name => { const rows = [...document.querySelectorAll('#ez-records tr[data-record]')]; "
                              "return rows.length > 0 && rows.every(r => r.textContent.includes(name)); }", arg=name)
        tab.fill("#ez-records-officer", "nobody")
        tab.click("#ez-records-go")
        tab.wait_for_selector("#ez-records td.ez-dim")
        tab.fill("#ez-records-officer", "")
        tab.click("#ez-records-go")
        tab.wait_for_selector("#ez-records tr[data-record]")
        tab.screenshot(path=str(artifacts / "workspace_records.png"), full_page=True)
        _assert_clean(watch)


# -- keys ----------------------------------------------------------------------------------------------------------


def test_pages_ask_for_the_key_and_work_after_login(chromium, keyed_server, store, artifacts):
    assert httpx.get(keyed_server + "/places", params={"q": "石河子"}).status_code == 401
    with harness.page(chromium) as (tab, watch):
        tab.goto(keyed_server + "/")
        tab.wait_for_selector("#ez-login:not([hidden])")
        assert "需要访问密钥" in tab.inner_text("#ez-login-msg")
        assert not any("/tiles/" in url for url in watch.requests)  # nothing asked without the key
        tab.screenshot(path=str(artifacts / "workspace_login.png"))
        tab.fill("#ez-key", "wrong")
        tab.click("#ez-login-go")
        tab.wait_for_function("window.ecozone && ecozone.ready !== null", timeout=60_000)
        tab.fill("#ez-place", "石河子市城市建成区")
        tab.wait_for_selector("#ez-login:not([hidden])")  # a 403: the key form again, in Chinese
        assert "密钥无效" in tab.inner_text("#ez-login-msg")
        tab.fill("#ez-key", READ)
        tab.click("#ez-login-go")
        _wait_map(tab)
        assert sum(tab.evaluate("ecozone.drawn()").values()) > 0
        tab.fill("#ez-place", "石河子市城市建成区")
        tab.wait_for_selector(".ez-place-item")
        for page in ("/map/check", "/map/screen", "/map/rescreen", "/map/versions"):
            tab.goto(keyed_server + page)
            tab.wait_for_load_state("networkidle")
            assert tab.is_hidden("#ez-login")
        tab.wait_for_selector("#ez-layers tr[data-kind]")
        # the 401 and 403 answers before the right key are the only failed loads
        failed = [text for text in watch.console_errors if "401" not in text and "403" not in text]
        assert failed == [] and watch.page_errors == [] and watch.blocked == []


def test_rescreen_page_sends_the_column_mapping_of_its_field(chromium, server, copy_store, tmp_path, artifacts):
    """A CSV screened with X/Y under 测点E/测点N, the CRS and industry=主营业务 (a CSV records none of them): on the
    page, 列对应 one mapping a line (a field by its name or as the batch page names it, X 坐标（东）=测点E) with the
    CRS gives the changes, directions and words of ``rescreen_file`` with the same ``columns``, and the summary
    says which mapping was used; the whole mapping gives no change. A line that is no mapping is refused on the
    page. The batch page, which maps columns after its preview, has no such field."""
    from gis.batch import screen_file
    from gis.rescreen import options_text, rescreen_file
    from tests.test_rescreen import SURVEY_OPTIONS, survey_csv, survey_sites

    day = "2024-06-30"
    survey_csv(tmp_path / "测绘.csv", survey_sites(12))
    screened = tmp_path / "测绘-筛查结果.csv"
    location = {"x": "测点E", "y": "测点N"}
    with open_store(copy_store, read_only=True) as served:  # the server's store
        screen_file(tmp_path / "测绘.csv", screened, store=served, as_of=day, **SURVEY_OPTIONS)
        partial = rescreen_file(screened, as_of=day, store=served, columns=location, crs="EPSG:4538")
        whole = rescreen_file(screened, as_of=day, store=served, **SURVEY_OPTIONS)
    assert partial.changed > 0 and whole.changed == 0  # the test is about something
    with harness.page(chromium) as (tab, watch):
        _with_key(tab, READ)
        tab.goto(server + "/map/screen")
        assert tab.locator("textarea").count() == 0  # the batch page maps columns after its preview
        tab.goto(server + "/map/rescreen")
        assert tab.locator("#ez-rescreen-options #ez-rescreen-columns").count() == 0  # not in the shared fieldset
        tab.set_input_files("#ez-rescreen-file", str(screened))
        tab.fill("#ez-rescreen-asof", day)
        tab.fill("#ez-rescreen-crs", "EPSG:4538")
        tab.fill("#ez-rescreen-columns", "lon东经")
        tab.click("#ez-rescreen-go")
        tab.wait_for_selector("#ez-rescreen-status.ez-error")
        assert "字段=列名" in tab.inner_text("#ez-rescreen-status") and tab.is_hidden("#ez-rescreen-result")

        tab.fill("#ez-rescreen-columns", "X 坐标（东）=测点E\n\n y = 测点N ")
        tab.click("#ez-rescreen-go")
        tab.wait_for_selector("#ez-rescreen-result:not([hidden])", timeout=60_000)
        assert _shown_changes(tab) == _expected_changes(partial)
        assert tab.inner_text("#ez-rescreen-changed") == str(partial.changed)
        assert tab.inner_text("#ez-rescreen-reading") == options_text(partial)[0]
        assert "列对应 x=测点E、y=测点N（重新筛查时给出；文件未记录筛查时的列对应" in tab.inner_text("#ez-rescreen-reading")
        assert tab.eval_on_selector_all("#ez-rescreen-changes td.ez-direction", "tds => tds.map(td => td.innerText)") == [
            c.direction_zh for c in partial.changes]
        causes = tab.eval_on_selector_all("#ez-rescreen-changes .ez-cause", "ds => ds.map(d => d.innerText)")
        assert len(causes) == partial.changed and all(text.startswith(c.cause_zh)
                                                      for text, c in zip(causes, partial.changes))
        assert not any("规则随日期变化" in text for text in causes)
        tab.screenshot(path=str(artifacts / "workspace_rescreen_columns.png"), full_page=True)

        tab.fill("#ez-rescreen-columns", "x=测点E\ny=测点N\n行业=主营业务")
        tab.click("#ez-rescreen-go")
        tab.wait_for_function("text => document.getElementById('ez-rescreen-reading')?.innerText === text",
                              arg=options_text(whole)[0], timeout=60_000)
        assert tab.inner_text("#ez-rescreen-changed") == "0" and _shown_changes(tab) == []
        _assert_clean(watch)
