"""Permits that change verdict: a file ``ecozone screen`` wrote, screened again as of another date, and only the
rows whose verdict changes, each with the old and new verdict and the rules and zones that made the difference.

The file is screened again as it is, through ``gis.batch.screen_file`` (its verdict columns are ordinary columns
to the reader), into a CSV whose last columns are the new verdict columns; the old ones are the file's own. Each
row keeps the number its reader gave it (``screen_file``'s ``row_numbers``), the line the officer finds it on in
the file, which the CSV's order alone does not give (title, units and blank rows). A later version of a layer is
screened against by its date: the version in force from ``effective_from``.

The own cells of a changed row are the file's: read back from that CSV they would all be text, so for an .xlsx
they are read from the worksheet the reader screened (``gis.batch.inputs.open_input`` chooses it), by row
number and column position, numbers as numbers and dates as dates. A CSV's cells are text and stay text, but
for ecozone's own guard against formula injection, which is taken off (``_unguarded``) and put back on writing.
An .xlsx cell's number format (``#,##0.00``, ``0.0%``, a date's own) goes with it into the change workbook.

Each own column has its own label (``_labels``), so a header the file repeats (two 备注) or leaves blank
loses no cells: the officer's header, a blank one named by its letter, a repeated one numbered from its second.

The file is screened with the options it was screened with, or a verdict that depends on them would show as a
change: the batch-wide facts (``defaults``, 整批假定, e.g. 建设性质 现有 for a register of existing works), the
column mapping (``columns``), the CRS and the encoding.

A workbook's 筛查汇总 records them (``gis.batch.outputs.summary_rows``, Chinese first): 整批假定：建设性质 → 现有;
列对应：经度（lon） → 东经 for each mapped column (列对应 → 无 when none was); 坐标系（筛查时给出） → the CRS as the user
gave it and 文本编码（筛查时给出） → the encoding, only when given. Those not given to the re-screening are read back
(``recorded_options``); given ones win (a what-if, said against the record). The encoding is the input's, which
the screening's own output (an .xlsx, or a UTF-8 CSV with a BOM) never needs: it is reported, not used. The
report says which facts and options were used and where each came from (``assumed``/``assumed_from``,
``options``/``options_from``; the terminal's summary line and the change list's 汇总 say the same).

A CSV records none of them. Its rows' 读取提示 tell the batch-wide facts a row took: the notice of such a fact
carries ``gis.rules.project.BATCH_FACT_MARK`` in its Chinese text (建设性质未填写，按现有核查（整批假定）), written and
found through one template (``batch_facts_said``), never through the notice's English; the re-screening is
refused unless they are given again. The CRS and the column mapping leave no trace in a row (the rows are read
as the file says once they are), so a CSV re-screened without them is screened with none, and a workbook whose
筛查汇总 records none (written before ecozone recorded them) is too; then:

- a file whose location columns are found only through a mapping is refused at its header, saying the mapping
  is not recorded and is to be given again;
- a row the screening read (its old 结论 not 读取失败) that cannot be read now is refused, naming the row and why
  (a Gauss-Krüger Y without its zone, for a CRS not given again), rather than every row shown as a false change;
- a mapped fact column (industry=主营业务) cannot be told: its rows are screened without the fact, and the
  report says that the mapping is neither recorded nor given (读取选项：列对应、坐标系 文件未记录（CSV 不记录），也未给出).

Given both (``columns={}`` for none), a row that cannot be read is a change (读取失败) with its reason, as one is
whenever the 筛查汇总 records the options. A mapping or CRS given for a file that records none cannot be checked
against the screening's, and the report says so (无法与原筛查核对).

Why a row changes when its zones do not (``VerdictChange.cause_zh``) is told from what the file shows, never
assumed to be the rules: a rule that now needs review for a missing fact (需核查原因 缺少项目信息：行业) that the
file's own row did not lack (the rule was among its old 命中规则, and its old 需核查原因 does not say the fact
missing) is a fact known at screening and not now, most likely a mapped column (industry=主营业务) or batch-wide
fact not given again (``missing_facts``); else, against a 筛查汇总 that records the date, the layer versions and
the rule packs, the rules changed with the date only when one of those differs (``basis_same``); a CSV records
none of them, and the cause is said not to be known.

Whether a change is stricter (从严) or relaxed (放宽) is decided in one place (``verdict_direction``), for the
terminal, the change list and the workspace page alike: to or from a verdict that says nothing of the project
(未核查 and 部分未核查: the layers do not cover the site or the date; 读取失败; or no old verdict, a row added after
the screening) it is neither (无法比较).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import json
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from itertools import zip_longest
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, Field, PrivateAttr, computed_field

from gis.batch import COLUMNS, screen_file, watched_chunk_rows
from gis.batch.inputs import BATCH_MAX_INFLATED_BYTES, BATCH_MAX_MEMBER_BYTES, header_fields, open_input
from gis.batch.outputs import (ASSUMED_PREFIX, CLASH_SUFFIX, VerdictLabelCounts, cell_day, crs_text, fact_text,
                                recorded_options, starts_formula, summary_rows, verdict_labels, workbook_value)
from gis.batch.verdicts import ERROR_CODE, ERROR_LABEL
from gis.errors import EcozoneError, FieldError, FormatError, LimitExceededError
from gis.kinds import KINDS
from gis.rules.evaluate import missing_reason
from gis.rules.model import VERDICT_ORDER, Verdict
from gis.rules.project import DEFAULTS, FACT_LABELS, batch_facts_said, fact_specs, read_project
from gis.sites.tables import merged_filled, merged_ranges, open_workbook, sheet_rows
from gis.store import Store, open_store

__all__ = ["DIRECTION_ZH", "RESCREEN_SUFFIXES", "RescreenReport", "VerdictChange", "assumed_text", "options_text",
           "rescreen_file", "verdict_direction", "write_rescreen"]

#: Files ``write_rescreen`` writes, by suffix.
RESCREEN_SUFFIXES = (".xlsx", ".csv", ".json")

_VERDICT, _CODE, _RULES, _ZONES, _ERROR = "结论", "结论代码", "命中规则", "涉及区域", "读取错误"
_REVIEW = "需核查原因"
_RANK = {v.value: i for i, v in enumerate(VERDICT_ORDER)}
Direction = Literal["stricter", "relaxed", "not_comparable"]
#: How a verdict changed, as the terminal, the change list (变化) and the workspace page say it.
DIRECTION_ZH: dict[str, str] = {"stricter": "从严", "relaxed": "放宽", "not_comparable": "无法比较"}
#: 结论代码 that say nothing of the project, so that no change to or from them is stricter or relaxed: 未核查 and
#: 部分未核查 (not_checked: the layers do not cover the site, or the date), 读取失败, and '' (no old verdict: a row
#: added after the screening).
_UNRANKED = frozenset({Verdict.not_checked.value, ERROR_CODE, ""})
#: The 汇总 sheet's name for an old 结论 left blank: a row added to the file after its screening.
_NO_OLD_VERDICT = "（空：筛查后加入的行）"
#: Where the batch-wide facts of a re-screening came from (``RescreenReport.assumed_from``), in words.
_ASSUMED_FROM = {"given": ("重新筛查时给出", "given"), "file": ("取自文件的筛查汇总", "from the file's 筛查汇总"),
                 None: ("文件未记录（CSV 不记录），也未给出", "the file records none (a CSV), none given")}
#: Where the reading options of a re-screening came from (``RescreenReport.options_from``), in words.
_OPTIONS_FROM = {"given": ("重新筛查时给出", "given"), "file": ("取自文件的筛查汇总", "from the file's 筛查汇总")}
#: The reading options a re-screening reads back from a 筛查汇总 (the encoding it records is the input's, which
#: the screening's own output, an .xlsx, never needs), and their names to an officer.
_READ_BACK = ("columns", "crs")
_OPTION_NAMES = {"columns": ("列对应", "column mapping"), "crs": ("坐标系", "CRS"), "encoding": ("文本编码", "encoding")}


class VerdictChange(BaseModel):
    """One row whose verdict changes, and why."""

    row: int = Field(description="行号（原表行）: the row as the screened file numbers it, where the officer finds it: "
                                 "the worksheet row of an .xlsx (title, units and blank rows counted), the row of a "
                                 "CSV as a spreadsheet opens it (the header is 1, blank lines count, a cell over two "
                                 "lines is one row).")
    cells: dict[str, Any] = Field(description="The row's own cells that are not empty, in the file's order, "
                                              "each under its column's label (the report's ``columns``), as the "
                                              "file holds them: from an .xlsx numbers "
                                              "as numbers and dates as dates (ISO text in JSON), from a CSV text "
                                              "(formula-like text without the apostrophe a screening's CSV guards "
                                              "it with).")
    old_verdict: str
    old_code: str
    new_verdict: str
    new_code: str
    direction: Direction = Field(description="stricter (从严, e.g. 允许 → 禁止), relaxed (放宽), or not_comparable "
                                             "(无法比较): to or from 未核查, 部分未核查 or 读取失败 (a verdict that says "
                                             "nothing of the project), or a row without an old verdict "
                                             "(``verdict_direction``).")
    rules_added: list[str] = Field(description="Rule hits only in the new screening: rule id, verdict, title.")
    rules_removed: list[str] = Field(description="Rule hits only in the old screening.")
    zones_added: list[str]
    zones_removed: list[str]
    zones: list[str] = Field(description="Zones the site meets as of the new date.")
    missing_facts: list[str] = Field(default_factory=list, description="Project facts (industry ...) a rule now "
                                     "needs review for lack of, which the file's own row did not lack (the rule "
                                     "was among its old 命中规则, its old 需核查原因 does not say the fact "
                                     "missing): known at screening, not now, most likely a mapped column or a "
                                     "batch-wide fact not given again.")
    cause_zh: str = Field(default="", description="Why the verdict changed, when the file tells it beyond the rules "
                          "and zones: facts now missing (``missing_facts``), or, the zones the same, whether the "
                          "rules changed with the date (the file's 筛查汇总 records another date, layer version or "
                          "rule pack), did not (it records the same ones), or the cause is not known (a CSV "
                          "records none); '' otherwise.")
    reason_zh: str
    #: An .xlsx cell's number format (not General) by column label: the change list workbook shows it as the
    #: officer's sheet does; not in JSON.
    _formats: dict[str, str] = PrivateAttr(default_factory=dict)

    @computed_field(description="The new verdict is stricter (direction stricter).")
    @property
    def worse(self) -> bool:
        """Stricter: ``direction`` says it (kept for the clients that read ``worse``)."""
        return self.direction == "stricter"

    @computed_field(description="The direction as the change list's 变化 says it: 从严, 放宽 or 无法比较.")
    @property
    def direction_zh(self) -> str:
        """``direction`` in the words every output uses (``DIRECTION_ZH``)."""
        return DIRECTION_ZH[self.direction]


class RescreenReport(BaseModel):
    """What the re-screening compared, and the rows whose verdict changes."""

    input: str
    sheet: str | None = Field(default=None, description="工作表: the worksheet of the .xlsx that was screened (the "
                                                        "first with a header in its first 20 rows, as the reader "
                                                        "chooses); None for a CSV.")
    columns: list[str] = Field(default_factory=list, description="The file's own columns in the file's order, the "
                                                                 "verdict columns of every screening left out: the "
                                                                 "change list's columns, each change's cells under "
                                                                 "them (a cell a change does not have is "
                                                                 "blank). One label a column, its header: a "
                                                                 "header the file repeats keeps its name at its "
                                                                 "first column and is numbered from its second "
                                                                 "(备注, 备注（2）, 备注（3）); a blank header is "
                                                                 "named by its column letter, as the reader "
                                                                 "names an .xlsx's (列H, 列J).")
    name_column: str | None = Field(default=None, description="The column (of ``columns``) that names each row: "
                                                              "the one the batch reader takes for the name "
                                                              "(项目名称, 名称, 企业名称, 单位名称 ...); None when "
                                                              "no header names one.")
    rows: int
    changed: int
    old_as_of: str | None = Field(description="Date of the file's screening, from its 筛查汇总 sheet (xlsx).")
    new_as_of: dt.date
    store: str
    layer_versions: dict[str, int]
    rule_packs: dict[str, str] = Field(default_factory=dict, description="Rule pack id -> version of the "
                                       "re-screening.")
    basis_same: bool | None = Field(default=None, description="Whether the re-screening's date, layer versions and "
                                    "rule packs are those the file's 筛查汇总 records: then no change is the rules' "
                                    "or layers' (the options differ); None when the file records none (a CSV).")
    missing_facts: dict[str, int] = Field(default_factory=dict, description="Changed rows per project fact they now "
                                          "lack and the file's rows did not (``VerdictChange.missing_facts``).")
    old_counts: dict[str, int] = Field(description="Rows per old 结论代码 ('' for a row added after the screening).")
    new_counts: dict[str, int] = Field(description="Rows per new 结论代码.")
    old_verdict_labels: VerdictLabelCounts = Field(default_factory=dict, description="Rows per old 结论 as the "
                                                   "file's cells say it (未核查 and 部分未核查 apart; '' for a row added "
                                                   "after the screening), strictest first: what the 汇总 sheet shows.")
    new_verdict_labels: VerdictLabelCounts = Field(default_factory=dict, description="Rows per new 结论 as the rows "
                                                   "say it (未核查 and 部分未核查 apart), strictest first.")
    changes: list[VerdictChange]
    seconds: float
    assumed: dict[str, str] = Field(default_factory=dict, description="整批假定: the batch-wide facts this screening "
                                    "took (``screen_file``'s ``defaults``: the facts of every row that does not "
                                    "give them), fact name -> value as an officer reads it (现有, 是, 20): given, "
                                    "or read back from the file's 筛查汇总.")
    assumed_from: Literal["given", "file"] | None = Field(default=None, description="Where ``assumed`` came from: "
                                                          "'given' by the caller (used even where the file "
                                                          "records others: a what-if), 'file' the screened "
                                                          "workbook's 筛查汇总 (when none are given); None for a "
                                                          "CSV (or a workbook without 筛查汇总) with none given.")
    assumed_recorded: dict[str, str] | None = Field(default=None, description="整批假定 as the file's 筛查汇总 "
                                                    "records them; None for a CSV or a workbook without 筛查汇总.")
    options: dict[str, str | dict[str, str]] = Field(default_factory=dict, description="The reading options this "
                                                     "screening used, as ``screen_file`` takes them: ``columns`` "
                                                     "(field -> the file's column; empty: none mapped), ``crs`` (as "
                                                     "given, e.g. EPSG:4538), ``encoding``; an option left out was "
                                                     "neither given nor recorded.")
    options_from: dict[str, Literal["given", "file"]] = Field(default_factory=dict, description="Where each of "
                                                              "``options`` came from: 'given' by the caller (used "
                                                              "even where the file records another), 'file' the "
                                                              "screened workbook's 筛查汇总 (when not given).")
    options_recorded: dict[str, str | dict[str, str]] | None = Field(default=None, description="The reading options "
                                                                     "the file's 筛查汇总 records (``columns``, and "
                                                                     "``crs`` and ``encoding`` when the screening "
                                                                     "was given them); None for a CSV, or a "
                                                                     "workbook whose 筛查汇总 records none (written "
                                                                     "before ecozone recorded them).")

    @computed_field(description="The batch-wide facts and where they came from, as an officer reads them "
                                "(``assumed_text``, Chinese): what a page shows.")
    @property
    def assumed_said(self) -> str:
        """``assumed_text``'s Chinese: one text for the terminal, the 汇总 sheet and the workspace page."""
        return assumed_text(self)[0]

    @computed_field(description="The reading options and where each came from, as an officer reads them "
                                "(``options_text``, Chinese).")
    @property
    def options_said(self) -> str:
        """``options_text``'s Chinese."""
        return options_text(self)[0]


