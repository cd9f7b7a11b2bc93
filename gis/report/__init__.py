"""The evidence report of a check (审批前置研判意见的证据材料): a check and its evidence → PDF, Word or HTML.

Every format carries the same sections (``gis.report.content``) with the texts of ``gis.presentation``, a map
picture given by the caller (``maps.picture`` draws one offline), and the evidence (``gis.evidence``)
machine-readably: attached to the PDF, in a custom XML part of the .docx, in a ``<script>`` of the HTML.
``verify_report`` re-runs the check from that evidence and compares the result digest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from gis.check import CheckResult
from gis.errors import FormatError, InputError
from gis.evidence import Evidence, Verification, verify
from gis.report.content import report_content
from gis.rules.model import RulePack, Verdict
from gis.store import Store

__all__ = ["FORMATS", "report_format", "render_report", "read_evidence", "verify_report"]

#: Report formats and their media types.
FORMATS = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
}

_SCRIPT = re.compile(r'<script type="application/json" id="ecozone-evidence">(.*?)</script>', re.DOTALL)


def report_format(path: str | Path) -> str:
    """The format a report file's name asks for (``.pdf``, ``.docx``, ``.html``/``.htm``)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    fmt = "html" if suffix == "htm" else suffix
    if fmt not in FORMATS:
        raise InputError("报告文件应为 .pdf、.docx 或 .html / a report is written as .pdf, .docx or .html",
                         field="report", value=str(path), fix="文件名以 .pdf、.docx 或 .html 结尾，如 核查报告.pdf / name the file e.g. 核查报告.pdf")
    return fmt


def render_report(result: CheckResult, evidence: Evidence, fmt: str, *, picture: bytes | None = None,
                  colors: Mapping[Verdict, str] | None = None) -> bytes:
    """The report of ``result`` as ``fmt`` ("pdf", "docx" or "html"); ``picture`` a PNG of the site's map,
    ``colors`` the colour of each verdict (the maps' colours)."""
    report = report_content(result, evidence)
    if fmt == "docx":
        from gis.report.word import render_docx

        return render_docx(report, evidence, picture, colors)
    from gis.report.page import render_html

    html = render_html(report, evidence, picture, colors)
    if fmt == "html":
        return html.encode()
    if fmt == "pdf":
        from gis.report.pdf import render_pdf

        return render_pdf(html, evidence.model_dump_json())
    raise InputError(f"「{fmt}」不是报告格式 / unknown report format '{fmt}'", field="format", value=fmt,
                     fix="使用 pdf、docx 或 html / pdf, docx or html")


def read_evidence(data: bytes, source: str | None = None) -> Evidence:
    """The evidence embedded in a report (PDF, .docx or HTML, told apart by their first bytes)."""
    if data.startswith(b"%PDF"):
        from gis.report.pdf import read_pdf_evidence

        text = read_pdf_evidence(data)
    elif data.startswith(b"PK"):
        from gis.report.word import read_docx_evidence

        text = read_docx_evidence(data)
    else:
        match = _SCRIPT.search(data.decode("utf-8", errors="replace"))
        text = match.group(1) if match else None
    if text is None:
        raise FormatError("文件中没有 ecozone 核验数据 / the file holds no ecozone evidence", source=source,
                          fix="核验由 ecozone check --report 写出的报告（PDF、.docx 或 HTML） / verify a report "
                              "written by ecozone check --report (PDF, .docx or HTML)")
    try:
        return Evidence.model_validate(json.loads(text))
    except (ValueError, ValidationError) as error:
        raise FormatError(f"核验数据无法读取 / the embedded evidence is damaged: {str(error)[:200]}", source=source,
                          fix="使用 ecozone 写出的原报告，不要改动 / use the report as ecozone wrote it") from None


def verify_report(data: bytes, store: Store, *, source: str | None = None,
                  packs: list[RulePack] | None = None) -> Verification:
    """Re-run the check a report holds on ``store`` and compare its result digest."""
    return verify(read_evidence(data, source), store, packs)
