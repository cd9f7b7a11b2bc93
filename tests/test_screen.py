"""Batch screening: Excel round trip, bad rows, rows in = rows out, agreement with check_site, Dask and PostGIS."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys

import numpy as np
import pytest
import shapely
from openpyxl import load_workbook

from data.samples.make_samples import HEADER
from data.samples.make_samples import main as make_samples
from gis.batch import COLUMNS, screen_file
from gis.batch.spatial import COVERED, PROTECTED_KINDS, SHARE, TOUCH, BatchEngine
from gis.batch.verdicts import Screener
from gis.check import check_site
from gis.errors import CancelledError, CoordinateError
from gis.kinds import KINDS
from gis.presentation import UNCOVERED_TITLE, reasons_text
from gis.rules import default_rule_packs
from gis.rules.project import Project, ProjectColumn
from gis.sites import read_site
from gis.store import open_store

AS_OF = "2024-01-01"
PROJECTS = [
    Project(),
    Project(scope="new", fuel="coal", boiler_tph=20, coal_t=3000, industry="热力"),
    Project(scope="new", industry="印染", wastewater=True),
    Project(scope="existing", industry="煤炭"),
    Project(scope="new", industry="电力", fuel="coal", coal_t=10_000, power_mw=300, three_high=True),
]


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """The README's sample permit list, built fresh by its script (never rewriting the committed copy)."""
    return make_samples(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="module")
def batch():
    return BatchEngine.for_store(open_store(), AS_OF, default_rule_packs())


