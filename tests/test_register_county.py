"""A register's county column (所在县市 ...) against where each row's coordinates fall.

A county that is not where the site lies is the commonest sign of wrong coordinates: the row is told so in
读取提示, Chinese first, naming the unit the register gives and the one the site lies in; a cell that names no unit
of the store (102团, blank) says nothing, and the verdict is the same as without the column. The oracle is the
store's own administrative polygons (shapely ``contains``), never the program's output.
"""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
import shapely
from openpyxl import Workbook, load_workbook

from gis.batch import screen_file
from gis.batch.county import AdminUnits
from gis.batch.inputs import FIELD_LABELS, FIELDS
from gis.store import open_store

AS_OF = "2024-01-01"
#: What each cell names, as the test reads it (None: nothing the store holds).
NAMES = {"昌吉市": "昌吉市", "昌吉州昌吉市": "昌吉市", "五家渠市": "五家渠市", "第六师五家渠市": "五家渠市", "呼图壁县": "呼图壁县",
         "昌吉州呼图壁县": "呼图壁县", "玛纳斯县": "玛纳斯县", "昌吉州": "昌吉回族自治州", "阜康市": "阜康市", "102团": None, "": None}


@pytest.fixture(scope="module")
def admin():
    """The store's administrative polygons in force, by name."""
    zones = open_store().snapshot(AS_OF).zones
    zones = zones[zones.kind == "admin_division"]
    return dict(zip(zones["name"], zones.geometry.values))


