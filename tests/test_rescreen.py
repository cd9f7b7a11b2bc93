"""Re-screening keeps each changed row's own cells as the officer's file holds them, and names the sheet screened.

Oracle: the screened workbook itself read with openpyxl (the cell at the change's worksheet row, under the same
header), and for a CSV the csv module's reading of the file; never the re-screening's own output. Verdicts change
between 2018-06-01 and 2021-06-01 on the embedded dataset (the 准东 park's water-project freeze ends once its
sewage plant runs: see ``tests/test_layer_updates.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections import Counter

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles.numbers import is_date_format
from pyproj import Transformer

from gis.batch import screen_file
from gis.batch.outputs import fact_text
from gis.errors import FieldError
from gis.check import check_site
from gis.rescreen import options_text, rescreen_file, write_rescreen
from gis.rules.project import fact_specs, read_project
from gis.sites import read_site
from tests.rescreen_support import written_changes

OLD, NEW = "2018-06-01", "2021-06-01"
HEADER = ["许可证编号", "项目名称", "行业", "建设性质", "经度", "纬度", "生产废水", "锅炉规模", "新增燃煤量", "有效期限",
          "发证时间", "备注"]
#: (项目名称, 行业, 建设性质, lon, lat, 生产废水): 准东化工涉水 changes verdict (the freeze ends), 戈壁光伏 does not
SITES = [
    ("准东化工涉水", "化工", "新建", 89.05, 44.55, "是"),
    ("准东印染涉水", "印染", "新建", 89.049, 44.549, "是"),
    ("准东化工二期", "化工", "新建", 89.0505, 44.5505, "是"),
    ("戈壁光伏", "光伏", "新建", 84.0, 41.0, "否"),
    ("准东化工无废水", "化工", "新建", 89.051, 44.551, "否"),
]


def changed_names(names) -> set:
    """The project names of the changed rows, checked to hold the known change and not the desert site."""
    names = set(names)
    assert "准东化工涉水" in names and "戈壁光伏" not in names and len(names) >= 2, names
    return names


def permit(i: int, site: tuple) -> list:
    """One register row: a code with leading zeros (text), numbers, a date, a date and time, a note."""
    name, industry, scope, lon, lat, water = site
    return [f"{i:07d}", name, industry, scope, lon, lat, water, 20 if i % 2 else 6.5, 12000 + i * 1000,
            dt.datetime(2028, 6, 29 - i), dt.datetime(2018, 3, i, 9, 30), "=以上为估算" if i == 1 else f"第{i}批"]


def register(path, *, notes_first: bool):
    """An officer's workbook: a 说明 sheet, a title row merged above the header, blank rows between permits, dates
    in a date format, a note that starts like a formula (a text cell)."""
    book = Workbook()
    notes = book.active
    notes.title = "说明"
    notes.append(["本表为第八师排污许可登记表，经度纬度为 CGCS2000。"])
    sheet = book.create_sheet("许可证", None if notes_first else 0)
    sheet.append(["2018年排污许可登记表（第八师）"])
    sheet.merge_cells("A1:L1")
    sheet.append(HEADER)
    for i, site in enumerate(SITES, 1):
        sheet.append(permit(i, site))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "yyyy-mm-dd" if cell.value.time() == dt.time() else "yyyy-mm-dd hh:mm"
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
        if i % 2:
            sheet.append([])
    assert book.sheetnames == (["说明", "许可证"] if notes_first else ["许可证", "说明"])
    book.save(path)
    return path


def own_cells_of(screened_sheet, row: int) -> dict:
    """The oracle: the screened sheet's cells at ``row`` under the header's names (row 2)."""
    names = [cell.value for cell in screened_sheet[2]]
    return {name: screened_sheet.cell(row, column).value for column, name in enumerate(names, 1) if name in HEADER}


@pytest.mark.parametrize("notes_first", [False, True], ids=["notes-second", "notes-first"])
def test_change_list_of_a_workbook_keeps_the_sheets_cell_types(tmp_path, store, notes_first):
    """Each own cell of a changed row in the change list (.xlsx) has the type and value of the screened sheet's
    cell at that worksheet row: numbers, dates (with a date format), text with its leading zeros; a note that
    starts with = stays text. The 汇总 sheet and the report name the sheet screened."""
    screen_file(register(tmp_path / "register.xlsx", notes_first=notes_first), tmp_path / "screened.xlsx",
                store=store, as_of=OLD)
    report = rescreen_file(tmp_path / "screened.xlsx", as_of=NEW, store=store)
    assert report.sheet == "许可证"
    screened = load_workbook(tmp_path / "screened.xlsx")["许可证"]
    changed_names(screened.cell(c.row, 2).value for c in report.changes)
    for change in report.changes:  # the report itself: the sheet's values, a date cell as its day
        expected = {k: v.date() if isinstance(v, dt.datetime) and v.time() == dt.time() else v
                    for k, v in own_cells_of(screened, change.row).items() if v is not None}
        assert change.cells == expected
        assert all(type(change.cells[k]) is type(v) for k, v in expected.items())

    write_rescreen(report, tmp_path / "changes.xlsx")
    book = load_workbook(tmp_path / "changes.xlsx")
    table = book["结论变化"]
    names = [cell.value for cell in table[1]]
    assert names[0] == "行号（原表行）" and set(HEADER) <= set(names)
    checked = set()
    for line in table.iter_rows(min_row=2):
        row = line[0].value
        expected = own_cells_of(screened, row)
        for name, want in expected.items():
            got = line[names.index(name)]
            assert type(got.value) is type(want) and got.value == want, (row, name, got.value, want)
            checked.add(type(want))
            if isinstance(want, dt.datetime):
                assert is_date_format(got.number_format), (row, name, got.number_format)
            if isinstance(want, str):
                assert got.data_type == "s", (row, name)  # never a formula
        # and the officer's register says the same at that row
        assert expected == own_cells_of(load_workbook(tmp_path / "register.xlsx")["许可证"], row)
    assert checked == {str, int, float, dt.datetime}
    assert sorted(line[0].value for line in table.iter_rows(min_row=2)) == sorted(c.row for c in report.changes)
    summary = [tuple(row) for row in book["汇总"].iter_rows(values_only=True)]
    assert summary[:2] == [("输入文件", "screened.xlsx"), ("工作表", "许可证")]


def test_json_of_a_workbook_has_numbers_and_iso_dates(tmp_path, store):
    """JSON: numbers as JSON numbers, date cells as ISO text, text as text; the sheet named."""
    screen_file(register(tmp_path / "register.xlsx", notes_first=True), tmp_path / "screened.xlsx", store=store,
                as_of=OLD)
    report = rescreen_file(tmp_path / "screened.xlsx", as_of=NEW, store=store)
    write_rescreen(report, tmp_path / "changes.json")
    answer = json.loads((tmp_path / "changes.json").read_text(encoding="utf-8"))
    assert answer["sheet"] == "许可证"
    changed_names(c["cells"]["项目名称"] for c in answer["changes"])
    screened = load_workbook(tmp_path / "screened.xlsx")["许可证"]
    for change in answer["changes"]:
        for name, want in own_cells_of(screened, change["row"]).items():
            got = change["cells"][name]
            if isinstance(want, dt.datetime):
                assert got == (want.date().isoformat() if want.time() == dt.time() else want.isoformat())
            else:
                assert type(got) is type(want) and got == want, (name, got, want)

    write_rescreen(report, tmp_path / "changes.csv")  # the CSV: text, as ever; a formula-like text quoted
    with open(tmp_path / "changes.csv", encoding="utf-8-sig", newline="") as handle:
        text = list(csv.reader(handle))
    by_row = {int(line[0]): dict(zip(text[0], line)) for line in text[1:]}
    for row, cells in by_row.items():
        want = own_cells_of(screened, row)
        assert cells["许可证编号"] == want["许可证编号"] and cells["锅炉规模"] == str(want["锅炉规模"])
        assert cells["有效期限"] == want["有效期限"].date().isoformat()
        assert cells["备注"] == ("'" if want["备注"].startswith("=") else "") + want["备注"]


def test_change_list_of_a_csv_keeps_its_text(tmp_path, store):
    """A CSV holds text: the cells stay the file's text (a code's leading zeros, a number not made a number), in
    the report, the JSON and the workbook; no sheet is named."""
    with open(tmp_path / "register.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i, site in enumerate(SITES, 1):
            writer.writerow([value.date() if isinstance(value, dt.datetime) and i % 2 else value
                             for value in permit(i, site)[:-1]] + [f"第{i}批"])
    screen_file(tmp_path / "register.csv", tmp_path / "screened.csv", store=store, as_of=OLD)
    report = rescreen_file(tmp_path / "screened.csv", as_of=NEW, store=store)
    assert report.sheet is None
    changed_names(c.cells["项目名称"] for c in report.changes)
    with open(tmp_path / "screened.csv", encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    for change in report.changes:
        expected = {name: value for name, value in zip(lines[0], lines[change.row - 1]) if name in HEADER}
        assert change.cells == expected and all(type(v) is str for v in change.cells.values())
        assert change.cells["许可证编号"].startswith("000")

    write_rescreen(report, tmp_path / "changes.xlsx")
    write_rescreen(report, tmp_path / "changes.json")
    book = load_workbook(tmp_path / "changes.xlsx")
    table = list(book["结论变化"].iter_rows(values_only=True))
    for line in table[1:]:
        for name, value in zip(table[0], line):
            if name in HEADER:
                assert value == lines[line[0] - 1][lines[0].index(name)] and type(value) is str
    assert [tuple(row) for row in book["汇总"].iter_rows(max_row=2, values_only=True)] == [
        ("输入文件", "screened.csv"), ("工作表", "（CSV 文件，无工作表）")]
    answer = json.loads((tmp_path / "changes.json").read_text(encoding="utf-8"))
    assert answer["sheet"] is None
    assert all(type(v) is str for c in answer["changes"] for v in c["cells"].values())


def test_cli_and_http_name_the_sheet(tmp_path, store):
    """The terminal summary names the sheet screened; POST /rescreen answers typed cells and the sheet."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from api.app import create_app
    from api.cli import app as cli_app
    from api.settings import Settings

    screen_file(register(tmp_path / "register.xlsx", notes_first=True), tmp_path / "screened.xlsx", store=store,
                as_of=OLD)
    said = CliRunner().invoke(cli_app, ["rescreen", str(tmp_path / "screened.xlsx"), "--as-of", NEW],
                              env={"ECOZONE_STORE": None})  # the embedded dataset, as ``store``
    assert said.exit_code == 0, said.output
    assert said.stdout.splitlines()[0].startswith("screened.xlsx（工作表 许可证）：")

    screened = load_workbook(tmp_path / "screened.xlsx")["许可证"]
    with TestClient(create_app(Settings(jobs_dir=tmp_path / "jobs", audit=False))) as client:
        with open(tmp_path / "screened.xlsx", "rb") as handle:
            answer = client.post("/rescreen", files={"file": ("screened.xlsx", handle)}, data={"as_of": NEW})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["sheet"] == "许可证"
    changed_names(c["cells"]["项目名称"] for c in body["changes"])
    for change in body["changes"]:
        want = own_cells_of(screened, change["row"])
        assert change["cells"]["锅炉规模"] == want["锅炉规模"] and type(change["cells"]["锅炉规模"]) is type(want["锅炉规模"])
        assert change["cells"]["有效期限"] == want["有效期限"].date().isoformat()


