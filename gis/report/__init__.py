"""The evidence report of a check (审批前置研判意见的证据材料): a check and its evidence → PDF, Word or HTML.

Every format carries the same sections (``gis.report.content``) with the texts of ``gis.presentation``, a map
picture given by the caller (``maps.picture`` draws one offline), and the evidence (``gis.evidence``)
machine-readably: attached to the PDF, in a custom XML part of the .docx, in a ``<script>`` of the HTML.
``verify_report`` re-runs the check from that evidence and compares the result digest; then, since the report
is made from the check and its evidence by this code, it makes the report again and compares the text a reader
sees (``report_text``) with the file's, so that a report edited after it was written does not pass for what
its evidence says.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from gis.check import CheckResult
from gis.errors import FormatError, InputError
from gis.evidence import Evidence, Verification, compare, load_evidence, replay
from gis.report.content import report_content
from gis.rules.model import RulePack, Verdict
from gis.store import Store

__all__ = ["FORMATS", "report_format", "render_report", "read_evidence", "verify_report", "report_text",
           "text_changes", "Render"]

#: How a report is made from a check, the store it ran on and its evidence, as a format (``render_report`` with
#: the caller's picture, drawn from the store, and colours).
Render = Callable[[CheckResult, Store, Evidence, str], bytes]

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


def _format_of(data: bytes) -> str:
    """A report's format by its first bytes (its name may have been changed)."""
    return "pdf" if data.startswith(b"%PDF") else "docx" if data.startswith(b"PK") else "html"


def read_evidence(data: bytes, source: str | None = None) -> Evidence:
    """The evidence embedded in a report (PDF, .docx or HTML, told apart by their first bytes)."""
    fmt = _format_of(data)
    if fmt == "pdf":
        from gis.report.pdf import read_pdf_evidence

        text = read_pdf_evidence(data)
    elif fmt == "docx":
        from gis.report.word import read_docx_evidence

        text = read_docx_evidence(data)
    else:
        match = _SCRIPT.search(data.decode("utf-8", errors="replace"))
        text = match.group(1) if match else None
    if text is None:
        raise FormatError("文件中没有 ecozone 核验数据 / the file holds no ecozone evidence", source=source,
                          fix="核验由 ecozone check --report 写出的报告（PDF、.docx 或 HTML） / verify a report "
                              "written by ecozone check --report (PDF, .docx or HTML)")
    return load_evidence(text, source=source)


def report_text(data: bytes) -> list[str]:
    """The text a reader sees in a report, piece by piece (a paragraph, a cell, a line of a page), in order:
    the HTML's title and body, the Word document's paragraphs and cells (and any header, footer or note), the
    PDF's text layer (and any annotation's text, as a PDF editor adds)."""
    fmt = _format_of(data)
    if fmt == "pdf":
        from gis.report.pdf import pdf_text

        return pdf_text(data)
    if fmt == "docx":
        from gis.report.word import docx_text

        return docx_text(data)
    from gis.report.page import html_text

    return html_text(data)


def text_changes(found: list[str], expected: list[str], limit: int = 8) -> list[str]:
    """Where a report's text (``found``) differs from the text of the report made again (``expected``),
    Chinese first; empty when they read the same. Whitespace does not count (a reader may wrap lines anew)."""
    found, expected = [" ".join(text.split()) for text in found], [" ".join(text.split()) for text in expected]
    found, expected = [text for text in found if text], [text for text in expected if text]
    squeezed = [[text.replace(" ", "") for text in texts] for texts in (found, expected)]
    if "".join(squeezed[0]) == "".join(squeezed[1]):
        return []
    lines = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, *squeezed, autojunk=False).get_opcodes():
        said, given = _differing(" ".join(found[i1:i2]), " ".join(expected[j1:j2]))
        if op == "replace":
            lines.append(f"报告写「{said}」，按核验数据应为「{given}」 / the report reads the first where its evidence "
                         "gives the second")
        elif op == "delete":
            lines.append(f"报告多出「{said}」 / text its evidence does not give")
        elif op == "insert":
            lines.append(f"报告缺少「{given}」 / text its evidence gives is missing")
    if len(lines) > limit:
        lines[limit:] = [f"另有 {len(lines) - limit} 处不同 / {len(lines) - limit} more differences"]
    return lines


def _differing(said: str, given: str, context: int = 16, most: int = 80) -> tuple[str, str]:
    """Two texts cut to where they differ, with a little of what they share either side (at most ``most``
    characters of each)."""
    start = len(os.path.commonprefix([said, given]))
    end = len(os.path.commonprefix([said[start:][::-1], given[start:][::-1]]))

    def cut(text: str) -> str:
        first = max(0, start - context)
        last = min(len(text), len(text) - end + context, first + most)
        return ("…" if first else "") + text[first:last] + ("…" if last < len(text) else "")

    return cut(said), cut(given)


def verify_report(data: bytes, store: Store, *, render: Render, source: str | None = None,
                  packs: list[RulePack] | None = None) -> Verification:
    """Re-run the check a report holds on ``store`` and compare its result digest; when the result holds,
    make the report again with ``render`` (as reports are made, with their picture) from the re-run and the
    report's evidence, and compare the text a reader sees. A changed result is said alone: the report was
    made from the result as it was, so its text differs as well."""
    evidence = read_evidence(data, source)
    result, replayed = replay(evidence, store, packs)
    verification = compare(evidence, replayed)
    if not verification.same:
        return verification
    changes = text_changes(report_text(data), report_text(render(result, store, evidence, _format_of(data))))
    return verification.model_copy(update={"same": not changes, "text_changes": changes})
