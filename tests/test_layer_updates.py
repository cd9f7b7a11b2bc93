"""Layer updates: the change report, the red-line share, permits whose verdict changes, and export.

Oracles: areas are recomputed in the test from shapely unions of the whole layers and pyproj's
``Geod.geometry_area_perimeter`` (the engine dissolves locally and measures ring by ring); verdicts come from
``gis.check.check_site`` run per row for both dates; an exported file is imported again with the command
line and its digest compared with the version's.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod, Transformer

from gis.check import check_site
from gis.layer_diff import diff_layer
from gis.layer_stats import layer_stats
from gis.rescreen import rescreen_file
from gis.rules.project import Project
from gis.sites import read_site
from gis.store import init_store
from tests.api_support import ApiServer
from tests.rescreen_support import written_changes

REPO = Path(__file__).resolve().parents[1]
GEOD = Geod(ellps="WGS84")
KIND = "ecological_redline"


def oracle_area(geom) -> float:
    """Geodesic area by pyproj's own geometry walk (not the engine's ring-by-ring sum)."""
    if geom is None or geom.is_empty:
        return 0.0
    polygons = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return sum(abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(g))[0]) for g in polygons)


def close(value: float, expected: float, rel: float = 1e-3) -> bool:
    return abs(value - expected) <= rel * abs(expected)


def blobs(count: int, seed: int, prefix: str = "z") -> gpd.GeoDataFrame:
    """Irregular polygons around 石河子 and 玛纳斯 (crossing county and 兵团-city borders), some overlapping."""
    rng = np.random.default_rng(seed)
    rows, geoms = [], []
    for i in range(count):
        x, y = 85.85 + rng.random() * 0.55, 44.05 + rng.random() * 0.45
        angles = np.sort(rng.random(24) * 2 * np.pi)
        radii = 0.01 + rng.random(24) * 0.02
        ring = np.column_stack([x + radii * np.cos(angles) * 1.4, y + radii * np.sin(angles)])
        shape = shapely.make_valid(shapely.Polygon(ring))
        if i % 7 == 0:  # a hole
            shape = shape.difference(shapely.Point(x, y).buffer(0.004))
        if i % 11 == 0:  # a second part
            shape = shapely.union(shape, shapely.Point(x + 0.06, y - 0.03).buffer(0.006))
        geoms.append(shapely.orient_polygons(shape))
        rows.append({"zone_id": f"{prefix}{i}", "name": f"红线图斑{i}", "subtype": "bingtuan", "jurisdiction": "兵团第八师",
                     "attributes": {"level": "一般", "code": i}, "geometry_source": "official"})
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


@pytest.fixture(scope="module")
def updated(tmp_path_factory):
    """A store (copy of the default dataset) with a generated red line v2 and an edited v3 of it."""
    location = tmp_path_factory.mktemp("layers") / "store.gpkg"
    store = init_store(location)
    first = blobs(90, seed=21)
    store.import_layer(first, KIND, source="v2.shp", effective_from="2020-01-01")
    second = first.copy()
    second = second[~second["zone_id"].isin([f"z{i}" for i in range(5)])].reset_index(drop=True)
    moved = second["zone_id"].isin([f"z{i}" for i in range(5, 11)])
    second.loc[moved, "geometry"] = second.loc[moved, "geometry"].translate(0.012, -0.006)
    for i in range(11, 15):
        at = second.index[second["zone_id"] == f"z{i}"][0]
        second.at[at, "attributes"] = {"level": "重要", "code": i}
    second.loc[second["zone_id"] == "z15", "name"] = "改名图斑"
    second = gpd.GeoDataFrame(
        [*second.drop(columns="geometry").to_dict("records"),
         *blobs(3, seed=99, prefix="new").drop(columns="geometry").to_dict("records")],
        geometry=[*second.geometry, *blobs(3, seed=99).geometry], crs=4326)
    store.import_layer(second, KIND, source="v3.shp", effective_from="2023-01-01")
    yield store
    store.close()


def test_change_report_ids_are_exact(updated):
    report = diff_layer(updated, KIND, 2, "2023-06-30")
    assert (report.from_version.version, report.to_version.version) == (2, 3)
    assert report.removed == sorted(f"z{i}" for i in range(5))
    assert report.added == [f"new{i}" for i in range(3)]
    assert report.changed == sorted(f"z{i}" for i in range(5, 16))
    fields = {z.zone_id: z.fields for z in report.zones}
    assert all(fields[f"z{i}"] == ["geometry"] for i in range(5, 11))
    assert all(fields[f"z{i}"] == ["attributes.level"] for i in range(11, 15))
    assert fields["z15"] == ["name"]
    assert report.unchanged == 90 - 16


def test_change_report_areas_match_unions_measured_with_pyproj(updated):
    report = diff_layer(updated, KIND, 2, 3)
    before = shapely.union_all(updated.read(KIND, 2).geometry.values)
    after = shapely.union_all(updated.read(KIND, 3).geometry.values)
    assert close(report.added_m2, oracle_area(after.difference(before)))
    assert close(report.removed_m2, oracle_area(before.difference(after)))
    assert close(report.union_before_m2, oracle_area(before))
    assert close(report.union_after_m2, oracle_area(after))
    old = updated.read(KIND, 2).set_index("zone_id").geometry
    new = updated.read(KIND, 3).set_index("zone_id").geometry
    for zone in report.zones:
        if zone.zone_id in ("z6", "z9"):
            assert close(zone.added_m2, oracle_area(new[zone.zone_id].difference(old[zone.zone_id])))
            assert close(zone.removed_m2, oracle_area(old[zone.zone_id].difference(new[zone.zone_id])))

    admin = updated.read("admin_division")
    units = {a["adcode"]: g for a, g in zip(admin["attributes"], admin.geometry)}
    bingtuan = shapely.union_all(admin[admin["subtype"] == "bingtuan_city"].geometry.values)
    counties = [u for u in report.by_jurisdiction if u.level in ("county", "bingtuan_city")]
    assert len(counties) >= 2 and any(u.added_m2 > 0 for u in counties) and any(u.removed_m2 > 0 for u in counties)
    for unit in counties:
        shape = units[unit.code]
        assert close(unit.added_m2, oracle_area(after.difference(before).intersection(shape)))
        assert close(unit.removed_m2, oracle_area(before.difference(after).intersection(shape)))
        assert close(unit.share_after_pct, 100 * oracle_area(after.intersection(shape)) / oracle_area(shape))
    share_before = 100 * oracle_area(before.intersection(bingtuan)) / oracle_area(bingtuan)
    share_after = 100 * oracle_area(after.intersection(bingtuan)) / oracle_area(bingtuan)
    assert close(report.bingtuan.share_before_pct, share_before)
    assert close(report.bingtuan.share_after_pct, share_after)
    assert report.bingtuan.falls == (share_after < share_before)
    if report.bingtuan.falls:
        assert report.warnings[0].startswith("兵团生态保护红线占比下降")

    polygons = report.polygons
    assert close(polygons.loc[polygons["change"] == "added", "area_m2"].sum(), report.added_m2)
    assert set(polygons.loc[polygons["change"] == "removed", "zone_ids"].str.split("、").sum()) <= {
        *report.removed, *report.changed}


def test_share_of_a_county_on_the_default_dataset_matches_pyproj(store):
    stats = layer_stats(store, KIND)
    redline = shapely.union_all(store.read(KIND).geometry.values)
    admin = store.read("admin_division")
    county = admin[[a["adcode"] == "652324" for a in admin["attributes"]]].geometry.iloc[0]  # 玛纳斯县
    unit = next(u for u in stats.units if u.code == "652324")
    assert unit.zone_m2 > 0
    assert close(unit.land_m2, oracle_area(county))
    assert close(unit.share_pct, 100 * oracle_area(redline.intersection(county)) / oracle_area(county))
    whole = next(u for u in stats.units if u.level == "bingtuan")
    bingtuan = shapely.union_all(admin[admin["subtype"] == "bingtuan_city"].geometry.values)
    assert close(whole.share_pct, 100 * oracle_area(redline.intersection(bingtuan)) / oracle_area(bingtuan))
    assert stats.bingtuan.floor_pct == 21.87 and stats.bingtuan.meets_floor == (whole.share_pct >= 21.87)
    assert len(stats.basis.bingtuan_units) == int((admin["subtype"] == "bingtuan_city").sum())


def test_share_history_says_when_the_bingtuan_share_falls(updated):
    stats = layer_stats(updated, KIND)
    assert [h.version for h in stats.history] == [1, 2, 3]
    for earlier, later in zip(stats.history, stats.history[1:]):
        assert later.falls == (later.share_pct < earlier.share_pct)


# -- permits whose verdict changes --------------------------------------------------------------------------
SITES = [  # (项目名称, 行业, 建设性质, lon, lat, 生产废水)
    ("准东化工涉水", "化工", "新建", 89.05, 44.55, "是"),
    ("准东化工无废水", "化工", "新建", 89.051, 44.551, "否"),
    ("准东印染涉水", "印染", "新建", 89.049, 44.549, "是"),
    ("准东现有", "化工", "现有", 89.05, 44.552, "是"),
    ("十户滩涉水", "化工", "新建", 86.05, 44.48, "是"),
    ("台州园区涉水", "造纸", "新建", 81.22, 40.60, "是"),
    ("霍尔果斯B区涉水", "化工", "新建", 80.41, 44.16, "是"),
    ("红线内光伏", "光伏", "新建", 86.10, 43.80, "否"),
    ("戈壁光伏", "光伏", "新建", 84.0, 41.0, "否"),
    ("石河子印染", "印染", "新建", 86.04, 44.30, "否"),
]


@pytest.fixture(scope="module")
def verdict_changes(store):
    """项目名称 -> (old, new) verdict code of the SITES whose verdict changes from 2018-06-01 to 2021-06-01, each
    checked alone with ``check_site`` (the oracle of every re-screening)."""
    changes = {}
    for name, industry, scope, lon, lat, water in SITES:
        project = Project(name=name, industry=industry, scope="new" if scope == "新建" else "existing",
                          wastewater=water == "是")
        site = read_site(f"{lon}, {lat}")
        old = check_site(site, project, store=store, as_of="2018-06-01").verdict.value
        new = check_site(site, project, store=store, as_of="2021-06-01").verdict.value
        if old != new:
            changes[name] = (old, new)
    assert "准东化工涉水" in changes  # the 准东 freeze ends once the park's sewage plant runs
    return changes


def test_rescreen_lists_exactly_the_rows_whose_verdict_changed(tmp_path, store, verdict_changes):
    register = tmp_path / "许可清单.csv"
    with open(register, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["项目名称", "行业", "建设性质", "经度", "纬度", "生产废水"])
        writer.writerows(SITES)
    from gis.batch import screen_file

    screen_file(register, tmp_path / "screened.xlsx", store=store, as_of="2018-06-01")
    report = rescreen_file(tmp_path / "screened.xlsx", as_of="2021-06-01", store=store)

    # a new sheet of a CSV's rows: the header on row 1, the sites from row 2
    expected = {row: verdict_changes[site[0]] for row, site in enumerate(SITES, 2) if site[0] in verdict_changes}
    assert {c.row: (c.old_code, c.new_code) for c in report.changes} == expected
    assert report.rows == len(SITES) and report.old_as_of == "2018-06-01"
    zhundong = next(c for c in report.changes if c.cells["项目名称"] == "准东化工涉水")
    assert zhundong.row == 2
    assert any("准东" in rule for rule in zhundong.rules_removed)
    assert any("准东产业园区" in zone for zone in zhundong.zones)


PERMITS = [(f"新环许〔2018〕{i:03d}号", *site) for i, site in enumerate(SITES, 1)]  # (许可证编号, *SITES)


def test_rescreen_rows_are_the_worksheet_rows_of_a_titled_workbook(tmp_path, store, verdict_changes):
    """A title row, a units row under the header and blank rows between permits: 行号 is the worksheet row, in
    every output, and the sheet's line of that number holds the permit."""
    from openpyxl import Workbook, load_workbook

    from gis.batch import screen_file

    book = Workbook()
    sheet = book.active
    sheet.title = "许可证"
    sheet.append(["2018年排污许可登记表（第八师）"])
    sheet.merge_cells("A1:I1")
    sheet.append(["许可证编号", "项目名称", "行业", "建设性质", "经度", "纬度", "生产废水", "锅炉规模", "新增燃煤量"])
    sheet.append([None] * 7 + ["（t/h）", "（万吨）"])  # units, which the reader folds into the header
    for i, permit in enumerate(PERMITS):
        sheet.append(list(permit))
        for _ in range(i % 3):
            sheet.append([])
    book.save(tmp_path / "register.xlsx")
    screen_file(tmp_path / "register.xlsx", tmp_path / "screened.xlsx", store=store, as_of="2018-06-01")
    report = rescreen_file(tmp_path / "screened.xlsx", as_of="2021-06-01", store=store)

    assert report.rows == len(PERMITS)  # the title and units rows are not permits, blank rows are not rows
    screened = load_workbook(tmp_path / "screened.xlsx")["许可证"]
    line_of = {screened.cell(row, 1).value: row for row in range(1, screened.max_row + 1)}
    expected = {line_of[number]: verdict_changes[name] for number, name, *_ in PERMITS if name in verdict_changes}
    assert {c.row: (c.old_code, c.new_code) for c in report.changes} == expected
    for change in report.changes:
        assert screened.cell(change.row, 1).value == change.cells["许可证编号"]
        assert screened.cell(change.row, 2).value == change.cells["项目名称"]

    table, text, answer = written_changes(report, tmp_path)
    for rows in (table, text):
        assert rows[0][0] == "行号（原表行）"
        number_at = rows[0].index("许可证编号")
        for row in rows[1:]:
            assert screened.cell(int(row[0]), 1).value == row[number_at]
        assert sorted(int(row[0]) for row in rows[1:]) == sorted(expected)
    assert {c["row"]: c["cells"]["许可证编号"] for c in answer["changes"]} == \
        {row: screened.cell(row, 1).value for row in expected}