def _inside(polygon, n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` points well inside ``polygon`` (2 km from its edge), its representative point first."""
    rng = np.random.default_rng(seed)
    inner = polygon.buffer(-0.02)
    first = inner.representative_point()
    found = [(first.x, first.y)]
    x0, y0, x1, y1 = inner.bounds
    while len(found) < n:
        xy = np.column_stack([rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)])
        found += [tuple(p) for p in xy[shapely.contains_xy(inner, xy[:, 0], xy[:, 1])]]
    return [(round(x, 6), round(y, 6)) for x, y in found[:n]]


def _expected(admin: dict, lon: float, lat: float, cell: str) -> bool:
    """Whether the row is to be warned: its cell names a unit whose polygon neither holds nor touches the site."""
    named = NAMES[cell]
    return named is not None and not admin[named].intersects(shapely.Point(lon, lat))


def _county_of(admin: dict, lon: float, lat: float) -> str:
    """The county-level unit (名称 ending 市/县/区) whose polygon holds the site."""
    point = shapely.Point(lon, lat)
    held = [name for name, polygon in admin.items() if polygon.contains(point) and name in
            ("昌吉市", "五家渠市", "呼图壁县", "玛纳斯县", "阜康市", "米东区")]
    assert len(held) == 1, held
    return held[0]


def _write(path, header: list[str], rows: list[list]) -> None:
    if path.suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([header, *rows])
        return
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)


def _read(path) -> list[dict]:
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    sheet = load_workbook(path, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def _check_notices(admin: dict, places: list[tuple[float, float]], cells: list[str], said: list[str | None]) -> int:
    """Each row's 读取提示 against the polygons; returns the rows warned."""
    warned = 0
    for (lon, lat), cell, notice in zip(places, cells, said):
        notice = notice or ""
        if _expected(admin, lon, lat, cell):
            warned += 1
            lies_in = _county_of(admin, lon, lat)
            assert f"登记所在县市「{cell}」，坐标位于{lies_in}，不在{NAMES[cell]}内：请核对坐标" in notice, (cell, notice)
            assert f"/ the register says {cell}, the site lies in {lies_in}, outside {NAMES[cell]}" in notice, notice
        else:
            assert "登记所在县市" not in notice and "the register says" not in notice, (cell, lon, lat, notice)
    return warned


def test_the_county_column_is_a_register_field_and_no_fact():
    """Recognised by its header (and mapped by its name), shown as 所在县市, never a fact for the rules."""
    from gis.batch.inputs import header_fields
    from gis.rules.project import fact_specs

    assert FIELD_LABELS["county"] == "所在县市" and list(FIELDS) == list(FIELD_LABELS)
    assert "county" not in {spec.name for spec in fact_specs()}
    for header in ("所在县市", "所属区县", "县（市、区）", "行政区划", "所在地区"):
        assert header_fields(["经度", "纬度", header])["county"] == 2, header


def test_a_cell_names_the_finest_unit_it_gives(admin):
    units = AdminUnits.of_store(open_store(), AS_OF)
    names = {cell: {units.names[i] for i in units.named(cell)} for cell in
             ["昌吉市", "昌吉州呼图壁县", "第六师五家渠市", "呼图壁", "昌吉州", "102团", "", None, "652323",
              652323.0, "和静县乌什塔拉乡", "乌鲁木齐县", "昌吉"]}
    assert names["昌吉市"] == {"昌吉市"} and names["昌吉州呼图壁县"] == {"呼图壁县"}
    assert names["第六师五家渠市"] == {"五家渠市"} and names["呼图壁"] == {"呼图壁县"}
    assert names["昌吉州"] == {"昌吉回族自治州"}
    assert names["102团"] == names[""] == names[None] == set()
    assert names["652323"] == names[652323.0] == {"呼图壁县"}  # an adcode
    assert names["和静县乌什塔拉乡"] == {"和静县"}  # a whole name first: 乌什 is 乌什县 written short
    assert names["乌鲁木齐县"] == {"乌鲁木齐县"}  # not 乌鲁木齐市 without its suffix
    assert names["昌吉"] == {"昌吉市", "昌吉回族自治州"}  # either: the site in one of them says nothing


@pytest.mark.parametrize(("suffix", "header"), [(".csv", "所在县市"), (".xlsx", "县（市、区）")])
def test_rows_placed_in_changji_are_told_when_their_county_is_another(tmp_path, admin, suffix, header):
    places = _inside(admin["昌吉市"], 3, seed=1)
    cells = ["昌吉市", "昌吉州昌吉市", "五家渠市", "呼图壁县", "102团", "", "第六师五家渠市", "昌吉州呼图壁县", "昌吉州"]
    rows = [(place, cell) for place in places for cell in cells]
    source = tmp_path / f"登记{suffix}"
    _write(source, ["单位名称", "经度", "纬度", header, "行业类别"],
           [[f"企业{i}", lon, lat, cell, "水泥制造" if i % 2 else ""] for i, ((lon, lat), cell) in enumerate(rows)])
    out = tmp_path / f"out{suffix}"
    screen_file(source, out, as_of=AS_OF)
    read = _read(out)
    said = [row["读取提示"] for row in read]
    warned = _check_notices(admin, [p for p, _ in rows], [c for _, c in rows], said)
    assert warned == 4 * len(places)  # 五家渠市 and 呼图壁县, each written two ways
    # what the row's facts assumed is still said, first
    assert all(row["读取提示"].startswith("假设：建设性质未填写") for row in read)
    # the verdict is the one the rows get without the column
    plain = tmp_path / f"无县市{suffix}"
    _write(plain, ["单位名称", "经度", "纬度", "行业类别"],
           [[f"企业{i}", lon, lat, "水泥制造" if i % 2 else ""] for i, ((lon, lat), _) in enumerate(rows)])
    screen_file(plain, tmp_path / f"plain{suffix}", as_of=AS_OF)
    for row, alone in zip(read, _read(tmp_path / f"plain{suffix}")):
        assert {k: row[k] for k in ("结论代码", "命中规则", "涉及区域", "需核查原因")} == \
            {k: alone[k] for k in ("结论代码", "命中规则", "涉及区域", "需核查原因")}
        assert alone["读取提示"] == row["读取提示"].split("；登记所在县市")[0]


def test_rows_sharing_places_are_each_told_as_their_own_cell_says(tmp_path, admin):
    """Past the rows checked one by one (1,000), rows share places by the engine's grid: each (place, cell) pair
    is told once, every row as the polygons say."""
    counties = ["昌吉市", "五家渠市", "呼图壁县", "玛纳斯县", "阜康市"]
    places = [p for i, name in enumerate(counties) for p in _inside(admin[name], 60, seed=10 + i)]
    rng = np.random.default_rng(3)
    picks = rng.integers(0, len(places), 1_600)
    cells = list(rng.choice(list(NAMES), len(picks)))
    rows = [places[i] for i in picks]
    source = tmp_path / "登记.csv"
    _write(source, ["单位名称", "经度", "纬度", "所在县市"],
           [[f"企业{i}", lon, lat, cell] for i, ((lon, lat), cell) in enumerate(zip(rows, cells))])
    report = screen_file(source, tmp_path / "out.csv", as_of=AS_OF, chunk_rows=500)
    assert report.rows_exact < len(rows)  # most rows shared places
    warned = _check_notices(admin, rows, cells, [row["读取提示"] for row in _read(tmp_path / "out.csv")])
    assert 0 < warned < len(rows)


def test_a_county_column_of_another_name_is_mapped(tmp_path, admin):
    (lon, lat), = _inside(admin["昌吉市"], 1, seed=2)
    source = tmp_path / "登记.csv"
    _write(source, ["单位名称", "经度", "纬度", "所在地"], [["甲", lon, lat, "五家渠市"], ["乙", lon, lat, "昌吉市"]])
    screen_file(source, tmp_path / "unmapped.csv", as_of=AS_OF)
    assert not any("登记所在县市" in (row["读取提示"] or "") for row in _read(tmp_path / "unmapped.csv"))
    screen_file(source, tmp_path / "mapped.csv", as_of=AS_OF, columns={"county": "所在地"})
    said = [row["读取提示"] for row in _read(tmp_path / "mapped.csv")]
    assert _check_notices(admin, [(lon, lat)] * 2, ["五家渠市", "昌吉市"], said) == 1


def test_the_command_line_screen_tells_the_rows(tmp_path, admin):
    (lon, lat), = _inside(admin["昌吉市"], 1, seed=4)
    source, out = tmp_path / "登记.csv", tmp_path / "out.csv"
    _write(source, ["单位名称", "经度", "纬度", "所在地"],
           [["甲", lon, lat, "呼图壁县"], ["乙", lon, lat, "102团"], ["丙", lon, lat, "昌吉州昌吉市"]])
    done = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", "screen", str(source), "-o",
                           str(out), "--as-of", AS_OF, "--column", "county=所在地"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    said = [row["读取提示"] for row in _read(out)]
    assert _check_notices(admin, [(lon, lat)] * 3, ["呼图壁县", "102团", "昌吉州昌吉市"], said) == 1