def _sites(n: int, seed: int):
    """Points scattered over the zones of the dataset (most near a zone edge) and small square parcels."""
    rng = np.random.default_rng(seed)
    zones = open_store().snapshot(AS_OF).zones
    zones = zones[zones.kind != "admin_division"]
    anchors = shapely.get_coordinates(shapely.segmentize(zones.geometry.boundary.values, 0.02))
    picks = anchors[rng.integers(0, len(anchors), n)] + rng.normal(0, 0.01, (n, 2))
    points = list(shapely.points(picks))
    parcels = [shapely.box(x - 0.003, y - 0.002, x + 0.003, y + 0.002) for x, y in picks[: n // 5]]
    return points + parcels


def _write_register(path, sites, industries: list[str], scopes: list[str], extra=()):
    """A CSV register of ``sites`` (points as 经度/纬度, parcels as WKT), the facts cycling through ``industries``
    and ``scopes``, then the ``extra`` rows as they are."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["名称", "经度", "纬度", "WKT", "行业", "建设性质"])
        for i, site in enumerate(sites):
            coords = [f"{site.x:.6f}", f"{site.y:.6f}", ""] if site.geom_type == "Point" else ["", "", site.wkt]
            writer.writerow([f"地块{i}", *coords, industries[i % len(industries)], scopes[i % len(scopes)]])
        writer.writerows(extra)
    return path


def test_excel_round_trip_keeps_sheets_columns_order_and_chinese_text(samples, tmp_path):
    out = tmp_path / "结果.xlsx"
    report = screen_file(samples / "permits.xlsx", out, as_of=AS_OF)
    original = load_workbook(samples / "permits.xlsx")
    result = load_workbook(out)
    assert result.sheetnames == ["许可清单", "说明", "筛查汇总"]
    assert [c.value for c in result["说明"]["A"]] == [c.value for c in original["说明"]["A"]]
    before = [list(r) for r in original["许可清单"].iter_rows(values_only=True)]
    after = [list(r) for r in result["许可清单"].iter_rows(values_only=True)]
    assert after[0][0] == before[0][0] == "2024年排污许可项目清单（示例，数据为虚构）"
    assert after[1] == HEADER + list(COLUMNS)
    assert len(after) == len(before) == report.rows_in + 2
    for old, new in zip(before[2:], after[2:]):
        assert new[: len(HEADER)] == old[: len(HEADER)]
    verdicts = {r[1]: r[len(HEADER)] for r in after[2:]}
    assert verdicts["红线内光伏项目"] == "禁止"
    assert verdicts["水源地旁印染厂"] == "禁止"
    summary = {r[0]: r[1] for r in result["筛查汇总"].iter_rows(values_only=True)}
    assert summary["输入行数"] == summary["输出行数"] == 12


def test_bad_rows_are_marked_with_the_reason_and_kept(samples, tmp_path):
    out = tmp_path / "out.csv"
    report = screen_file(samples / "permits_gbk.csv", out, as_of=AS_OF)
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["项目名称"] for r in rows][:3] == ["红线内光伏项目", "水源地旁印染厂", "园区燃煤锅炉"]
    failed = {r["项目名称"]: r["读取错误"] for r in rows if r["结论"] == "读取失败"}
    assert set(failed) == {"缺坐标", "纬度超限", "文字坐标", "北京项目"}
    assert "row 8" in failed["缺坐标"] and "经度" in failed["缺坐标"]
    assert "90" in failed["纬度超限"]
    assert all(r["结论代码"] == "error" for r in rows if r["项目名称"] in failed)
    assert all(r["结论"] and not r["读取错误"] for r in rows if r["项目名称"] not in failed)
    assert report.rows_failed == 4 and report.verdict_counts["error"] == 4
    # A fact that cannot be read says nothing about where the site is: the row is screened, the fact unknown (not
    # taken by default) and said so, as check_site does with the same facts.
    unclear = next(r for r in rows if r["项目名称"] == "性质不明")
    assert "建设性质「调研」" in unclear["读取提示"] and unclear["结论代码"] != "error"
    expected = check_site(read_site("87.6, 43.8"), {"industry": "化工", "wastewater": False,
                                                    "unknown_facts": ["scope"]}, as_of=AS_OF)
    assert unclear["结论代码"] == expected.verdict.value


def test_rows_in_equals_rows_out_with_garbage_rows_across_chunks(tmp_path):
    rng = np.random.default_rng(7)
    source = tmp_path / "许可.csv"
    garbage = ["", "abc", "999", "-", "87.6.1", "NaN"]
    lines = []
    for i in range(2500):
        lon, lat = f"{rng.uniform(80, 92):.5f}", f"{rng.uniform(38, 48):.5f}"
        if i % 7 == 0:
            lon = garbage[i % len(garbage)]
        lines.append([f"项目{i}", lon, lat, ["新建", "现有", "??"][i % 3], str(i % 40)])
    with open(source, "w", encoding="gbk", newline="") as handle:
        csv.writer(handle).writerows([["名称", "经度", "纬度", "建设性质", "锅炉规模"], *lines])
    seen = []
    report = screen_file(source, [tmp_path / "o.csv", tmp_path / "o.parquet"], as_of=AS_OF, chunk_rows=600,
                         progress=lambda done, total: seen.append(done))
    assert report.rows_in == report.rows_out == 2500
    assert seen[-1] == 2500 and len(seen) == 7  # opened, 5 chunks, outputs finished
    with open(tmp_path / "o.csv", encoding="utf-8-sig", newline="") as handle:
        out = list(csv.reader(handle))[1:]
    assert [r[0] for r in out] == [line[0] for line in lines]
    assert report.rows_failed == sum(1 for r in out if r[5] == "读取失败") > 0
    import geopandas as gpd

    assert len(gpd.read_parquet(tmp_path / "o.parquet")) == 2500


def _register_lines(rng, rows: int) -> list[list[str]]:
    """Register rows with what real CSV registers hold: quoted commas and quotes, formula-like text, DMS
    written with a doubled quote, blank and whitespace cells, rows of blank cells, swapped and bad numbers."""
    odd = ['87°36\'12"', "=HYPERLINK(1)", "+86.1", " 87.61 ", "abc", "", "  "]
    lines = []
    for i in range(rows):
        lon, lat = f"{rng.uniform(80, 92):.5f}", f"{rng.uniform(38, 48):.5f}"
        if i % 11 == 0 and i >= 300:  # quotes only after the start a dialect is sniffed from
            lon = odd[i % len(odd)]
        if i % 13 == 0:
            lon, lat = lat, lon
        name = [f"项目{i}", f"公司, \"{i}\"" if i >= 300 else f"公司{i}", f"-{i}", f"@厂{i}"][i % 4]
        lines.append(["", "", "", "", ""] if i % 97 == 0 else
                     [name, lon, lat, ["新建", "现有", "", "技改"][i % 4], ["20", "", "35.0", "10蒸吨"][i % 4]])
    return lines


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_a_csv_read_by_arrow_gives_what_the_row_reader_gives(tmp_path, monkeypatch, encoding):
    """A regular CSV is read by Arrow, column by column; every output equals the row reader's (Python's csv
    module, the oracle), byte for byte, and the rows of blank cells are left out alike."""
    import pyarrow.parquet as pq

    from gis.batch import inputs

    source = tmp_path / "许可.csv"
    lines = [["名称", "经度", "纬度", "建设性质", "锅炉规模"], *_register_lines(np.random.default_rng(3), 3000)]
    with open(source, "w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(lines)
    text = source.read_bytes().decode(encoding)
    assert '"87°36\'12"""' in text and text[:4096].count('"') == 0  # quotes only after the sniffed start
    read = []
    original = inputs._arrow_chunks
    monkeypatch.setattr(inputs, "_arrow_chunks", lambda *a: read.append("arrow") or original(*a))
    by_arrow = screen_file(source, [tmp_path / "a.csv", tmp_path / "a.parquet"], as_of=AS_OF, chunk_rows=700)
    assert read == ["arrow"]
    monkeypatch.setattr(inputs, "_arrow_csv", lambda *a: None)  # as for a file Arrow cannot read alike
    by_rows = screen_file(source, [tmp_path / "r.csv", tmp_path / "r.parquet"], as_of=AS_OF, chunk_rows=700)
    assert by_arrow.rows_in == by_rows.rows_in == 3000 - len(range(0, 3000, 97))
    assert by_arrow.verdict_counts == by_rows.verdict_counts
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "r.csv").read_bytes()
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "r.parquet"))
    with open(tmp_path / "a.csv", encoding="utf-8-sig", newline="") as handle:
        out = list(csv.DictReader(handle))
    expected = [line for line in lines[1:] if any(line)]
    assert len(out) == len(expected)
    assert [row["名称"].removeprefix("'") for row in out] == [line[0] for line in expected]
    assert [row["名称"] for row in out if row["名称"].startswith("'")]  # formula-like text guarded
    dms = [row for row, line in zip(out, expected) if line[1] == '87°36\'12"' or line[2] == '87°36\'12"']
    assert dms and all(row["结论"] != "读取失败" for row in dms)  # the cell read as written: 87°36'12"



