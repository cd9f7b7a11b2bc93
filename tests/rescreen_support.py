"""A re-screening's change list written to each format and read back, as the tests of ``gis.rescreen`` read it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from gis.rescreen import RescreenReport, write_rescreen


def written_changes(report: RescreenReport, folder: Path) -> tuple[list[tuple], list[list[str]], dict[str, Any]]:
    """``report`` written to changes.xlsx, .csv and .json in ``folder``: the workbook's 结论变化 rows (values), the
    CSV's rows, the JSON."""
    for suffix in (".xlsx", ".csv", ".json"):
        write_rescreen(report, folder / f"changes{suffix}")
    table = list(load_workbook(folder / "changes.xlsx")["结论变化"].iter_rows(values_only=True))
    with open(folder / "changes.csv", encoding="utf-8-sig", newline="") as handle:
        text = list(csv.reader(handle))
    return table, text, json.loads((folder / "changes.json").read_text(encoding="utf-8"))