def test_rescreen_rows_of_a_csv_are_its_rows_as_a_spreadsheet_opens_it(tmp_path, store, verdict_changes):
    """A screened CSV with a name typed over two lines (Alt+Enter) and blank lines the officer put between
    permits: 行号 is the row a spreadsheet shows (not the line: the name takes two), and the CLI says the same."""
    from gis.batch import screen_file

    register = tmp_path / "许可清单.csv"
    with open(register, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["许可证编号", "项目名称", "行业", "建设性质", "经度", "纬度", "生产废水"])
        for number, name, *rest in PERMITS:
            writer.writerow([number, f"{name}\n（一期）" if name == "准东化工无废水" else name, *rest])
    screen_file(register, tmp_path / "screened.csv", store=store, as_of="2018-06-01")
    with open(tmp_path / "screened.csv", encoding="utf-8-sig", newline="") as handle:
        written = list(csv.reader(handle))
    with open(tmp_path / "spaced.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(written[0])
        for i, row in enumerate(written[1:]):
            writer.writerows([[]] * (i % 3) + [row])
    report = rescreen_file(tmp_path / "spaced.csv", as_of="2021-06-01", store=store)

    # the oracle: the file's rows as the csv module splits them (a spreadsheet's rows), blank lines kept, from 1
    with open(tmp_path / "spaced.csv", encoding="utf-8-sig", newline="") as handle:
        sheet = list(csv.reader(handle))
    assert sum(len(line) == 0 for line in sheet) > 0 and any("\n" in cell for line in sheet for cell in line)
    line_of = {line[0]: row for row, line in enumerate(sheet, 1) if line}
    expected = {line_of[number]: verdict_changes[name] for number, name, *_ in PERMITS if name in verdict_changes}
    assert {c.row: (c.old_code, c.new_code) for c in report.changes} == expected
    for change in report.changes:
        assert sheet[change.row - 1][0] == change.cells["许可证编号"]

    from typer.testing import CliRunner

    from api.cli import app as cli_app

    said = CliRunner().invoke(cli_app, ["rescreen", str(tmp_path / "spaced.csv"), "--as-of", "2021-06-01"],
                              env={"ECOZONE_STORE": None})  # the embedded dataset, as ``store``
    assert said.exit_code == 0, said.output
    for row in expected:
        assert f"原表第 {row} 行 {sheet[row - 1][1]}：" in said.stdout


def test_rescreen_of_a_file_screened_twice_compares_with_its_latest_screening(tmp_path, store, verdict_changes):
    """A screened workbook screened again (as of the later date) holds two sets of verdict columns: 结论 of the
    first screening, 结论_ecozone of the second. Re-screened as of the second's date, nothing changes; as of the
    first's, exactly the rows whose verdict differs between the two dates (``check_site``), each its change back."""
    from openpyxl import load_workbook

    from gis.batch import screen_file

    register = tmp_path / "许可清单.csv"
    with open(register, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([["项目名称", "行业", "建设性质", "经度", "纬度", "生产废水"], *SITES])
    screen_file(register, tmp_path / "first.xlsx", store=store, as_of="2018-06-01")
    screen_file(tmp_path / "first.xlsx", tmp_path / "twice.xlsx", store=store, as_of="2021-06-01")
    header = [c.value for c in next(load_workbook(tmp_path / "twice.xlsx").worksheets[0].iter_rows(max_row=1))]
    assert "结论" in header and "结论_ecozone" in header

    same = rescreen_file(tmp_path / "twice.xlsx", as_of="2021-06-01", store=store)
    assert same.old_as_of == "2021-06-01" and same.changes == []
    back = rescreen_file(tmp_path / "twice.xlsx", as_of="2018-06-01", store=store)
    assert {c.cells["项目名称"]: (c.old_code, c.new_code) for c in back.changes} == \
        {name: (new, old) for name, (old, new) in verdict_changes.items()}
    assert all(not key.startswith("结论") for c in back.changes for key in c.cells)  # no screening's cells


def test_rescreen_writes_every_output_and_never_its_input(tmp_path, store, verdict_changes):
    """``-o`` given twice writes both files; ``-o`` naming the screened file is refused before any work, and the
    file is left as it was (it held the officer's verdicts)."""
    from typer.testing import CliRunner

    from api.cli import app as cli_app
    from gis.batch import screen_file

    register = tmp_path / "许可清单.csv"
    with open(register, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([["项目名称", "行业", "建设性质", "经度", "纬度", "生产废水"], *SITES])
    screened = tmp_path / "screened.xlsx"
    screen_file(register, screened, store=store, as_of="2018-06-01")
    before = screened.read_bytes()
    runner = CliRunner()
    refused = runner.invoke(cli_app, ["rescreen", str(screened), "--as-of", "2021-06-01", "-o", str(screened)],
                            env={"ECOZONE_STORE": None})
    assert refused.exit_code == 2 and "输出会覆盖输入文件" in refused.output
    assert screened.read_bytes() == before
    both = runner.invoke(cli_app, ["rescreen", str(screened), "--as-of", "2021-06-01", "-o", str(tmp_path / "a.xlsx"),
                                   "-o", str(tmp_path / "b.json")], env={"ECOZONE_STORE": None})
    assert both.exit_code == 0, both.output
    answer = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert {c["cells"]["项目名称"] for c in answer["changes"]} == set(verdict_changes)
    from openpyxl import load_workbook

    rows = list(load_workbook(tmp_path / "a.xlsx")["结论变化"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(verdict_changes)


# -- export ----------------------------------------------------------------------------------------------------
def ecozone(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def delivery(path: Path) -> None:
    """A red-line delivery as 自然资源 sends it: GBK .dbf without .cpg, Chinese fields, CGCS2000."""
    zones = blobs(25, seed=5)
    frame = gpd.GeoDataFrame({
        "编号": zones["zone_id"], "名称": zones["name"], "类型": ["兵团划定"] * 20 + ["自治区划定"] * 5,
        "行政区": ["兵团第八师石河子市"] * 25, "面积": np.round(np.linspace(10.5, 1234.25, 25), 2),
        "级别": list(range(25)), "批准日期": ["2023-05-01"] * 25, "备注": ["示例：生态保护红线图斑"] * 25,
        "划定依据": ["新政发〔2023〕12号"] * 25,
    }, geometry=list(zones.geometry), crs=4490)
    frame.to_file(path, engine="pyogrio", encoding="gbk")
    path.with_suffix(".cpg").unlink()


def versions(location: Path) -> list[dict]:
    return json.loads(ecozone("layers", "versions", KIND, "--store", str(location), "--format", "json").stdout)


def test_exported_shapefile_imports_back_to_the_same_digest(tmp_path):
    location = tmp_path / "store.gpkg"
    ecozone("layers", "init", str(location))
    delivery(tmp_path / "红线.shp")
    ecozone("layers", "import", str(tmp_path / "红线.shp"), "--kind", KIND, "--store", str(location),
            "--effective-from", "2024-01-01")
    original = versions(location)[-1]["content_sha256"]
    for name, encoding in (("gbk.shp", "gbk"), ("layer.gpkg", "utf-8"), ("utf8.shp", "utf-8")):
        out = tmp_path / "out" / name
        shown = ecozone("layers", "export", KIND, "-o", str(out), "--encoding", encoding, "--store", str(location))
        if out.suffix == ".shp":
            assert out.with_suffix(".cpg").read_text().strip() == encoding.upper()
            frame = pyogrio.read_dataframe(out, encoding=encoding)
            assert frame["name"].tolist()[:2] == ["红线图斑0", "红线图斑1"]
            assert pyogrio.read_info(out)["crs"] == "EPSG:4490"
        ecozone("layers", "import", str(out), "--kind", KIND, "--store", str(location), "--effective-from",
                "2024-06-01")
        same = versions(location)[-1]["content_sha256"] == original
        if name == "utf8.shp":  # 划定依据 is 12 bytes in UTF-8: a .dbf name holds 10, so the export says it differs
            assert not same and "划定依据" in shown.stdout and "划定依" in frame.columns
        else:
            assert same and "re-imports to the same digest" in shown.stdout


def test_export_in_gauss_krueger_agrees_with_pyproj(tmp_path, store):
    out = tmp_path / "redline_gk.gpkg"
    ecozone("layers", "export", KIND, "-o", str(out), "--crs", "EPSG:4517")
    exported = pyogrio.read_dataframe(out)
    assert exported.crs.to_epsg() == 4517
    transformer = Transformer.from_crs(4326, 4517, always_xy=True)
    expected = shapely.transform(store.read(KIND).geometry.values, lambda xy: np.column_stack(transformer.transform(*xy.T)))
    assert all(shapely.equals_exact(a, b, tolerance=1e-3) for a, b in zip(exported.geometry, expected))


def test_export_to_a_crs_the_zones_cannot_be_drawn_in_is_refused(tmp_path, store):
    """An orthographic view of the other side of the globe: PROJ gives the zones no finite coordinates."""
    far = "+proj=ortho +lat_0=-40 +lon_0=-90"
    x, _ = Transformer.from_crs(4326, far, always_xy=True).transform(*store.read(KIND).geometry.values[0].exterior.coords[0])
    assert not np.isfinite(x)
    out = tmp_path / "far.gpkg"
    result = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", "layers", "export", KIND, "-o",
                             str(out), "--crs", far], env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2 and "--crs" in result.stderr and not out.exists(), result.stderr


# -- the same over HTTP, and the map page in a browser -------------------------------------------------------
@pytest.fixture(scope="module")
def server(updated, tmp_path_factory):
    folder = tmp_path_factory.mktemp("layers-api")
    api = ApiServer(folder / "jobs", folder / "server.log", store=updated.location).start()
    yield api
    api.stop()


def test_api_diff_stats_export_and_rescreen(server, updated, tmp_path):
    with server.client() as http:
        answer = http.get(f"/layers/{KIND}/diff", params={"from": "2", "to": "3"})
        assert answer.status_code == 200
        body = answer.json()
        local = diff_layer(updated, KIND, 2, 3)
        assert (body["added"], body["removed"], body["changed"]) == (local.added, local.removed, local.changed)
        assert close(body["added_m2"], local.added_m2, 1e-9)
        assert http.get(f"/layers/{KIND}/diff", params={"from": "2", "to": "9"}).status_code == 404

        workbook = http.get(f"/layers/{KIND}/diff.xlsx", params={"from": "2", "to": "3"})
        assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
        package = http.get(f"/layers/{KIND}/diff.gpkg", params={"from": "2", "to": "3"})
        (tmp_path / "d.gpkg").write_bytes(package.content)
        added = pyogrio.read_dataframe(tmp_path / "d.gpkg", layer="added")
        assert close(sum(oracle_area(g) for g in added.geometry), local.added_m2)

        stats = http.get(f"/layers/{KIND}/stats").json()
        assert stats["version"]["version"] == 3 and [h["version"] for h in stats["history"]] == [1, 2, 3]

        shapefile = http.get(f"/layers/{KIND}/export.shp", params={"version": "2", "encoding": "gbk"})
        assert shapefile.status_code == 200 and shapefile.headers["x-ecozone-round-trip"] in ("exact", "differs")
        names = zipfile.ZipFile(io.BytesIO(shapefile.content)).namelist()
        assert {Path(n).suffix for n in names} >= {".shp", ".shx", ".dbf", ".prj", ".cpg"}

        from gis.batch import screen_file

        register = tmp_path / "r.csv"
        register.write_text("项目名称,行业,建设性质,经度,纬度,生产废水\n准东涉水,化工,新建,89.05,44.55,是\n", encoding="utf-8")
        screen_file(register, tmp_path / "r-screened.csv", store=updated, as_of="2018-06-01")
        with open(tmp_path / "r-screened.csv", "rb") as handle:
            changed = http.post("/rescreen", files={"file": ("r-screened.csv", handle)}, data={"as_of": "2021-06-01"})
        assert changed.status_code == 200, changed.text
        assert [c["row"] for c in changed.json()["changes"]] == [2]  # the CSV's row 2, under its header



def _problem(answer, field: str) -> dict:
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    chinese = body["detail"].partition(" / ")[0]
    assert body["field"] == field and any("\u4e00" <= c <= "\u9fff" for c in chinese), body  # named, Chinese first
    return body


def test_api_rescreen_as_of_a_layer_version(server, updated, tmp_path):
    """``layer=KIND:N`` re-screens as of the day version N comes into force: for each red-line version the
    changes are those of ``rescreen_file`` called with that version's date, read from the store's own version
    listing, and those of ``ecozone rescreen --layer`` (one reading of the choice); the versions differ (a zone
    of v2 is gone in v3), so the test tells them apart. An unknown kind or version, or a choice not written
    KIND:N, is a 400 naming ``layer``."""
    from typer.testing import CliRunner

    from api.cli import app as cli_app
    from gis.batch import screen_file

    zones = updated.read(KIND, 2).set_index("zone_id").geometry
    register = tmp_path / "r.csv"
    lines = ["项目名称,行业,建设性质,经度,纬度,生产废水"]
    for zone in ("z0", "z1", "z20", "z30"):  # z0 and z1 are v2's only; z20 and z30 in both
        point = zones[zone].representative_point()
        lines.append(f"{zone}化工,化工,新建,{point.x:.6f},{point.y:.6f},否")
    lines.append("戈壁光伏,光伏,新建,84.0,41.0,否")
    register.write_text("\n".join(lines) + "\n", encoding="utf-8")
    screened = tmp_path / "r-screened.csv"
    screen_file(register, screened, store=updated, as_of="2018-06-01")

    listed = [v for v in updated.versions(KIND) if v.version > 1]
    assert [v.version for v in listed] == [2, 3]
    seen = {}
    with server.client() as http:
        for version in listed:
            expected = rescreen_file(screened, as_of=version.effective_from, store=updated)
            with open(screened, "rb") as handle:
                answer = http.post("/rescreen", files={"file": (screened.name, handle)},
                                   data={"layer": f"{KIND}:{version.version}"})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["new_as_of"] == version.effective_from
            assert body["changes"] == [c.model_dump(mode="json") for c in expected.changes]
            said = CliRunner().invoke(cli_app, ["rescreen", str(screened), "--layer", f"{KIND}:{version.version}",
                                                "--store", str(updated.location), "--format", "json"])
            assert said.exit_code == 0, said.output
            assert json.loads(said.stdout)["changes"] == body["changes"]
            seen[version.version] = [(c["row"], c["new_verdict"]) for c in body["changes"]]
        assert seen[2] and seen[2] != seen[3]

        def refused(layer: str, **data: str) -> dict:
            with open(screened, "rb") as handle:
                return http.post("/rescreen", files={"file": (screened.name, handle)}, data={"layer": layer, **data})

        unknown_kind = _problem(refused("no_such_kind:2"), "layer")
        assert unknown_kind["value"] == "no_such_kind:2" and KIND in unknown_kind["fix"]
        unknown_version = _problem(refused(f"{KIND}:9"), "layer")
        assert unknown_version["value"] == f"{KIND}:9" and "2020-01-01" in unknown_version["fix"]  # versions it has
        _problem(refused(KIND), "layer")  # no version number
        _problem(refused(f"{KIND}:2021-06-30"), "layer")  # a date is as_of's, not a version
        _problem(refused(f"{KIND}:2", as_of="2021-06-01"), "as_of")  # one of the two

def test_diff_map_page_draws_both_colours_offline(server, updated):
    from tests.maps_harness import browser, chromium_missing, page

    if chromium_missing():
        pytest.skip(chromium_missing())
    report = diff_layer(updated, KIND, 2, 3)
    with browser() as chromium, page(chromium) as (tab, watch):
        tab.goto(f"{server.url}/layers/{KIND}/diff.html?from=2&to=3")
        tab.wait_for_function("window.ecozoneDiff && window.ecozoneDiff.drawn !== null")
        drawn = tab.evaluate("window.ecozoneDiff.drawn")
        panel = tab.inner_text("#ez-diff")
    counts = report.polygons["change"].value_counts()
    assert drawn == {"added": int(counts.get("added", 0)), "removed": int(counts.get("removed", 0))}
    assert drawn["added"] > 0 and drawn["removed"] > 0
    assert f"{report.added_m2 / 1e6:,.4f}"[:6] in panel or "新增面积" in panel
    assert not watch.blocked and not watch.page_errors


def test_a_zone_delivered_again_with_noise_in_its_last_digits_is_diffed(tmp_path):
    """One outline stored from a Gauss-Kruger shapefile and from an EPSG:4490 GeoPackage of the same delivery: the
    two are some 1e-9° apart, and GEOS cannot node them (a plain difference raises). The change report falls back
    to a 0.1 mm grid and says what changed: next to nothing, as pyproj measures the two."""
    pair = json.loads((REPO / "tests" / "data" / "re-delivered-outline.json").read_text())
    old, new = (shapely.from_wkb(bytes.fromhex(pair[key])) for key in ("old", "new"))
    with pytest.raises(shapely.errors.GEOSException):
        shapely.difference(new, old)
    store = init_store(tmp_path / "store.gpkg")
    for geometry, day in ((old, "2024-01-01"), (new, "2025-01-01")):
        zones = gpd.GeoDataFrame([{"zone_id": "HX650001527", "name": "红线图斑", "subtype": "bingtuan",
                                   "jurisdiction": None, "attributes": {}, "geometry_source": "official"}],
                                 geometry=[geometry], crs=4326)
        store.import_layer(zones, KIND, source="红线.gpkg", effective_from=day)
    versions = [v.version for v in store.versions(KIND)][-2:]
    report = diff_layer(store, KIND, *versions)
    [change] = [z for z in report.zones if z.zone_id == "HX650001527"]
    assert change.change == "changed" and change.area_after_m2 == pytest.approx(oracle_area(new), rel=1e-6)
    assert change.added_m2 < 1.0 and change.removed_m2 < 1.0  # m², of a zone of some km²