def _items(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split("；") if part.strip()]


def _summary(path: Path) -> dict[str, Any] | None:
    """A screened workbook's 筛查汇总 (of a file screened more than once, the last), label -> value; None for a
    CSV or a workbook without one."""
    if path.suffix.lower() != ".xlsx":
        return None
    book = load_workbook(path, read_only=True)
    try:
        sheets = [name for name in book.sheetnames if name.startswith("筛查汇总")]
        if not sheets:
            return None
        return {str(row[0]): row[1] if len(row) > 1 else None
                for row in book[sheets[-1]].iter_rows(values_only=True) if row and row[0] is not None}
    finally:
        book.close()


def _recorded(summary: dict[str, Any] | None) -> dict[str, str] | None:
    """The 整批假定 rows of a 筛查汇总 (``summary_rows``), fact name -> value as written; None without one."""
    if summary is None:
        return None
    names = {FACT_LABELS[spec.name]: spec.name for spec in fact_specs()}
    facts = ((label.removeprefix(ASSUMED_PREFIX), value) for label, value in summary.items()
             if label.startswith(ASSUMED_PREFIX))
    return {names.get(label, label): "" if value is None else str(value) for label, value in facts}


def _read_back(recorded: dict[str, str], source: str) -> dict[str, str]:
    """The recorded 整批假定 as the re-screening's defaults. ``summary_rows`` writes each as ``fact_text`` says it
    (existing -> 现有), which ``read_project`` reads as the fact given; one that does not read (an edited summary)
    is refused rather than dropped, as its rows would be screened without it."""
    for name, text in recorded.items():
        try:
            read_project({name: text})
        except FieldError as error:
            label = FACT_LABELS.get(name, name)
            raise FieldError(f"文件的筛查汇总记录的整批假定「{label}：{text}」无法读回 / the batch-wide fact the file's "
                             f"筛查汇总 records cannot be read back ({error.message})", source=source, field=name,
                             value=text, fix="重新筛查时给出整批假定，代替文件的记录 / give the batch-wide facts, which "
                                             "are then used instead") from None
    return recorded