def test_a_geoparquets_number_columns_are_written_as_pandas_reads_them(tmp_path, monkeypatch):
    """A GeoParquet's number columns stay Arrow arrays from reading to writing. The CSV must hold each cell as
    ``csv.writer`` writes the value pandas reads (NaN and null empty, integers as integers), and every output
    must equal that of the same columns read as Python values."""
    import geopandas as gpd
    import pandas as pd
    import pyarrow.parquet as pq

    from gis.batch import inputs

    rng = np.random.default_rng(11)
    n = 2500
    boiler = rng.choice([4.0, 10.0, 20.0, 35.0, 35.5, 75.0, np.nan], n)
    coal = np.array([round(v, d) for v, d in zip(rng.uniform(0, 3e5, n), rng.integers(0, 4, n))])
    coal[::7] = np.nan
    frame = gpd.GeoDataFrame({
        "名称": [f"项目{i}" for i in range(n)],
        "锅炉规模": boiler,
        "新增燃煤量": coal,
        "装机容量": pd.array(np.where(np.arange(n) % 5 == 0, None, rng.integers(1, 600, n)), dtype="Int64"),
        "编号": np.arange(n, dtype=np.int64) * 1_000_003,
        "比例": rng.uniform(-1, 1, n).astype(np.float32),
        "建设性质": rng.choice(["新建", "现有", "技改"], n),
        "燃料": rng.choice(["coal", "gas", None], n),
        "发证日期": [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 2000, n)],
        "有效": rng.choice([True, False], n),
    }, geometry=gpd.points_from_xy(rng.uniform(80, 92, n), rng.uniform(38, 48, n)), crs="EPSG:4326")
    source = tmp_path / "许可.parquet"
    frame.to_parquet(source)
    assert pq.read_table(source).column("新增燃煤量").null_count == int(np.isnan(coal).sum())  # nulls, not NaN
    screen_file(source, [tmp_path / "a.csv", tmp_path / "a.parquet"], as_of=AS_OF, chunk_rows=700)
    monkeypatch.setattr(inputs, "_parquet_column", lambda column: column.to_pylist())
    screen_file(source, [tmp_path / "r.csv", tmp_path / "r.parquet"], as_of=AS_OF, chunk_rows=700)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "r.csv").read_bytes()
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "r.parquet"))
    with open(tmp_path / "a.csv", encoding="utf-8-sig", newline="") as handle:
        out = list(csv.reader(handle))
    read = pd.read_parquet(source).drop(columns="geometry")
    expected = [[None if pd.isna(v) else v for v in row] for row in read.astype(object).itertuples(index=False)]
    written = tmp_path / "expected.csv"
    with open(written, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(expected)
    with open(written, encoding="utf-8", newline="") as handle:
        assert [row[:len(read.columns)] for row in out[1:]] == list(csv.reader(handle))


def test_a_csv_that_arrow_would_read_apart_is_read_row_by_row(tmp_path):
    """A cell over two lines, an empty line or a ragged row: the row reader reads the file, with its row
    numbers (the header is row 1) and its errors."""
    source = tmp_path / "r.csv"
    source.write_text('名称,经度,纬度\n"甲\n乙",87.6,43.8\n\n丙,87.7,43.9,多余\n丁,87.8,44.0\n', encoding="utf-8")
    screen_file(source, tmp_path / "o.csv", as_of=AS_OF)
    with open(tmp_path / "o.csv", encoding="utf-8-sig", newline="") as handle:
        out = list(csv.DictReader(handle))
    assert [row["名称"] for row in out] == ["甲\n乙", "丙", "丁"]
    assert out[0]["结论"] != "读取失败" and out[2]["结论"] != "读取失败"
    assert "row 4" in out[1]["读取错误"], out[1]["读取错误"]  # rows as Excel shows them: 甲乙 2, the empty 3


def test_a_word_quoted_in_a_cell_is_not_the_quote_of_the_file(tmp_path):
    """A cell over two lines in double quotes, and words in single quotes in other cells (as a screening's
    reasons quote attributes): the file's quote is still the double quote, as Excel and WPS read it, so the
    cell over two lines is one row, and the rows keep the numbers Excel shows (csv.reader's, blank lines kept)."""
    source = tmp_path / "r.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerows([["名称", "说明", "经度", "纬度"], *([f"丙{i}", "", f"87.{i}", "43.8"] for i in range(10)),
                          ["甲\n一期", "属性 'sewage_status' 未说明", "87.6", "43.8"], [],
                          ["乙", "属性 'level' 未说明", "87.7", "043.9x"]])
    screen_file(source, tmp_path / "o.csv", as_of=AS_OF)
    with open(tmp_path / "o.csv", encoding="utf-8-sig", newline="") as handle:
        out = list(csv.DictReader(handle))
    with open(source, encoding="utf-8", newline="") as handle:
        sheet = list(csv.reader(handle))  # the oracle: the file's rows as Excel shows them, from 1
    assert [row["名称"] for row in out][-2:] == ["甲\n一期", "乙"]
    assert out[-2]["结论"] != "读取失败" and out[-2]["说明"] == "属性 'sewage_status' 未说明"
    assert f"row {[line[:1] for line in sheet].index(['乙']) + 1}" in out[-1]["读取错误"], out[-1]["读取错误"]


_POOL_AFTER = {
    "cli": "from api.cli import main\nsys.argv = ['ecozone', 'version']\ntry:\n    main()\nexcept SystemExit:\n    pass\n",
    "server": "from fastapi.testclient import TestClient\nfrom api.app import create_app\nfrom api.settings import "
              "Settings\nwith TestClient(create_app(Settings(jobs_dir=sys.argv[1], audit=False))):\n    pass\n",
}


