"""The JavaScript and CSS of the pages, from installed packages and this repository: never from a CDN.

Leaflet comes from the ``xstatic-leaflet`` package (it installs Leaflet's own dist files), its vector-tile
plugin Leaflet.VectorGrid from ``maps/static/vendor`` (from the npm registry, licence noted there); the page code
(``ecozone.js``, ``check.js``, ``ecozone.css``) lives in ``maps/static``. A page either links them under a
static URL the application serves (``static_url="/static"``), or inlines them, images as data URIs, so a
saved HTML file works from ``file://`` on a machine with no network. folium's own CDN defaults (jQuery,
Bootstrap, Font Awesome ...) are not used by these pages and are switched off.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import branca.element
import folium
import xstatic.pkg.leaflet

__all__ = ["CHECK_PAGE", "LAYERS_PAGE", "STATIC_ROOTS", "attach", "check_offline", "script_json", "static_file"]

#: Static roots by URL prefix: ``/static/leaflet/leaflet.js`` is ``xstatic.pkg.leaflet.BASE_DIR/leaflet.js``.
STATIC_ROOTS = {
    "leaflet": Path(xstatic.pkg.leaflet.BASE_DIR),
    "vectorgrid": Path(__file__).parent / "static" / "vendor" / "leaflet.vectorgrid",
    "ecozone": Path(__file__).parent / "static",
}

#: Files of each page, in load order: (root, file).
LAYERS_PAGE = (("leaflet", "leaflet.css"), ("ecozone", "ecozone.css"), ("leaflet", "leaflet.js"),
               ("vectorgrid", "Leaflet.VectorGrid.bundled.min.js"), ("ecozone", "ecozone.js"))
CHECK_PAGE = LAYERS_PAGE + (("ecozone", "check.js"),)

_CSS_URL = re.compile(r"url\((images/[\w.-]+\.png)\)")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)


def static_file(root: str, name: str) -> Path:
    """The file behind ``/static/{root}/{name}``; FileNotFoundError for anything else (no path escapes)."""
    base = STATIC_ROOTS.get(root)
    if base is None:
        raise FileNotFoundError(root)
    path = (base / name).resolve()
    if base.resolve() not in path.parents or not path.is_file():
        raise FileNotFoundError(name)
    return path


class _Inline(branca.element.Element):
    """A ``<script>`` or ``<style>`` element holding a file's text (rendered as a value, never as a template)."""

    _template = branca.element.Template("<{{ this.tag }}>{{ this.text }}</{{ this.tag }}>")

    def __init__(self, tag: str, text: str) -> None:
        super().__init__()
        if f"</{tag}" in text.lower():
            raise ValueError(f"cannot inline a file containing '</{tag}'")
        self.tag, self.text = tag, text


def _inline_css(root: str, name: str) -> str:
    """A CSS file's text with its images as data URIs (the paths they are relative to do not exist inline)."""
    path = static_file(root, name)

    def data_uri(match: re.Match) -> str:
        image = static_file(root, match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(image).decode()})"

    text = _CSS_COMMENT.sub("", path.read_text(encoding="utf-8"))  # comments carry links to bug trackers
    return _CSS_URL.sub(data_uri, text)


def attach(m: folium.Map, files: tuple[tuple[str, str], ...], static_url: str | None) -> None:
    """Put the page's files in the map's header: linked under ``static_url``, or inlined when it is None."""
    m.default_js, m.default_css = [], []  # instance attributes: folium's CDN list stays untouched elsewhere
    header = m.get_root().header
    for root, name in files:
        css = name.endswith(".css")
        if static_url is not None:
            url = f"{static_url.rstrip('/')}/{root}/{name}"
            element = branca.element.CssLink(url) if css else branca.element.JavascriptLink(url)
        elif css:
            element = _Inline("style", _inline_css(root, name))
        else:
            element = _Inline("script", static_file(root, name).read_text(encoding="utf-8"))
        header.add_child(element, name=f"{root}/{name}")


def script_json(value: Any) -> str:
    """A value as JSON safe inside a <script> element (no closing tag, no comment opener), Chinese kept as UTF-8
    (half the size of \\u escapes): what a page carries, and what its size bound counts."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def check_offline(html: str) -> str:
    """Return ``html`` if it loads no script, style, image or frame from another host; raise otherwise."""
    match = _EXTERNAL.search(html)
    if match:
        raise ValueError(f"page would load a resource from another host: {match.group(0)!r}")
    return html
