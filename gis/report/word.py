"""The report as a Word document (.docx), with the evidence kept in a custom XML part that Word preserves."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from xml.sax.saxutils import escape, unescape

import docx
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
from docx.opc.part import Part
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from gis.evidence import Evidence
from gis.report.content import Report, Table
from gis.rules.model import Verdict

__all__ = ["render_docx", "read_docx_evidence", "docx_text", "NAMESPACE"]

#: Namespace of the evidence element in the custom XML part.
NAMESPACE = "urn:ecozone:evidence:1"

#: Fonts Word offices have: 宋体 for text, 黑体 for headings; digests in a fixed-width Latin font.
_BODY, _HEADING, _CODE = "宋体", "黑体", "Consolas"

#: The parts of a Word document whose text is shown: the body (its tables too), headers, footers, notes.
_SHOWN = {CONTENT_TYPE.WML_DOCUMENT_MAIN, CONTENT_TYPE.WML_HEADER, CONTENT_TYPE.WML_FOOTER,
          CONTENT_TYPE.WML_FOOTNOTES, CONTENT_TYPE.WML_ENDNOTES}

_EVIDENCE = re.compile(r"<ecozone-evidence[^>]*>(.*)</ecozone-evidence>", re.DOTALL)
#: What XML 1.0 cannot hold (control characters but tab and line ends, lone surrogates, U+FFFE/FFFF): a site's
#: text may carry them (a plot name with a DOS end-of-file mark), and python-docx refuses the whole document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _font(run_or_style, name: str, size: float | None = None) -> None:
    """Set a font for Latin and East Asian text alike (Word keeps them apart)."""
    run_or_style.font.name = name
    fonts = run_or_style.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), name)
    if size:
        run_or_style.font.size = Pt(size)


def _xml(text: str) -> str:
    """Text Word can hold: each character XML cannot hold shown as U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _rgb(color: str | None) -> RGBColor | None:
    return RGBColor.from_string(color.lstrip("#").upper()) if color else None


def render_docx(report: Report, evidence: Evidence, picture: bytes | None,
                colors: Mapping[Verdict, str] | None = None) -> bytes:
    """The report in Word: the same sections and tables as the PDF, the picture, and the evidence part."""
    colors = dict(colors or {})
    document = docx.Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(1.8)
    section.top_margin = section.bottom_margin = Cm(1.8)
    _font(document.styles["Normal"], _BODY, 9.5)
    for level in (1, 2):
        _font(document.styles[f"Heading {level}"], _HEADING)
    properties = document.core_properties
    properties.title, properties.subject = _xml(report.title), _xml(report.headline)
    properties.keywords = f"ecozone; result sha256 {evidence.result_sha256}"
    properties.author = f"ecozone {evidence.ecozone_version}"

    document.add_heading(_xml(report.title), level=1)
    headline = document.add_paragraph().add_run(_xml(report.headline))
    headline.bold = True
    headline.font.size = Pt(13)
    headline.font.color.rgb = _rgb(colors.get(report.verdict))
    _table(document, Table(["项目", "内容"], [list(row) for row in report.summary], widths=[1.4, 5], key_value=True),
           colors, code_rows={r for r, (label, _) in enumerate(report.summary) if "SHA-256" in label})
    for part in report.sections:
        document.add_heading(_xml(part.title), level=2)
        for paragraph in part.paragraphs:
            document.add_paragraph(_xml(paragraph))
        if part.picture and picture:
            document.add_picture(io.BytesIO(picture), width=Cm(17.4))
            caption = document.add_paragraph().add_run(_xml(report.picture_caption))
            caption.font.size = Pt(8)
        for table in part.tables:
            _table(document, table, colors)
    document.add_paragraph(f"由 ecozone {evidence.ecozone_version} 生成；核验数据（JSON）保存在本文档的自定义 XML 部件中，"
                           "可用 ecozone report verify 重新核查。")
    _attach(document, evidence.model_dump_json())
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _table(document, table: Table, colors: Mapping[Verdict, str], code_rows: set[int] = frozenset()) -> None:
    """A table in Word; ``code_rows``: rows whose value is a digest (the summary's), set as the ``code`` columns
    are, as the page marks them."""
    if table.caption:
        paragraph = document.add_paragraph()
        paragraph.paragraph_format.keep_with_next = True  # never a caption alone at the foot of a page
        caption = paragraph.add_run(_xml(table.caption))
        caption.bold = True
        caption.font.color.rgb = _rgb(colors.get(table.verdict)) if table.verdict else None
    rows = table.rows if table.key_value else [table.header, *table.rows]
    grid = document.add_table(rows=len(rows), cols=len(table.header))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    total = sum(table.widths) if table.widths else None
    for r, (row, cells) in enumerate(zip(rows, (grid_row.cells for grid_row in grid.rows))):
        header = r == 0 and not table.key_value
        for c, (text, cell) in enumerate(zip(row, cells)):  # a row's cells at once: grid.cell() walks the table
            if total:
                cell.width = Cm(17.4 * table.widths[c] / total)
            run = cell.paragraphs[0].add_run(_xml(str(text)))
            if c in table.numeric and not header:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if (c in table.code or (r in code_rows and c > 0)) and not header:
                _font(run, _CODE, 7)
            else:
                run.font.size = Pt(8)
            run.bold = header or (table.key_value and c == 0)
    document.add_paragraph()


def _attach(document, evidence_json: str) -> None:
    """Keep the evidence in a new ``/customXml/itemN.xml``, related to the document as Word relates its own."""
    blob = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ecozone-evidence xmlns="{NAMESPACE}">'
            f"{escape(evidence_json)}</ecozone-evidence>").encode()
    package = document.part.package
    part = Part(package.next_partname("/customXml/item%d.xml"), "application/xml", blob, package)
    document.part.relate_to(part, RELATIONSHIP_TYPE.CUSTOM_XML)


def read_docx_evidence(data: bytes) -> str | None:
    """The evidence's JSON text from any custom XML part that holds it (Word may renumber the parts), or None."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("customXml/") and name.endswith(".xml") and "/_rels/" not in name:
                match = _EVIDENCE.search(archive.read(name).decode("utf-8", errors="replace"))
                if match and NAMESPACE in match.group(0)[:200]:
                    return unescape(match.group(1))
    return None


def docx_text(data: bytes) -> list[str]:
    """The text Word shows, paragraph by paragraph (a table cell's too, a text box's), of the body and then of
    any header, footer or note a later edit added (ecozone's document has none)."""
    import lxml.etree

    package = docx.Document(io.BytesIO(data)).part.package
    parts = sorted((part for part in package.iter_parts() if part.content_type in _SHOWN),
                   key=lambda part: (part.content_type != CONTENT_TYPE.WML_DOCUMENT_MAIN, part.partname))
    return ["".join(text.text or "" for text in paragraph.iter(qn("w:t")))
            for part in parts for paragraph in lxml.etree.fromstring(part.blob).iter(qn("w:p"))]