# -- an officer's ledger as the exploratory tester's (/tmp/ex-today/make_register.py) ----------------------------
#: Its columns: the boiler's (H–J) are blank on a water project, 附件 is blank on every row.
LEDGER = ["序号", "许可证编号", "项目名称", "行业", "建设性质", "经度", "纬度", "锅炉规模", "燃料", "新增燃煤量", "生产废水",
          "发证日期", "投资额", "备注", "附件"]
#: (项目名称, 行业, lon, lat, 锅炉规模, 燃料, 新增燃煤量, 生产废水): between OLD and NEW the 准东 water project changes
#: (its freeze ends) and so does the 昌吉 gas boiler (应履行义务 → 限制); the desert site and the northern one, whose
#: layers cover them in part (部分未核查), do not.
LEDGER_SITES = [
    ("准东化工涉水", "化工", 89.05, 44.55, None, None, None, "是"),
    ("戈壁光伏", "光伏", 84.0, 41.0, None, None, None, "否"),
    ("昌吉燃气锅炉", "热力", 87.36, 44.03, 20, "天然气", 0, "否"),
    ("北疆仓储", "仓储", 85.0, 45.5, None, None, None, "否"),
]


def ledger_rows(count: int) -> list[list]:
    """``count`` permits over ``LEDGER_SITES`` in turn, each a little apart; the first 备注 is formula-like text."""
    rows = []
    for i in range(count):
        name, industry, lon, lat, boiler, fuel, coal, water = LEDGER_SITES[i % len(LEDGER_SITES)]
        rows.append([i + 1, f"{i * 37:06d}", name, industry, "新建", round(lon + i * 1e-5, 6), round(lat + i * 1e-5, 6),
                     boiler, fuel, coal, water, dt.datetime(2017, 1, 1) + dt.timedelta(days=i), 100 + i * 3.25,
                     "=SUM(M4:M5)" if i == 0 else "注意", None])
    return rows