@functools.cache
def _fact(name: str, value: Any) -> Any:
    """The value of fact ``name`` that ``value`` (as given, or as a notice says it: 现有, 20.0) reads as."""
    return getattr(read_project({}, defaults={name: value}).project, name)


def _took_default(said: str) -> tuple[str, Any] | None:
    """A batch-wide fact that a row's 读取提示 says it took (``batch_facts_said``: the mark the notice's Chinese
    text carries, not its English), unless it is the value of ``DEFAULTS`` that every screening takes: (fact name,
    its value as read, e.g. existing), or None."""
    for name, value in batch_facts_said(said):
        taken = _fact(name, value)
        if name not in DEFAULTS or taken != _fact(name, DEFAULTS[name]):
            return name, getattr(taken, "value", taken)
    return None


def _starts_with_bom(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(3) == codecs.BOM_UTF8


def _labels(header: list[str]) -> list[str]:
    """One label per column of ``header`` and no two alike, so no column's cells take another's place: the
    header; a blank one named by its letter (列C), as the batch reader names an .xlsx's; a repeated one numbered
    from its second (备注, 备注（2）). A label made never takes a name the header has."""
    taken, labels = set(header), []
    for i, name in enumerate(header):
        base = name or f"列{get_column_letter(i + 1)}"
        label, count = base, 1
        while label in labels or (label != name and label in taken):
            count += 1
            label = f"{base}（{count}）"
        labels.append(label)
    return labels


def _chain(header: list[str], name: str) -> list[str]:
    """``name``, ``name`` + ``CLASH_SUFFIX`` ... as far as ``header`` has them: the columns of each screening."""
    chain = []
    while name in header:
        chain.append(name)
        name += CLASH_SUFFIX
    return chain


def verdict_direction(old_code: str, new_code: str) -> Direction:
    """Whether a verdict that changed from ``old_code`` to ``new_code`` (结论代码) is stricter or relaxed: the one
    place that decides it. To or from 未核查/部分未核查 (not_checked), 读取失败 (error) or no verdict ('') it is
    not comparable: such a verdict says nothing of the project (禁止 → 未核查 is the layers not covering the date,
    not a relaxation)."""
    if old_code in _UNRANKED or new_code in _UNRANKED:
        return "not_comparable"
    return "stricter" if _RANK.get(new_code, len(_RANK)) < _RANK.get(old_code, len(_RANK)) else "relaxed"


#: A rule's reason in 需核查原因 for a fact the project lacks (``missing_reason`` after the rule id, as
#: ``gis.presentation.review_reasons`` writes it): (rule id, fact name).
_HEAD, _MIDDLE, _TAIL = missing_reason("\0").split("\0")  # 缺少项目信息：{label} (missing: {name})
_MISSING = re.compile(rf"([^；：\s]+)：{re.escape(_HEAD)}[^；]*?{re.escape(_MIDDLE)}(\w+){re.escape(_TAIL)}")


def _missing_said(text: str) -> list[tuple[str, str]]:
    """(rule id, fact) of each rule a 需核查原因 says needs review for a missing fact."""
    return _MISSING.findall(text or "")


def _facts_lost(old_review: str, new_review: str, old_rules: list[str]) -> list[str]:
    """The facts a rule now needs review for lack of that the file's row had: the rule was among the row's old
    命中规则 (it was evaluated, so the facts it needs were asked) and its old 需核查原因 says no rule lacked the
    fact."""
    old_ids = {rule.split(" ", 1)[0] for rule in old_rules}
    lacked = {fact for _, fact in _missing_said(old_review)}
    return list(dict.fromkeys(fact for rule, fact in _missing_said(new_review) if rule in old_ids
                              and fact not in lacked))


#: Why the verdict changed when the zones did not, by what the file's 筛查汇总 tells (``_basis``): another date,
#: layer version or rule pack; the same ones, and options given that differ from those it records (a what-if);
#: the same ones and options; none recorded (a CSV).
_SAME_ZONES = {
    "changed": "涉及区域未变（规则随日期变化）",
    "what_if": "涉及区域未变，筛查日期、图层版本和规则包均与文件的筛查汇总所记录的相同（不是规则或图层的变化：重新筛查时给出的整批假定或"
               "读取选项与文件记录的不同）",
    "same": "涉及区域未变，筛查日期、图层版本和规则包均与文件的筛查汇总所记录的相同（不是规则或图层的变化，原因不明）",
    "unknown": "涉及区域未变（原因不明：文件未记录筛查日期、图层版本和规则包，可能是规则随日期变化，也可能是筛查时的选项未再次给出）",
}


def _basis(basis_same: bool | None, what_if: bool) -> str:
    """The key of ``_SAME_ZONES``."""
    if basis_same is None:
        return "unknown"
    return "changed" if not basis_same else "what_if" if what_if else "same"


def _cause(change: VerdictChange, basis: str) -> str:
    """``VerdictChange.cause_zh``: the facts now missing, or, the zones the same, what the file tells of the
    rules; '' when the rules and zones alone say it."""
    same_zones = not change.zones_added and not change.zones_removed and change.zones
    if change.missing_facts:
        facts = "、".join(FACT_LABELS.get(name, name) for name in change.missing_facts)
        return (f"现缺少原筛查时已有的项目信息：{facts}（原筛查该行未因缺少而需核查；筛查时的列对应或整批假定可能未再次给出）"
                + ("；涉及区域未变" if same_zones else ""))
    if same_zones:
        return _SAME_ZONES[basis]
    return ""


def _basis_same(summary: dict[str, Any] | None, report) -> bool | None:
    """Whether ``report`` (the re-screening's ``ScreenReport``) has the date, layer versions and rule packs the
    file's 筛查汇总 records, compared as ``summary_rows`` writes them; None when it records none (a CSV)."""
    if summary is None or summary.get("图层日期") is None:
        return None
    prefixes = ("图层版本：", "规则包：")
    now = {label: str(value) for label, value in summary_rows(report, "") if label.startswith(prefixes)}
    then = {str(label): str(value) for label, value in summary.items() if str(label).startswith(prefixes)}
    return str(summary["图层日期"])[:10] == report.as_of.isoformat() and now == then


def _reason(change: VerdictChange, error: str) -> str:
    """说明: what changed (and whether it is stricter: ``verdict_direction``, as the terminal shows it) and why;
    ``error`` is the new 读取错误 (why the row could not be read or checked), if any;
    ``change.cause_zh`` what the file tells of why, beyond the rules and zones."""
    parts = [(f"结论由「{change.old_verdict}」变为「{change.new_verdict}」" if change.old_verdict else
              f"原筛查无此行的结论（筛查后加入的行），现为「{change.new_verdict}」") + f"（{change.direction_zh}）"]
    if error:
        parts.append("读取错误：" + error.rstrip("。"))
    if change.rules_added:
        parts.append("新适用规则：" + "；".join(change.rules_added))
    if change.rules_removed:
        parts.append("不再适用规则：" + "；".join(change.rules_removed))
    if change.zones_added:
        parts.append("新涉及区域：" + "；".join(change.zones_added))
    if change.zones_removed:
        parts.append("不再涉及区域：" + "；".join(change.zones_removed))
    if change.cause_zh:
        same_zones = not change.zones_added and not change.zones_removed and change.zones
        parts.append(change.cause_zh + ("：" + "；".join(change.zones) if same_zones else ""))
    return "。".join(parts)


def rescreen_file(
    screened_path: str | PathLike,
    *,
    as_of: dt.date | str,
    store: Store | str | PathLike | None = None,
    workers: int | None = None,
    max_rows: int | None = None,
    cancel: Callable[[], bool] | None = None,
    defaults: Mapping[str, Any] | None = None,
    columns: dict[str, str] | None = None,
    encoding: str | None = None,
    crs: Any = None,
) -> RescreenReport:
    """Screen ``screened_path`` (an .xlsx or .csv written by ``screen_file``) again as of ``as_of`` and list the
    rows whose verdict (结论代码) differs from the file's.

    ``defaults``, ``columns``, ``encoding`` and ``crs`` are ``screen_file``'s, given as the file was screened
    with them: a verdict that depends on them would otherwise change. ``defaults`` None takes the batch-wide
    facts a workbook's 筛查汇总 records (none recorded: none); others given (``{}`` for none) are a what-if, and
    the report says which were used (``assumed``). ``columns`` and ``crs`` None take what the 筛查汇总 records
    likewise (``columns={}``: none mapped), and the report says which were used (``options``). A screened CSV
    records none: when its 读取提示 says a row took a batch-wide fact and none are given, the re-screening is
    refused, as it is when neither ``columns`` nor ``crs`` is given or recorded and a row the screening read
    cannot be read now. A screened CSV that starts with the BOM a screening writes is read as UTF-8 whatever
    ``encoding`` says (the input's, which the screening's output does not need).

    Raises ``FieldError`` when the file has no verdict columns, or its batch-wide facts are neither given nor
    recorded (or cannot be read back), or its location columns or a row it read need a mapping or CRS neither
    given nor recorded, ``LimitExceededError`` past ``max_rows`` rows (checked between chunks of at
    most a tenth of it, or 500 rows: few more are screened), ``CancelledError`` when ``cancel()`` says so.
    """
    started = time.perf_counter()
    path = Path(screened_path)
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise FormatError("重新筛查只读筛查写出的 .xlsx 或 .csv / re-screening takes the .xlsx or .csv that a screening "
                          "wrote", source=path.name, value=path.suffix,
                          fix="给出筛查结果工作簿（…-筛查结果.xlsx）或其 CSV / give the screened workbook or its CSV")
    summary = _summary(path)
    recorded = _recorded(summary)
    assumed_from: Literal["given", "file"] | None = None
    assumed: dict[str, Any] = {}
    if defaults is not None:
        read_project(defaults)  # a batch-wide fact that cannot be read is the caller's error, before any row
        assumed, assumed_from = dict(defaults), "given"
    elif recorded is not None:
        assumed, assumed_from = _read_back(recorded, path.name), "file"
    if encoding is not None and path.suffix.lower() == ".csv" and _starts_with_bom(path):
        encoding = None  # a screening's CSV: UTF-8, whatever the input it was screened from was in
    # the reading options: given ones win, as the facts do; else what the 筛查汇总 records; else not known
    options_recorded = recorded_options(summary) if summary is not None else None
    given = {"columns": None if columns is None else dict(columns), "crs": None if crs is None else crs_text(crs)}
    options: dict[str, Any] = {}
    options_from: dict[str, Literal["given", "file"]] = {}
    for key in _READ_BACK:
        if given[key] is not None:
            options[key], options_from[key] = given[key], "given"
        elif options_recorded is not None and key in options_recorded:
            options[key], options_from[key] = options_recorded[key], "file"
    if encoding is not None:
        options["encoding"], options_from["encoding"] = encoding, "given"
    # an option neither given nor recorded (a recorded 筛查汇总 without a CRS says none was given): a row the
    # screening read that cannot be read now was read with options not known
    unknown = options_recorded is None and any(given[key] is None for key in _READ_BACK)
    if not isinstance(store, Store):
        store = open_store(store)
    done = [0]

    def stop() -> bool:
        if max_rows is not None and done[0] > max_rows:
            raise LimitExceededError(f"文件超过 {max_rows} 行 / the file has more than {max_rows} rows", source=path.name,
                                     field="file", fix=f"每次重新筛查最多 {max_rows} 行，或把文件拆开 / re-screen at most "
                                                       f"{max_rows} rows at a time, or split the file")
        return cancel is not None and cancel()

    workbook = path.suffix.lower() == ".xlsx"
    changes: list[VerdictChange] = []
    old_counts: Counter[str] = Counter()
    new_counts: Counter[str] = Counter()
    old_labels: Counter[str] = Counter()
    new_labels: Counter[str] = Counter()
    lost: Counter[str] = Counter()  # changed rows by fact now missing that the file's row had
    count = 0  # rows
    with tempfile.TemporaryDirectory(prefix="ecozone-rescreen-") as folder:
        output = Path(folder) / "rescreened.csv"
        numbers: list[int] = []  # of the rows, in the CSV's order
        chunk_rows = watched_chunk_rows(path.stat().st_size)
        if max_rows is not None:
            chunk_rows = min(chunk_rows, max(500, max_rows // 10))
        try:
            report = screen_file(path, output, store=store, as_of=as_of, workers=workers, chunk_rows=chunk_rows,
                                 progress=lambda rows, total: done.__setitem__(0, rows), cancel=stop,
                                 row_numbers=numbers.extend, defaults=assumed or None,
                                 columns=options.get("columns") or None, encoding=encoding,
                                 crs=crs if crs is not None else options.get("crs"))
        except FieldError as error:
            if unknown and error.field == "header":  # no location columns: a mapping the file does not record
                error.message += (f"；文件未记录筛查时的列对应（{_UNRECORDED_ZH[workbook]}） / the file does not record "
                                  f"the column mapping it was screened with ({_UNRECORDED_EN[workbook]})")
                error.fix = (f"再次给出筛查时的 «columns»；{error.fix}" if error.fix else
                             "再次给出筛查时的 «columns» / give the «columns» the file was screened with again")
            raise
        basis_same = _basis_same(summary, report)
        # facts or options given that differ from those the 筛查汇总 records: a change is theirs
        what_if = (assumed_from == "given" and recorded is not None
                   and {name: fact_text(value) for name, value in assumed.items()} != recorded) or any(
            options_from.get(key) == "given" and options_recorded is not None
            and options_recorded.get(key) != options[key] for key in _READ_BACK)
        basis = _basis(basis_same, what_if)
        with open(output, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)  # row by row: only the changes are kept
            header = next(reader)
            own = header[: len(header) - len(COLUMNS)]
            new_at = {name: len(own) + i for i, name in enumerate(COLUMNS)}
            missing = [name for name in (_VERDICT, _CODE, _RULES, _ZONES) if name not in own]
            if missing:
                raise FieldError("文件没有结论列，不是筛查结果 / the file has no verdict columns: it is not a screening's "
                                 "output", source=path.name, field=missing[0],
                                 fix="先筛查许可清单，再对筛查结果重新筛查 / screen the permit list first, then re-screen its "
                                     "output")
            # the file's latest screening: a file screened twice holds 结论 and 结论_ecozone (``CLASH_SUFFIX``), the
            # last of each chain its latest; no screening's columns are the row's own cells
            chains = {name: _chain(own, name) for name in COLUMNS}
            old_at = {name: own.index(chain[-1]) for name, chain in chains.items() if chain}
            screened = {column for chain in chains.values() for column in chain}
            kept = [i for i, name in enumerate(own) if name not in screened]
            labels = _labels(own)
            # the 读取提示 of a file that records no batch-wide facts, none given: whether a row took one
            said_at = old_at.get("读取提示") if assumed_from is None else None
            for number, cells in zip(numbers, reader, strict=True):  # one number per row written, by construction
                count += 1
                cells = cells + [""] * (len(header) - len(cells))
                if unknown and cells[new_at[_VERDICT]] == ERROR_LABEL and cells[old_at[_VERDICT]] not in ("",
                                                                                                       ERROR_LABEL):
                    raise _unreadable_now(path.name, number, cells[new_at[_ERROR]], workbook)
                took = _took_default(cells[said_at]) if said_at is not None else None
                if took is not None:
                    name, value = took
                    raise FieldError(
                        f"该文件筛查时按整批假定{FACT_LABELS.get(name, name)}「{fact_text(value)}」核查"
                        f"（见第 {number} 行的读取提示），而 CSV 不记录整批假定 / the file was screened with a "
                        f"batch-wide fact, {name} {value} (row {number}'s 读取提示 says so), which a CSV does not "
                        "record", source=path.name, field=name, value=value,
                        fix="重新筛查时再次给出筛查时的整批假定，或重新筛查 .xlsx 筛查结果（其筛查汇总记录整批假定） / give "
                            "the screening's batch-wide facts again, or re-screen its .xlsx, whose 筛查汇总 records "
                            "them")
                old_code, new_code = cells[old_at[_CODE]], cells[new_at[_CODE]]
                old_counts[old_code] += 1
                new_counts[new_code] += 1
                old_labels[cells[old_at[_VERDICT]]] += 1
                new_labels[cells[new_at[_VERDICT]]] += 1
                if old_code == new_code:
                    continue
                old_rules, new_rules = _items(cells[old_at[_RULES]]), _items(cells[new_at[_RULES]])
                old_zones, new_zones = _items(cells[old_at[_ZONES]]), _items(cells[new_at[_ZONES]])
                change = VerdictChange(
                    # a workbook's cells are read from its sheet below, typed as the sheet holds them
                    row=number,
                    cells={} if workbook else {labels[i]: _unguarded(cells[i]) for i in kept if cells[i] != ""},
                    old_verdict=cells[old_at[_VERDICT]], old_code=old_code, new_verdict=cells[new_at[_VERDICT]],
                    new_code=new_code, direction=verdict_direction(old_code, new_code),
                    rules_added=[r for r in new_rules if r not in old_rules],
                    rules_removed=[r for r in old_rules if r not in new_rules],
                    zones_added=[z for z in new_zones if z not in old_zones],
                    zones_removed=[z for z in old_zones if z not in new_zones], zones=new_zones, reason_zh="",
                    missing_facts=_facts_lost(cells[old_at[_REVIEW]] if _REVIEW in old_at else "",
                                              cells[new_at[_REVIEW]], old_rules),
                )
                lost.update(change.missing_facts)
                change.cause_zh = _cause(change, basis)
                change.reason_zh = _reason(change, cells[new_at[_ERROR]])
                changes.append(change)
    sheet = _sheet_cells(path, own, [(i, labels[i]) for i in kept], changes,
                         options.get("columns") or None) if workbook else None
    name_at = header_fields(own).get("name")
    return RescreenReport(
        input=path.name, sheet=sheet, columns=[labels[i] for i in kept],
        name_column=labels[name_at] if name_at in kept else None, rows=count, changed=len(changes),
        old_as_of=None if summary is None or summary.get("图层日期") is None else str(summary["图层日期"]),
        new_as_of=report.as_of, store=report.store, layer_versions=report.layer_versions,
        rule_packs=report.rule_packs, basis_same=basis_same, missing_facts=dict(lost),
        old_counts=dict(old_counts), new_counts=dict(new_counts), old_verdict_labels=dict(old_labels),
        new_verdict_labels=dict(new_labels), changes=changes,
        seconds=round(time.perf_counter() - started, 3),
        assumed={name: fact_text(value) for name, value in assumed.items()}, assumed_from=assumed_from,
        assumed_recorded=recorded, options=options, options_from=options_from, options_recorded=options_recorded,
    )


#: Why a file's reading options are not known, by whether it is a workbook.
_UNRECORDED_ZH = {False: "CSV 不记录", True: "其筛查汇总未记录"}
_UNRECORDED_EN = {False: "a CSV records none", True: "its 筛查汇总 records none"}


def _unreadable_now(source: str, number: int, error: str, workbook: bool) -> FieldError:
    """The refusal of a re-screening whose reading options are neither given nor recorded, when a row the
    screening read cannot be read now: it was screened with options the re-screening was not given (a CRS, a
    column mapping), and every such row would show as a false change."""
    return FieldError(
        f"第 {number} 行筛查时已读出，现在无法读取：文件未记录筛查时的读取选项（列对应、坐标系；{_UNRECORDED_ZH[workbook]}），"
        f"筛查时可能给出过 / row {number} was read when the file was screened and cannot be read now: the file does "
        f"not record the reading options it was screened with ({_UNRECORDED_EN[workbook]}), which it may have been "
        f"given（{error.rstrip('。')}）", source=source, row=number, field="crs",
        fix="再次给出筛查时的 «crs» 和 «columns»，或重新筛查 .xlsx 筛查结果（其筛查汇总记录读取选项） / give the «crs» and "
            "«columns» the file was screened with again, or re-screen its .xlsx, whose 筛查汇总 records them")


def _sheet_cells(path: Path, own: list[str], kept: list[tuple[int, str]], changes: list[VerdictChange],
                 columns: dict[str, str] | None = None) -> str:
    """Fill each change's cells and their number formats from the worksheet of ``path`` that the batch
    reader screened, and name it; ``kept`` gives each own column's position and label, ``columns`` the mapping
    the file was screened again with (without it, a sheet whose headers are mapped has no header to the reader).

    The reader (``open_input``) chooses the sheet (the first with a header in its first 20 rows) and numbers its
    rows as the worksheet does; its header is the screening's own columns (``own``), one per column of the sheet
    from A. The sheet is streamed as the reader streams it (merged ranges filled, as the officer sees them) up to
    the last changed row, and only the changed rows are kept.
    """
    source = open_input(path, columns=columns)  # the header and sheet alone: its chunks are never read
    info, header = source.workbook, source.header
    source.chunks.close()  # what holds its workbook open
    del source
    if header != own:  # the same reader read the same file: a difference is a bug, never silently wrong cells
        raise EcozoneError(f"工作表 {info['data_sheet']} 读出 {len(header)} 列，筛查写出 {len(own)} 列 / the sheet "
                           f"{info['data_sheet']} reads {len(header)} columns, the screening wrote "
                           f"{len(own)}", source=path.name)
    if not changes:
        return info["data_sheet"]
    by_row = {change.row: change for change in changes}
    last = max(by_row)
    book = open_workbook(path, source=path.name, max_total=BATCH_MAX_INFLATED_BYTES, max_member=BATCH_MAX_MEMBER_BYTES)
    try:
        sheet = book[info["data_sheet"]]
        # (value, number format) of each cell, None for an empty one: a merged range's cells take its first's
        cells = ([None if cell.value is None else (cell.value, cell.number_format) for cell in row]
                 for row in sheet_rows(sheet, source=path.name, max_col=max(len(own), 1), values_only=False))
        number = 0
        for number, row in enumerate(merged_filled(cells, merged_ranges(sheet)), start=1):
            change = by_row.get(number)
            if change is not None:
                found = {label: row[i] for i, label in kept
                         if i < len(row) and row[i] is not None and row[i][0] != ""}
                change.cells = {label: cell_day(value) for label, (value, _) in found.items()}
                change._formats = {label: form for label, (_, form) in found.items()
                                   if form and form != "General"}
            if number >= last:
                break
    finally:
        book.close()
    if number < last:  # the reader gave these rows: the sheet has them
        raise EcozoneError(f"工作表 {info['data_sheet']} 在第 {number} 行结束，早于结论变化的第 {last} 行 / the sheet "
                           f"{info['data_sheet']} ends at row {number}, before the changed row {last}",
                           source=path.name)
    return info["data_sheet"]


def _unguarded(text: str) -> str:
    """A screened CSV's cell as the officer's register holds it: ``'`` + text that a spreadsheet would run as a
    formula (``starts_formula``) is ecozone's guard (a screening's CSV writes ``=SUM(M4:M5)`` so), and the cell is
    the text; any other cell is as it is (``'注意`` keeps its apostrophe).

    Safe, and nothing the officer typed is lost: in a spreadsheet a leading apostrophe marks a cell as text and is
    not part of its text (``'=SUM(M4:M5)`` typed in a cell shows, and is, ``=SUM(M4:M5)``), so a cell the officer
    typed as ``'=...`` in a CSV stands for the same text as the guard does. And the text is never run: every
    output guards it again (the CSV with the apostrophe, the workbook as a text cell; JSON holds it as a string).
    """
    if text.startswith("'") and starts_formula(text[1:]):
        return text[1:]
    return text


_HEADERS = ["行号（原表行）", "原结论", "新结论", "变化", "新适用规则", "不再适用规则", "新涉及区域", "不再涉及区域", "说明"]


def _facts(facts: dict[str, str], *, english: bool = False) -> str:
    if english:
        return ", ".join(f"{name} {value}" for name, value in facts.items()) or "none"
    return "，".join(f"{FACT_LABELS.get(name, name)} {value}" for name, value in facts.items()) or "无"


def _overridden(report: RescreenReport) -> bool:
    """Whether the batch-wide facts given are not those the file records (a what-if)."""
    return report.assumed_from == "given" and report.assumed_recorded not in (None, report.assumed)


def assumed_text(report: RescreenReport) -> tuple[str, str]:
    """The batch-wide facts of ``report`` and where they came from, in Chinese and in English (the terminal's)."""
    where_zh, where_en = _ASSUMED_FROM[report.assumed_from]
    if _overridden(report):
        where_zh += f"；文件的筛查汇总记录 {_facts(report.assumed_recorded)}"
        where_en += f"; the file's 筛查汇总 records {_facts(report.assumed_recorded, english=True)}"
    return (f"整批假定 {_facts(report.assumed)}（{where_zh}）",
            f"batch-wide facts {_facts(report.assumed, english=True)} ({where_en})")


def _option_text(key: str, value: Any, *, english: bool = False) -> str:
    """One reading option as the summary line says it: 列对应 lon=东经、lat=北纬, 坐标系 EPSG:4538."""
    if key == "columns":
        value = ("、" if not english else ", ").join(f"{field}={column}" for field, column in value.items()) or (
            "none" if english else "无")
    return f"{_OPTION_NAMES[key][english]} {value}"


def options_text(report: RescreenReport) -> tuple[str, str]:
    """The reading options of ``report`` (column mapping, CRS, encoding) and where each came from, in Chinese and
    in English (the terminal's); those neither given nor recorded are said to be not known (a CSV records none),
    those given for a file that records none are said not to be checked against the screening's, and the facts
    changed rows now lack that the file's rows had (``missing_facts``) are named with their likely cause."""
    why_zh, why_en = _UNRECORDED_ZH[report.sheet is not None], _UNRECORDED_EN[report.sheet is not None]
    zh, en = [], []
    for key, value in report.options.items():
        where_zh, where_en = _OPTIONS_FROM[report.options_from[key]]
        recorded = (report.options_recorded or {}).get(key)
        if report.options_from[key] == "given" and report.options_recorded is not None and recorded != value:
            where_zh += "；文件的筛查汇总记录 " + ("无" if recorded is None else _option_text(key, recorded))
            where_en += "; the file's 筛查汇总 records " + ("none" if recorded is None else
                                                            _option_text(key, recorded, english=True))
        elif report.options_from[key] == "given" and report.options_recorded is None and key in _READ_BACK:
            where_zh += f"；文件未记录筛查时的{_OPTION_NAMES[key][0]}（{why_zh}），无法与原筛查核对"
            where_en += (f"; the file does not record the {_OPTION_NAMES[key][1]} it was screened with ({why_en}): "
                         "not checked against the screening's")
        zh.append(f"{_option_text(key, value)}（{where_zh}）")
        en.append(f"{_option_text(key, value, english=True)} ({where_en})")
    missing = [key for key in _READ_BACK if key not in report.options]
    if missing and report.options_recorded is None:
        zh.append(f"{'、'.join(_OPTION_NAMES[k][0] for k in missing)} 文件未记录（{why_zh}），也未给出")
        en.append(f"{' and '.join(_OPTION_NAMES[k][1] for k in missing)} not recorded ({why_en}), not given")
    if report.missing_facts:
        rows = sum(1 for change in report.changes if change.missing_facts)
        zh.append(f"{rows} 行结论变化现缺少原筛查时已有的项目信息（"
                  + "、".join(f"{FACT_LABELS.get(name, name)} {n} 行" for name, n in report.missing_facts.items())
                  + "）：筛查时的列对应或整批假定可能未全部再次给出")
        en.append(f"{rows} changed rows now lack project facts the file's rows had ("
                  + ", ".join(f"{name} {n}" for name, n in report.missing_facts.items())
                  + "): a column mapping or batch-wide fact of the screening may not have been given again")
    return "读取选项：" + ("；".join(zh) or "无"), "reading options: " + ("; ".join(en) or "none")


def _assumed_rows(report: RescreenReport) -> list[tuple[str, str]]:
    """The 汇总 sheet's rows of the batch-wide facts, labelled as a screening's 筛查汇总 labels them."""
    rows = [("整批假定来源", _ASSUMED_FROM[report.assumed_from][0]),
            *((ASSUMED_PREFIX + FACT_LABELS.get(name, name), value) for name, value in report.assumed.items())]
    if _overridden(report):
        rows += [(f"原筛查{ASSUMED_PREFIX}{FACT_LABELS.get(name, name)}", value)
                 for name, value in report.assumed_recorded.items()] or [("原筛查整批假定", "无")]
    return [*rows, ("读取选项", options_text(report)[0].removeprefix("读取选项："))]


def _table(report: RescreenReport) -> tuple[list[str], Iterator[list[Any]]]:
    """The change list's header and rows (made as they are written): the file's own columns in the file's order
    (``report.columns``, a column no changed row fills too), a cell the row leaves empty None."""
    own = report.columns
    rows = ([c.row, *(c.cells.get(name) for name in own), c.old_verdict, c.new_verdict,
             c.direction_zh, "；".join(c.rules_added), "；".join(c.rules_removed),
             "；".join(c.zones_added), "；".join(c.zones_removed), c.reason_zh] for c in report.changes)
    return [_HEADERS[0], *own, *_HEADERS[1:]], rows


def _csv_cell(value: Any) -> Any:
    """A cell for the CSV change list: text a spreadsheet would run as a formula gets a leading apostrophe, as a
    screening's CSV gives it (``gis.batch.outputs``)."""
    return "'" + value if starts_formula(value) else value


def _xlsx_cell(sheet, value: Any, number_format: str | None = None) -> Any:
    """A cell for the workbook: the value as it is (numbers, dates with their date format), shown in the
    officer's ``number_format`` if it had one; text a spreadsheet would run as a formula stays text, and text
    without the control characters a workbook cannot hold (``workbook_value``)."""
    value = workbook_value(value)
    formula = starts_formula(value)
    if not formula and not number_format:
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    if formula:
        cell.data_type = "s"
    return cell


def write_rescreen(report: RescreenReport, path: str | Path) -> Path:
    """Write the rows whose verdict changes to ``path`` (.xlsx with a 汇总 sheet, .csv UTF-8 with BOM, or .json).

    A workbook keeps each own cell as the report has it: numbers and dates of an .xlsx as numbers and dates,
    in the sheet's number format (a date without one ``yyyy-mm-dd``), text as text; its 结论变化 sheet
    opens with the header frozen and an auto-filter over every column. It is written row by row (openpyxl
    write-only), so memory does not grow with the rows.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in RESCREEN_SUFFIXES:
        raise FormatError(f"重新筛查结果不能写成 {suffix or '无后缀'} 文件 / the re-screening cannot be written as "
                          f"{suffix or 'a file without a suffix'}", source=str(path), value=suffix,
                          fix=f"用 {'、'.join(RESCREEN_SUFFIXES)} 之一 / use one of {', '.join(RESCREEN_SUFFIXES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    header, rows = _table(report)
    if suffix == ".json":
        path.write_text(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2), encoding="utf-8")
    elif suffix == ".csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([_csv_cell(value) for value in row] for row in rows)
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("结论变化")
        sheet.freeze_panes = "A2"  # written before the rows: set before the first
        bold = []
        for name in header:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = Font(bold=True)
            bold.append(cell)
        sheet.append(bold)
        own = [None, *report.columns]  # the row's cells that are the file's, after 行号（原表行）
        last = 1
        for last, (change, row) in enumerate(zip(report.changes, rows), start=2):
            sheet.append([_xlsx_cell(sheet, value, change._formats.get(name))
                          for value, name in zip_longest(row, own)])
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{last}"  # written after the rows
        summary = book.create_sheet("汇总")
        for item in [("输入文件", report.input), ("工作表", report.sheet or "（CSV 文件，无工作表）"),
                     ("行数", report.rows), ("结论变化行数", report.changed),
                     ("原筛查日期", report.old_as_of or "（文件未记录）"), ("重新筛查日期", report.new_as_of.isoformat()),
                     ("图层库", report.store), *_assumed_rows(report),
                     *((f"图层版本：{KINDS[k].label_zh if k in KINDS else k}", v) for k, v in report.layer_versions.items()),
                     *((f"原结论：{label or _NO_OLD_VERDICT}", v) for label, v in verdict_labels(report.old_verdict_labels)),
                     *((f"新结论：{label}", v) for label, v in verdict_labels(report.new_verdict_labels))]:
            summary.append([_xlsx_cell(summary, value) for value in item])
        book.save(path)
    return path