@pytest.mark.parametrize("start", sorted(_POOL_AFTER))
def test_ecozones_processes_take_arrow_memory_from_malloc(start, tmp_path):
    """The command line and the server set Arrow's pool to the system allocator (``use_system_memory_pool``),
    as pyarrow itself reports it, in a new process that starts with Arrow's default."""
    code = ("import sys\nimport pyarrow as pa\nbefore = pa.default_memory_pool().backend_name\n" + _POOL_AFTER[start]
            + "print(before, pa.default_memory_pool().backend_name)\n")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "jobs")], capture_output=True, text=True,
                          env=env, timeout=120)
    before, after = done.stdout.split()[-2:]
    if before == "system":
        pytest.skip("this pyarrow's default pool is already the system allocator")
    assert after == "system", done.stderr


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_a_gis_feature_outside_the_layers_is_told_to_check_the_files_crs(tmp_path, suffix):
    """A feature in Beijing in a file declared WGS 84: the batch, and ``ecozone check`` of that feature, tell the
    officer to check the file's CRS, never to exchange two columns (a GIS file has none)."""
    import geopandas as gpd

    places = gpd.GeoDataFrame({"名称": ["北京", "乌鲁木齐"]}, crs="EPSG:4326",
                              geometry=[shapely.Point(116.4, 39.9), shapely.Point(87.6, 43.8)])
    path = tmp_path / f"sites{suffix}"
    places.to_file(path)
    screen_file(path, tmp_path / "o.csv", as_of=AS_OF)
    with open(tmp_path / "o.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[1]["读取错误"] == "" and rows[0]["结论"] == "读取失败"
    alone = tmp_path / f"beijing{suffix}"
    places.iloc[:1].to_file(alone)
    with pytest.raises(CoordinateError) as raised:
        read_site(alone)
    for text in (rows[0]["读取错误"], raised.value.fix):
        assert "检查文件的坐标系（WGS 84" in text and "swap_xy" not in text and "颠倒" not in text, text


def test_a_shapefile_without_its_prj_says_so_and_is_told_to_ship_it(tmp_path):
    """A Gauss-Krüger shapefile without .prj: with the zone in front of Y its CRS is inferred, each row says so,
    and its points are where pyproj puts them; without the zone nothing can be inferred, and the officer is told
    to supply the .prj (a GIS file has no 带号 column to fill)."""
    import geopandas as gpd
    from pyproj import Transformer

    lon, lat = np.array([87.58, 87.62]), np.array([43.82, 43.79])
    for name, crs in (("zoned", "EPSG:4517"), ("bare", "+proj=tmerc +lon_0=87 +k=1 +x_0=500000 +ellps=GRS80")):
        x, y = Transformer.from_crs("EPSG:4490", crs, always_xy=True).transform(lon, lat)
        gpd.GeoDataFrame({"名称": ["甲", "乙"]}, geometry=shapely.points(x, y)).to_file(tmp_path / f"{name}.shp")
        (tmp_path / f"{name}.prj").unlink(missing_ok=True)
        screen_file(tmp_path / f"{name}.shp", [tmp_path / f"{name}.csv", tmp_path / f"{name}.geojson"], as_of=AS_OF)
    with open(tmp_path / "zoned.csv", encoding="utf-8-sig", newline="") as handle:
        zoned = list(csv.DictReader(handle))
    assert all(row["读取错误"] == "" and "文件没有声明坐标系" in row["读取提示"] for row in zoned)
    read = gpd.read_file(tmp_path / "zoned.geojson")
    assert np.allclose(shapely.get_coordinates(read.geometry.values), np.column_stack([lon, lat]), atol=1e-7)
    with open(tmp_path / "bare.csv", encoding="utf-8-sig", newline="") as handle:
        bare = list(csv.DictReader(handle))
    for row in bare:
        assert row["结论"] == "读取失败" and ".prj" in row["读取错误"].split("修正 / Fix:")[1], row["读取错误"]
        assert "带号列" not in row["读取错误"]


def test_cancel_stops_and_leaves_no_partial_output(samples, tmp_path):
    out = tmp_path / "o.xlsx"
    with pytest.raises(CancelledError):
        screen_file(samples / "permits.xlsx", out, as_of=AS_OF, cancel=lambda: True)
    assert not out.exists()


def _register(path, rows: int):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["名称", "经度", "纬度", "建设性质", "锅炉规模"],
                                      *_register_lines(np.random.default_rng(5), rows)])
    return path


