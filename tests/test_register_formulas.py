"""Register cells that read blank for a reason other than being blank, and X/Y mapped the surveying way round.

A project fact given by a formula without a saved result (openpyxl and scripts write them so) cannot be known: its
row fails naming the cell, as a location cell does, rather than being screened as if the fact were not given; a
merged cell holding such a formula is named on every row of the merge; X/Y mapped north-first are refused naming
the mapping and what x and y mean. The oracles: openpyxl reading the formulas (``data_only=False``) and the merged
ranges of the sheet loaded whole, ``check_site`` of the same site with the fact given as a number, pyproj for the
Gauss-Krüger coordinates.
"""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from pyproj import Transformer

from api.cli_options import column_mapping
from gis.batch import screen_file
from gis.check import check_site
from gis.errors import FieldError
from gis.rules.project import read_project
from gis.sites import read_site

AS_OF = "2024-01-01"
#: 昌吉市, in the “乌-昌-石” region, inside the heat network: a new coal boiler of 20 t/h is banned there.
CHANGJI = (87.30, 44.0)
BOILER = {"industry": "热力", "scope": "新建", "fuel": "煤"}
HEADER = ["项目名称", "经度基准", "经度", "纬度", "行业", "建设性质", "锅炉规模(t/h)", "燃料"]


def _expected(lon: float, lat: float, facts: dict):
    """check_site's verdict for a point and facts read as a register's cells are (not strict)."""
    site = read_site(f"{lon}, {lat}", coverage=None)
    return check_site(site, read_project(facts, strict=False).project, as_of=AS_OF).verdict.value


def _screened(source, tmp_path, **options) -> pd.DataFrame:
    screen_file(source, tmp_path / "out.csv", as_of=AS_OF, **options)
    return pd.read_csv(tmp_path / "out.csv", dtype=str)


@pytest.mark.parametrize("mapped", [False, True])
def test_a_fact_formula_without_its_result_fails_the_row_naming_the_cell(tmp_path, mapped):
    """锅炉规模 20 on one row, =10*2 (no saved result) on the next: the first is check_site's verdict for a 20 t/h
    boiler, the second is not screened as a project without a boiler (check_site's other verdict) but fails naming
    the sheet, the cell, the formula and the fact. Where a row holds several such cells, the location's is named
    first, then the leftmost fact's. A blank 锅炉规模 is still not given. Alike when the fact's column is mapped."""
    lon, lat = CHANGJI
    boiler_header = "燃煤设备出力" if mapped else "锅炉规模(t/h)"
    source = tmp_path / "台账.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.title = "台账"
    sheet.append([*HEADER[:6], boiler_header, HEADER[7]])
    sheet.append(["值", lon, lon, lat, "热力", "新建", 20, "煤"])  # row 2
    sheet.append(["式", lon, lon, lat, "热力", "新建", "=10*2", "煤"])  # row 3: the fact a formula
    sheet.append(["两式", lon, lon, lat, '="热"&"力"', "新建", "=10*2", "煤"])  # row 4: 行业 left of 锅炉规模
    sheet.append(["位置与事实", lon, "=B5*1", lat, "热力", "新建", "=10*2", "煤"])  # row 5: the location first
    sheet.append(["空", lon, lon, lat, "热力", "新建", None, "煤"])  # row 6: not given
    book.save(source)
    given, not_given = _expected(lon, lat, {**BOILER, "boiler_tph": 20}), _expected(lon, lat, BOILER)
    assert given == "forbidden" and not_given != given  # read as not given, the row would be screened wrongly
    read = _screened(source, tmp_path, chunk_rows=2, columns={"boiler_tph": boiler_header} if mapped else None)
    formulas = load_workbook(source)["台账"]  # the oracle of what each cell holds
    assert read["结论代码"].tolist() == [given, "error", "error", "error", not_given]
    assert read["读取错误"].isna().tolist() == [True, False, False, False, True]
    for i, (cell, header, fact) in enumerate([("G3", boiler_header, "锅炉规模"), ("E4", "行业", "行业"),
                                              ("C5", "经度", None)], start=1):
        error = read["读取错误"][i]
        assert formulas[cell].value.startswith("=")
        assert error.startswith(f"工作表「台账」{cell} 单元格是公式 {formulas[cell].value}，"), error
        assert f"cell {cell} of sheet '台账' holds the formula {formulas[cell].value}" in error
        assert f"field '{header}'" in error and "Excel 或 WPS" in error and "paste them as values" in error
        if fact:
            assert f"该行的{fact}因此无从得知，该行不筛查" in error and "the row is not screened" in error
        else:
            assert "无从得知" not in error


