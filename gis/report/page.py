"""The report as one HTML page: read in a browser, printed, and turned into the PDF by WeasyPrint."""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from pathlib import Path

import jinja2

from gis.evidence import Evidence
from gis.report.content import Report
from gis.rules.model import Verdict

__all__ = ["render_html", "html_text", "script_json"]

_TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                                     trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("report.html")


def script_json(text: str) -> str:
    """JSON safe inside a ``<script>`` element: every ``<``, ``>`` and ``&`` as a JSON escape (still the same
    JSON), so that no text in it can end the element."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(report: Report, evidence: Evidence, picture: bytes | None,
                colors: Mapping[Verdict, str] | None = None) -> str:
    """The page, with the picture inline (a data URI) and the evidence as ``<script type="application/json"
    id="ecozone-evidence">``."""
    colors = dict(colors or {})
    return _template().render(
        report=report, evidence=evidence, colors=colors, accent=colors.get(report.verdict, "#444444"),
        css=jinja2.utils.markupsafe.Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8")),
        picture=base64.b64encode(picture).decode() if picture else None,
        evidence_json=jinja2.utils.markupsafe.Markup(script_json(evidence.model_dump_json())),
    )


def html_text(data: bytes) -> list[str]:
    """The text a browser shows of the page, node by node: its title and its body, without scripts and styles."""
    import lxml.html  # python-docx's parser, here for HTML

    root = lxml.html.document_fromstring(data)
    return root.xpath("//title//text() | //body//text()[not(ancestor::script or ancestor::style)]")