def test_cancel_while_a_chunk_is_written_leaves_no_partial_output(tmp_path, monkeypatch):
    """Chunks are written in a thread while the next is screened: cancelling at the second chunk stops the
    first one's write, then removes every output, the workbook's row streams (temporary files) with it."""
    import tempfile

    source = _register(tmp_path / "许可.csv", 1500)
    streams = tmp_path / "tmp"
    streams.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(streams))
    asked: list[int] = []
    outputs = [tmp_path / "o.csv", tmp_path / "o.parquet", tmp_path / "o.xlsx"]
    with pytest.raises(CancelledError):
        screen_file(source, outputs, as_of=AS_OF, chunk_rows=500, cancel=lambda: asked.append(1) or len(asked) > 1)
    assert len(asked) == 2
    assert not any(path.exists() for path in outputs)
    assert not list(streams.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp", "许可.csv"]  # nothing half-written beside them


def test_a_stopped_screening_keeps_the_earlier_output_at_its_path(tmp_path):
    """An officer screening again into last month's files: a cancelled run leaves them as they were (the new
    ones are written beside them and moved there only when whole)."""
    import pyogrio

    source = _register(tmp_path / "许可.csv", 1200)
    outputs = [tmp_path / "o.csv", tmp_path / "o.xlsx", tmp_path / "o.gpkg"]
    report = screen_file(source, outputs, as_of=AS_OF, chunk_rows=500)
    with open(source, encoding="utf-8", newline="") as handle:
        rows = sum(1 for row in csv.reader(handle) if any(row)) - 1  # the register's rows, by csv
    assert report.rows_out == rows
    with open(outputs[0], encoding="utf-8-sig", newline="") as handle:
        assert sum(1 for _ in csv.reader(handle)) == rows + 1
    assert load_workbook(outputs[1])["筛查结果"].max_row == rows + 1
    assert pyogrio.read_info(outputs[2], layer="screening")["features"] == rows
    earlier = [path.read_bytes() for path in outputs]
    asked: list[int] = []
    with pytest.raises(CancelledError):
        screen_file(source, outputs, as_of=AS_OF, chunk_rows=500, cancel=lambda: asked.append(1) or len(asked) > 1)
    assert [path.read_bytes() for path in outputs] == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, *(p.name for p in outputs)])


