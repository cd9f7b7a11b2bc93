"""Every register officers hold (issue 19): the officer's workbook kept and extended once, GIS files screened by
their geometry, swapped coordinates corrected, batch-wide facts, 排污许可 fields, progress, formula injection.

Verdicts are compared with ``check_site`` on the same site and facts; workbooks are read back with openpyxl and
GIS outputs with GDAL (pyogrio), geometries against pyproj's own transform.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import pty
import re
import shutil
import subprocess
import sys
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from pyproj import Transformer
from typer.testing import CliRunner

from api.cli import app

from gis.batch import COLUMNS, screen_file
from gis.check import check_site, covered_area
from gis.rescreen import rescreen_file, write_rescreen
from gis.crs import crs_label
from gis.errors import CRSError, EcozoneError
from gis.rules.project import read_project
from gis.sites import read_site
from gis.store import open_store

AS_OF = "2024-01-01"
HEADER = ["序号", "许可证编号", "单位名称", "行业类别", "生产经营场所地址", "经度", "纬度", "有效期限", "备注"]
#: Industries as registers write them: GB/T 4754 names and codes, and one nobody can place.
INDUSTRIES = ["火力发电", "水泥制造", "D4411", "印染", "某某新兴服务", "热力生产和供应"]


def _places(n: int, seed: int, kinds: tuple[str, ...] | None = None) -> list[tuple[float, float]]:
    """Points near the zones (of ``kinds``, default all but admin) of both regions of the dataset."""
    rng = np.random.default_rng(seed)
    zones = open_store().snapshot(AS_OF).zones
    zones = zones[zones.kind.isin(kinds) if kinds else zones.kind != "admin_division"]
    anchors = shapely.get_coordinates(shapely.segmentize(zones.geometry.boundary.values, 0.05))
    picks = anchors[rng.integers(0, len(anchors), 4 * n)] + rng.normal(0, 0.02, (4 * n, 2))
    picks = picks[covered_area(open_store()).contains(picks[:, 0], picks[:, 1])][:n]
    assert len(picks) == n
    return [(round(float(x), 6), round(float(y), 6)) for x, y in picks]


def _expected(lon: float, lat: float, facts: dict, *, defaults: dict | None = None):
    """check_site's answer for a point and a row's facts, read as a register's cells are (not strict)."""
    site = read_site(f"{lon}, {lat}", coverage=None)
    project = read_project(facts, defaults=defaults, strict=False).project
    return check_site(site, project, as_of=AS_OF)


def _register(path, rows: list[list]) -> None:
    """An officer's workbook: merged title, a note row, styled header in row 3, widths, frozen panes, number
    and date formats, a 说明 sheet after the data."""
    book = Workbook()
    sheet = book.active
    sheet.title = "排污许可登记"
    sheet.append(["2024年排污许可登记表（虚构数据）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet["A1"].font = Font(bold=True, size=16)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(["填报单位：某某生态环境局", None, None, None, None, None, None, "截至 2024-01-01"])
    sheet.append(HEADER)
    for cell in sheet[3]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", start_color="305496", end_color="305496")
    for row in rows:
        sheet.append(row)
    sheet.cell(row=5, column=len(HEADER) + 1, value="手写批注")  # a note right of the table, under no header
    for row in sheet.iter_rows(min_row=4):
        row[5].number_format = row[6].number_format = "0.000000"
        row[7].number_format = "yyyy-mm-dd"
    sheet.column_dimensions["C"].width = 30
    sheet.column_dimensions["E"].width = 42
    sheet.freeze_panes = "C4"
    notes = book.create_sheet("说明")
    notes.append(["本表由各县市区填报，经纬度为 CGCS2000。"])
    notes.append(["行业类别按 GB/T 4754-2017 填写。"])
    book.save(path)


def _rows(n: int, seed: int) -> list[list]:
    rows = []
    for i, (lon, lat) in enumerate(_places(n, seed)):
        rows.append([i + 1, f"91650100MA{i:08d}001P", f"某某公司{i}", INDUSTRIES[i % len(INDUSTRIES)],
                     f"某县某乡{i}号", lon, lat, dt.datetime(2027, 1 + i % 12, 1), "待复核" if i == 5 else None])
    return rows


def test_officer_workbook_is_kept_and_verdict_columns_added_once(tmp_path):
    source, out = tmp_path / "登记.xlsx", tmp_path / "结果.xlsx"
    rows = _rows(60, seed=11)
    rows[3][5], rows[3][6] = rows[3][6], rows[3][5]  # latitude typed under 经度: corrected, not refused
    _register(source, rows)
    report = screen_file(source, out, as_of=AS_OF)
    before, after = load_workbook(source), load_workbook(out)
    assert after.sheetnames == ["排污许可登记", "说明", "筛查汇总"]
    old, new = before["排污许可登记"], after["排污许可登记"]
    # the workbook as it was: merged title, styles, widths, panes, formats, every original cell, the 说明 sheet
    assert [str(r) for r in new.merged_cells.ranges] == [str(r) for r in old.merged_cells.ranges] == ["A1:I1"]
    assert new["A1"].font.bold and new["A1"].font.sz == 16 and new["A1"].alignment.horizontal == "center"
    assert new.freeze_panes == "C4"
    assert new.column_dimensions["C"].width == 30 and new.column_dimensions["E"].width == 42
    assert new["F4"].number_format == "0.000000" and new["H4"].number_format == "yyyy-mm-dd"
    assert isinstance(new["H4"].value, dt.datetime)
    assert [[c.value for c in r] for r in after["说明"].iter_rows()] == [[c.value for c in r] for r in before["说明"].iter_rows()]
    width = len(HEADER)
    for r_old, r_new in zip(old.iter_rows(values_only=True), new.iter_rows(values_only=True)):
        assert r_new[:width] == r_old[:width]
    # the rows once: no second copy of the table below or beside it
    assert new.max_row == old.max_row == len(rows) + 3
    assert new.max_column == width + 1 + len(COLUMNS)  # beside the note right of the table, not over it
    assert new.cell(row=5, column=width + 1).value == "手写批注"
    assert [c.value for c in new[3]] == HEADER + [None] + list(COLUMNS)
    # added columns formatted like the header, with widths, a filter and verdict colours
    for cell in new[3][width + 1:]:
        assert cell.font.bold and cell.font.color.rgb == "00FFFFFF" and cell.fill.start_color.rgb == "00305496"
    assert new.column_dimensions["K"].width == 10 and new.column_dimensions["M"].width > 30
    assert new.auto_filter.ref == f"A3:V{len(rows) + 3}"
    fills = {rule.formula[0].strip('"') for rng in new.conditional_formatting for rule in rng.rules}
    assert {"禁止", "允许", "需核查", "读取失败"} <= fills
    # every row screened, verdicts as check_site gives them
    assert report.rows_failed == 0
    verdict = {name: i for i, name in enumerate(HEADER + [None] + list(COLUMNS))}
    for row, values in zip(rows, new.iter_rows(min_row=4, values_only=True)):
        lon, lat = row[5], row[6]
        if lat > 90 or lon < lat:
            lon, lat = lat, lon
        expected = _expected(lon, lat, {"industry": row[3]})
        assert values[verdict["结论代码"]] == expected.verdict.value, row
    swapped = next(new.iter_rows(min_row=7, max_row=7, values_only=True))
    assert "经度" in swapped[verdict["读取提示"]] and "latitude" in swapped[verdict["读取提示"]]
    # the summary in Chinese: no English verdict codes, no folder of the store or of the input
    summary = {r[0]: r[1] for r in after["筛查汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["输入文件"] == "登记.xlsx" and summary["输入行数"] == summary["输出行数"] == len(rows)
    text = " ".join(f"{k} {v}" for k, v in summary.items())
    for code in ("forbidden", "needs_review", "allowed", "obligation", "/", "\\"):
        assert code not in text.replace("「", ""), code
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in str(label)) for label in summary)


@pytest.mark.parametrize("edited", [True, False], ids=["edited", "streamed"])
def test_header_in_row_one_with_a_notes_sheet_gives_one_table(tmp_path, monkeypatch, edited):
    if not edited:  # a workbook too large to edit is copied row by row: one table all the same
        monkeypatch.setattr("gis.batch.outputs.EDIT_MAX_CELLS", 0)
    source, out = tmp_path / "清单.xlsx", tmp_path / "out.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.title = "清单"
    sheet.append(HEADER)
    rows = _rows(303, seed=5)
    for row in rows:
        sheet.append(row)
    book.create_sheet("说明").append(["说明文字"])
    book.save(source)
    report = screen_file(source, out, as_of=AS_OF)
    result = load_workbook(out, read_only=True)
    values = list(result["清单"].iter_rows(values_only=True))
    assert len(values) == 304 == report.rows_in + 1
    assert list(values[0]) == HEADER + list(COLUMNS)
    assert sum(1 for v in values if v[0] == "序号") == 1
    assert [v[2] for v in values[1:]] == [r[2] for r in rows]
    assert result.sheetnames == ["清单", "说明", "筛查汇总"]
    sheet = load_workbook(out)["清单"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:U{len(rows) + 1}"
    assert all(cell.font.bold for cell in sheet[1][len(HEADER):])


def test_text_that_would_start_a_formula_stays_text(tmp_path):
    source = tmp_path / "许可.csv"
    lon, lat = _places(1, seed=2)[0]
    attacks = ["=HYPERLINK(\"http://x\",\"点击\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)"]
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["名称", "经度", "纬度", "备注"])
        for i, attack in enumerate(attacks):
            writer.writerow([attack if i % 2 else f"项目{i}", lon, lat, attack])
        writer.writerow(["负数", lon, lat, "-12.5"])
    screen_file(source, [tmp_path / "o.xlsx", tmp_path / "o.csv"], as_of=AS_OF)
    sheet = load_workbook(tmp_path / "o.xlsx")["筛查结果"]
    cells = [row[3] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells[:4]] == attacks and all(c.data_type == "s" for c in cells)
    with open(tmp_path / "o.csv", encoding="utf-8-sig", newline="") as handle:
        read = list(csv.reader(handle))[1:]
    assert [r[3] for r in read] == ["'" + a for a in attacks] + ["-12.5"]
    assert read[1][0] == "'" + attacks[1]


def _patches_frame(n: int, seed: int, kinds: tuple[str, ...] | None = None):
    """Small square parcels near zone edges, as a GeoDataFrame in WGS 84."""
    places = _places(n, seed, kinds)
    geoms = [shapely.box(x - 0.004, y - 0.003, x + 0.004, y + 0.003) for x, y in places]
    return gpd.GeoDataFrame({"图斑编号": [f"TB{i:04d}" for i in range(n)]}, geometry=geoms, crs="EPSG:4326")


@pytest.mark.parametrize("kind", ["gpkg_gk", "parquet", "geojson", "zipped_shp"])
def test_gis_files_are_screened_by_their_geometry(tmp_path, kind):
    frame = _patches_frame(400, seed=21)
    bounds = frame.geometry.bounds
    frame = frame[(bounds.minx > 85.6) & (bounds.maxx < 88.4)].head(40)  # within Gauss-Krüger zone 29
    assert len(frame) >= 20
    if kind == "gpkg_gk":
        source = tmp_path / "parcels.gpkg"
        frame.to_crs("EPSG:4517").to_file(source)  # CGCS2000 / 3-degree Gauss-Krüger zone 29
    elif kind == "parquet":
        source = tmp_path / "parcels.parquet"
        frame.to_parquet(source)
    elif kind == "geojson":
        source = tmp_path / "parcels.geojson"
        frame.to_file(source, driver="GeoJSON")
    else:
        folder = tmp_path / "shp"
        folder.mkdir()
        # a DBF field name has 10 bytes: a 4-character Chinese name would be cut inside a character
        frame = frame.rename(columns={"图斑编号": "TBBH"})
        frame.to_crs("EPSG:4517").to_file(folder / "parcels.shp", encoding="utf-8")
        source = tmp_path / "parcels.zip"
        with zipfile.ZipFile(source, "w") as archive:
            for member in folder.iterdir():
                archive.write(member, member.name)
    out_gpkg, out_parquet = tmp_path / "out.gpkg", tmp_path / "out.parquet"
    report = screen_file(source, [out_gpkg, out_parquet], as_of=AS_OF)
    assert report.rows_in == len(frame) and report.rows_failed == 0
    written = pyogrio.read_dataframe(out_gpkg)
    key = frame.columns[0]
    assert list(written[key]) == list(frame[key])
    assert written.crs.to_epsg() == 4326
    # the geometry as pyproj's transform gives it back, not a point from attributes
    assert shapely.equals_exact(written.geometry.values, frame.geometry.values, tolerance=1e-6).all()
    assert len(gpd.read_parquet(out_parquet)) == len(frame)
    store = open_store()
    for geom, code in zip(frame.geometry, written["结论代码"]):
        site = read_site(shapely.to_wkt(geom, rounding_precision=-1), coverage=None)
        assert code == check_site(site, {}, store=store, as_of=AS_OF).verdict.value


@pytest.mark.parametrize("cpg", [None, "1252"])
@pytest.mark.parametrize("zipped", [False, True])
def test_a_gbk_shapefile_of_projects_is_read_as_gbk(tmp_path, cpg, zipped):
    """Parcels with Chinese names and industries in a GBK .dbf, with no .cpg or a Western one: read as GBK, so
    each row's names and verdict are those of the same features in a GeoPackage (UTF-8 by its format)."""
    frame = _patches_frame(12, seed=5)
    frame["项目名称"] = [f"昌吉某热电项目{i}" for i in range(len(frame))]
    frame["行业类别"] = "4411 火力发电"
    folder = tmp_path / "shp"
    folder.mkdir()
    frame.to_file(folder / "parcels.shp", encoding="gbk")
    (folder / "parcels.cpg").unlink(missing_ok=True)
    if cpg:
        (folder / "parcels.cpg").write_text(cpg)
    source = folder / "parcels.shp"
    if zipped:
        source = tmp_path / "parcels.zip"
        with zipfile.ZipFile(source, "w") as archive:
            for member in folder.iterdir():
                archive.write(member, member.name)
    frame.to_file(tmp_path / "parcels.gpkg")
    screen_file(source, tmp_path / "shp.csv", as_of=AS_OF)
    screen_file(tmp_path / "parcels.gpkg", tmp_path / "gpkg.csv", as_of=AS_OF)
    from_shp = pd.read_csv(tmp_path / "shp.csv", dtype=str)
    from_gpkg = pd.read_csv(tmp_path / "gpkg.csv", dtype=str)
    assert from_shp["项目名称"].tolist() == frame["项目名称"].tolist()
    assert from_shp["行业类别"].tolist() == frame["行业类别"].tolist()
    assert from_shp["结论"].tolist() == from_gpkg["结论"].tolist()


def test_inner_mongolia_rows_and_swapped_rows_are_screened(tmp_path):
    source, out = tmp_path / "sites.csv", tmp_path / "out.csv"
    area = covered_area(open_store())
    places = [p for p in _places(200, seed=9) if p[0] > 100][:5] + [p for p in _places(200, seed=9) if p[0] < 96][:5]
    assert len(places) == 10 and area.contains(*np.array(places).T).all()
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["名称", "经度", "纬度"])
        for i, (lon, lat) in enumerate(places):
            writer.writerow([f"点{i}", *((lat, lon) if i % 3 == 0 else (lon, lat))])
    report = screen_file(source, out, as_of=AS_OF)
    assert report.rows_failed == 0
    with open(out, encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    for i, ((lon, lat), row) in enumerate(zip(places, read)):
        assert row["结论代码"] == _expected(lon, lat, {}).verdict.value
        assert ("latitude" in row["读取提示"]) == (i % 3 == 0)


def test_a_register_swapped_on_every_row_is_read_as_each_row_alone(tmp_path):
    """经度 and 纬度 the other way round on every row, as a whole register may be typed: every row corrected to its
    place, with the notice the site reader gives that row in a register of its own, and check_site's verdict."""
    places = _places(400, seed=23)
    header = ["名称", "经度", "纬度"]
    rows = [[f"点{i}", lat, lon] for i, (lon, lat) in enumerate(places)]

    def write(path, rows):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([header, *rows])

    source, out = tmp_path / "swapped.csv", tmp_path / "out.parquet"
    write(source, rows)
    report = screen_file(source, out, as_of=AS_OF, chunk_rows=150)  # three chunks
    assert report.rows_failed == 0
    written = gpd.read_parquet(out)
    assert written.geometry.x.tolist() == [lon for lon, _ in places]
    assert written.geometry.y.tolist() == [lat for _, lat in places]
    for i in (0, 1, 150, 399):  # the first row of a chunk and the others
        one, one_out = tmp_path / f"row{i}.csv", tmp_path / f"row{i}.out.csv"
        write(one, [rows[i]])
        screen_file(one, one_out, as_of=AS_OF)
        with open(one_out, encoding="utf-8-sig", newline="") as handle:
            alone = next(csv.DictReader(handle))
        assert "经度" in alone["读取提示"] and "latitude" in alone["读取提示"]
        assert written["读取提示"][i] == alone["读取提示"], i
    assert written["读取提示"].nunique() == 1
    for i in range(0, len(places), 25):
        assert written["结论代码"][i] == _expected(*places[i], {}).verdict.value, i


def test_a_register_in_degrees_minutes_seconds_is_read_cell_by_cell(tmp_path):
    """度分秒 in the forms registers write them, on every row: each point where its degrees, minutes and seconds put
    it (computed here), with check_site's verdict; a cell with 75 minutes is refused, naming its row and column."""
    places = _places(300, seed=29)
    forms = [lambda d, m, s, h: f"{d}°{m}'{s}\"{h}", lambda d, m, s, h: f"{d}度{m}分{s}秒",
             lambda d, m, s, h: f"{'东经' if h == 'E' else '北纬'}{d}°{m}′{s}″", lambda d, m, s, h: f"{d}:{m}:{s}"]
    rows, expected = [], []
    for i, (lon, lat) in enumerate(places):
        cells = []
        for value, hemisphere in ((lon, "E"), (lat, "N")):
            d, rest = divmod(round(value * 36_000), 36_000)  # tenths of a second
            m, tenths = divmod(rest, 600)
            cells.append(forms[i % len(forms)](d, m, f"{tenths / 10:.1f}", hemisphere))
        rows.append([f"点{i}", *cells])
        expected.append(tuple(round(v * 36_000) / 36_000 for v in (lon, lat)))
    rows.append(["坏点", "87°75'00\"E", "44°10'00\"N"])
    source, out = tmp_path / "dms.csv", tmp_path / "out.parquet"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["名称", "经度", "纬度"], *rows])
    report = screen_file(source, out, as_of=AS_OF, chunk_rows=120)
    assert report.rows_failed == 1
    written = gpd.read_parquet(out)
    assert len(written) == len(rows)
    got = np.column_stack([written.geometry.x[:-1], written.geometry.y[:-1]])
    assert np.abs(got - np.array(expected)).max() < 1e-9
    notices = set(written["读取提示"][:-1])  # only the missing 建设性质's: nothing about the location
    assert len(notices) == 1 and "建设性质" in notices.pop()
    error = written["读取错误"].iloc[-1]
    assert "row 302" in error and "经度" in error and "60" in error, error
    for i in range(0, len(places), 20):
        assert written["结论代码"][i] == _expected(*expected[i], {}).verdict.value, i


