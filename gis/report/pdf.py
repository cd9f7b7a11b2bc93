"""The report as PDF: the HTML page laid out by WeasyPrint, fonts embedded, the evidence attached as a file."""

from __future__ import annotations

import io
import threading

__all__ = ["render_pdf", "read_pdf_evidence", "pdf_text", "ATTACHMENT"]

#: Name of the evidence file attached to the PDF.
ATTACHMENT = "ecozone-evidence.json"

#: One layout at a time per process: Pango and fontconfig, under WeasyPrint, are not documented as safe to
#: share between threads, and a report is rare enough to wait its turn.
_LAYOUT = threading.Lock()


def render_pdf(html: str, evidence_json: str) -> bytes:
    """Lay out the page as A4 PDF (WeasyPrint embeds the subset of each font used) with the evidence attached."""
    import weasyprint  # imported here: it loads Pango, which only a report needs

    attachment = weasyprint.Attachment(file_obj=io.BytesIO(evidence_json.encode()), name=ATTACHMENT,
                                       description="ecozone evidence: site, facts, options, versions, digests")
    with _LAYOUT:
        return weasyprint.HTML(string=html, base_url=None).write_pdf(attachments=[attachment])


def read_pdf_evidence(data: bytes) -> str | None:
    """The attached evidence's JSON text, or None."""
    import pypdf

    attachments = pypdf.PdfReader(io.BytesIO(data)).attachments
    contents = attachments.get(ATTACHMENT)
    return contents[0].decode() if contents else None


def pdf_text(data: bytes) -> list[str]:
    """The text a reader sees, page by page: the text layer line by line (as a reader copies it), then the
    text of each annotation, which is how PDF editors add text over a page (ecozone's PDF has none)."""
    import pypdf

    texts = []
    for page in pypdf.PdfReader(io.BytesIO(data)).pages:
        texts += page.extract_text().splitlines()
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            texts.append(f"[{annotation.get('/Subtype', '')}] {annotation.get('/Contents', '')}")
    return texts