def test_ctrl_c_says_what_was_not_written(tmp_path):
    """Ctrl-C (SIGINT) during ``ecozone screen`` ends it with exit status 130, a word saying the output was not
    written, and no file or temporary row stream left behind."""
    import signal
    import time

    source = _register(tmp_path / "许可.csv", 20_000)
    streams, out = tmp_path / "tmp", tmp_path / "o.xlsx"
    streams.mkdir()
    out.write_bytes(b"last month")
    # as from a terminal: a run in the background of a shell (a CI's) would inherit SIGINT ignored
    run = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "screen", str(source), "-o",
                            str(out), "--as-of", AS_OF], env={**os.environ, "TMPDIR": str(streams)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list(streams.glob("openpyxl.*")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the workbook's row stream is made when the screening starts
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert f"已中断，未写出 {out}" in err and "interrupted" in err
    assert out.read_bytes() == b"last month" and not list(streams.iterdir())  # the earlier file kept
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["tmp", source.name, out.name])


def test_geoparquet_verdict_columns_are_text_to_every_reader(tmp_path):
    """The verdict columns go to Parquet as dictionaries of their texts; pyarrow and GeoPandas still read
    plain text columns, equal to the CSV output's cells, with the GeoParquet metadata in place."""
    import geopandas as gpd
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "许可.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["名称", "经度", "纬度", "建设性质", "锅炉规模"],
                                      *_register_lines(np.random.default_rng(7), 1200)])
    screen_file(source, [tmp_path / "o.parquet", tmp_path / "o.csv"], as_of=AS_OF, chunk_rows=400)
    table = pq.read_table(tmp_path / "o.parquet")
    assert b"geo" in table.schema.metadata
    assert all(table.schema.field(name).type == pa.string() for name in COLUMNS if name not in ("重叠比例%", "最近距离m"))
    with open(tmp_path / "o.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for name in ("结论", "命中规则", "规则依据", "需核查原因", "涉及区域", "最近保护区域"):
        assert [v or "" for v in table.column(name).to_pylist()] == [row[name] for row in rows], name
    frame = gpd.read_parquet(tmp_path / "o.parquet")
    assert frame.crs.to_epsg() == 4326 and frame["结论"].dtype != "category"
    assert frame["结论"].tolist() == table.column("结论").to_pylist()


def test_vectorised_verdicts_equal_check_site_row_by_row(batch):
    sites = _sites(250, seed=3)
    projects = [PROJECTS[i % len(PROJECTS)] for i in range(len(sites))]
    screener = Screener(batch, default_rule_packs(), dt.date.fromisoformat(AS_OF))
    out = screener.screen(np.array(sites, dtype=object), ProjectColumn.of(projects))
    assert screener.rows_exact < len(sites) // 10
    polygons = np.flatnonzero([site.geom_type == "Polygon" for site in sites])
    exact_rows = set(polygons[batch.polygon_pairs(np.array(sites, dtype=object)[polygons])["exact"]].tolist())
    cited_rows = cited_exact = 0
    store = open_store()
    for i, (site, project) in enumerate(zip(sites, projects)):
        # coverage=None: the sites reach Inner Mongolia, outside the reader's fixed Xinjiang box.
        site_read = read_site(shapely.to_wkt(site, rounding_precision=-1), coverage=None)
        result = check_site(site_read, project, store=store, as_of=AS_OF)
        assert out["结论代码"][i] == result.verdict.value, i
        rules = "；".join(f"{h.rule_id} {h.verdict_label}：{h.title_zh}" for h in result.rules.hits)
        assert out["命中规则"][i] == rules, i
        protected = [h.distance_m for layer in result.overlap.layers if layer.kind in PROTECTED_KINDS
                     for h in layer.hits]
        if protected:
            # Straight edges in the conformal projection vs great-circle edges: ≤ 0.05 % (documented).
            assert out["最近距离m"][i] == pytest.approx(min(protected), rel=5e-4, abs=1.0), i
        else:
            assert out["最近距离m"][i] is None, i
        if site.geom_type == "Polygon":
            shares = [h.overlap_pct for layer in result.overlap.layers for h in layer.hits
                      if h.overlap_pct is not None and h.relation.value != "near"]
            assert all(f"{pct:.2f}%" in out["涉及区域"][i] for pct in shares), i
            # 重叠比例%: the largest share in a zone a rule hit names, whichever way the row was screened
            named = {(zone.kind, zone.zone_id) for hit in result.rules.hits for zone in hit.zones}
            cited = [h.overlap_pct for layer in result.overlap.layers for h in layer.hits if h.overlap_pct is not None
                     and h.relation.value not in ("near", "touches") and (layer.kind, h.zone_id) in named]
            assert out["重叠比例%"][i] == (pytest.approx(max(cited), abs=1e-3) if cited else None), i
            cited_rows += bool(cited)
            cited_exact += bool(cited) and i in exact_rows
    assert cited_rows >= 10 and cited_exact >= 3, (cited_rows, cited_exact)


def test_a_small_register_is_checked_row_by_row_with_the_same_columns(tmp_path, monkeypatch):
    """A register of at most ``_FEW_ROWS`` rows has its points checked one by one (no grid to make); the columns
    are those of the same register screened with keys, cell for cell."""
    import gis.batch

    source = _write_register(tmp_path / "small.csv", _sites(400, seed=21), ["化工", "电力", "", "水泥"],
                             ["新建", "现有", ""])
    by_row = screen_file(source, tmp_path / "by_row.csv", as_of=AS_OF)
    monkeypatch.setattr(gis.batch, "_FEW_ROWS", 0)
    keyed = screen_file(source, tmp_path / "keyed.csv", as_of=AS_OF)
    assert by_row.rows_exact >= 400 > 40 > keyed.rows_exact  # every point on its own, against a few
    assert by_row.verdict_counts == keyed.verdict_counts
    with open(tmp_path / "by_row.csv", encoding="utf-8-sig") as a, open(tmp_path / "keyed.csv", encoding="utf-8-sig") as b:
        assert list(csv.reader(a)) == list(csv.reader(b))


def test_nearest_protected_zone_of_a_point_in_several_is_the_first_by_kind(batch):
    """A point inside a red line and a nature reserve at once: 最近保护区域 names the red line (the documented
    order of PROTECTED_KINDS), at 0 m. (Distances to zones apart are compared with check_site row by row.)"""
    zones = open_store().snapshot(AS_OF).zones
    protected = zones[zones.kind.isin(PROTECTED_KINDS)].reset_index(drop=True)
    redline, reserve = protected[protected.kind == "ecological_redline"], protected[protected.kind == "nature_reserve"]
    pairs = [(r, n) for r in redline.index for n in reserve.index
             if shapely.area(shapely.intersection(redline.geometry[r], reserve.geometry[n])) > 1e-4]
    assert pairs, "the embedded dataset has red lines over nature reserves"
    rng = np.random.default_rng(4)
    points = []
    for r, n in pairs:  # points spread over each shared area
        shared = shapely.intersection(redline.geometry[r], reserve.geometry[n])
        minx, miny, maxx, maxy = shared.bounds
        found = shapely.points(rng.uniform([minx, miny], [maxx, maxy], (500, 2)))
        points += list(found[shapely.contains(shared, found)][:50])
    points = np.array(points, dtype=object)
    screener = Screener(batch, default_rule_packs(), dt.date.fromisoformat(AS_OF))
    out = screener.screen(points, ProjectColumn.of([Project()] * len(points)))
    for i, point in enumerate(points):
        covering = protected[protected.geometry.intersects(point)]
        assert set(covering.kind) >= {"ecological_redline", "nature_reserve"}, i
        first = covering.sort_values("kind", key=lambda k: k.map(PROTECTED_KINDS.index), kind="stable").iloc[0]
        assert out["最近保护区域"][i] == f"生态保护红线「{first['name']}」", i
        assert out["最近距离m"][i] == 0.0, i


def test_geometry_column_is_the_wkb_geos_writes():
    """GeoParquet's geometry column: points are written from their coordinates, the rest by GEOS; the column
    must be GEOS's own WKB (``shapely.to_wkb``) row for row, with nulls where a row was not read."""
    from gis.batch.columnar import wkb_column

    rng = np.random.default_rng(8)
    points = list(shapely.points(rng.uniform([73, 34], [96, 49], (2_000, 2))))
    odd = [None, shapely.Point(), shapely.Point(87.6, 43.8, 900.0), shapely.box(87, 43, 87.01, 43.01), None,
           shapely.from_wkt("MULTIPOLYGON (((87 43, 87.1 43, 87.1 43.1, 87 43)))"),
           shapely.from_wkt("LINESTRING (87 43, 88 44)")]
    for geoms in (points + odd + points[:50], points, odd, [None, None], []):
        geoms = np.array(geoms, dtype=object)
        assert wkb_column(geoms).to_pylist() == shapely.to_wkb(geoms).tolist()


def test_nearest_protected_zone_at_the_edge_of_the_search_radius_equals_check_site(batch):
    """Points a little inside and a little outside the search radius of protected zones, beyond each zone's
    northern, southern, eastern and western extreme: the batch skips points far from every protected zone
    without measuring them, and must still agree with check_site on both sides of the radius."""
    from gis.crs import GEOD

    zones = open_store().snapshot(AS_OF).zones
    protected = zones[zones.kind.isin(PROTECTED_KINDS)].reset_index(drop=True)
    screener = Screener(batch, default_rule_packs(), dt.date.fromisoformat(AS_OF))
    radius_m = 1000 * max(screener.reach_km.get(kind, screener.search_km) for kind in PROTECTED_KINDS)
    points = []
    for geom in protected.geometry.iloc[:: max(1, len(protected) // 12)]:
        xy = shapely.get_coordinates(geom)
        for at, azimuth in ((xy[:, 1].argmax(), 0), (xy[:, 1].argmin(), 180), (xy[:, 0].argmax(), 90),
                            (xy[:, 0].argmin(), 270)):
            for metres in (radius_m - 300, radius_m + 300):
                lon, lat, _ = GEOD.fwd(xy[at, 0], xy[at, 1], azimuth, metres)
                points.append(shapely.Point(lon, lat))
    out = screener.screen(np.array(points, dtype=object), ProjectColumn.of([Project()] * len(points)))
    store, found = open_store(), 0
    for i, point in enumerate(points):
        result = check_site(read_site(point.wkt, coverage=None), Project(), store=store, as_of=AS_OF)
        protected_m = [h.distance_m for layer in result.overlap.layers if layer.kind in PROTECTED_KINDS
                       for h in layer.hits]
        if protected_m:
            assert out["最近距离m"][i] == pytest.approx(min(protected_m), rel=5e-4, abs=1.0), i
            found += 1
        else:
            assert out["最近距离m"][i] is None and out["最近保护区域"][i] is None, i
    assert 0 < found < len(points), found  # both sides of the radius were tried


def test_dask_local_cluster_gives_the_same_output(samples, tmp_path):
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    source = _write_register(tmp_path / "sites.csv", _sites(300, seed=11), ["化工", "电力", "印染"], ["新建"],
                             extra=[["坏行", "x", "y", "", "化工", "新建"]])
    first = screen_file(source, local, as_of=AS_OF)
    second = screen_file(source, remote, as_of=AS_OF, dask_address="local", workers=2)
    assert first.rows_out == second.rows_out == 361
    assert local.read_text(encoding="utf-8-sig") == remote.read_text(encoding="utf-8-sig")


def test_a_script_starting_local_workers_without_the_main_guard_is_told_to_add_it(samples, tmp_path):
    """New worker processes import the script again: without the guard they fail to start, which is said as an
    ecozone error naming the guard, and nothing is written."""
    script = tmp_path / "no_guard.py"
    script.write_text(f"from gis.batch import screen_file\n"
                      f"screen_file({str(samples / 'permits.xlsx')!r}, {str(tmp_path / 'out.csv')!r}, "
                      f"as_of={AS_OF!r}, dask_address='local', workers=1)\n", encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "EcozoneError: 无法在本机启动 Dask 工作进程" in run.stderr and '__name__ == "__main__"' in run.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.postgis
def test_hits_identical_to_postgis(batch, postgres_db):
    import psycopg

    zones = batch.engine.snapshot.zones
    rng = np.random.default_rng(5)
    sites = [s for s in _sites(3000, seed=5) if s.geom_type == "Point"]
    sites += list(shapely.points(rng.uniform(74, 96, (2000, 2)) * [1, 0.6] + [0, 9]))  # all over Xinjiang
    xy = shapely.get_coordinates(np.array(sites, dtype=object))
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("CREATE TABLE z (id int, cov bool, geom geometry(Geometry, 4326))")
        conn.execute("CREATE TABLE s (id int, geom geometry(Point, 4326))")
        with conn.cursor().copy("COPY z (id, cov, geom) FROM STDIN") as copy:
            for i, g in enumerate(zones.geometry):
                copy.write_row((i, False, shapely.to_wkb(g, hex=True, include_srid=False)))
            for j, kind in enumerate(batch.coverage_kinds):
                geom = batch.engine._coverage[kind]
                copy.write_row((batch.n_zones + j, True, shapely.to_wkb(geom, hex=True)))
        conn.execute("UPDATE z SET geom = ST_SetSRID(geom, 4326)")
        with conn.cursor().copy("COPY s (id, geom) FROM STDIN") as copy:
            for i, (x, y) in enumerate(xy):
                copy.write_row((i, f"SRID=4326;POINT({float(x)!r} {float(y)!r})"))
        conn.execute("CREATE INDEX ON z USING gist (geom)")
        conn.execute("CREATE INDEX ON s USING gist (geom)")
        conn.execute("ANALYZE z; ANALYZE s")
        # Zones outside, sites inside the loop: PostGIS then reuses each zone's prepared geometry.
        pairs = conn.execute(
            "SELECT h.id, z.id, z.cov, h.interior FROM z CROSS JOIN LATERAL (SELECT s.id, "
            "ST_ContainsProperly(z.geom, s.geom) AS interior FROM s WHERE ST_Intersects(z.geom, s.geom)) h "
            "WHERE ST_Dimension(z.geom) = 2"
        ).fetchall()
        near = []  # per radius the rules test, the zones of the kinds tested at that radius
        for radius, radius_tag in batch.radius_tags.items():
            measured = [int(i) for i in batch._within if radius in batch.radii[batch.kinds[i]]]
            near += [(site_id, zone_id, radius_tag) for site_id, zone_id in conn.execute(
                "SELECT s.id, z.id FROM s JOIN z ON z.geom && ST_Expand(s.geom, 0.3) "
                "AND ST_DWithin(z.geom::geography, s.geom::geography, %s) WHERE z.id = ANY(%s)",
                (radius, measured)
            ).fetchall()]
    expected = np.zeros(len(sites), dtype=np.uint64)
    site, zone, cov, interior = (np.array(c) for c in zip(*pairs))
    tag = np.where(cov, COVERED, np.where(interior, SHARE, TOUCH))
    np.add.at(expected, site, batch.keys[tag, zone])
    if near:
        site, zone, radius_tag = (np.array(c) for c in zip(*near))
        np.add.at(expected, site, batch.keys[radius_tag, zone])
    assert len(pairs) > len(sites)
    np.testing.assert_array_equal(batch.point_keys(xy[:, 0], xy[:, 1]), expected)


def test_points_a_hair_from_the_edges_of_slanted_zones_get_the_keys_of_the_zones_own_predicates():
    """The grid marks as crossed the cells within a quarter cell of each sample along the zones' edges: every
    cell an edge passes through, even one it clips at a corner between two samples. Points scattered within a
    fraction of a cell of the edges of slanted slivers (a few cells long) and of a large polygon with long
    diagonal edges get exactly the key that each zone's own exact predicates give."""
    import geopandas as gpd

    from gis.kinds import ZONE_FIELDS
    from gis.overlap import OverlapEngine
    from gis.store.base import Snapshot

    rng = np.random.default_rng(11)
    geoms = [shapely.Polygon([(80.0, 40.0), (86.0, 41.3), (84.5, 44.7), (80.9, 43.2)])]  # window of many cells
    for _ in range(300):  # slivers: windows of a few cells, edges at every angle
        cx, cy, angle = rng.uniform(87, 93), rng.uniform(40, 45), rng.uniform(0, np.pi)
        length, width = rng.uniform(0.005, 0.05), rng.uniform(0.0002, 0.004)
        along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        corners = [(cx, cy) + a * length * along + b * width * across for a, b in ((0, 0), (1, 0), (1, 1), (0, 1))]
        geoms.append(shapely.Polygon(corners))
    zones = gpd.GeoDataFrame({
        "zone_id": [f"z{i}" for i in range(len(geoms))], "kind": "ecological_redline",
        "name": [f"z{i}" for i in range(len(geoms))], "name_en": None, "subtype": None, "jurisdiction": None,
        "attributes": [{} for _ in geoms], "source_doc": None, "source_quote": None,
        "geometry_source": "illustrative", "valid_from": None, "valid_to": None,
    }, geometry=geoms, crs="EPSG:4326")[[*ZONE_FIELDS, "geometry"]]
    batch = BatchEngine(OverlapEngine(Snapshot("2024-01-01", {}, zones)), packs=[])
    cell = batch.grid.size
    # points along every edge, pushed off it by up to a third of a cell either way
    rings = shapely.get_exterior_ring(np.array(geoms, dtype=object))
    at = rng.uniform(0, 1, (len(rings), 200))
    xy = shapely.get_coordinates(shapely.line_interpolate_point(rings[:, None], at, normalized=True))
    xy += rng.uniform(-cell / 3, cell / 3, xy.shape) * rng.choice([1e-6, 1e-2, 1.0], (len(xy), 1))
    expected = np.zeros(len(xy), dtype=np.uint64)
    for i, geom in enumerate(geoms):
        touches = shapely.intersects_xy(geom, xy[:, 0], xy[:, 1])
        interior = touches & shapely.contains_xy(geom, xy[:, 0], xy[:, 1])
        expected[interior] += batch.keys[SHARE, i]
        expected[touches & ~interior] += batch.keys[TOUCH, i]
    assert (expected != 0).sum() > len(xy) / 3 and (expected == 0).sum() > len(xy) / 3  # both sides of the edges
    np.testing.assert_array_equal(batch.point_keys(xy[:, 0], xy[:, 1]), expected)


@pytest.mark.parametrize("where", ["87.6,43.8", "118.5,43.0"])
def test_rules_not_checked_are_said_once_under_each_layer_that_does_not_cover_the_site(where):
    """需核查原因 names each layer that leaves rules unchecked once, with the rules that need it: read from the
    rule files (the kinds each rule's zone conditions name) and the layers the check could not use."""
    result = check_site(read_site(where), project={"industry": "火力发电", "scope": "new"}, as_of=AS_OF)
    checked = {layer.kind for layer in result.overlap.layers if layer.status == "checked"}
    kinds = {(pack.id, rule.id): {c.kind for c in (*pack.applies_within, *rule.conditions)}
             for pack in default_rule_packs() for rule in pack.rules}
    expected: dict[str, list[str]] = {}
    for hit in result.rules.unchecked:
        for kind in sorted(kinds[(hit.pack, hit.rule_id)] - checked, key=list(KINDS).index):
            expected.setdefault(kind, []).append(hit.rule_id)
    assert len(expected) >= 3, expected  # the place leaves several layers unchecked
    text = reasons_text([], result.rules.unchecked)
    listed = [f"{KINDS[kind].label_zh}（{'、'.join(ids)}）" for kind, ids in
              sorted(expected.items(), key=lambda item: list(KINDS).index(item[0]))]
    assert text == f"{UNCOVERED_TITLE}：{'，'.join(listed)}"