def test_a_gauss_kruger_register_is_transformed_with_one_transformation_per_zone(tmp_path, monkeypatch):
    """A 测绘 register in Gauss-Krüger (东坐标/北坐标 with the zone in front, CGCS2000 3° zones 29 and 30): every row
    back at the longitude/latitude it was made from (pyproj's own inverse), and PROJ asked for the transformation
    of each zone at most once, not once per row (it takes milliseconds to make)."""
    places = [p for p in _places(400, seed=31) if 85.6 < p[0] < 91.4][:240]
    rows = []
    for i, (lon, lat) in enumerate(places):
        zone = int(lon / 3 + 0.5)
        to_gk = Transformer.from_crs("EPSG:4490", f"EPSG:{4488 + zone}", always_xy=True)  # CGCS2000 3° zone, prefixed
        east, north = to_gk.transform(lon, lat)
        rows.append([f"测绘{i}", f"{east:.3f}", f"{north:.3f}"])
    assert {int(float(r[1]) // 1_000_000) for r in rows} == {29, 30}
    source, out = tmp_path / "测绘.csv", tmp_path / "out.parquet"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["名称", "东坐标", "北坐标"], *rows])
    made = []
    real = Transformer.from_crs
    monkeypatch.setattr(Transformer, "from_crs", lambda *a, **k: made.append(a) or real(*a, **k))
    report = screen_file(source, out, as_of=AS_OF, chunk_rows=100)
    assert report.rows_failed == 0
    assert len([a for a in made if "4326" in str(a[1])]) <= 2, made
    written = gpd.read_parquet(out)
    got = np.column_stack([written.geometry.x, written.geometry.y])
    assert np.abs(got - np.array(places)).max() < 1e-7  # 1 mm rounding of the coordinates is about 1e-8°


def _screened_parquet(path):
    """``path`` screened to GeoParquet in chunks of 200 rows and read back, 读取提示/读取错误 blank where empty."""
    out = path.with_suffix(".parquet")
    screen_file(path, out, as_of=AS_OF, chunk_rows=200)
    frame = gpd.read_parquet(out)
    return frame.assign(读取提示=frame["读取提示"].fillna(""), 读取错误=frame["读取错误"].fillna(""))


def _reader_calls(monkeypatch) -> list:
    """A list that grows by one each time the batch sends a row through the whole site reader."""
    import gis.batch.inputs as inputs

    calls, real = [], inputs.build_sites
    monkeypatch.setattr(inputs, "build_sites", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_gauss_kruger_rows_read_as_arrays_equal_each_row_read_alone(tmp_path, monkeypatch):
    """A Gauss-Krüger register read as arrays: Y with the zone in front, Y without it and the zone in 带号, and
    a register whose X/Y are the surveyor's (X north). Each row is compared with the same row screened alone
    (geometry, 读取提示, 读取错误), including the rows the site reader warns about or refuses: just outside the
    zone's band, far outside it, 带号 contradicting the zone in front, outside the covered area, unreadable. The
    reader reads a few rows, not every row."""
    coverage = covered_area(open_store())
    places = [p for p in _places(500, seed=37) if 85.6 < p[0] < 91.4][:300]

    def gk(lon, lat, zone, prefixed=True):
        crs = f"+proj=tmerc +lat_0=0 +lon_0={3 * zone} +k=1 +x_0={zone if prefixed else ''}500000 +y_0=0 +ellps=GRS80"
        return Transformer.from_crs("EPSG:4490", crs, always_xy=True).transform(lon, lat)

    rows = []
    for i, (lon, lat) in enumerate(places):
        zone = int(lon / 3 + 0.5)
        east, north = gk(lon, lat, zone, prefixed=i % 2 == 0)
        rows.append([f"测绘{i}", f"{east:.3f}", f"{north:.3f}", "" if i % 2 == 0 else str(zone)])
    odd = {"just outside the band": (88.62, 44.1, 29), "far outside the band": (89.7, 44.1, 29),
           "outside the covered area": (86.0, 35.2, 29), "outside 2": (86.4, 35.0, 29), "outside 3": (87.3, 35.3, 29)}
    assert coverage.contains(np.array([88.62, 89.7]), np.array([44.1, 44.1])).all()
    assert not coverage.contains(np.array([86.0, 86.4, 87.3]), np.array([35.2, 35.0, 35.3])).any()
    for name, (lon, lat, zone) in odd.items():
        east, north = gk(lon, lat, zone)
        rows.append([name, f"{east:.3f}", f"{north:.3f}", ""])
    east, north = gk(*places[0], 29)
    rows += [["带号 contradicts", f"{east:.3f}", f"{north:.3f}", "30"], ["unreadable", "abc", f"{north:.3f}", "29"]]
    surveyor = [[name, north, east] for name, east, north, _ in rows[:60:2]]  # X north, Y east with the zone

    def screened(path, header, rows):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([header, *rows])
        return _screened_parquet(path)

    reads = _reader_calls(monkeypatch)
    for header, register in ((["名称", "东坐标", "北坐标", "带号"], rows), (["名称", "X", "Y"], surveyor)):
        reads.clear()
        whole = screened(tmp_path / "测绘.csv", header, register)
        assert len(reads) <= 12 + 2 * 4, len(reads)  # the odd rows, and a row per zone, prefix and chunk
        assert whole["结论代码"].ne("error").sum() >= len(register) - 6
        for i in [*range(0, len(register), 37), *range(len(register) - 7, len(register))]:
            alone = screened(tmp_path / f"row{i}.csv", header, [register[i]])
            for column in ("读取提示", "读取错误", "结论代码"):  # an error names its file and row
                said = alone[column][0].replace(f"row{i}.csv, row 2,", f"测绘.csv, row {i + 2},")
                assert whole[column][i] == said, (register[i][0], column)
            assert shapely.equals_exact(whole.geometry[i], alone.geometry[0], 0.0) or alone.geometry[0] is None, i
    got = np.column_stack([whole.geometry.x, whole.geometry.y])  # the surveyor's X and Y, each where it belongs
    assert np.abs(got - np.array(places[:60:2])).max() < 1e-7
    errors = dict(zip([r[0] for r in rows], screened(tmp_path / "again.csv", ["名称", "东坐标", "北坐标", "带号"],
                                                     rows)["读取错误"]))
    assert "zone 29" in errors["far outside the band"] and "第 29 带" in errors["outside 3"]
    assert errors["just outside the band"] == "" and errors["测绘1"] == ""
    assert "30" in errors["带号 contradicts"] and errors["unreadable"]


def test_plain_polygons_of_a_gis_file_equal_each_feature_read_alone(tmp_path, monkeypatch):
    """Patches of a lon/lat GeoPackage (CGCS2000, as monitoring data comes), most of them plain polygons that are
    taken as arrays: each feature is compared with the same feature screened alone (读取提示, 读取错误, 结论代码) and
    with the site reader's reading of it (the geometry, exactly), among them the ones the site reader has something to say of or refuses (a hole, two parts, a
    bow-tie, a repeated vertex, a polygon partly or wholly outside the covered area, one with no area). The
    reader reads a few features, not every one."""
    rng = np.random.default_rng(43)
    coverage = covered_area(open_store())
    frame = _patches_frame(150, seed=43)
    stars = []
    for x, y in _places(150, seed=44):  # irregular patches, half of them drawn clockwise
        angles = np.sort(rng.uniform(0, 2 * np.pi, 12))
        ring = np.column_stack([x + 0.003 * np.cos(angles), y + 0.002 * np.sin(angles)])
        stars.append(shapely.Polygon(ring[::-1] if len(stars) % 2 else ring))
    xs = np.arange(70, 80, 0.01)
    edge = xs[np.argmax(coverage.contains(xs, np.full(len(xs), 40.0)))]  # the covered area's western edge
    x, y = _places(1, seed=45)[0]
    odd = {"hole": shapely.box(x, y, x + 0.01, y + 0.01).difference(shapely.box(x + 0.004, y + 0.004, x + 0.006, y + 0.006)),
           "two parts": shapely.MultiPolygon([shapely.box(x, y, x + 0.003, y + 0.003), shapely.box(x + 0.01, y, x + 0.013, y + 0.003)]),
           "bow-tie": shapely.Polygon([(x, y), (x + 0.01, y + 0.01), (x + 0.01, y), (x, y + 0.01)]),
           "repeated vertex": shapely.Polygon([(x, y), (x + 0.01, y), (x + 0.01, y), (x + 0.01, y + 0.01), (x, y + 0.01)]),
           "partly outside": shapely.box(edge - 0.03, 39.99, edge + 0.03, 40.01),
           "outside": shapely.box(60.0, 10.0, 60.01, 10.01),
           "no area": shapely.Polygon([(x, y), (x + 0.01, y + 0.01), (x + 0.02, y + 0.02)])}
    patches = gpd.GeoDataFrame({"图斑编号": [*frame["图斑编号"], *[f"S{i}" for i in range(len(stars))], *odd]},
                               geometry=[*frame.geometry, *stars, *odd.values()], crs="EPSG:4326").to_crs("EPSG:4490")

    def screened(path, frame):
        frame.to_file(path)
        return _screened_parquet(path)

    reads = _reader_calls(monkeypatch)
    whole = screened(tmp_path / "图斑.gpkg", patches)
    # the odd ones, the first plain polygon of each chunk, and a few near the covered area's edge
    assert len(reads) <= len(odd) + 2 + len(patches) // 50, len(reads)
    notes = dict(zip(whole["图斑编号"], whole["读取提示"]))
    assert "part of the site lies outside" in notes["partly outside"] and "repaired" in notes["bow-tie"]
    assert whole["结论代码"].ne("error").sum() == len(patches) - 2  # outside and no area are refused
    for i in [*range(0, len(patches) - len(odd), 23), *range(len(patches) - len(odd), len(patches))]:
        alone = screened(tmp_path / f"one{i}.gpkg", patches.iloc[[i]])
        for column in ("读取提示", "读取错误", "结论代码"):  # an error names its file and feature
            said = alone[column][0].replace(f"one{i}.gpkg, row 1,", f"图斑.gpkg, row {i + 1},").replace(
                "(rows 1)", f"(rows {i + 1})").replace("（第 1 行）", f"（第 {i + 1} 行）")
            assert whole[column][i] == said, (whole["图斑编号"][i], column)
        if alone["读取错误"][0]:
            assert whole.geometry[i] is None
        else:  # the site reader's own reading of the feature
            site = read_site(tmp_path / f"one{i}.gpkg", coverage=covered_area(open_store()))
            assert shapely.equals_exact(whole.geometry[i], site.shape, 0.0), whole["图斑编号"][i]

    # the same patches as parcels of a register, in a WKT column (longitude/latitude)
    texts = shapely.to_wkt(patches.to_crs("EPSG:4326").geometry.values, rounding_precision=-1)
    register = tmp_path / "地块.csv"
    with open(register, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["项目名称", "WKT"], *zip(patches["图斑编号"], texts)])
    reads.clear()
    parcels = _screened_parquet(register)
    assert len(reads) <= len(odd) + 2 + len(patches) // 50, len(reads)
    for i, text in enumerate(texts):
        try:
            site = read_site(text, coverage=covered_area(open_store()))
        except EcozoneError:
            assert parcels.geometry[i] is None and parcels["读取错误"][i], i
            continue
        assert shapely.equals_exact(parcels.geometry[i], site.shape, 0.0), parcels["项目名称"][i]
        assert parcels["读取提示"][i].startswith("；".join(n["message"] for n in site.notices)), i