def test_a_merged_formula_is_named_on_every_row_of_the_merge(tmp_path):
    """经度 =B2+0 in C2 merged down C2:C3, and 锅炉规模 =10*2 in G4 merged down G4:G5, none with a result: each row
    of each merge names the merge's first cell, its formula (openpyxl reading the sheet whole the oracle of the
    ranges and formulas) and the range, not `坐标为空` nor a boiler not given."""
    lon, lat = CHANGJI
    source = tmp_path / "台账.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.title = "台账"
    sheet.append(HEADER)
    sheet.append(["甲", lon, "=B2+0", lat, "热力", "新建", 20, "煤"])
    sheet.append(["乙", None, None, lat, "热力", "新建", 20, "煤"])
    sheet.append(["丙", lon, lon, lat, "热力", "新建", "=10*2", "煤"])
    sheet.append(["丁", lon, lon, lat, "热力", "新建", None, "煤"])
    sheet.merge_cells("C2:C3")
    sheet.merge_cells("G4:G5")
    book.save(source)
    read = _screened(source, tmp_path)
    whole = load_workbook(source)["台账"]
    merges = {str(r): whole.cell(r.min_row, r.min_col) for r in whole.merged_cells.ranges}
    assert set(merges) == {"C2:C3", "G4:G5"}
    assert read["结论代码"].tolist() == ["error"] * 4
    for i, merged in enumerate(["C2:C3", "C2:C3", "G4:G5", "G4:G5"]):
        first, error = merges[merged], read["读取错误"][i]
        assert error.startswith(f"工作表「台账」{first.coordinate} 单元格（合并单元格 {merged}）是公式 {first.value}，"), error
        assert f"cell {first.coordinate} of sheet '台账', merged over {merged}, holds the formula {first.value}" in error
        assert f"row {i + 2}," in error and "坐标为空" not in error


def test_a_workbook_without_formulas_lacking_results_is_not_read_again(tmp_path, monkeypatch):
    """Blank fact cells on every row, and formulas whose results are saved (XlsxWriter, as Excel saves): the sheet
    is not read a second time for formulas (its XML holds none without a result), and every row is screened."""
    import xlsxwriter

    import gis.sites.tables

    lon, lat = CHANGJI
    source = tmp_path / "台账.xlsx"
    book = xlsxwriter.Workbook(source)
    sheet = book.add_worksheet("台账")
    sheet.write_row(0, 0, HEADER)
    for row in range(1, 6):
        sheet.write_row(row, 0, [f"公司{row}", lon])
        sheet.write_formula(row, 2, f"=B{row + 1}*1", None, lon)
        sheet.write_row(row, 3, [lat, "热力", "新建", None, "煤"])
    book.close()
    opened = []
    original = gis.sites.tables.open_workbook
    monkeypatch.setattr(gis.sites.tables, "open_workbook",
                        lambda *a, **k: opened.append(k.get("formulas")) or original(*a, **k))
    read = _screened(source, tmp_path)
    assert read["结论代码"].tolist() == [_expected(lon, lat, BOILER)] * 5
    assert True not in opened