def ledger(path, count: int = len(LEDGER_SITES), *, header: list = LEDGER, rows: list | None = None,
           formats: dict | None = None):
    """The ledger as an officer's workbook (a title over the header, text cells for formula-like text) or CSV;
    ``header`` and ``rows`` for another ledger's, ``formats`` a number format by column (an .xlsx's)."""
    rows = ledger_rows(count) if rows is None else rows
    if path.suffix == ".csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows([header, *([("" if v is None else v.date().isoformat()
                                                      if isinstance(v, dt.datetime) else v) for v in row]
                                                    for row in rows)])
        return path
    book = Workbook()
    sheet = book.active
    sheet.title = "许可清单"
    sheet.append(["2018年排污许可登记台账"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet.append(header)
    for row in rows:
        sheet.append(row)
        for name, cell in zip(header, sheet[sheet.max_row]):
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "yyyy-mm-dd"
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
            if name in (formats or {}):
                cell.number_format = formats[name]
    book.save(path)
    return path


def header_of(sheet, row: int) -> list:
    """The names of a worksheet's header row, as openpyxl reads them."""
    return [cell.value for cell in sheet[row]]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_change_list_keeps_the_files_columns_in_the_files_order(tmp_path, store, suffix):
    """The change list carries the screened file's own columns in the file's order (the verdict columns left out),
    a column blank in every changed row too: the report's ``columns``, and the header of the .xlsx, the .csv and
    the JSON; each cell under its column, a blank cell blank (the 准东 row, the first changed, has no boiler)."""
    screened = tmp_path / f"screened{suffix}"
    screen_file(ledger(tmp_path / f"ledger{suffix}"), screened, store=store, as_of=OLD)
    report = rescreen_file(screened, as_of=NEW, store=store)
    # the oracle: the screened file's header, up to its first verdict column
    if suffix == ".xlsx":
        sheet = load_workbook(screened)["许可清单"]
        header, title_rows = header_of(sheet, 2), 1

        def cell(row, name):
            return sheet.cell(row, header.index(name) + 1).value
    else:
        with open(screened, encoding="utf-8-sig", newline="") as handle:
            lines = list(csv.reader(handle))
        header, title_rows = lines[0], 0

        def cell(row, name):
            return lines[row - 1][header.index(name)]
    own = header[: header.index("结论")]
    assert own == LEDGER and report.columns == own
    assert [c.cells["项目名称"] for c in report.changes] == ["准东化工涉水", "昌吉燃气锅炉"]  # the first blank in H–J
    assert all(cell(c.row, "附件") in (None, "") for c in report.changes)

    table, text, answer = written_changes(report, tmp_path)
    for rows, blank in ((table, None), (text, "")):
        assert list(rows[0][: len(own) + 2]) == ["行号（原表行）", *own, "原结论"]
        for line in rows[1:]:
            row = int(line[0])
            assert row > title_rows
            for name, got in zip(own, line[1: len(own) + 1], strict=True):
                want = cell(row, name)
                if want in (None, ""):
                    assert got == blank, (row, name, got)
                elif rows is text or suffix == ".csv":
                    assert str(got).removeprefix("'") == (want.date().isoformat() if isinstance(want, dt.datetime)
                                                          else str(want).removeprefix("'")), (row, name, got, want)
                else:
                    assert got == want, (row, name, got, want)
    assert answer["columns"] == own
    for change in answer["changes"]:
        assert list(change["cells"]) == [name for name in own if cell(change["row"], name) not in (None, "")]


def test_terminal_lists_the_first_twenty_changes_and_says_where_the_rest_are(tmp_path, store):
    """More than 20 changes: the terminal prints the summary, the first 20 and a line saying how many more there
    are and which output holds them (without -o, how to write them); --format json stays complete."""
    from typer.testing import CliRunner

    from api.cli import app as cli_app

    screened = tmp_path / "screened.xlsx"
    screen_file(ledger(tmp_path / "ledger.xlsx", count=52), screened, store=store, as_of=OLD)
    sheet = load_workbook(screened)["许可清单"]
    header = header_of(sheet, 2)
    # the oracle: the rows of the two sites that change (see ``LEDGER_SITES``), in the sheet's order
    changing = [row for row in range(3, sheet.max_row + 1)
                if sheet.cell(row, header.index("项目名称") + 1).value in {"准东化工涉水", "昌吉燃气锅炉"}]
    assert len(changing) == 26
    runner = CliRunner()
    command = ["rescreen", str(screened), "--as-of", NEW]
    env = {"ECOZONE_STORE": None}  # the embedded dataset, as ``store``

    full = runner.invoke(cli_app, [*command, "--format", "json"], env=env)
    assert full.exit_code == 0, full.output
    assert [c["row"] for c in json.loads(full.stdout)["changes"]] == changing

    bare = runner.invoke(cli_app, command, env=env)
    assert bare.exit_code == 0, bare.output
    lines = bare.stdout.splitlines()
    assert len(lines) == 1 + 20 + 1
    assert [int(line.split()[1]) for line in lines[1:21]] == changing[:20]  # "  原表第 N 行 …"
    assert lines[-1].startswith("…另有 6 行") and "6 more" in lines[-1] and "-o" in lines[-1]

    written = runner.invoke(cli_app, [*command, "-o", str(tmp_path / "changes.csv"), "-o",
                                      str(tmp_path / "changes.xlsx")], env=env)
    assert written.exit_code == 0, written.output
    lines = written.stdout.splitlines()
    assert len(lines) == 1 + 20 + 1 + 2
    more = lines[21]
    assert more.startswith("…另有 6 行") and "all 26" in more and "changes.csv" in more and "changes.xlsx" in more
    with open(tmp_path / "changes.csv", encoding="utf-8-sig", newline="") as handle:
        assert [int(line[0]) for line in list(csv.reader(handle))[1:]] == changing


def test_change_workbook_freezes_its_header_and_filters_its_columns(tmp_path, store):
    """结论变化 opens with its header frozen and an auto-filter over every column and row."""
    from openpyxl.utils import get_column_letter

    screen_file(ledger(tmp_path / "ledger.xlsx", count=8), tmp_path / "screened.xlsx", store=store, as_of=OLD)
    write_rescreen(rescreen_file(tmp_path / "screened.xlsx", as_of=NEW, store=store), tmp_path / "changes.xlsx")
    table = load_workbook(tmp_path / "changes.xlsx")["结论变化"]
    width, height = len(header_of(table, 1)), table.max_row
    assert height == 1 + 4 and width == 1 + len(LEDGER) + 8
    assert table.freeze_panes == "A2"
    assert table.auto_filter.ref == f"A1:{get_column_letter(width)}{height}"


def test_change_summary_counts_each_verdict_as_the_rows_say_it(tmp_path, store):
    """The 汇总 sheet counts 原结论 as the screened file's 结论 cells say them and 新结论 as a screening as of the new
    date says them (部分未核查 apart from 未核查: one code, not_checked): each count is a number of cells."""
    from collections import Counter

    screen_file(ledger(tmp_path / "ledger.xlsx", count=8), tmp_path / "screened.xlsx", store=store, as_of=OLD)
    screen_file(tmp_path / "ledger.xlsx", tmp_path / "new.xlsx", store=store, as_of=NEW)

    def said(path) -> Counter:
        sheet = load_workbook(path)["许可清单"]
        at = header_of(sheet, 2).index("结论")
        return Counter(row[at] for row in sheet.iter_rows(min_row=3, values_only=True))

    old, new = said(tmp_path / "screened.xlsx"), said(tmp_path / "new.xlsx")
    assert "部分未核查" in old and "未核查" not in old

    report = rescreen_file(tmp_path / "screened.xlsx", as_of=NEW, store=store)
    write_rescreen(report, tmp_path / "changes.xlsx")
    summary = list(load_workbook(tmp_path / "changes.xlsx")["汇总"].iter_rows(values_only=True))
    for prefix, cells in (("原结论：", old), ("新结论：", new)):
        counted = [(k.removeprefix(prefix), v) for k, v in summary if str(k).startswith(prefix)]
        assert dict(counted) == cells and len(counted) == len(cells)
    assert report.old_verdict_labels == dict(old) and report.new_verdict_labels == dict(new)


def test_a_row_added_after_screening_that_fails_to_read_says_why(tmp_path, store):
    """A permit the officer added to the screened workbook, with a longitude the reader cannot read: its change
    says why (读取错误: the field and the value the sheet holds), in the report and in the workbook's 说明."""
    screen_file(ledger(tmp_path / "ledger.xlsx"), tmp_path / "screened.xlsx", store=store, as_of=OLD)
    book = load_workbook(tmp_path / "screened.xlsx")
    sheet = book["许可清单"]
    header = header_of(sheet, 2)
    added = sheet.max_row + 1
    for name, value in {"序号": 99, "项目名称": "补录项目", "行业": "化工", "建设性质": "新建", "经度": "东经八十九度",
                        "纬度": 44.55, "生产废水": "是"}.items():
        sheet.cell(added, header.index(name) + 1, value)
    book.save(tmp_path / "edited.xlsx")
    # the oracle: the edited workbook as openpyxl reads it
    edited = load_workbook(tmp_path / "edited.xlsx")["许可清单"]
    assert edited.cell(added, header.index("结论") + 1).value is None
    typed = edited.cell(added, header.index("经度") + 1).value

    report = rescreen_file(tmp_path / "edited.xlsx", as_of=NEW, store=store)
    [change] = [c for c in report.changes if c.row == added]
    assert change.old_verdict == "" and change.new_verdict == "读取失败"
    assert "读取错误" in change.reason_zh and "经度" in change.reason_zh and typed in change.reason_zh
    write_rescreen(report, tmp_path / "changes.xlsx")
    table = list(load_workbook(tmp_path / "changes.xlsx")["结论变化"].iter_rows(values_only=True))
    [line] = [line for line in table[1:] if line[0] == added]
    assert line[table[0].index("说明")] == change.reason_zh


def test_formula_like_text_of_a_screened_csv_comes_back_as_the_officer_typed_it(tmp_path, store):
    """A screened CSV holds the officer's =SUM(M4:M5) as '=SUM(M4:M5) (ecozone's guard against formula injection);
    re-screened, the cell is =SUM(M4:M5) again, as the register holds it: in the report and the JSON, a text cell
    of the workbook, and guarded again in the CSV. An apostrophe before other text is the officer's and stays."""
    register = ledger(tmp_path / "ledger.csv")
    with open(register, encoding="utf-8-sig", newline="") as handle:
        typed = list(csv.reader(handle))  # the oracle: the register as the csv module reads it
    at = LEDGER.index("备注")
    assert typed[1][at] == "=SUM(M4:M5)"
    screen_file(register, tmp_path / "screened.csv", store=store, as_of=OLD)
    with open(tmp_path / "screened.csv", encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[1][at] == "'=SUM(M4:M5)"  # the guard
    lines[3][at] = "'注意"  # an apostrophe the officer typed before plain text (the 昌吉 row, which changes)
    with open(tmp_path / "edited.csv", "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(lines)

    report = rescreen_file(tmp_path / "edited.csv", as_of=NEW, store=store)
    by_row = {c.row: c for c in report.changes}
    assert sorted(by_row) == [2, 4]
    assert by_row[2].cells["备注"] == typed[1][at] and by_row[4].cells["备注"] == "'注意"
    _, _, answer = written_changes(report, tmp_path)
    assert {c["row"]: c["cells"]["备注"] for c in answer["changes"]} == {2: "=SUM(M4:M5)", 4: "'注意"}
    table = load_workbook(tmp_path / "changes.xlsx")["结论变化"]
    column = header_of(table, 1).index("备注") + 1
    cells = {table.cell(row, 1).value: table.cell(row, column) for row in range(2, table.max_row + 1)}
    assert cells[2].value == "=SUM(M4:M5)" and cells[2].data_type == "s"  # text, never a formula
    assert cells[4].value == "'注意"
    with open(tmp_path / "changes.csv", encoding="utf-8-sig", newline="") as handle:
        text = list(csv.reader(handle))
    assert {int(line[0]): line[text[0].index("备注")] for line in text[1:]} == {2: "'=SUM(M4:M5)", 4: "'注意"}


# -- columns of one name, the row's name, the officer's number formats ---------------------------------------------
#: The ledger with two columns without a header and a second 备注 (an officer's own notes) before 附件.
TWIN_LEDGER = [*LEDGER[:14], "", "备注", "", "附件"]


def shown(value) -> str:
    """A cell as text, for files that hold it as text or typed: blank '', a date as its day, no formula guard."""
    if value is None:
        return ""
    return value.date().isoformat() if isinstance(value, dt.datetime) else str(value).removeprefix("'")


def screened_lines(screened) -> list[list]:
    """The oracle: the screened ledger's rows (worksheet or spreadsheet rows, from 1) as openpyxl or csv reads them."""
    if screened.suffix == ".xlsx":
        return [list(line) for line in load_workbook(screened)["许可清单"].iter_rows(values_only=True)]
    with open(screened, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_columns_of_one_name_each_keep_their_own_cells(tmp_path, store, suffix):
    """Two 备注 columns and two without a header: each is a column of its own in the change list, in the file's
    order (the second 备注 as 备注（2）, a blank header by its letter), with its own cells, in the report, the
    .xlsx, the .csv and the JSON."""
    rows = [[*row[:14], f"补记{i}", f"复核{i}", f"附{i}", None] for i, row in enumerate(ledger_rows(4))]
    screened = tmp_path / f"screened{suffix}"
    screen_file(ledger(tmp_path / f"ledger{suffix}", header=TWIN_LEDGER, rows=rows), screened, store=store, as_of=OLD)
    lines = screened_lines(screened)
    header = lines[1] if suffix == ".xlsx" else lines[0]
    width = header.index("结论")
    assert [name or "" for name in header[:width]] == TWIN_LEDGER

    report = rescreen_file(screened, as_of=NEW, store=store)
    labels = [*LEDGER[:14], "列O", "备注（2）", "列Q", "附件"]
    assert report.columns == labels and len(report.changes) == 2
    table, text, answer = written_changes(report, tmp_path)
    assert answer["columns"] == labels
    for written in (table, text):
        assert list(written[0][: width + 2]) == ["行号（原表行）", *labels, "原结论"]
        for line in written[1:]:
            want = lines[int(line[0]) - 1][:width]
            assert [shown(v) for v in line[1: width + 1]] == [shown(v) for v in want], line[0]
    for change in answer["changes"]:
        want = [(label, shown(v)) for label, v in zip(labels, lines[change["row"] - 1]) if v not in (None, "")]
        assert [(label, shown(v)) for label, v in change["cells"].items()] == want
        assert {"备注", "备注（2）", "列O", "列Q"} <= change["cells"].keys()


@pytest.mark.parametrize(("name", "suffix"), [("单位名称", ".xlsx"), ("企业名称", ".csv"), ("排污单位名称", ".xlsx")])
def test_terminal_names_each_row_by_the_column_the_reader_takes_for_its_name(tmp_path, store, name, suffix):
    """A register that names its rows in 单位名称 (or 企业名称), not 项目名称: each terminal line names its row by
    that column's cell, the column the report (and its JSON) gives as ``name_column``."""
    from typer.testing import CliRunner

    from api.cli import app as cli_app

    header = [name if column == "项目名称" else column for column in LEDGER]
    screened = tmp_path / f"screened{suffix}"
    screen_file(ledger(tmp_path / f"ledger{suffix}", header=header), screened, store=store, as_of=OLD)
    lines = screened_lines(screened)
    names = {row: line[header.index(name)] for row, line in enumerate(lines, start=1) if line}

    command = ["rescreen", str(screened), "--as-of", NEW]
    env = {"ECOZONE_STORE": None}  # the embedded dataset, as ``store``
    said = CliRunner().invoke(cli_app, command, env=env)
    assert said.exit_code == 0, said.output
    changed = said.stdout.splitlines()[1:]
    assert len(changed) == 2
    for line in changed:
        row = int(line.split()[1])  # "  原表第 N 行 …"
        assert names[row] in {"准东化工涉水", "昌吉燃气锅炉"} and line.startswith(f"  原表第 {row} 行 {names[row]}："), line
    full = CliRunner().invoke(cli_app, [*command, "--format", "json"], env=env)
    assert full.exit_code == 0, full.output
    assert json.loads(full.stdout)["name_column"] == name


def test_change_workbook_keeps_the_number_formats_of_the_officers_cells(tmp_path, store):
    """An officer's number formats (#,##0.00, 0.0%, a date's own) come with the cells into 结论变化: each own cell
    has the value and number format of the screened sheet's cell (General where it is General, a date's format
    where a date has one)."""
    header = [*LEDGER, "减排比例"]
    rows = [[*row, 0.125 + i / 100] for i, row in enumerate(ledger_rows(4))]
    formats = {"投资额": "#,##0.00", "减排比例": "0.0%", "发证日期": 'yyyy"年"m"月"d"日"'}
    screen_file(ledger(tmp_path / "ledger.xlsx", header=header, rows=rows, formats=formats),
                tmp_path / "screened.xlsx", store=store, as_of=OLD)
    screened = load_workbook(tmp_path / "screened.xlsx")["许可清单"]  # the oracle
    width = header_of(screened, 2).index("结论")

    write_rescreen(rescreen_file(tmp_path / "screened.xlsx", as_of=NEW, store=store), tmp_path / "changes.xlsx")
    table = load_workbook(tmp_path / "changes.xlsx")["结论变化"]
    assert [cell.value for cell in table[1]][1: width + 1] == header
    seen = set()
    for line in table.iter_rows(min_row=2):
        for column in range(width):
            want, got = screened.cell(line[0].value, column + 1), line[column + 1]
            assert got.value == want.value, (line[0].value, header[column], got.value, want.value)
            if want.value is not None:
                assert got.number_format == want.number_format, (header[column], got.number_format)
                seen.add(want.number_format)
    assert set(formats.values()) | {"General"} <= seen and len(table["A"]) == 3
    assert is_date_format(formats["发证日期"])


# -- the options a file was screened with ----------------------------------------------------------------------
#: A re-screening as of the day of the screening: any change is a false one.
SAME = "2024-06-30"
#: The ledger without 建设性质: a register of existing enterprises, screened with --existing.
EXISTING = [name for name in LEDGER if name != "建设性质"]


def existing_rows(count: int) -> list[list]:
    """``count`` ledger rows without 建设性质; the 昌吉 boiler burns gas on some and coal (6.5 t/h) on others, whose
    verdicts differ for an existing and a new boiler (未核查 / 限制, 限期淘汰 / 禁止)."""
    rows = []
    for i, row in enumerate(ledger_rows(count)):
        row = row[:4] + row[5:]
        if row[2] == "昌吉燃气锅炉" and i // 4 % 2:
            row[6:9] = [6.5, "煤", 3000]
        rows.append(row)
    return rows


def verdicts(path) -> dict[int, str]:
    """The oracle: the 结论代码 the screening wrote on each worksheet row of the workbook."""
    return verdicts_of(path, "许可清单")


def verdicts_of(path, sheet: str) -> dict[int, str]:
    """The 结论代码 the screening wrote on each worksheet row of ``sheet`` (its header in row 2, under a title)."""
    rows = list(load_workbook(path)[sheet].iter_rows(values_only=True))
    at = rows[1].index("结论代码")  # the header, under the title
    return {number: row[at] for number, row in enumerate(rows, start=1) if number > 2}


@pytest.fixture(scope="module")
def existing(tmp_path_factory, store):
    """300 existing enterprises without 建设性质 (the register) and their screening with scope existing (.xlsx)."""
    folder = tmp_path_factory.mktemp("existing")
    register = ledger(folder / "现有企业.xlsx", header=EXISTING, rows=existing_rows(300))
    screen_file(register, folder / "screened.xlsx", store=store, as_of=SAME, defaults={"scope": "existing"})
    return register, folder / "screened.xlsx"


def test_a_workbook_is_screened_again_with_the_batch_wide_facts_its_summary_records(tmp_path, existing, store):
    """No batch-wide facts given: those the 筛查汇总 records (建设性质 现有) are used, and the same day gives no
    change; the report, its JSON and its 汇总 sheet say which were used and where they came from."""
    old = verdicts(existing[1])
    assert len(old) == 300 and {"phase_out", "not_checked"} <= set(old.values())
    report = rescreen_file(existing[1], as_of=SAME, store=store)
    assert report.rows == 300 and report.changed == 0, [c.reason_zh for c in report.changes[:3]]
    assert report.new_counts == dict(Counter(old.values()))
    assert (report.assumed, report.assumed_from, report.assumed_recorded) == ({"scope": "现有"}, "file",
                                                                              {"scope": "现有"})
    _, _, answer = written_changes(report, tmp_path)
    assert answer["assumed"] == {"scope": "现有"} and answer["assumed_from"] == "file"
    summary = dict(load_workbook(tmp_path / "changes.xlsx")["汇总"].iter_rows(values_only=True))
    assert summary["整批假定来源"] == "取自文件的筛查汇总" and summary["整批假定：建设性质"] == "现有"
    assert not any(label.startswith("原筛查整批假定") for label in summary)


def test_batch_wide_facts_given_are_a_what_if(tmp_path, existing, store):
    """Other batch-wide facts given (scope new) are used: the rows that change are those whose verdict differs in
    a screening of the register as new projects, old and new verdicts as the two screenings wrote them."""
    register, screened = existing
    screen_file(register, tmp_path / "new.xlsx", store=store, as_of=SAME, defaults={"scope": "new"})
    old, new = verdicts(screened), verdicts(tmp_path / "new.xlsx")
    differ = {row for row in old if old[row] != new[row]}
    assert 0 < len(differ) < len(old)
    report = rescreen_file(screened, as_of=SAME, store=store, defaults={"scope": "new"})
    assert {c.row for c in report.changes} == differ
    assert all((c.old_code, c.new_code) == (old[c.row], new[c.row]) for c in report.changes)
    assert {(c.old_code, c.new_code) for c in report.changes} == {("not_checked", "restricted"),
                                                                   ("phase_out", "forbidden")}
    assert (report.assumed, report.assumed_from, report.assumed_recorded) == (
        {"scope": "新建（新、改、扩建）"}, "given", {"scope": "现有"})
    write_rescreen(report, tmp_path / "changes.xlsx")
    summary = dict(load_workbook(tmp_path / "changes.xlsx")["汇总"].iter_rows(values_only=True))
    assert summary["整批假定来源"] == "重新筛查时给出" and summary["整批假定：建设性质"] == "新建（新、改、扩建）"
    assert summary["原筛查整批假定：建设性质"] == "现有"


def test_recorded_facts_read_back_as_given_or_are_refused(tmp_path, existing, store):
    """What 筛查汇总 records of each batch-wide fact (现有, 是, 6.5 ...) is read as the value the screening was
    given; a 筛查汇总 edited to a value no fact reads is refused naming the fact, not dropped; facts given are
    then used."""
    samples = {"choice": None, "bool": (True, False), "number": (0, 6.5, 20.0, 12000, 1e-7),
               "text": ("火力发电", "C3011", "水泥")}
    for spec in fact_specs():
        for value in samples[spec.kind] or spec.choices:
            try:
                given = read_project({}, defaults={spec.name: value})
            except FieldError:  # not a value of this fact (a 国六 stage of 1e-7)
                continue
            again = read_project({}, defaults={spec.name: fact_text(value)})
            assert again.project == given.project, (spec.name, value, fact_text(value))

    shutil.copy(existing[1], tmp_path / "edited.xlsx")
    book = load_workbook(tmp_path / "edited.xlsx")
    summary = book["筛查汇总"]
    [cell] = [row[1] for row in summary.iter_rows() if row[0].value == "整批假定：建设性质"]
    cell.value = "待定"
    book.save(tmp_path / "edited.xlsx")
    with pytest.raises(FieldError) as raised:
        rescreen_file(tmp_path / "edited.xlsx", as_of=SAME, store=store)
    error = raised.value
    assert error.field == "scope" and error.value == "待定" and "无法读回" in error.message
    assert "\u4e00" <= error.message[0] <= "\u9fff" and " / " in error.message
    what_if = rescreen_file(tmp_path / "edited.xlsx", as_of=SAME, store=store, defaults={"scope": "existing"})
    assert what_if.changed == 0 and what_if.assumed_recorded == {"scope": "待定"}


def test_a_csv_screened_with_batch_wide_facts_needs_them_given_again(tmp_path, store):
    """A CSV records no batch-wide facts: its 读取提示 tells that rows took one, and without them the re-screening
    is refused, naming the fact and the row; given again, nothing changes. A CSV screened without any is
    screened again without any."""
    register = ledger(tmp_path / "现有企业.csv", header=EXISTING, rows=existing_rows(40))
    screen_file(register, tmp_path / "existing.csv", store=store, as_of=SAME, defaults={"scope": "existing"})
    with pytest.raises(FieldError) as raised:
        rescreen_file(tmp_path / "existing.csv", as_of=SAME, store=store)
    assert raised.value.field == "scope" and raised.value.value == "existing" and "第 2 行" in raised.value.message
    again = rescreen_file(tmp_path / "existing.csv", as_of=SAME, store=store, defaults={"scope": "existing"})
    assert again.changed == 0 and (again.assumed, again.assumed_from) == ({"scope": "现有"}, "given")
    screen_file(register, tmp_path / "new.csv", store=store, as_of=SAME)
    plain = rescreen_file(tmp_path / "new.csv", as_of=SAME, store=store)
    assert plain.changed == 0 and (plain.assumed, plain.assumed_from, plain.assumed_recorded) == ({}, None, None)


def test_a_csv_is_screened_again_with_its_columns_encoding_and_crs(tmp_path, store):
    """A UTF-16 register of X/Y without 带号 (EPSG:4538) whose industry is under a header ecozone does not know,
    screened with --encoding, --column and --crs: the same options give no change (the screening's CSV is UTF-8,
    read as such); without the CRS every row fails to read, saying why; without the mapping the industry is
    not read and verdicts change."""
    to_xy = Transformer.from_crs("EPSG:4490", "EPSG:4538", always_xy=True)
    lines = [["单位", "东坐标", "北坐标", "主营业务"]]
    for i in range(60):  # 昌吉, zone 29
        east, north = to_xy.transform(87.36 + i % 6 * 0.01, 44.03 + i // 6 * 0.01)
        lines.append([f"企业{i}", f"{east:.3f}", f"{north:.3f}", ("水泥", "火力发电", "仓储", "化工")[i % 4]])
    (tmp_path / "测绘.csv").write_bytes("".join(",".join(line) + "\n" for line in lines).encode("utf-16"))
    options = {"columns": {"industry": "主营业务"}, "encoding": "utf-16", "crs": "EPSG:4538"}
    screen_file(tmp_path / "测绘.csv", tmp_path / "screened.csv", store=store, as_of=SAME, **options)
    with open(tmp_path / "screened.csv", encoding="utf-8-sig", newline="") as handle:
        old = [row["结论代码"] for row in csv.DictReader(handle)]  # the oracle
    assert len(old) == 60 and "error" not in old and "restricted" in old

    same = rescreen_file(tmp_path / "screened.csv", as_of=SAME, store=store, **options)
    assert same.rows == 60 and same.changed == 0
    # the encoding is the input's: a screening's CSV, which starts with a BOM, is read as UTF-8 and it is not used
    assert same.options_from == {"columns": "given", "crs": "given"} and same.options_recorded is None
    # without the CRS, a CSV (which records none) has rows read at screening that cannot be read now: refused,
    # naming the first such row and why it cannot be read, rather than listing every row as a false change
    with pytest.raises(FieldError) as raised:
        rescreen_file(tmp_path / "screened.csv", as_of=SAME, store=store,
                      **{k: v for k, v in options.items() if k != "crs"})
    error = raised.value
    assert error.row == 2 and error.field == "crs" and "CSV 不记录" in error.message and "带号" in error.message
    assert "«crs»" in error.fix
    no_columns = rescreen_file(tmp_path / "screened.csv", as_of=SAME, store=store,
                               **{k: v for k, v in options.items() if k != "columns"})
    assert no_columns.changed > 0
    assert all(c.old_code == old[c.row - 2] and c.new_code != "error" for c in no_columns.changes)


def test_cli_takes_the_options_of_screen_and_says_the_batch_wide_facts(tmp_path, existing):
    """ecozone rescreen takes --existing (and the other project options, --column, --encoding, --crs): the
    summary line says the batch-wide facts and where they came from; a CSV screened with --existing and
    re-screened without is refused naming the option, as is a fact value that cannot be read."""
    from typer.testing import CliRunner

    from api.cli import app as cli_app

    env = {"ECOZONE_STORE": None}  # the embedded dataset, as ``store``
    runner = CliRunner()
    given = runner.invoke(cli_app, ["rescreen", str(existing[1]), "--as-of", SAME, "--existing"], env=env)
    assert given.exit_code == 0, given.output
    line = given.stdout.splitlines()[0]
    assert "结论变化 0 行" in line and "整批假定 建设性质 现有（重新筛查时给出）" in line and "scope 现有 (given)" in line
    read = runner.invoke(cli_app, ["rescreen", str(existing[1]), "--as-of", SAME, "--format", "json"], env=env)
    assert read.exit_code == 0, read.output
    answer = json.loads(read.stdout)
    assert answer["changed"] == 0 and answer["assumed"] == {"scope": "现有"} and answer["assumed_from"] == "file"

    register = ledger(tmp_path / "现有企业.csv", header=EXISTING, rows=existing_rows(12))
    made = runner.invoke(cli_app, ["screen", str(register), "-o", str(tmp_path / "screened.csv"), "--as-of", SAME,
                                   "--existing"], env=env)
    assert made.exit_code == 0, made.output
    refused = runner.invoke(cli_app, ["rescreen", str(tmp_path / "screened.csv"), "--as-of", SAME], env=env)
    assert refused.exit_code == 2 and "--new / --existing" in refused.output and "CSV" in refused.output, \
        refused.output
    bad = runner.invoke(cli_app, ["rescreen", str(tmp_path / "screened.csv"), "--as-of", SAME, "--fuel", "木头"],
                        env=env)
    assert bad.exit_code == 2 and "--fuel" in bad.output and "木头" in bad.output, bad.output
    again = runner.invoke(cli_app, ["rescreen", str(tmp_path / "screened.csv"), "--as-of", SAME, "--existing",
                                    "--encoding", "gbk", "--column", "name=项目名称"], env=env)
    assert again.exit_code == 0 and "结论变化 0 行" in again.stdout, again.output


def test_cli_batch_wide_numbers_are_read_as_screen_reads_them(existing):
    """rescreen's --coal-t 0.3万吨 is 0.3 × 10,000 t/a, as --coal-t 3000 (the same answer); --boiler-tph 二十 is
    refused naming 锅炉规模 and the option."""
    from typer.testing import CliRunner

    from api.cli import app as cli_app

    env = {"ECOZONE_STORE": None}
    runner = CliRunner()
    answers = []
    for given in ("0.3万吨", "3000"):
        done = runner.invoke(cli_app, ["rescreen", str(existing[1]), "--as-of", SAME, "--existing", "--coal-t", given,
                                       "--format", "json"], env=env)
        assert done.exit_code == 0, done.output
        answers.append({k: v for k, v in json.loads(done.stdout).items() if k != "seconds"})
    assert answers[0] == answers[1]
    assert answers[0]["assumed"]["coal_t"] == fact_text(0.3 * 10_000)
    bad = runner.invoke(cli_app, ["rescreen", str(existing[1]), "--as-of", SAME, "--boiler-tph", "二十"], env=env)
    assert bad.exit_code == 2 and "锅炉规模「二十」" in bad.output and "--boiler-tph 20" in bad.output, bad.output


#: An X/Y register without 带号 (3° Gauss-Krüger zone 29, EPSG:4538) under headers ecozone does not recognise
#: (测点E, 测点N) and an industry under 主营业务: screened only with ``columns`` and ``crs``.
SURVEY_HEADER = ["单位", "测点E", "测点N", "主营业务"]
SURVEY_OPTIONS = {"columns": {"x": "测点E", "y": "测点N", "industry": "主营业务"}, "crs": "EPSG:4538"}


def survey_sites(count: int) -> list[tuple[str, float, float, str]]:
    """(单位, lon, lat, industry) in 昌吉 (zone 29), over industries whose verdicts differ there."""
    return [(f"企业{i}", 87.36 + i % 4 * 0.01, 44.03 + i // 4 * 0.01, ("水泥", "火力发电", "仓储", "化工")[i % 4])
            for i in range(count)]


def survey_register(path, sites) -> None:
    """The officer's workbook: a title row over the header, X/Y (east, north) without the zone number."""
    to_xy = Transformer.from_crs("EPSG:4490", "EPSG:4538", always_xy=True)
    book = Workbook()
    sheet = book.active
    sheet.title = "测绘成果"
    sheet.append(["企业位置（2000 国家大地坐标系，3 度带，中央经线 87°）"])
    sheet.append(SURVEY_HEADER)
    for name, lon, lat, industry in sites:
        east, north = to_xy.transform(lon, lat)
        sheet.append([name, round(east, 3), round(north, 3), industry])
    book.save(path)


def summary_of(path) -> dict:
    """The oracle for what a screening records: its 筛查汇总 read with openpyxl."""
    return dict(load_workbook(path)["筛查汇总"].iter_rows(min_row=2, values_only=True))


@pytest.fixture(scope="module")
def survey(tmp_path_factory, store):
    """The survey register screened with its column mapping and CRS (.xlsx), and each row's verdict as the single
    check (``gis.check.check_site``) gives it for the site's own longitude/latitude: the independent oracle."""
    folder = tmp_path_factory.mktemp("survey")
    sites = survey_sites(12)
    survey_register(folder / "测绘.xlsx", sites)
    screen_file(folder / "测绘.xlsx", folder / "screened.xlsx", store=store, as_of=SAME, **SURVEY_OPTIONS)
    expected = {row: check_site(read_site(f"{lon}, {lat}"), {"industry": industry}, store=store,
                                as_of=SAME).verdict.value
                for row, (_, lon, lat, industry) in enumerate(sites, start=3)}
    return folder / "screened.xlsx", expected


def test_a_workbook_is_screened_again_with_the_column_mapping_and_crs_its_summary_records(tmp_path, survey, store):
    """A register readable only with --column and --crs (EPSG:4538), screened to an .xlsx and re-screened with
    no option: its 筛查汇总 records the mapping and the CRS (Chinese first), they are read back, and no row
    changes; each row's new verdict is the single check's of its site. The report, its JSON and the change
    list's 汇总 say where the options came from; options given win (a what-if) and are said against the record."""
    screened, expected = survey
    assert verdicts_of(screened, "测绘成果") == expected and len(set(expected.values())) >= 2  # the screening is right
    summary = summary_of(screened)
    assert summary["列对应：X 坐标（东）（x）"] == "测点E" and summary["列对应：Y 坐标（北）（y）"] == "测点N"
    assert summary["列对应：行业（industry）"] == "主营业务" and summary["坐标系（筛查时给出）"] == "EPSG:4538"
    assert not any("文本编码" in label for label in summary)  # not given: not recorded

    report = rescreen_file(screened, as_of=SAME, store=store)
    assert report.rows == len(expected) and report.changed == 0, [c.reason_zh for c in report.changes[:3]]
    assert report.new_counts == dict(Counter(expected.values()))
    assert report.options == SURVEY_OPTIONS and report.options_from == {"columns": "file", "crs": "file"}
    assert report.options_recorded == SURVEY_OPTIONS
    _, _, answer = written_changes(report, tmp_path)
    assert answer["options_from"] == {"columns": "file", "crs": "file"} and answer["options"] == SURVEY_OPTIONS
    said = dict(load_workbook(tmp_path / "changes.xlsx")["汇总"].iter_rows(values_only=True))["读取选项"]
    assert "列对应 x=测点E、y=测点N、industry=主营业务（取自文件的筛查汇总）" in said
    assert "坐标系 EPSG:4538（取自文件的筛查汇总）" in said

    what_if = rescreen_file(screened, as_of=SAME, store=store, columns={"x": "测点E", "y": "测点N"})
    assert what_if.options_from == {"columns": "given", "crs": "file"} and what_if.changed > 0
    assert all(c.old_code == expected[c.row] for c in what_if.changes)  # the industry no longer read
    assert "文件的筛查汇总记录 列对应 x=测点E、y=测点N、industry=主营业务" in options_text(what_if)[0]


def test_a_workbook_whose_summary_records_no_options_is_refused_until_they_are_given(tmp_path, survey, store):
    """The same workbook, its 筛查汇总 without the options (as one written before ecozone recorded them): with
    none given the re-screening is refused (no location columns without the mapping, and the file does not
    record it), not run with false changes; with the mapping but not the CRS, refused at the first row that was
    read and is not now; given both, no row changes."""
    screened, expected = survey
    shutil.copy(screened, tmp_path / "old.xlsx")
    book = load_workbook(tmp_path / "old.xlsx")
    sheet = book["筛查汇总"]
    for number in reversed([row[0].row for row in sheet.iter_rows() if str(row[0].value).startswith(("列对应", "坐标系"))]):
        sheet.delete_rows(number)
    book.save(tmp_path / "old.xlsx")
    assert not any(str(label).startswith(("列对应", "坐标系")) for label in summary_of(tmp_path / "old.xlsx"))

    with pytest.raises(FieldError) as raised:
        rescreen_file(tmp_path / "old.xlsx", as_of=SAME, store=store)
    assert "其筛查汇总未记录" in raised.value.message and "«columns»" in raised.value.fix
    with pytest.raises(FieldError) as raised:
        rescreen_file(tmp_path / "old.xlsx", as_of=SAME, store=store, columns=SURVEY_OPTIONS["columns"])
    assert raised.value.row == min(expected) and raised.value.field == "crs"
    assert "其筛查汇总未记录" in raised.value.message and "带号" in raised.value.message

    given = rescreen_file(tmp_path / "old.xlsx", as_of=SAME, store=store, **SURVEY_OPTIONS)
    assert given.changed == 0 and given.new_counts == dict(Counter(expected.values()))
    assert given.options_from == {"columns": "given", "crs": "given"} and given.options_recorded is None


def test_a_csvs_batch_wide_facts_are_told_by_the_notices_chinese_mark_not_its_english(tmp_path, store):
    """A screened CSV records its batch-wide facts only in its rows' 读取提示: the mark the notice's Chinese
    text carries (整批假定) tells them, so a CSV whose English halves were taken out is still refused without
    the facts; a fact given as the value every screening takes (--new) is no batch-wide fact to give again."""
    register = ledger(tmp_path / "现有企业.csv", header=EXISTING, rows=existing_rows(24))
    screen_file(register, tmp_path / "existing.csv", store=store, as_of=SAME, defaults={"scope": "existing"})
    with open(tmp_path / "existing.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    at = rows[0].index("读取提示")
    assert all("建设性质未填写，按现有核查" in row[at] for row in rows[1:])  # the officer's words
    for row in rows[1:]:  # a spreadsheet that kept the Chinese only
        row[at] = "；".join(part.split(" / ")[0] for part in row[at].split("；"))
    with open(tmp_path / "chinese.csv", "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    assert "not given" not in (tmp_path / "chinese.csv").read_text(encoding="utf-8-sig")
    with pytest.raises(FieldError) as raised:
        rescreen_file(tmp_path / "chinese.csv", as_of=SAME, store=store)
    assert raised.value.field == "scope" and raised.value.value == "existing" and "现有" in raised.value.message
    again = rescreen_file(tmp_path / "chinese.csv", as_of=SAME, store=store, defaults={"scope": "existing"})
    assert again.changed == 0

    screen_file(register, tmp_path / "new.csv", store=store, as_of=SAME, defaults={"scope": "new"})
    plain = rescreen_file(tmp_path / "new.csv", as_of=SAME, store=store)
    assert plain.changed == 0 and plain.assumed_from is None
    assert "列对应、坐标系 文件未记录（CSV 不记录），也未给出" in options_text(plain)[0]


# -- why a row changed, and whether that is stricter ----------------------------------------------------------------

def survey_csv(path, sites) -> None:
    """The survey register as a CSV: X/Y without the zone number under 测点E/测点N, the industry under 主营业务."""
    to_xy = Transformer.from_crs("EPSG:4490", "EPSG:4538", always_xy=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SURVEY_HEADER)
        for name, lon, lat, industry in sites:
            east, north = to_xy.transform(lon, lat)
            writer.writerow([name, f"{east:.3f}", f"{north:.3f}", industry])


def test_a_fact_mapping_left_out_of_a_csvs_rescreening_is_named_not_taken_for_a_rule_change(tmp_path, store):
    """A CSV screened with the location mapping, the CRS and industry=主营业务, re-screened the same day with the
    location mapping and the CRS only (as the tester did): the rule packs and layer versions are those of the
    screening (read from both reports), so no change is the rules': each change says the 行业 its row had at
    screening is now missing, and none claims the rule changed with the date; the summary line says the mapping
    given cannot be checked against the screening's (a CSV records none) and names the missing fact. With the
    whole mapping given, nothing changes."""
    from typer.testing import CliRunner

    from api.cli import app as cli_app

    survey_csv(tmp_path / "测绘.csv", survey_sites(12))
    screening = screen_file(tmp_path / "测绘.csv", tmp_path / "screened.csv", store=store, as_of=SAME, **SURVEY_OPTIONS)
    with open(tmp_path / "screened.csv", encoding="utf-8-sig", newline="") as handle:
        old = {number: row for number, row in enumerate(csv.DictReader(handle), start=2)}  # the oracle
    location = {"x": "测点E", "y": "测点N"}
    report = rescreen_file(tmp_path / "screened.csv", as_of=SAME, store=store, columns=location, crs="EPSG:4538")
    assert report.changed > 0
    for change in report.changes:
        assert change.old_code == old[change.row]["结论代码"] and "缺少项目信息：行业" not in old[change.row]["需核查原因"]
        assert "规则随日期变化" not in change.reason_zh, change.reason_zh
        assert "现缺少原筛查时已有的项目信息：行业" in change.reason_zh
        assert change.missing_facts == ["industry"] and "规则随日期变化" not in change.cause_zh
    # the rules and layers are those of the screening: no change is theirs
    assert (report.layer_versions, report.rule_packs) == (screening.layer_versions, screening.rule_packs)
    assert report.basis_same is None  # which a CSV cannot tell: it records no date, versions or packs
    assert report.missing_facts == {"industry": report.changed}
    said = options_text(report)[0]
    assert "列对应 x=测点E、y=测点N（重新筛查时给出；文件未记录筛查时的列对应（CSV 不记录），无法与原筛查核对）" in said
    assert f"{report.changed} 行结论变化现缺少原筛查时已有的项目信息（行业 {report.changed} 行）" in said
    assert "not checked against the screening's" in options_text(report)[1] and "industry" in options_text(report)[1]

    line = CliRunner().invoke(cli_app, ["rescreen", str(tmp_path / "screened.csv"), "--as-of", SAME, "--column",
                                        "x=测点E", "--column", "y=测点N", "--crs", "EPSG:4538"],
                              env={"ECOZONE_STORE": None})
    assert line.exit_code == 0, line.output
    assert "无法与原筛查核对" in line.stdout.splitlines()[0] and "规则随日期变化" not in line.stdout

    whole = rescreen_file(tmp_path / "screened.csv", as_of=SAME, store=store, **SURVEY_OPTIONS)
    assert whole.changed == 0 and whole.missing_facts == {}


def test_a_workbook_rescreened_on_its_own_day_and_rules_says_no_rule_changed(tmp_path, survey, store):
    """The survey workbook, whose 筛查汇总 records the date, the layer versions and the rule packs, re-screened on
    the same day with the industry mapping left out (a what-if against its record): the basis is the same, no
    change claims the rule changed with the date, each names the 行业 now missing. Re-screened on another day,
    the zones the same, a change that is the rules' says so."""
    screened, expected = survey
    what_if = rescreen_file(screened, as_of=SAME, store=store, columns={"x": "测点E", "y": "测点N"})
    assert what_if.changed > 0 and not any("规则随日期变化" in c.reason_zh for c in what_if.changes)
    assert what_if.basis_same is True and all(c.missing_facts == ["industry"] for c in what_if.changes)

    register(tmp_path / "register.xlsx", notes_first=False)
    screen_file(tmp_path / "register.xlsx", tmp_path / "zhundong.xlsx", store=store, as_of=OLD)
    dated = rescreen_file(tmp_path / "zhundong.xlsx", as_of=NEW, store=store)
    assert dated.basis_same is False and dated.missing_facts == {}
    same_zones = [c for c in dated.changes if not c.zones_added and not c.zones_removed and c.zones]
    assert same_zones and all(c.cause_zh == "涉及区域未变（规则随日期变化）" for c in same_zones)


def test_a_verdict_to_or_from_not_checked_is_neither_stricter_nor_relaxed(tmp_path, store):
    """A workbook screened as of 2018 (准东's water projects 禁止), re-screened as of 2010, before the layers' first
    version (no layer in force, read from the report): 禁止 → 未核查 is 无法比较 (not comparable), neither 从严 nor
    放宽, in the report, its JSON, the change workbook and CSV, and the terminal; as of 2021 禁止 → 限制 is still
    放宽, and 部分未核查 → 限制 无法比较."""
    from typer.testing import CliRunner

    from api.cli import app as cli_app

    register(tmp_path / "register.xlsx", notes_first=False)
    screen_file(tmp_path / "register.xlsx", tmp_path / "screened.xlsx", store=store, as_of=OLD)
    early = rescreen_file(tmp_path / "screened.xlsx", as_of="2010-01-01", store=store)
    assert early.layer_versions == {}  # no layer is in force in 2010
    pairs = {(c.old_verdict, c.new_verdict) for c in early.changes}
    assert ("禁止", "未核查") in pairs, pairs
    table, text, answer = written_changes(early, tmp_path)
    at = table[0].index("变化")
    assert {line[at] for line in table[1:]} == {"无法比较"} and {line[at] for line in text[1:]} == {"无法比较"}
    for change in early.changes:
        assert change.new_code == "not_checked"
        assert (change.direction, change.direction_zh, change.worse) == ("not_comparable", "无法比较", False)
        assert "（无法比较）" in change.reason_zh
    assert {c["direction"] for c in answer["changes"]} == {"not_comparable"}
    assert not any(c["worse"] for c in answer["changes"])
    said = CliRunner().invoke(cli_app, ["rescreen", str(tmp_path / "screened.xlsx"), "--as-of", "2010-01-01"],
                              env={"ECOZONE_STORE": None})
    assert said.exit_code == 0, said.output
    lines = [line for line in said.stdout.splitlines() if line.startswith("  原表第")]
    assert len(lines) == early.changed and all("（无法比较）" in line and "放宽" not in line for line in lines)

    later = rescreen_file(tmp_path / "screened.xlsx", as_of=NEW, store=store)
    directions = {(c.old_code, c.new_code): c.direction_zh for c in later.changes}
    assert directions.get(("forbidden", "restricted")) == "放宽", directions
    assert all(d == "无法比较" for (o, n), d in directions.items() if "not_checked" in (o, n))
    from gis.rescreen import verdict_direction

    assert verdict_direction("allowed", "forbidden") == "stricter"
    assert verdict_direction("forbidden", "error") == verdict_direction("", "allowed") == "not_comparable"