#: CGCS2000 / 3-degree Gauss-Kruger CM 87E: zone 29 (85.5°-88.5°E) without the zone in front of Y, which no
#: coordinate tells from the zone-numbered EPSG:4517 or from Xian 1980; only a CRS given does.
CM87 = "EPSG:4538"


def _in_cm87(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` places in zone 29 (lon/lat, CGCS2000) and their X/Y in ``CM87`` as pyproj gives them."""
    lonlat = np.array([p for p in _places(6 * n, seed) if 85.6 < p[0] < 88.4][:n])
    assert len(lonlat) == n
    return lonlat, np.column_stack(Transformer.from_crs("EPSG:4490", CM87, always_xy=True).transform(*lonlat.T))


def _verdict(site) -> str:
    return check_site(site, read_project({}, strict=False).project, as_of=AS_OF).verdict.value


def test_a_shapefile_without_its_prj_is_screened_in_the_crs_given(tmp_path):
    """Gauss-Krüger X/Y without the zone in front in a shapefile without its .prj: nothing infers its CRS, and with
    the CRS given every feature lands where pyproj puts it, with the verdict ``ecozone check --crs`` gives that
    feature read alone."""
    lonlat, xy = _in_cm87(300, seed=41)
    gpd.GeoDataFrame({"编号": [f"P{i}" for i in range(len(xy))]}, geometry=shapely.points(xy), crs=CM87).to_file(
        tmp_path / "sites.shp")
    (tmp_path / "sites.prj").unlink()  # lost on the way
    report = screen_file(tmp_path / "sites.shp", tmp_path / "out.parquet", as_of=AS_OF, crs=CM87)
    assert report.rows_failed == 0
    written = gpd.read_parquet(tmp_path / "out.parquet")
    got = np.column_stack([written.geometry.x, written.geometry.y])
    assert np.abs(got - lonlat).max() < 1e-7
    assert not written["读取提示"].fillna("").str.contains("没有声明坐标系").any()  # nothing was inferred
    for i in range(0, len(xy), 50):
        gpd.GeoDataFrame({"编号": [f"P{i}"]}, geometry=[shapely.Point(xy[i])], crs=CM87).to_file(
            tmp_path / f"one{i}.shp")
        (tmp_path / f"one{i}.prj").unlink()
        site = read_site(tmp_path / f"one{i}.shp", crs=CM87)
        assert shapely.equals_exact(written.geometry[i], site.shape, 0.0), i
        assert written["结论代码"][i] == _verdict(site), i


@pytest.mark.parametrize("declared, given", [("EPSG:4326", CM87), (CM87, "EPSG:4490")],
                         ids=["metres declared WGS 84", "degrees declared Gauss-Krüger"])
def test_a_gis_files_wrong_crs_is_overridden_by_the_crs_given_and_each_row_says_so(tmp_path, monkeypatch, declared,
                                                                                    given):
    """A GeoPackage declaring the wrong CRS: parcels in EPSG:4538 metres declared WGS 84 (read feature by feature),
    and points in lon/lat declared EPSG:4538 (read as arrays, the CRS given being CGCS2000 degrees). With the CRS
    given, each feature is where pyproj puts it and each row says that the file's CRS was overridden by which, as
    ``ecozone check --crs`` of that feature says."""
    lonlat, xy = _in_cm87(300, seed=43)
    to_lonlat = Transformer.from_crs(CM87, "EPSG:4490", always_xy=True)
    if given == CM87:
        geoms = shapely.box(xy[:, 0] - 100, xy[:, 1] - 80, xy[:, 0] + 100, xy[:, 1] + 80)
        expected = shapely.transform(geoms, lambda c: np.column_stack(to_lonlat.transform(*c.T)))
    else:
        geoms = expected = shapely.points(lonlat)
    frame = gpd.GeoDataFrame({"编号": [f"P{i}" for i in range(len(geoms))]}, geometry=geoms, crs=declared)
    frame.to_file(tmp_path / "sites.gpkg")
    reads = _reader_calls(monkeypatch)
    report = screen_file(tmp_path / "sites.gpkg", tmp_path / "out.parquet", as_of=AS_OF, crs=given)
    assert report.rows_failed == 0
    if given != CM87:
        assert len(reads) <= 1, len(reads)  # lon/lat points, as arrays
    written = gpd.read_parquet(tmp_path / "out.parquet")
    assert shapely.equals_exact(shapely.normalize(written.geometry.values), shapely.normalize(expected), 1e-7).all()
    said = f"已由给出的坐标系（{crs_label(given)}）取代"
    assert written["读取提示"].str.contains(said, regex=False).all(), written["读取提示"][0]
    assert written["读取提示"].str.contains(crs_label(declared), regex=False).all()
    frame.iloc[[7]].to_file(tmp_path / "one.gpkg")
    site = read_site(tmp_path / "one.gpkg", crs=given)
    overridden = [n for n in site.notices if n["code"] == "crs_overridden"]
    assert len(overridden) == 1 and overridden[0]["level"] == "info" and overridden[0]["message"] in \
        written["读取提示"][7]
    assert written["结论代码"][7] == _verdict(site)
    if given == CM87:  # remote-sensing patches take the CRS as well
        done = CliRunner().invoke(app, ["screen", str(tmp_path / "sites.gpkg"), "--patches", "-o",
                                        str(tmp_path / "patches.gpkg"), "--as-of", AS_OF, "--crs", given])
        assert done.exit_code == 0, done.output
        patches = pyogrio.read_dataframe(tmp_path / "patches.gpkg", layer="图斑")
        pieces = shapely.get_geometry(patches.geometry.values, 0)  # the layer's multi-polygons of one part
        assert shapely.equals_exact(shapely.normalize(pieces), shapely.normalize(expected), 1e-7).all()
        assert patches["读取提示"].str.contains(said, regex=False).all()


def test_a_register_of_xy_without_zone_is_read_as_arrays_in_the_crs_given(tmp_path, monkeypatch):
    """A 测绘 register of X/Y without 带号 and without the zone in front of Y: with the CRS given, every row (东坐标/
    北坐标, and a surveyor's X north / Y east, whose order the reader infers) is where pyproj puts it, read as
    arrays with a row per chunk and order through the site reader, and gets the verdict of ``ecozone check
    --crs`` of its cells."""
    lonlat, xy = _in_cm87(300, seed=47)
    cells = [(f"{e:.3f}", f"{n:.3f}") for e, n in xy]
    exact = np.column_stack(Transformer.from_crs(CM87, "EPSG:4326", always_xy=True).transform(
        *np.array(cells, dtype=float).T))
    reads = _reader_calls(monkeypatch)
    for header, rows in ((["名称", "东坐标", "北坐标"], cells), (["名称", "X", "Y"], [(n, e) for e, n in cells])):
        source = tmp_path / "测绘.csv"
        with open(source, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([header, *[[f"测绘{i}", *row] for i, row in enumerate(rows)]])
        reads.clear()
        report = screen_file(source, tmp_path / "out.parquet", as_of=AS_OF, crs=CM87, chunk_rows=100)
        assert report.rows_failed == 0 and len(reads) <= 3, len(reads)
        written = gpd.read_parquet(tmp_path / "out.parquet")
        got = np.column_stack([written.geometry.x, written.geometry.y])
        assert np.abs(got - exact).max() < 1e-9 and np.abs(got - lonlat).max() < 1e-7
        for i in range(0, len(cells), 60):
            site = read_site(f"{cells[i][0]} {cells[i][1]}", crs=CM87)
            assert np.abs(np.array(site.shape.coords[0]) - got[i]).max() < 1e-9
            assert written["结论代码"][i] == _verdict(site), i


def test_a_crs_unknown_or_contradicted_by_the_columns_is_refused_before_any_row(tmp_path):
    """An unknown CRS, a projected CRS for longitude/latitude columns, and a CRS beside a 带号 column are refused
    for the whole input, naming the field crs, the value and the fix; the core names no option, the command line
    names --crs, and screens a register of X/Y without 带号 with it."""
    places = _places(200, seed=53)
    lonlat = tmp_path / "经纬度.csv"
    lonlat.write_text("名称,经度,纬度\n" + "".join(f"甲{i},{x},{y}\n" for i, (x, y) in enumerate(places)),
                      encoding="utf-8")
    _, xy = _in_cm87(200, seed=53)
    rows = "".join(f"乙{i},{e:.3f},{n:.3f},29\n" for i, (e, n) in enumerate(xy))
    zoned, bare = tmp_path / "带号.csv", tmp_path / "测绘.csv"
    zoned.write_text("名称,东坐标,北坐标,带号\n" + rows, encoding="utf-8")
    bare.write_text("名称,东坐标,北坐标\n" + rows.replace(",29\n", "\n"), encoding="utf-8")
    for source, crs, said in ((lonlat, "EPSG:999999", "unknown CRS"), (lonlat, CM87, "is projected"),
                              (zoned, CM87, "带号")):
        with pytest.raises(CRSError) as raised:
            screen_file(source, tmp_path / "out.csv", as_of=AS_OF, crs=crs)
        error = raised.value
        assert error.field == "crs" and said in error.message and "«crs»" in error.fix, error
        assert "EPSG:999999" == error.value if crs == "EPSG:999999" else "EPSG:4538" in error.value
        assert "\u4e00" <= error.message[0] <= "\u9fff" and "\u4e00" <= error.fix[0] <= "\u9fff"
        assert "--crs" not in str(error) and not (tmp_path / "out.csv").exists()
    runner = CliRunner()
    refused = runner.invoke(app, ["screen", str(lonlat), "-o", str(tmp_path / "out.csv"), "--crs", "EPSG:999999"])
    assert refused.exit_code == 2 and "--crs" in refused.output and "EPSG:999999" in refused.output, refused.output
    assert "SRID" not in refused.output and not (tmp_path / "out.csv").exists()
    made = runner.invoke(app, ["screen", str(bare), "-o", str(tmp_path / "out.csv"), "--as-of", AS_OF, "--crs", CM87])
    assert made.exit_code == 0, made.output
    assert (pd.read_csv(tmp_path / "out.csv", encoding="utf-8-sig")["结论代码"] != "error").sum() == len(xy)


def test_a_register_is_read_alike_in_utf8_gbk_and_a_named_encoding(tmp_path):
    """The encoding of a CSV is told from its first lines when Arrow reads it (Arrow checks the rest); GBK is
    told apart, and a named encoding in which a newline byte can be part of a character (UTF-16) is read whole.
    Every way gives the rows the ``csv`` module reads from the text."""
    from gis.batch.inputs import open_input

    rows = _rows(3_000, seed=29)  # past the first 64 KB that tell the encoding
    text_path = tmp_path / "text.csv"
    with open(text_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows([[*row[:7], row[7].date().isoformat(), ""] for row in rows])
    text = text_path.read_text(encoding="utf-8")
    expected = list(csv.reader(text.splitlines()))[1:]
    for name, encoding, given in (("utf8.csv", "utf-8", None), ("gbk.csv", "gbk", None),
                                  ("utf16.csv", "utf-16", "utf-16")):
        (tmp_path / name).write_bytes(text.encode(encoding))
        source = open_input(tmp_path / name, encoding=given)
        assert source.header == HEADER, name
        cells = [[str(v) for v in row] for chunk in source.chunks for row in zip(*chunk.columns)]
        assert cells == expected, name


def test_permit_register_fields_every_row_screened_industry_recognised(tmp_path):
    source, out = tmp_path / "排污许可.csv", tmp_path / "out.csv"
    rows = _rows(120, seed=13)
    with open(source, "w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([*row[:7], row[7].date().isoformat(), ""])
    report = screen_file(source, out, as_of=AS_OF)
    assert report.rows_failed == 0
    with open(out, encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [r["许可证编号"] for r in read] == [r[1] for r in rows]
    for row, got in zip(rows, read):
        expected = _expected(row[5], row[6], {"industry": row[3]})
        assert got["结论代码"] == expected.verdict.value, row
        if row[3] == "某某新兴服务":
            assert "某某新兴服务" in got["读取提示"]
        else:
            assert "行业" not in (got["读取提示"] or "").split("假设")[0], got["读取提示"]


def test_a_size_of_several_numbers_is_not_read_as_its_first(tmp_path):
    """锅炉规模 2×35 (two boilers of 35 t/h, or 70 in all) and 10~20 are no one number: the fact is left out of the
    row with a notice naming the cell, as check_site checks the same site with no boiler size; 35 is read."""
    places = _places(3, seed=29, kinds=("built_up_area",))
    sizes = ["2×35", "10~20", "35"]
    source, out = tmp_path / "锅炉.csv", tmp_path / "out.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["单位名称", "经度", "纬度", "行业类别", "建设性质", "锅炉规模", "燃料"])
        for (lon, lat), size in zip(places, sizes):
            writer.writerow(["某热力公司", lon, lat, "热力", "新建", size, "煤"])
    screen_file(source, out, as_of=AS_OF)
    with open(out, encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    for (lon, lat), size, got in zip(places, sizes, read):
        facts = {"industry": "热力", "scope": "新建", "fuel": "煤", "boiler_tph": None if size != "35" else 35}
        expected = _expected(lon, lat, facts)
        assert got["结论代码"] == expected.verdict.value
        assert all(hit.rule_id in got["命中规则"] for hit in expected.rules.hits)
        assert (f"锅炉规模「{size}」" in (got["读取提示"] or "")) is (size != "35"), got["读取提示"]


def test_cli_batch_wide_facts_and_progress_to_the_end(tmp_path):
    source, out = tmp_path / "现有企业.csv", tmp_path / "out.csv"
    places = _places(30, seed=17)
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["单位名称", "经度", "纬度", "行业类别"])
        for i, (lon, lat) in enumerate(places):
            writer.writerow([f"企业{i}", lon, lat, "" if i % 2 else "水泥制造"])
    done = CliRunner().invoke(app, ["screen", str(source), "-o", str(out), "--as-of", AS_OF, "--existing",
                                    "--industry", "火力发电", "--fuel", "coal"])
    assert done.exit_code == 0, done.output
    with open(out, encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    defaults = {"scope": "existing", "industry": "火力发电", "fuel": "coal"}
    for i, ((lon, lat), row) in enumerate(zip(places, read)):
        facts = {"industry": "水泥制造"} if i % 2 == 0 else {}
        assert row["结论代码"] == _expected(lon, lat, facts, defaults=defaults).verdict.value
        assert "现有" in row["读取提示"]
        assert ("行业未填写" in row["读取提示"]) == bool(i % 2)


def test_cli_batch_wide_numbers_are_read_as_a_check_reads_them(tmp_path):
    """--coal-t 1.2万吨 for every row that lacks it is 1.2 × 10,000 t/a, as --coal-t 12000 (the same rows, the same
    筛查汇总); --boiler-tph 二十 is refused before any row, naming 锅炉规模 and the option, and nothing is written."""
    source = tmp_path / "锅炉房.csv"
    places = _places(8, seed=29)
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["单位名称", "经度", "纬度", "行业类别"])
        writer.writerows([f"锅炉房{i}", lon, lat, "热力"] for i, (lon, lat) in enumerate(places))
    screened = {}
    for given in ("1.2万吨", "12000"):
        out = tmp_path / f"{given}.xlsx"
        done = CliRunner().invoke(app, ["screen", str(source), "-o", str(out), "--as-of", AS_OF, "--coal-t", given])
        assert done.exit_code == 0, done.output
        book = load_workbook(out)
        screened[given] = {name: [row for row in book[name].iter_rows(values_only=True)
                                  if not str(row[0]).startswith("用时")]  # the time it took
                           for name in book.sheetnames}
    assert screened["1.2万吨"] == screened["12000"]
    for (lon, lat), row in zip(places, pd.read_excel(tmp_path / "12000.xlsx").to_dict("records")):
        assert row["结论代码"] == _expected(lon, lat, {"industry": "热力"},
                                         defaults={"coal_t": 1.2 * 10_000}).verdict.value
    refused = CliRunner().invoke(app, ["screen", str(source), "-o", str(tmp_path / "bad.csv"), "--boiler-tph", "二十"])
    assert refused.exit_code == 2, refused.output
    assert "锅炉规模「二十」" in refused.output and "--boiler-tph 20" in refused.output, refused.output
    assert not (tmp_path / "bad.csv").exists()


def test_progress_counts_through_reading_screening_and_writing(tmp_path):
    source, out = tmp_path / "s.csv", tmp_path / "out.xlsx"
    places = _places(1200, seed=3)
    with open(source, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["名称", "经度", "纬度"], *([f"p{i}", x, y] for i, (x, y) in enumerate(places))])
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total, out.exists()))

    screen_file(source, out, as_of=AS_OF, chunk_rows=500, progress=progress)
    assert seen[0][0] == 0 and seen[0][1] == 1200  # before the first row is screened, the count known
    dones = [d for d, _, _ in seen]
    assert dones == sorted(dones) and len(set(dones)) >= 4
    assert seen[-1] == (1200, 1200, True)  # the last call comes once the output is written
    assert all(not written for *_, written in seen[:-1])


def test_formula_cells_keep_their_results_in_the_edited_workbook(tmp_path):
    """A register saved by a spreadsheet program holds each formula with its result (XlsxWriter writes them so,
    as Excel and WPS save them). The edited workbook keeps both: a reader of results (pandas, openpyxl
    ``data_only``, ecozone screening it again) finds the longitudes computed from 度 and 分 and the text an IF
    gives, on the data sheet and the others, and the officer's formulas are still there."""
    import xlsxwriter

    source, out, again = tmp_path / "台账.xlsx", tmp_path / "结果.xlsx", tmp_path / "再筛查.csv"
    book = xlsxwriter.Workbook(source)
    sheet = book.add_worksheet("台账")
    sheet.write_row(0, 0, ["项目名称", "度", "分", "经度", "纬度", "区位"])
    minutes = np.random.default_rng(5).uniform(20, 50, 40)
    for row, minute in enumerate(minutes, start=1):
        sheet.write_row(row, 0, [f"项目{row}", 87, round(float(minute), 4)])
        sheet.write_formula(row, 3, f"=B{row + 1}+C{row + 1}/60", None, 87 + round(float(minute), 4) / 60)
        sheet.write(row, 4, 44.0)
        sheet.write_formula(row, 5, f'=IF(C{row + 1}>35,"东段","西段")', None,
                            "东段" if minute > 35 else "西段")
    notes = book.add_worksheet("说明")
    notes.write(0, 0, "项目数")
    notes.write_formula(0, 1, "=COUNTA(台账!A2:A41)", None, 40)
    book.close()

    screen_file(source, out, as_of=AS_OF)
    results, formulas = load_workbook(source, data_only=True), load_workbook(source)
    kept_results, kept_formulas = load_workbook(out, data_only=True), load_workbook(out)
    for name in ("台账", "说明"):
        width = results[name].max_column
        assert [r[:width] for r in kept_results[name].iter_rows(values_only=True)] == \
            list(results[name].iter_rows(values_only=True))
        assert [r[:width] for r in kept_formulas[name].iter_rows(values_only=True)] == \
            list(formulas[name].iter_rows(values_only=True))
    assert kept_formulas["台账"]["D2"].value == "=B2+C2/60" and kept_results["台账"]["D2"].value > 87.3
    # screened again from the edited workbook, each row is where its computed longitude puts it
    report = screen_file(out, again, as_of=AS_OF)
    assert report.rows_failed == 0
    with open(again, encoding="utf-8-sig", newline="") as handle:
        screened = list(csv.DictReader(handle))
    assert [float(r["经度"]) for r in screened] == [r[3] for r in results["台账"].iter_rows(min_row=2, values_only=True)]


@pytest.mark.parametrize("shared", [False, True])
def test_formulas_without_results_are_named_on_every_row_they_locate(tmp_path, shared):
    """A register written by a script: 经度 =B·1 on most rows, without results (openpyxl saves none; Excel would
    compute them on opening). Every such row keeps its own error naming the sheet, its cell and its formula
    (openpyxl reading the formulas the oracle; of a shared formula filled down, as it reads in that cell) and
    the fix, read in chunks. Rows with typed longitudes are screened as ever, a blank one is still empty."""
    from tests.sites_support import share_formulas

    places = _places(40, seed=59)
    typed, blank = range(0, 5), 5
    source = tmp_path / "台账.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.title = "台账"
    sheet.append(["单位名称", "经度基准", "经度", "纬度"])
    for i, (lon, lat) in enumerate(places):
        cell = lon if i in typed else None if i == blank else f"=B{i + 2}*1"
        sheet.append([f"公司{i}", lon, cell, lat])
    book.save(source)
    if shared:
        share_formulas(source, "C")
    formulas = load_workbook(source)["台账"]
    report = screen_file(source, tmp_path / "out.csv", as_of=AS_OF, chunk_rows=7)
    assert report.rows_in == report.rows_out == 40 and report.rows_failed == 35
    read = pd.read_csv(tmp_path / "out.csv", dtype=str)
    for i, (lon, lat) in enumerate(places):
        error = read["读取错误"][i]
        if i in typed:
            assert read["结论代码"][i] == _expected(lon, lat, {}).verdict.value
        elif i == blank:
            assert "坐标为空" in error and "公式" not in error, error
        else:
            cell = f"C{i + 2}"
            assert formulas[cell].value == f"=B{i + 2}*1"
            assert error.startswith(f"工作表「台账」{cell} 单元格"), error
            assert f"cell {cell} of sheet '台账'" in error and formulas[cell].value in error
            assert "没有保存公式的计算结果" in error and "Excel 或 WPS" in error and "paste them as values" in error


def test_formulas_with_results_are_read_as_their_values(tmp_path):
    """The control: the same register saved with each formula's result (XlsxWriter told them, as Excel and WPS
    save) is screened as the values, every row."""
    import xlsxwriter

    places = _places(12, seed=59)
    source = tmp_path / "台账.xlsx"
    book = xlsxwriter.Workbook(source)
    sheet = book.add_worksheet("台账")
    sheet.write_row(0, 0, ["单位名称", "经度基准", "经度", "纬度"])
    for i, (lon, lat) in enumerate(places):
        sheet.write_row(i + 1, 0, [f"公司{i}", lon])
        sheet.write_formula(i + 1, 2, f"=B{i + 2}*1", None, lon)
        sheet.write(i + 1, 3, lat)
    book.close()
    report = screen_file(source, tmp_path / "out.csv", as_of=AS_OF, chunk_rows=5)
    assert report.rows_failed == 0
    read = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert read["结论代码"].tolist() == [_expected(lon, lat, {}).verdict.value for lon, lat in places]


def test_an_officers_workbook_has_its_rows_counted_before_they_are_read(tmp_path):
    """The total an .xlsx register declares is the first count (time left from the start); the report's time
    is the whole screening, the workbook saved."""
    source, out = tmp_path / "登记表.xlsx", tmp_path / "out.xlsx"
    rows = _rows(60, seed=31)
    _register(source, rows)
    seen = []
    started = dt.datetime.now()
    report = screen_file(source, out, as_of=AS_OF, chunk_rows=20,
                         progress=lambda done, total: seen.append((done, total, dt.datetime.now())))
    assert seen[0][:2] == (0, len(rows)) and seen[-1][:2] == (len(rows), len(rows))
    assert report.seconds >= (seen[-1][2] - started).total_seconds() - 0.05


def test_date_cells_of_a_workbook_are_days_in_the_text_outputs(tmp_path):
    """有效期限 formatted as a date: the day in the CSV and in the GeoParquet's attribute, as openpyxl reads the
    cell, with no time of day added."""
    source = tmp_path / "登记表.xlsx"
    rows = _rows(8, seed=37)
    _register(source, rows)
    screen_file(source, [tmp_path / "out.csv", tmp_path / "out.parquet"], as_of=AS_OF)
    days = [row[7].date().isoformat() for row in rows]
    assert pd.read_csv(tmp_path / "out.csv", dtype=str)["有效期限"].tolist() == days
    assert gpd.read_parquet(tmp_path / "out.parquet")["有效期限"].tolist() == days


def test_columns_without_a_header_right_of_the_named_ones_are_kept_in_every_output(tmp_path):
    """A contact and a note typed right of the last header cell: every output has them, named by their letter,
    with the cells as openpyxl reads them."""
    source = tmp_path / "登记表.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.append(["序号", "单位名称", "经度", "纬度"])
    sheet.append([1, "昌吉印染", 87.25, 43.97, "联系人 张三", "重点排污单位"])
    sheet.append([2, "石河子热电", 86.05, 44.30, "联系人 李四", None])
    book.save(source)
    outputs = [tmp_path / "out.csv", tmp_path / "out.parquet", tmp_path / "out.gpkg", tmp_path / "out.xlsx"]
    screen_file(source, outputs, as_of=AS_OF)
    given = [[row[4], row[5]] for row in load_workbook(source).active.iter_rows(min_row=2, values_only=True)]
    for frame in (pd.read_csv(outputs[0], dtype=str), gpd.read_parquet(outputs[1]), pyogrio.read_dataframe(outputs[2])):
        frame = frame.astype(object).where(frame.notna(), None)
        assert frame[["列E", "列F"]].values.tolist() == given
    kept = load_workbook(outputs[3])["Sheet"]
    assert [[kept.cell(r, 5).value, kept.cell(r, 6).value] for r in (2, 3)] == given


def test_a_register_in_utf16_is_read_with_the_encoding_given(tmp_path):
    """Neither UTF-8 nor GBK: refused naming --encoding; with it, the rows are those of the same register in
    UTF-8."""
    places = _places(5, seed=41)
    text = "名称,经度,纬度\n" + "".join(f"甲{i},{x},{y}\n" for i, (x, y) in enumerate(places))
    (tmp_path / "u16.csv").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    (tmp_path / "u8.csv").write_text(text, encoding="utf-8")
    runner = CliRunner()
    refused = runner.invoke(app, ["screen", str(tmp_path / "u16.csv"), "-o", str(tmp_path / "x.csv")])
    assert refused.exit_code == 2 and "--encoding" in refused.output, refused.output
    for name, extra in (("u16", ["--encoding", "utf-16"]), ("u8", [])):
        made = runner.invoke(app, ["screen", str(tmp_path / f"{name}.csv"), "-o", str(tmp_path / f"{name}.out.csv"),
                                   "--as-of", AS_OF, *extra])
        assert made.exit_code == 0, made.output
    assert (tmp_path / "u16.out.csv").read_bytes() == (tmp_path / "u8.out.csv").read_bytes()


def test_a_row_refused_names_what_a_register_gives_not_an_option(tmp_path):
    """A Gauss-Krüger Y without its zone in a register with no 带号 column: the row's error asks for the zone in
    front of Y or a 带号 column, as a register gives it, not for an option of a single check."""
    source = tmp_path / "gk.csv"
    source.write_text("名称,X,Y\n甲,4851775.12,548285.34\n", encoding="utf-8")
    screen_file(source, tmp_path / "out.csv", as_of=AS_OF)
    error = pd.read_csv(tmp_path / "out.csv", dtype=str)["读取错误"][0]
    assert "带号列" in error and "gk_zone" not in error and "--gk-zone" not in error, error


def test_headers_typed_over_two_lines_are_recognised_and_mapped(tmp_path):
    """Alt+Enter in a header cell: 生产经营场所↵中心经度 is the longitude; a header no word names is mapped by
    its text with or without the line break; each row's verdict is check_site's."""
    places = _places(4, seed=43)
    for header, columns in ((["单位名称", "生产经营场所\n中心经度", "生产经营场所\n中心纬度"], {}),
                            (["单位名称", "位置\nA", "位置\nB"], {"lon": "位置A", "lat": "位置 B"})):
        source = tmp_path / "登记表.xlsx"
        book = Workbook()
        book.active.append(header)
        for i, (x, y) in enumerate(places):
            book.active.append([f"公司{i}", x, y])
        book.save(source)
        report = screen_file(source, tmp_path / "out.csv", as_of=AS_OF, columns=columns or None)
        assert report.rows_failed == 0
        got = pd.read_csv(tmp_path / "out.csv", dtype=str)["结论代码"].tolist()
        assert got == [_expected(x, y, {}).verdict.value for x, y in places]


def test_merged_cells_are_read_as_the_officer_sees_them(tmp_path):
    """Two header rows, 单位名称 and 行业类别 merged down both and 坐标 over 经度/纬度; an enterprise's name, industry
    and coordinates merged down its three 排放口 rows. Every row is read with the merged values (openpyxl's own
    merged ranges the oracle) and gets check_site's verdict for them."""
    places = _places(2, seed=47)
    source = tmp_path / "排放口.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.append(["单位名称", "行业类别", "坐标", None, "排放口编号"])
    sheet.append([None, None, "经度", "纬度", None])
    sheet.append(["昌吉某热电", "4411 火力发电", *places[0], "DA001"])
    sheet.append([None, None, None, None, "DA002"])
    sheet.append([None, None, None, None, "DW001"])
    sheet.append(["某印染厂", "1713 棉印染精加工", *places[1], "DW001"])
    for merged in ("A1:A2", "B1:B2", "C1:D1", "E1:E2", "A3:A5", "B3:B5", "C3:C5", "D3:D5"):
        sheet.merge_cells(merged)
    book.save(source)
    report = screen_file(source, tmp_path / "out.csv", as_of=AS_OF)
    assert report.rows_in == 4 and report.rows_failed == 0
    read = pd.read_csv(tmp_path / "out.csv", dtype=str)
    full = load_workbook(source).active  # not read-only: openpyxl knows the merged ranges
    first = {(r, c): full.cell(range_.min_row, range_.min_col).value for range_ in full.merged_cells.ranges
             for r in range(range_.min_row, range_.max_row + 1) for c in range(range_.min_col, range_.max_col + 1)}
    for i, row in enumerate(range(3, 7)):
        name, industry, lon, lat = (first.get((row, c), full.cell(row, c).value) for c in range(1, 5))
        assert read["单位名称"][i] == name and read["行业类别"][i] == industry
        expected = _expected(lon, lat, {"industry": industry})
        assert read["结论代码"][i] == expected.verdict.value


def test_a_row_of_units_under_the_header_is_read_with_it(tmp_path):
    """（度） （t/h） （万吨） under 经度, 锅炉规模, 新增燃煤量: not a permit that fails to read, but the units of the
    header, read as the same register with the units written into its names is; the workbook keeps the row."""
    lon, lat = 87.35, 44.05  # 昌吉市, in the “乌-昌-石” region: new coal of a non-power project offset 1.3 times
    header = ["单位名称", "经度", "纬度", "行业类别", "建设性质", "锅炉规模", "新增燃煤量"]
    units = [None, "（度）", "（度）", None, None, "（t/h）", "（万吨）"]
    rows = [[f"企业{i}", lon + 0.002 * i, lat, "水泥制造", "新建", 10 + 5 * i, 0.5 * (i + 1)] for i in range(4)]
    for name, head in (("单位行", [header, units]), ("单位在表头", [[f"{h}{u or ''}" for h, u in zip(header, units)]])):
        book = Workbook()
        for row in [*head, *rows]:
            book.active.append(row)
        book.save(tmp_path / f"{name}.xlsx")
        report = screen_file(tmp_path / f"{name}.xlsx", [tmp_path / f"{name}.csv", tmp_path / f"{name}.out.xlsx"],
                             as_of=AS_OF)
        assert report.rows_in == report.rows_out == 4 and report.rows_failed == 0
    under, within = (pd.read_csv(tmp_path / f"{name}.csv", dtype=str) for name in ("单位行", "单位在表头"))
    assert under.columns[:7].tolist() == ["单位名称", "经度", "纬度", "行业类别", "建设性质", "锅炉规模（t/h）",
                                          "新增燃煤量（万吨）"]
    pd.testing.assert_frame_equal(under, within.set_axis(under.columns, axis=1))
    for i, quantities in enumerate(under["计算量"]):  # read in 万吨: 0.5 万吨 is 5,000 t, to offset 6,500 t/a
        assert f"= {1.3 * 5000 * (i + 1):,.2f} t/a" in quantities, quantities
    edited = load_workbook(tmp_path / "单位行.out.xlsx").worksheets[0]
    assert [c.value for c in edited[2]][:len(units)] == units and edited.cell(1, 8).value == "结论"
    assert edited.freeze_panes == "A3" and edited.auto_filter.ref.startswith("A2:")
    assert [str(f.sqref) for f in edited.conditional_formatting] == ["H3:H6"]


def test_a_cell_that_writes_its_own_unit_is_not_multiplied_by_the_header_unit(tmp_path):
    """Under 新增燃煤量（万吨）, 「1.2」 is 1.2 万吨, and 「1.2万吨」 and 「12000吨」 are 12,000 t too: the unit a cell writes
    is its own, never the header's applied again (which made them 120,000,000 t). Each row's 计算量 is that of a
    single check given 12,000 t; amounts are written out in full, never as 1.2e+08."""
    lon, lat = 87.35, 44.05  # 昌吉市, in the “乌-昌-石” region: new coal of a non-power project offset 1.3 times
    source = tmp_path / "万吨.xlsx"
    book = Workbook()
    book.active.append(["单位名称", "经度", "纬度", "行业类别", "新增燃煤量（万吨）"])
    for i, amount in enumerate([1.2, "1.2", "1.2万吨", "12000吨", "12,000 t"]):
        book.active.append([f"企业{i}", lon, lat, "水泥制造", amount])
    book.save(source)
    screen_file(source, tmp_path / "out.csv", as_of=AS_OF)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    expected = _expected(lon, lat, {"industry": "水泥制造", "coal_t": 1.2 * 10_000})
    offset = [q for hit in expected.rules.hits for q in hit.quantities if q.value is not None]
    assert offset and offset[0].value == pytest.approx(1.3 * 12_000)
    assert [f"= {1.3 * 12_000:,.2f} t/a" in quantities for quantities in out["计算量"]] == [True] * 5, out["计算量"]
    assert all("e+" not in said and "12,000 吨/年" in said for said in out["读取提示"]), out["读取提示"]


@pytest.mark.parametrize("read_bytes", [1 << 20, 1000, 777])
def test_merged_ranges_of_a_sheet_read_in_parts_are_each_found_once(tmp_path, monkeypatch, read_bytes):
    """3,000 merged ranges, their XML read in parts whose edges fall inside the ranges' elements: the same
    ranges as openpyxl loading the sheet whole."""
    import gis.sites.tables
    from gis.sites.tables import merged_ranges

    monkeypatch.setattr(gis.sites.tables, "_MERGE_READ_BYTES", read_bytes)
    source = tmp_path / "many.xlsx"
    book = Workbook()
    sheet = book.active
    for i in range(1, 3_001):
        sheet.append([f"甲{i}", None, i])
        sheet.merge_cells(f"A{i}:B{i}")
    book.save(source)
    expected = sorted(r.bounds for r in load_workbook(source).active.merged_cells.ranges)
    read_only = load_workbook(source, read_only=True)
    try:
        assert sorted(merged_ranges(read_only.active)) == expected
    finally:
        read_only.close()


def test_an_industry_code_column_alone_names_the_industry(tmp_path):
    """国民经济行业代码 0610 and 4411 with no 行业类别: each row gets the verdict and rules of the same row whose
    行业类别 gives the standard's name instead (烟煤和无烟煤开采洗选, 火力发电)."""
    places = _places(6, seed=53)
    codes = ["0610", "4411", "0610", "4411", "0610", "4411"]
    names = {"0610": "烟煤和无烟煤开采洗选", "4411": "火力发电"}
    for header, cell in (("国民经济行业代码", lambda code: code), ("行业类别", lambda code: names[code])):
        with open(tmp_path / f"{header}.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["单位名称", "经度", "纬度", header, "建设性质"])
            writer.writerows([f"企业{i}", x, y, cell(code), "新建"] for i, ((x, y), code) in enumerate(zip(places, codes)))
        screen_file(tmp_path / f"{header}.csv", tmp_path / f"{header}.out.csv", as_of=AS_OF)
    by_code = pd.read_csv(tmp_path / "国民经济行业代码.out.csv", dtype=str)
    by_name = pd.read_csv(tmp_path / "行业类别.out.csv", dtype=str)
    assert by_code["结论"].tolist() == by_name["结论"].tolist()
    assert by_code["命中规则"].tolist() == by_name["命中规则"].tolist()
    assert not by_code["需核查原因"].fillna("").str.contains("缺少项目信息：行业").any()


def test_the_terminal_is_told_the_layers_are_prepared_before_rows_are_counted(tmp_path):
    """On a terminal the bar says what the seconds before the first count are for (the layers prepared),
    then counts the rows, then says it is done."""
    source = tmp_path / "s.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["名称", "经度", "纬度"], *([f"p{i}", x, y] for i, (x, y) in
                                                            enumerate(_places(20, seed=5)))])
    main, terminal = pty.openpty()
    run = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "screen", str(source), "-o",
                            str(tmp_path / "out.csv"), "--as-of", AS_OF], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            part = os.read(main, 65536)
        except OSError:  # the terminal's other end closed: the command ended
            break
        if not part:
            break
        shown += part
    os.close(main)
    assert run.wait(timeout=300) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))
    labels = [m.group(0) for m in re.finditer("准备图层 / preparing the layers|筛查 / screening|完成 / done", text)]
    assert labels[0] == "准备图层 / preparing the layers", text[:300]
    assert "筛查 / screening" in labels and labels[-1] == "完成 / done", labels
    assert labels.index("筛查 / screening") > max(i for i, label in enumerate(labels) if label.startswith("准备"))
    assert "20/20" in text


@pytest.mark.postgis
def test_patches_cut_by_zones_with_areas_as_postgis_measures_them(tmp_path, postgres_db):
    import psycopg

    frame = _patches_frame(60, seed=31, kinds=("ecological_redline", "nature_reserve"))
    zones = open_store().snapshot(AS_OF).zones
    admin = zones[zones.kind == "admin_division"]
    # a patch outside 石河子市 along its edge: it touches the 兵团 city but lies in the land around it
    city = admin[admin["name"] == "石河子市"].geometry.iloc[0]
    edge = shapely.get_parts(city)[0].exterior.interpolate(0.37, normalized=True)
    outside = max(shapely.get_parts(shapely.box(edge.x - 0.004, edge.y - 0.003, edge.x + 0.004, edge.y + 0.003)
                                    .difference(city)), key=lambda g: g.area)
    assert outside.intersects(city) and shapely.area(shapely.intersection(outside, city)) == 0
    frame.loc[len(frame)] = ["TB-edge", outside]
    frame.loc[len(frame)] = ["TB-far", shapely.box(60.0, 10.0, 60.01, 10.01)]  # far outside: read, not cut
    source, out_gpkg, out_xlsx = tmp_path / "patches.gpkg", tmp_path / "out.gpkg", tmp_path / "移交清单.xlsx"
    frame.to_crs("EPSG:4490").to_file(source)  # CGCS2000 geographic, as monitoring data comes
    seen = []
    summary = CliRunner().invoke(app, ["screen", str(source), "--patches", "-o", str(out_gpkg), "-o", str(out_xlsx),
                                       "--as-of", AS_OF])
    assert summary.exit_code == 0, summary.output
    from gis.batch.patches import screen_patches

    again = screen_patches(source, tmp_path / "again.gpkg", as_of=AS_OF, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 62) and seen[-1] == (62, 62) and again.patches == 62
    assert sorted(pyogrio.list_layers(out_gpkg)[:, 0]) == ["图斑", "图斑区域相交"]
    patches = pyogrio.read_dataframe(out_gpkg, layer="图斑")
    pieces = pyogrio.read_dataframe(out_gpkg, layer="图斑区域相交")
    assert list(patches["图斑编号"]) == list(frame["图斑编号"])
    assert len(pieces) > 30
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("CREATE TABLE p (code text, geom geometry(Geometry, 4326))")
        conn.execute("CREATE TABLE z (name text, kind text, geom geometry(Geometry, 4326))")
        with conn.cursor().copy("COPY p (code, geom) FROM STDIN") as copy:
            for code, geom in zip(frame["图斑编号"], frame.geometry):
                copy.write_row((code, "SRID=4326;" + shapely.to_wkt(geom, rounding_precision=-1)))
        with conn.cursor().copy("COPY z (name, kind, geom) FROM STDIN") as copy:
            for name, kind, geom in zip(zones["name"], zones["kind"], zones.geometry):
                if kind in ("ecological_redline", "nature_reserve", "natural_park", "drinking_water_zone"):
                    copy.write_row((name, kind, "SRID=4326;" + shapely.to_wkt(geom, rounding_precision=-1)))
        rows = conn.execute(
            "SELECT p.code, z.name, ST_Area(ST_Intersection(p.geom, z.geom)::geography), "
            "ST_Area(p.geom::geography) FROM p JOIN z ON ST_Intersects(p.geom, z.geom) "
            "WHERE ST_Area(ST_Intersection(p.geom, z.geom)::geography) > 0").fetchall()
        conn.execute("CREATE TABLE a (name text, subtype text, geom geometry(Geometry, 4326))")
        with conn.cursor().copy("COPY a (name, subtype, geom) FROM STDIN") as copy:
            for name, subtype, geom in zip(admin["name"], admin["subtype"], admin.geometry):
                copy.write_row((name, subtype, "SRID=4326;" + shapely.to_wkt(geom, rounding_precision=-1)))
        # where each patch lies: the county and the division sharing the most of it (a 兵团 city is both for its land)
        shares = "SELECT DISTINCT ON (p.code) p.code, a.name, a.subtype FROM p JOIN a ON ST_Intersects(p.geom, a.geom) " \
                 "WHERE ST_Area(ST_Intersection(p.geom, a.geom)) > 0 AND a.subtype {} " \
                 "ORDER BY p.code, ST_Area(ST_Intersection(p.geom, a.geom)) DESC"
        county = {code: name for code, name, _ in conn.execute(shares.format("IN ('county', 'bingtuan_city')"))}
        division = {code: (name, subtype) for code, name, subtype in
                    conn.execute(shares.format("IN ('prefecture', 'bingtuan_city')")).fetchall()}
        redline = dict(conn.execute(
            "SELECT p.code, ST_Area(ST_Union(ST_Intersection(p.geom, z.geom))::geography) FROM p JOIN z "
            "ON ST_Intersects(p.geom, z.geom) WHERE z.kind = 'ecological_redline' GROUP BY p.code").fetchall())
    expected = {(code, name): (area, whole) for code, name, area, whole in rows}
    got = {(code, name): area for code, name, area in zip(pieces["图斑编号"], pieces["区域名称"], pieces["相交面积m²"])}
    assert set(got) == set(expected)
    for key, (area, whole) in expected.items():
        assert got[key] == pytest.approx(area, rel=1e-6, abs=0.05), key
        row = pieces[(pieces["图斑编号"] == key[0]) & (pieces["区域名称"] == key[1])].iloc[0]
        assert row["占图斑比例%"] == pytest.approx(100 * area / whole, abs=1e-3)
    for code, inside in zip(patches["图斑编号"][:-1], patches["红线内面积m²"][:-1]):
        assert inside == pytest.approx(redline.get(code, 0.0), rel=1e-6, abs=0.05), code
    assert patches.loc[patches["图斑编号"] == "TB-far", "读取错误"].notna().all()
    for code, got_division, got_county in zip(patches["图斑编号"], patches["所在地州市/师"], patches["所在县市区"]):
        name, subtype = division.get(code, (None, None))
        assert (got_division if isinstance(got_division, str) else None) == name, code
        assert (got_county if isinstance(got_county, str) else None) == county.get(code), code
    assert division["TB-edge"][0] != "石河子市" and len(division) >= 60
    # each patch's pieces largest first; as large (inside a red line and a reserve at once), the red line first
    from gis.batch.spatial import PROTECTED_KINDS
    from gis.kinds import KINDS

    rank = {KINDS[kind].label_zh: i for i, kind in enumerate(PROTECTED_KINDS)}
    ties = 0
    for _, group in pieces.groupby("图斑编号", sort=False):
        order = list(zip(-group["相交面积m²"], group["区域类型"].map(rank)))
        assert order == sorted(order), group
        ties += len(order) - len({area for area, _ in order})
    assert ties >= 1
    # the handover list: one row per patch per zone, Chinese headers, grouped by division and county
    sheet = load_workbook(out_xlsx)["移交清单"]
    values = list(sheet.iter_rows(values_only=True))
    header, body = values[0], values[1:]
    assert header[:3] == ("所在地州市/师", "所在县市区", "图斑序号") and "相交面积m²" in header
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in header if name != "图斑编号")
    assert len(body) == len(expected)
    groups = [(r[0] or "", r[1] or "") for r in body]
    assert all(groups.index(g) == i or groups[i - 1] == g for i, g in enumerate(groups))  # each group together
    assert all(r[0] and r[1] for r in body)


def test_patches_that_cannot_be_measured_are_listed_and_never_read_as_clear(tmp_path, monkeypatch):
    """哈密, where the red-line and reserve layers are not complete: its totals are unknown, not 0 (the row screen
    says 部分未核查 there too). An empty polygon, a point and a line are not patches: listed with the reason in the
    移交清单, not dropped, not crashing the batch. An input column named as an added one (所在县市区) keeps its
    values as 所在县市区（原）. A failure while writing leaves the earlier outputs as they were."""
    from gis.batch.patches import screen_patches
    from gis.check import check_site

    hami, core = shapely.box(93.50, 42.80, 93.51, 42.81), shapely.box(87.53, 44.10, 87.54, 44.11)
    frame = gpd.GeoDataFrame({"图斑编号": ["H1", "K1", "E1", "P1", "L1"], "所在县市区": ["伊州区"] * 5},
                             geometry=[hami, core, shapely.Polygon(), shapely.Point(87.535, 44.105),
                                       shapely.LineString([(87.531, 44.101), (87.539, 44.109)])], crs="EPSG:4490")
    source = tmp_path / "图斑.gpkg"
    frame.to_file(source)
    summary = screen_patches(source, [tmp_path / "out.gpkg", tmp_path / "移交清单.xlsx"], as_of=AS_OF)
    assert summary.patches == 5 and summary.patches_failed == 3
    patches = pyogrio.read_dataframe(tmp_path / "out.gpkg", layer="图斑").set_index("图斑编号")
    assert patches["所在县市区（原）"].tolist() == ["伊州区"] * 5
    uncovered = check_site(read_site(f"{hami.centroid.x},{hami.centroid.y}"), {}, as_of=AS_OF).overlap
    assert uncovered.layer("ecological_redline").status != "checked"  # the oracle: the check does not cover it
    assert patches.loc["H1", ["红线内面积m²", "自然保护区内面积m²"]].isna().all() and "未核查" in patches.loc["H1", "未核查"]
    assert patches.loc["K1", "自然保护区内面积m²"] > 0 and pd.isna(patches.loc["K1", "未核查"])
    assert patches.loc[["E1", "P1", "L1"], "读取错误"].notna().all()
    book = load_workbook(tmp_path / "移交清单.xlsx")
    failed = {row[0]: row[1] for row in book["读取失败图斑"].iter_rows(min_row=2, values_only=True)}
    assert set(failed) == {3, 4, 5} and "面" in failed[4] and "面" in failed[5]
    assert [row[0] for row in book["未核查图斑"].iter_rows(min_row=2, values_only=True)] == [1]
    before = (tmp_path / "移交清单.xlsx").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("gis.batch.patches._write_handover", broken)
    with pytest.raises(OSError):
        screen_patches(source, [tmp_path / "out.gpkg", tmp_path / "移交清单.xlsx"], as_of=AS_OF)
    assert (tmp_path / "移交清单.xlsx").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gpkg", "图斑.gpkg", "移交清单.xlsx"]


def test_handover_list_has_dates_as_dates_and_totals_per_division_and_county(tmp_path):
    """The 移交清单 stays a list officers sort and filter (no rows of totals in it), its dates Excel dates (a date
    field, and text as officers write days); the 汇总 sheet has the totals per county, per division (小计, bold,
    after its counties) and in all (合计, bold, last), as a groupby of the GeoPackage's patches and pieces gives."""
    from gis.batch.patches import screen_patches

    frame = _patches_frame(80, seed=33, kinds=("ecological_redline", "nature_reserve"))
    rng = np.random.default_rng(34)
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=int(n)) for n in rng.integers(0, 300, len(frame))]
    before = [day - dt.timedelta(days=365) for day in days]
    frame["监测日期"] = pd.to_datetime(days)  # a date field of the GeoPackage
    frame["前时相"] = [f"{d.year}年{d.month}月{d.day}日" if i % 3 else f"{d.year}/{d.month}/{d.day}"  # text
                    for i, d in enumerate(before)]
    frame["备注"] = ["2024-05-01" if i == 0 else "复核" for i in range(len(frame))]  # one day among words: text
    source, out_gpkg, out_xlsx = tmp_path / "图斑.gpkg", tmp_path / "out.gpkg", tmp_path / "移交清单.xlsx"
    pyogrio.write_dataframe(frame, source)
    screen_patches(source, [out_gpkg, out_xlsx], as_of=AS_OF)
    book = load_workbook(out_xlsx)
    assert book.sheetnames[:2] == ["移交清单", "汇总"] and book.sheetnames[-1] == "筛查信息"

    # the list: every row a patch-zone piece, under a filter over all of them; the dates Excel dates
    sheet = book["移交清单"]
    header = [c.value for c in sheet[1]]
    pieces = pyogrio.read_dataframe(out_gpkg, layer="图斑区域相交", read_geometry=False)
    assert sheet.max_row == len(pieces) + 1 and sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}" \
        f"{sheet.max_row}"
    given = {code: (day, earlier) for code, day, earlier in zip(frame["图斑编号"], days, before)}
    code, seen, remark = header.index("图斑编号"), header.index("监测日期"), header.index("前时相")
    for row in sheet.iter_rows(min_row=2):
        for cell in (row[seen], row[remark]):
            assert cell.is_date and cell.number_format == "yyyy-mm-dd", (cell.coordinate, cell.value)
        assert (row[seen].value.date(), row[remark].value.date()) == given[row[code].value]
    notes = [row[header.index("备注")] for row in sheet.iter_rows(min_row=2)]
    assert all(c.data_type == "s" for c in notes) and {c.value for c in notes} <= {"2024-05-01", "复核"}
    info = {r[0].value: r[1] for r in book["筛查信息"].iter_rows(min_row=2)}
    assert info["图层日期"].is_date and info["图层日期"].value.date().isoformat() == AS_OF

    # the totals, against a groupby of the GeoPackage's patches (their own totals) and pieces (per zone)
    patches = pyogrio.read_dataframe(out_gpkg, layer="图斑", read_geometry=False)
    listed = patches[patches["图斑序号"].isin(pieces["图斑序号"])]
    assert listed["所在地州市/师"].notna().all() and listed["所在县市区"].notna().all()
    others = pieces[pieces["区域类型"] != "生态保护红线"]
    by_zone = others.pivot_table(index="图斑序号", columns=others["区域类型"] + others["功能分区"].fillna("") + "面积m²",
                                 values="相交面积m²", aggfunc="sum", fill_value=0.0)
    listed = listed.merge(by_zone, left_on="图斑序号", right_index=True, how="left").fillna(
        {c: 0.0 for c in by_zone.columns})
    numbers = ["图斑面积m²", "红线内面积m²", "自然保护区内面积m²", *by_zone.columns]
    units = ["所在地州市/师", "所在县市区"]
    county = listed.groupby(units).agg(图斑数=("图斑序号", "nunique"), **{c: (c, "sum") for c in numbers})
    division = listed.groupby(units[0]).agg(图斑数=("图斑序号", "nunique"), **{c: (c, "sum") for c in numbers})
    whole = pd.Series({"图斑数": listed["图斑序号"].nunique(), **listed[numbers].sum()})
    assert len(division) >= 2 and len(county) >= 3 and {"自然保护区核心区面积m²", "自然保护区缓冲区面积m²"} <= set(numbers)
    sheet = book["汇总"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == units and sorted(header[2:]) == sorted(["图斑数", *numbers])
    rows = list(sheet.iter_rows(min_row=2))
    found = []
    for row in rows:
        a, b = row[0].value, row[1].value
        expected = whole if a == "合计" else division.loc[a] if b == "小计" else county.loc[(a, b)]
        got = {name: cell.value for name, cell in zip(header[2:], row[2:])}
        assert got == {name: pytest.approx(expected[name], abs=0.011) for name in header[2:]}, (a, b)
        assert all(cell.font.b for cell in row) == (b == "小计" or a == "合计"), (a, b)
        found.append((a, b))
    # each division's counties, then its 小计; the 合计 last, below the filter
    assert found == [*((d, c) for d in division.index for c in [*county.loc[d].index, "小计"]), ("合计", None)]
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}{sheet.max_row - 1}"


_X0, _Y0, _D = 87.50, 44.10, 0.01


def _box(a: float, b: float, c: float, e: float) -> shapely.Polygon:
    """A box in hundredths of a degree from (87.50, 44.10)."""
    return shapely.box(_X0 + a * _D, _Y0 + b * _D, _X0 + c * _D, _Y0 + e * _D)


#: A U-shaped reserve core zone; a red line with a vertex in the middle of its south side; two red lines side by side.
_U = _box(0, 0, 3, 2).difference(_box(1, 1, 2, 2))
_REDLINES = {"R": shapely.Polygon([(_X0 + 10 * _D, _Y0), (_X0 + 10.5 * _D, _Y0), (_X0 + 11 * _D, _Y0),
                                   (_X0 + 11 * _D, _Y0 + _D), (_X0 + 10 * _D, _Y0 + _D)]),
             "R2a": _box(20, 0, 20.4, 1), "R2b": _box(20.4, 0, 21, 1)}


def _patches_against_postgis(tmp_path, postgres_db, patches: dict[str, shapely.Geometry]):
    """``patches`` screened against the hand-made zones above, and what PostGIS says of the same: per (patch, zone)
    the polygonal part of the intersection, its geography area and the patch's; per patch the red lines' union."""
    import psycopg

    from gis.batch.patches import screen_patches
    from gis.store import create_store
    from tests.overlap_zones import layer

    store = create_store(tmp_path / "zones.gpkg")
    store.import_layer(layer("ecological_redline", _REDLINES), "ecological_redline", source="t",
                       effective_from="2020-01-01")
    store.import_layer(layer("nature_reserve", {"U": _U}, attributes={"reserve_name": "测试保护区", "level": "national"}),
                       "nature_reserve", source="t", effective_from="2020-01-01")
    gpd.GeoDataFrame({"图斑编号": list(patches)}, geometry=list(patches.values()), crs="EPSG:4326").to_file(
        tmp_path / "图斑.gpkg")
    screen_patches(tmp_path / "图斑.gpkg", tmp_path / "out.gpkg", store=store, as_of=AS_OF)
    zones = {**{f"生态保护红线{k}": g for k, g in _REDLINES.items()}, "自然保护区U": _U}
    extract = "ST_CollectionExtract(ST_Intersection(p.geom, z.geom), 3)"
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("CREATE TABLE p (code text, geom geometry(Geometry, 4326))")
        conn.execute("CREATE TABLE z (name text, geom geometry(Geometry, 4326))")
        for table, rows in (("p", patches.items()), ("z", zones.items())):
            for name, geom in rows:
                conn.execute(f"INSERT INTO {table} VALUES (%s, ST_GeomFromText(%s, 4326))",
                             (name, shapely.to_wkt(geom, rounding_precision=-1)))
        rows = conn.execute(
            f"SELECT p.code, z.name, ST_AsText({extract}), ST_Area({extract}::geography), ST_Area(p.geom::geography) "
            f"FROM p JOIN z ON ST_Intersects(p.geom, z.geom) WHERE ST_Area({extract}::geography) > 0").fetchall()
        redline = dict(conn.execute(
            f"SELECT p.code, ST_Area(ST_Union({extract})::geography) FROM p JOIN z ON ST_Intersects(p.geom, z.geom) "
            "WHERE z.name LIKE '生态保护红线%' GROUP BY p.code").fetchall())
    expected = {(code, name): (shapely.from_wkt(wkt), area, whole) for code, name, wkt, area, whole in rows}
    return (store, pyogrio.read_dataframe(tmp_path / "out.gpkg", layer="图斑").set_index("图斑编号"),
            pyogrio.read_dataframe(tmp_path / "out.gpkg", layer="图斑区域相交"), expected, redline)


@pytest.mark.postgis
def test_patch_pieces_are_the_polygons_postgis_extracts(tmp_path, postgres_db):
    """GC lies over one arm of a U-shaped reserve zone, its east side along the other arm: the intersection is a
    GEOMETRYCOLLECTION of a polygon and a line, and the GeoPackage holds the polygon alone, as PostGIS's
    ST_CollectionExtract(.., 3) gives it. TOUCH only shares an edge with the zone: no piece, no area."""
    gc, touch = _box(0.5, 1.5, 2, 2.5), _box(3, 0, 4, 1)
    assert shapely.intersection(gc, _U).geom_type == "GeometryCollection"
    assert shapely.intersection(touch, _U).geom_type == "LineString"
    store, patches, pieces, expected, _ = _patches_against_postgis(tmp_path, postgres_db, {"GC": gc, "TOUCH": touch})
    store.close()
    assert set(zip(pieces["图斑编号"], pieces["区域名称"])) == set(expected) == {("GC", "自然保护区U")}
    assert set(pieces.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    # declared so (not Unknown), as GIS programs type a layer from its declaration
    assert pyogrio.read_info(tmp_path / "out.gpkg", layer="图斑区域相交")["geometry_type"] == "MultiPolygon"
    polygons, area, whole = expected[("GC", "自然保护区U")]
    assert shapely.equals(pieces.geometry.iloc[0], polygons)
    assert pieces["相交面积m²"].iloc[0] == pytest.approx(area, abs=0.01)
    assert pieces["占图斑比例%"].iloc[0] == pytest.approx(100 * area / whole, abs=1e-3)
    assert patches.loc["GC", "自然保护区内面积m²"] == pytest.approx(area, abs=0.01)
    assert patches.loc["TOUCH", ["红线内面积m²", "自然保护区内面积m²"]].tolist() == [0, 0]
    assert pd.isna(patches.loc["TOUCH", "涉及区域"])


@pytest.mark.postgis
def test_no_share_of_a_patch_exceeds_the_patch(tmp_path, postgres_db):
    """IN lies in a red line that has a vertex on IN's south side, OUT too but for a corner 0.01 m outside, TWO in
    two red lines side by side: the overlay adds vertices along the patch's sides, and PostGIS measures what IN and
    OUT share with the red line a hair larger than the patch itself. No part of a patch is larger than the patch:
    its share is 100 %, never more, in the patch outputs, in check_site and in a register's 重叠比例% alike."""
    out = shapely.Polygon([(_X0 + 10 * _D, _Y0), (_X0 + 11 * _D, _Y0), (_X0 + 11 * _D + 1e-7, _Y0 + 0.5 * _D),
                           (_X0 + 10 * _D, _Y0 + 0.5 * _D)])
    frame = {"IN": _box(10, 0, 11, 0.5), "OUT": out, "TWO": _box(20, 0, 21, 1)}
    assert not _REDLINES["R"].contains(out)
    store, patches, pieces, expected, redline = _patches_against_postgis(tmp_path, postgres_db, frame)
    assert expected[("OUT", "生态保护红线R")][1] > expected[("OUT", "生态保护红线R")][2] + 1
    assert expected[("IN", "生态保护红线R")][1] > expected[("IN", "生态保护红线R")][2] + 1  # PostGIS: > the patch
    assert set(zip(pieces["图斑编号"], pieces["区域名称"])) == set(expected)
    for code, name, area, share in zip(pieces["图斑编号"], pieces["区域名称"], pieces["相交面积m²"], pieces["占图斑比例%"]):
        _, raw, whole = expected[(code, name)]
        assert area == pytest.approx(min(raw, whole), abs=0.01) and area <= patches.loc[code, "图斑面积m²"]
        assert share == pytest.approx(100 * min(raw, whole) / whole, abs=1e-3) and share <= 100
    checked = {}
    for code, geom in frame.items():
        whole = next(w for (c, _), (_, _, w) in expected.items() if c == code)
        assert patches.loc[code, "红线内面积m²"] == pytest.approx(min(redline[code], whole), abs=0.01)
        assert patches.loc[code, "红线内面积m²"] <= patches.loc[code, "图斑面积m²"]
        assert patches.loc[code, "红线内比例%"] == 100
        site = read_site(shapely.to_wkt(geom, rounding_precision=-1), coverage=None)
        overlap = check_site(site, {}, store=store, as_of=AS_OF).overlap
        layer = overlap.layer("ecological_redline")
        assert overlap.site_area_m2 == pytest.approx(whole, rel=1e-9)
        assert layer.overlap_pct == pytest.approx(100, abs=1e-9) and layer.overlap_pct <= 100, code
        assert layer.overlap_m2 <= overlap.site_area_m2 and all(hit.overlap_pct <= 100 for hit in layer.hits), code
        checked[code] = round(max(hit.overlap_pct for hit in layer.hits), 4)
    # the same polygons as a register's parcels: 重叠比例% as check_site says, never above 100
    with open(tmp_path / "登记表.csv", "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["项目名称", "WKT"], *((code, shapely.to_wkt(geom, rounding_precision=-1))
                                                             for code, geom in frame.items())])
    screen_file(tmp_path / "登记表.csv", [tmp_path / "登记表_筛查.csv"], store=store, as_of=AS_OF)
    shares = pd.read_csv(tmp_path / "登记表_筛查.csv").set_index("项目名称")["重叠比例%"]
    assert shares.to_dict() == checked and shares.le(100).all() and shares[["IN", "OUT"]].eq(100).all()
    store.close()


def test_a_geopackage_of_several_feature_tables_is_refused_naming_them(tmp_path):
    """Patches beside a boundary table: which table holds the sites is not for a batch to guess (it read the first
    and screened the boundary alone)."""
    source = tmp_path / "图斑.gpkg"
    gpd.GeoDataFrame({"名称": ["范围"]}, geometry=[shapely.box(87.5, 44.0, 87.7, 44.2)], crs="EPSG:4490").to_file(
        source, layer="范围")
    gpd.GeoDataFrame({"图斑编号": ["T1", "T2"]}, geometry=[shapely.box(87.53, 44.10, 87.54, 44.11),
                                                       shapely.box(87.60, 44.10, 87.61, 44.11)],
                     crs="EPSG:4490").to_file(source, layer="图斑")
    for patches in (False, True):
        result = CliRunner().invoke(app, ["screen", str(source), "-o", str(tmp_path / ("o.gpkg" if patches else "o.csv")),
                                          *(["--patches"] if patches else [])])
        assert result.exit_code == 2 and "范围" in result.output and "图斑" in result.output, result.output
        assert not list(tmp_path.glob("o.*"))


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_patches_refuse_the_options_they_do_not_take(tmp_path):
    """--patches reads geometries on this machine: a cluster, a column mapping or project facts given with it
    are refused by name rather than ignored."""
    source = tmp_path / "patches.gpkg"
    _patches_frame(3, seed=5, kinds=("ecological_redline",)).to_file(source)
    for extra, named in ((["--dask", "local"], "--dask"), (["--existing"], "--existing"),
                         (["--column", "lon=x"], "--column")):
        result = CliRunner().invoke(app, ["screen", str(source), "--patches", "-o", str(tmp_path / "out.gpkg"),
                                          *extra])
        assert result.exit_code == 2 and named in result.output and "--patches" in result.output, result.output
        assert not (tmp_path / "out.gpkg").exists()


def test_a_scheduler_that_cannot_be_reached_is_an_error_naming_the_address(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    import gis.batch.distributed

    monkeypatch.setattr(gis.batch.distributed, "_CONNECT_SECONDS", 1)
    source = tmp_path / "register.csv"
    source.write_text("单位名称,经度,纬度\n企业,87.6,43.8\n", encoding="utf-8")
    import socket

    silent = socket.socket()  # answers the connection, never Dask's handshake (a web server, the dashboard)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        for address in (f"tcp://127.0.0.1:{_free_port()}", "scheduler-without-a-port",
                        f"tcp://127.0.0.1:{silent.getsockname()[1]}"):
            with pytest.raises(EcozoneError) as caught:
                screen_file(source, tmp_path / "out.csv", as_of=AS_OF, dask_address=address)
            assert (caught.value.field, caught.value.value) == ("dask_address", address)
            assert not (tmp_path / "out.csv").exists()
    finally:
        silent.close()
    result = CliRunner().invoke(app, ["screen", str(source), "-o", str(tmp_path / "out.csv"),
                                      "--dask", "scheduler-without-a-port"])
    assert result.exit_code == 2 and "--dask-address" in result.output, result.output
    assert "Traceback" not in result.output


def test_a_cluster_whose_workers_are_all_gone_stops_the_batch_saying_so(monkeypatch):
    """The slices wait while the cluster has workers; with none left for a while (all killed) the batch stops with
    the reason instead of waiting for ever (the scheduler keeps the tasks for workers that never come)."""
    distributed = pytest.importorskip("distributed")
    from types import SimpleNamespace

    import gis.batch.distributed as on_cluster

    def never_done(futures, timeout):
        raise TimeoutError

    monkeypatch.setattr(on_cluster, "_CONNECT_SECONDS", 0.1)
    monkeypatch.setattr(distributed, "wait", never_done)
    asked = []
    owner = SimpleNamespace(client=SimpleNamespace(nthreads=lambda: asked.append(1) or {}))
    with pytest.raises(EcozoneError, match="没有工作进程") as caught:
        on_cluster._Screening(owner, 1, [], [])._wait()
    assert caught.value.field == "dask_address" and len(asked) > 1


@pytest.mark.slow
def test_dask_cluster_of_separate_processes_gives_the_local_output(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    import gis.batch.distributed
    from benchmarks.cluster import dask_cluster

    source = tmp_path / "register.csv"
    places = _places(3000, seed=41)
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["单位名称", "经度", "纬度", "行业类别", "建设性质"])
        for i, (lon, lat) in enumerate(places):
            writer.writerow([f"企业{i}", lon, lat, INDUSTRIES[i % len(INDUSTRIES)], ["新建", "现有", ""][i % 3]])
    with dask_cluster(0, tmp_path / "scheduler.log") as address, monkeypatch.context() as quick:
        quick.setattr(gis.batch.distributed, "_CONNECT_SECONDS", 1)
        with pytest.raises(EcozoneError, match="no workers"):
            screen_file(source, tmp_path / "dask.csv", as_of=AS_OF, dask_address=address)
    assert not (tmp_path / "dask.csv").exists()
    with dask_cluster(2, tmp_path / "cluster.log") as address:
        # chunks of 700 rows: several are on the cluster at once, and come back in order
        local = screen_file(source, tmp_path / "local.csv", as_of=AS_OF, defaults={"fuel": "coal"}, chunk_rows=700)
        remote = screen_file(source, tmp_path / "dask.csv", as_of=AS_OF, defaults={"fuel": "coal"},
                             dask_address=address, chunk_rows=700)
        # the workers keep a screener per register: the same rows without the batch-wide fuel are read anew; the
        # store named by a path relative to this process's folder, which is not the workers'
        shutil.copy(open_store().location, tmp_path / "copy.gpkg")
        monkeypatch.chdir(tmp_path)
        plain = screen_file(source, tmp_path / "plain.csv", as_of=AS_OF, store="copy.gpkg")
        screen_file(source, tmp_path / "dask-plain.csv", as_of=AS_OF, dask_address=address, store="copy.gpkg")
    assert remote.verdict_counts == local.verdict_counts and remote.rows_in == 3000
    assert remote.layer_versions == local.layer_versions
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert (tmp_path / "dask-plain.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    assert plain.verdict_counts != local.verdict_counts  # the fuel changes verdicts: the second run is a real test


def test_coordinates_beyond_any_cell_are_outside_the_covered_area_quietly():
    """A register's 1e308, inf or NaN in a degree column is outside, with no numpy warning on the terminal."""
    import warnings

    area = covered_area(open_store())
    lon = np.array([1e308, -1e308, np.inf, np.nan, 87.6])
    lat = np.array([44.0, 44.0, 44.0, 44.0, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not area.contains(lon, lat, 0.5).any()


def test_a_zip_whose_shapefile_holds_nothing_readable_is_an_error_naming_the_file(tmp_path):
    """A zipped shapefile cut short (GDAL opens it and finds no layer): the file's error, not an internal one."""
    source = tmp_path / "地块.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("地块.shp", b"\x00" * 100)
        archive.writestr("地块.dbf", b"\x00" * 10)
        archive.writestr("地块.shx", b"\x00" * 100)
    with pytest.raises(EcozoneError) as info:
        screen_file(source, tmp_path / "out.csv", as_of=AS_OF)
    assert info.value.field == "file" and info.value.source == "地块.zip" and "GeoPackage" in info.value.fix


def test_outputs_never_replace_the_input_nor_a_geopackage_of_other_layers(tmp_path):
    """Writing an output replaces its whole file: the register itself, a patch delivery, or a GeoPackage the
    officer keeps other layers in is refused before any work, and left byte for byte as it was; a GeoPackage
    ecozone wrote before is written again."""
    from gis.batch.patches import screen_patches
    from gis.errors import FormatError

    delivery = tmp_path / "图斑.gpkg"
    _patches_frame(6, seed=41).to_file(delivery, layer="图斑")
    workspace = tmp_path / "工作库.gpkg"
    gpd.GeoDataFrame({"名称": ["底图"]}, geometry=[shapely.Point(87.6, 43.8)], crs=4326).to_file(workspace,
                                                                                              layer="我的底图")
    register = tmp_path / "登记表.csv"
    pd.DataFrame({"项目名称": ["甲"], "经度": [87.6], "纬度": [43.8]}).to_csv(register, index=False)
    kept = {path: path.read_bytes() for path in (delivery, workspace, register)}
    for attempt, path in ((lambda: screen_patches(delivery, [delivery], as_of=AS_OF), delivery),
                          (lambda: screen_patches(delivery, [workspace], as_of=AS_OF), workspace),
                          (lambda: screen_file(register, register, as_of=AS_OF), register),
                          (lambda: screen_file(delivery, [tmp_path / "out.csv", workspace], as_of=AS_OF), workspace)):
        with pytest.raises(FormatError) as refused:
            attempt()
        assert refused.value.field == "output" and str(path) in refused.value.text()
    assert all(path.read_bytes() == data for path, data in kept.items())
    assert "我的底图" in refused.value.text()
    screen_patches(delivery, [tmp_path / "结果.gpkg"], as_of=AS_OF)
    screen_patches(delivery, [tmp_path / "结果.gpkg"], as_of=AS_OF)  # its own layers: written again
    assert {name for name, _ in pyogrio.list_layers(tmp_path / "结果.gpkg")} == {"图斑", "图斑区域相交"}


def test_a_delivery_of_no_readable_patch_still_gets_its_handover_list(tmp_path):
    """A patch in Beijing (outside every layer) and a point: neither is read, and the 移交清单 lists both on
    读取失败图斑 with the reason, its 汇总 a 合计 of none, instead of a traceback and no file."""
    from gis.batch.patches import screen_patches

    delivery = tmp_path / "图斑.gpkg"
    gpd.GeoDataFrame({"图斑编号": ["BJ", "PT"]}, geometry=[shapely.box(116.4, 39.9, 116.401, 39.901),
                                                       shapely.Point(87.3, 44.0)], crs=4326).to_file(delivery)
    summary = screen_patches(delivery, [tmp_path / "移交清单.xlsx"], as_of=AS_OF)
    assert summary.patches == 2 and summary.patches_failed == 2
    book = load_workbook(tmp_path / "移交清单.xlsx")
    failed = list(book["读取失败图斑"].iter_rows(min_row=2, values_only=True))
    assert {row[2] for row in failed} == {"BJ", "PT"} and all(row[1] for row in failed)
    totals = list(book["汇总"].iter_rows(min_row=2, values_only=True))
    assert totals[-1][:3] == ("合计", None, 0)


def test_a_column_mapping_to_a_column_the_workbook_lacks_names_it(tmp_path):
    """``columns={"lon": "东经"}`` on a workbook whose header says 经度: the error names the mapping's column, not
    a missing header."""
    _register(tmp_path / "登记表.xlsx", _rows(3, seed=42))
    with pytest.raises(EcozoneError) as refused:
        screen_file(tmp_path / "登记表.xlsx", tmp_path / "out.csv", as_of=AS_OF, columns={"lon": "东经"})
    assert refused.value.field == "lon" and refused.value.value == "东经"
    assert "东经" in refused.value.text() and "没有带位置列的表头" not in refused.value.text()


def test_the_summary_counts_each_verdict_as_the_cells_say_it(tmp_path):
    """筛查汇总 and the terminal count the 结论 the rows say (部分未核查 apart from 未核查): each count is the number
    of cells of that 结论 in the output."""
    rows = _rows(40, seed=43) + [[99, "X", "境外", "火力发电", "", "abc", "44.1", None, None]]
    _register(tmp_path / "登记表.xlsx", rows)
    answer = CliRunner().invoke(app, ["screen", str(tmp_path / "登记表.xlsx"), "-o", str(tmp_path / "out.xlsx"),
                                      "--as-of", AS_OF])
    assert answer.exit_code == 0, answer.output
    book = load_workbook(tmp_path / "out.xlsx")
    sheet = book["排污许可登记"]
    header = [c.value for c in sheet[3]]
    cells = pd.Series([row[header.index("结论")] for row in sheet.iter_rows(min_row=4, values_only=True)
                       if row[header.index("结论")]]).value_counts().to_dict()
    assert len(cells) >= 3 and "部分未核查" in cells
    summary = {str(k).removeprefix("结论："): v for k, v in book["筛查汇总"].iter_rows(values_only=True)
               if str(k).startswith("结论：")}
    assert summary == cells
    said = re.search(r"结论 / verdicts：(.*)", answer.output).group(1)
    assert dict((part.rsplit(" ", 1)[0], int(part.rsplit(" ", 1)[1])) for part in said.split("，")) == cells


def test_coordinates_typed_in_full_width_are_read_as_their_numbers(tmp_path):
    """８７．２５ (a Chinese input method in full-width mode) is 87.25: a register row and a typed site read so
    give what the ASCII digits give, and the site's name keeps its own characters."""
    place = _places(1, seed=44)[0]
    wide = [str(v).translate({ord(c): 0xFF10 + int(c) for c in "0123456789"} | {ord("."): "．"}) for v in place]
    assert all(ch not in "0123456789." for text in wide for ch in text)
    rows = [["１号地块", *wide], ["1号地块", *map(str, place)]]
    pd.DataFrame(rows, columns=["项目名称", "经度", "纬度"]).to_csv(tmp_path / "登记表.csv", index=False)
    screen_file(tmp_path / "登记表.csv", tmp_path / "out.csv", as_of=AS_OF)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str).fillna("")
    assert out["项目名称"].tolist() == ["１号地块", "1号地块"] and out["结论代码"].iloc[0] != "error"
    assert out.iloc[0][list(COLUMNS)].equals(out.iloc[1][list(COLUMNS)])
    typed = read_site(f"{wide[0]}，{wide[1]}")
    assert typed.shape.equals(read_site(f"{place[0]}, {place[1]}").shape)


def test_a_delivery_date_field_stays_a_date_in_the_patch_geopackage(tmp_path):
    """采集日期 delivered as a date field comes out as a date field of both layers, with the same days (a GIS
    program filters by it), not as the text '2024-08-31 00:00:00'."""
    from gis.batch.patches import screen_patches

    frame = _patches_frame(12, seed=45, kinds=("ecological_redline",))
    frame["采集日期"] = pd.to_datetime([f"2024-{1 + i % 12:02d}-{1 + i:02d}" for i in range(len(frame))])
    pyogrio.write_dataframe(frame, tmp_path / "图斑.gpkg", layer="图斑")
    screen_patches(tmp_path / "图斑.gpkg", [tmp_path / "out.gpkg"], as_of=AS_OF)
    expected = dict(zip(frame["图斑编号"], frame["采集日期"]))
    for layer in ("图斑", "图斑区域相交"):
        info = pyogrio.read_info(tmp_path / "out.gpkg", layer=layer)
        assert info["dtypes"][list(info["fields"]).index("采集日期")].startswith("datetime64"), layer
        out = pyogrio.read_dataframe(tmp_path / "out.gpkg", layer=layer)
        assert len(out) and all(expected[code] == day for code, day in zip(out["图斑编号"], out["采集日期"])), layer


def test_control_characters_a_workbook_cannot_hold_do_not_fail_the_screening(tmp_path):
    """A vertical tab pasted from Word, a NUL, a \\x01 in a GeoPackage's attribute: openpyxl refuses them, and the
    whole screening failed. The workbook holds the text without them (the vertical tab as a line break) and its
    summary says how many cells changed; the CSV keeps every cell as it was read."""
    lon, lat = 87.35, 44.05  # 昌吉市: a new coal boiler there is forbidden by rules in force from 2019
    source = tmp_path / "登记.csv"
    names = ["第一行\x0b第二行", "空\x00字符", "正常"]
    with source.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["单位名称", "经度", "纬度", "行业", "燃料", "锅炉规模", "建设性质"])
        for name in names:
            writer.writerow([name, lon, lat, "热力", "煤", 20, "新建"])
    report = screen_file(source, [tmp_path / "结果.xlsx", tmp_path / "结果.csv"], as_of=AS_OF)
    assert report.rows_in == report.rows_out == 3 and report.rows_failed == 0
    book = load_workbook(tmp_path / "结果.xlsx")
    assert [row[0] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)] == \
        ["第一行\n第二行", "空字符", "正常"]
    summary = dict(book["筛查汇总"].iter_rows(min_row=2, values_only=True))
    assert summary["删去的控制字符"].startswith("2 个单元格")
    with open(tmp_path / "结果.csv", encoding="utf-8-sig", newline="") as f:
        assert [row["单位名称"] for row in csv.DictReader(f)] == names
    # the CSV screened again as of a day before the rules: its changed rows' own cells go to a workbook too
    changes = rescreen_file(tmp_path / "结果.csv", as_of="2015-01-01")
    assert changes.changed == 3
    book = load_workbook(write_rescreen(changes, tmp_path / "变化.xlsx"))
    header = [c.value for c in book["结论变化"][1]]
    assert [row[header.index("单位名称")] for row in book["结论变化"].iter_rows(min_row=2, values_only=True)] == \
        ["第一行\n第二行", "空字符", "正常"]
    parcels = tmp_path / "图斑.gpkg"
    gpd.GeoDataFrame({"名称": ["bad\x01name"]}, geometry=[shapely.Point(lon, lat).buffer(0.001)],
                     crs="EPSG:4326").to_file(parcels)
    screen_file(parcels, tmp_path / "图斑.xlsx", as_of=AS_OF)
    sheet = load_workbook(tmp_path / "图斑.xlsx").worksheets[0]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("名称") + 1).value == "badname"