def _gk_register(path, places: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A register in the surveying habit: 北向坐标 (X, north) before 东向坐标 (Y, east), CGCS2000 3° CM 87°E
    without the zone in front (pyproj the oracle); returns the lon/lat pyproj reads back from the cells."""
    forward = Transformer.from_crs("EPSG:4326", "EPSG:4538", always_xy=True)
    back = Transformer.from_crs("EPSG:4538", "EPSG:4326", always_xy=True)
    book = Workbook()
    sheet = book.active
    sheet.title = "许可台账"
    sheet.append(["序号", "企业名称", "北向坐标", "东向坐标", "主营业务"])
    points = []
    for i, (lon, lat) in enumerate(places, 1):
        east, north = (round(v, 2) for v in forward.transform(lon, lat))
        sheet.append([i, f"企业{i}", north, east, "热力"])
        points.append(back.transform(east, north))
    book.save(path)
    return points


@pytest.mark.parametrize("crs", [None, "EPSG:4538"])
def test_xy_mapped_north_first_names_the_mapping_and_what_x_and_y_are(tmp_path, crs):
    """--column x=北向坐标 --column y=东向坐标 (X north, as Chinese surveys write it): every row is refused saying
    which column the mapping gave as x (the easting, 横坐标 Y) and as y (the northing, 纵坐标 X), and how to map
    them; nothing of 经度/纬度 nor of an X (north) order contradicting the mapping. Mapped as the fix says, with
    x/y or east/north alike, every row gets check_site's verdict at pyproj's lon/lat of its cells."""
    places = [(86.05, 44.30), (87.30, 44.0), (87.60, 44.23)]
    source = tmp_path / "gk.xlsx"
    points = _gk_register(source, places)
    options = {"crs": crs} if crs else {}
    read = _screened(source, tmp_path, columns={"x": "北向坐标", "y": "东向坐标", "industry": "主营业务"}, **options)
    assert read["结论代码"].tolist() == ["error"] * 3
    for i, error in enumerate(read["读取错误"]):
        assert error.startswith("坐标顺序颠倒：列对应把「北向坐标」作为 x（东坐标，测量上的横坐标 Y）、「东向坐标」作为 y（北坐标，"
                                "测量上的纵坐标 X）"), error
        assert "the column mapping takes 北向坐标 as x (the easting" in error and f"row {i + 2}," in error
        assert "把列对应改为 x=东向坐标、y=北向坐标" in error and "east=东向坐标, north=北向坐标" in error
        assert "经度" not in error and "纬度" not in error and "X (north)" not in error
    if crs is None:
        return  # the Y values carry no zone: the fix needs the CRS too, as the row's next error would say
    expected = [_expected(lon, lat, {"industry": "热力"}) for lon, lat in points]
    for columns in ({"x": "东向坐标", "y": "北向坐标"}, {"east": "东向坐标", "north": "北向坐标"}):
        read = _screened(source, tmp_path, columns={**columns, "industry": "主营业务"}, crs=crs)
        assert read["读取错误"].isna().all() and read["结论代码"].tolist() == expected


def test_columns_swapped_by_header_are_told_without_longitude_words(tmp_path):
    """东坐标/北坐标 headers holding each other's values (no mapping): refused in the surveying words the headers
    use, the register's fix naming the two columns' values, not 经度/纬度."""
    source = tmp_path / "gk.xlsx"
    _gk_register(source, [(86.05, 44.30)])
    book = load_workbook(source)
    book.active["C1"], book.active["D1"] = "东坐标", "北坐标"  # 北向坐标 values under 东坐标
    book.save(source)
    error = _screened(source, tmp_path, crs="EPSG:4538")["读取错误"][0]
    assert "X (north) and Y (east) are swapped" in error and "两列的值互换" in error, error
    assert "经度" not in error and "纬度" not in error


def test_east_and_north_are_mapping_names_of_x_and_y():
    """--column east=… north=… are x and y (as the summary records them); a field given under both names, or one
    ecozone does not have, is refused."""
    assert column_mapping(["east=东向坐标", "north=北向坐标", "industry=主营业务"]) == {
        "x": "东向坐标", "y": "北向坐标", "industry": "主营业务"}
    with pytest.raises(FieldError, match="x twice"):
        column_mapping(["x=东向坐标", "east=北向坐标"])
    with pytest.raises(FieldError, match="unknown field"):
        column_mapping(["northing=北向坐标"])
