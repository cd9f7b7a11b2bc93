"""folium maps of the store's layers, of a check result, of a screened batch, and the officer's check page.

Every map is one page: Leaflet, Leaflet.VectorGrid and ``ecozone.js`` (linked from the application or
inlined), and a spec of the layers (labels, legend, the looks of their zones). The zones come in vector tiles
(``maps.tiles``): a page served by the application fetches the tiles in view from it, a saved page carries
the tiles of an extent up to a zoom, within a size bound, and says what it left out. Drawing happens in
``ecozone.js``, so a check result looks the same in a saved file and on the live check page, where the same
code shows the answer of ``POST /check``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from typing import Any

import branca.element
import folium
import geopandas as gpd
import pandas as pd
import shapely

from gis.check import CheckResult
from gis.results import Relation
from gis.rules.model import VERDICT_LABELS, VERDICT_ORDER, Verdict
from gis.rules.project import CHOICE_LABELS, INDUSTRIES, FactSpec, fact_specs
from gis.store import Store, open_store
from maps.assets import CHECK_PAGE, LAYERS_PAGE, attach, check_offline, script_json
from maps.layers import MapLayers, map_layers
from maps.rings import site_rings
from maps.style import VERDICT_COLORS
from maps.tiles import embed

__all__ = ["MAX_FILE_BYTES", "Basemap", "batch_map", "check_map", "check_page", "layers_map", "render"]

#: Centre of the default view (Xinjiang) before the layers' bounds are known.
_CENTRE = (42.0, 85.0)

#: Size bound of a saved page, bytes: its tiles and popups go in while the whole file stays within it.
MAX_FILE_BYTES = 20_000_000
#: Bytes kept for what the legend says was left out (measured before it is known).
_NOTE_BYTES = 1_000
#: Deepest zoom of the tiles a saved page carries for all of its extent, by ``inline_levels`` (the display levels
#: pages were drawn with before tiles, as the change report's page still asks: 0 → zoom 6 … 3 and None → zoom 12);
#: zooms deeper are drawn from those tiles, magnified.
_LEVEL_ZOOMS = (6, 8, 10, 12)
#: Deepest zoom of the tiles a saved check map carries around its site (the view it opens on).
_SITE_ZOOM = 16


@dataclass(frozen=True)
class Basemap:
    """An optional tile basemap; the pages have none by default (they must work with no network)."""

    url: str
    attribution: str
    subdomains: str = "abc"
    overlay_url: str | None = None  # e.g. 天地图's annotation layer, drawn over the base tiles
    max_zoom: int = 18

    @classmethod
    def tianditu(cls, key: str) -> Basemap:
        """天地图 vector map with Chinese labels; its tiles are CGCS2000-aligned, as the layers are (no GCJ-02 shift)."""
        if not key.strip():
            raise ValueError("a 天地图 key (tk) is required: apply for one at the 天地图 developer site")

        def wmts(layer: str) -> str:
            return (f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                    f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
                    f"&TILECOL={{x}}&tk={key.strip()}")

        return cls(wmts("vec"), "天地图 (国家地理信息公共服务平台)", "01234567", wmts("cva"))

    @classmethod
    def tiles(cls, url: str, attribution: str = "") -> Basemap:
        """Any XYZ tile URL, e.g. an intranet tile server: ``http://tiles.local/{z}/{x}/{y}.png``."""
        if not all(part in url for part in ("{z}", "{x}", "{y}")):
            raise ValueError(f"a tile URL needs {{z}}, {{x}} and {{y}} placeholders, got {url!r}")
        return cls(url, attribution or url)


class _Script(branca.element.MacroElement):
    """The page's data and the calls that draw it, in the map's script (values are JSON, never templates)."""

    _template = branca.element.Template(
        """
        {% macro script(this, kwargs) %}
        {%- for key, text in this.data.items() %}
        ecozone.data[{{ key|tojson }}] = {{ text }};
        {%- endfor %}
        ecozone.init({{ this._parent.get_name() }}, {{ this.spec }});
        {%- for call, args in this.calls %}
        {{ call }}({{ args }});
        {%- endfor %}
        {% endmacro %}
        """
    )

    def __init__(self, spec: dict[str, Any], data: dict[str, Any], calls: list[tuple[str, list]]) -> None:
        super().__init__()
        self.calls = [(call, ", ".join(script_json(arg) for arg in args)) for call, args in calls]
        self.set(spec, data)

    def set(self, spec: dict[str, Any], data: dict[str, Any]) -> None:
        """Put the page spec and ``ecozone.data``'s values in the script."""
        self.spec = script_json(spec)
        self.data = {key: script_json(value) for key, value in data.items()}


def _spec(layers: MapLayers, tiles: dict[str, Any], extra_legend: list[dict[str, str]],
          view: list[float] | None) -> dict[str, Any]:
    """The page spec: the box the view opens on; per kind its label, count, legend and looks; where the tiles
    come from; the legend's extras."""
    kinds = [layers.kind_spec(kind) for kind in layers.kinds]
    return {
        "as_of": layers.as_of.isoformat(),
        "bounds": view,
        "kinds": kinds,
        "tiles": tiles,
        "illustrative": any(kind["illustrative"] for kind in kinds),
        "verdicts": {v.value: {"label": VERDICT_LABELS[v], "color": VERDICT_COLORS[v]} for v in VERDICT_ORDER},
        "relations": {r.value: r.label_zh for r in Relation},
        "extra_legend": extra_legend,
    }


def _page(display: MapLayers, title: str, *, files=LAYERS_PAGE, static_url: str | None = None,
          basemap: Basemap | None = None, tile_url: str | None = None, popup_url: str | None = None,
          inline_levels: int | None = 1, max_zoom: int | None = None, bounds=None, focus=None,
          max_bytes: int = MAX_FILE_BYTES, calls: list[tuple[str, list]] = (),
          extra_legend: list[dict[str, str]] = ()) -> folium.Map:
    """A page of ``display``'s layers. With ``tile_url`` (a template with ``{z}``, ``{x}``, ``{y}``) and
    ``popup_url`` (``{kind}``, ``{zone_id}``, ``{lon}``, ``{lat}``, ``{zoom}``) the page fetches tiles and
    popups from the application; without, it carries the tiles of ``bounds`` (default: every zone) up to
    ``max_zoom`` (default: by ``inline_levels``) and of ``focus`` up to zoom 16, while the whole page stays within
    ``max_bytes``; the map's ``ecozone_tiles`` (an ``Embedded``) says what went in and what was left out. The
    view opens on ``bounds``, or on every zone."""
    m = folium.Map(location=_CENTRE, zoom_start=5, tiles=None, control_scale=False)
    m._id = "ecozone"  # the same page for the same layers (folium names a map by a random id)
    attach(m, files, static_url)
    m.get_root().header.add_child(branca.element.Element(f"<title>{escape(title)}</title>"), name="title")
    if basemap is not None:
        folium.TileLayer(basemap.url, attr=basemap.attribution, subdomains=basemap.subdomains,
                         max_zoom=basemap.max_zoom, name="底图", control=False).add_to(m)
        if basemap.overlay_url:
            folium.TileLayer(basemap.overlay_url, attr=basemap.attribution, subdomains=basemap.subdomains,
                             max_zoom=basemap.max_zoom, name="注记", control=False, overlay=True).add_to(m)
    view = list(bounds) if bounds is not None else display.bounds
    if tile_url is not None:
        m.ecozone_tiles = None
        _Script(_spec(display, {"url": tile_url, "popup_url": popup_url}, list(extra_legend), view), {},
                list(calls)).add_to(m)
        return m
    level = len(_LEVEL_ZOOMS) - 1 if inline_levels is None else min(inline_levels, len(_LEVEL_ZOOMS) - 1)
    zoom = max_zoom if max_zoom is not None else _LEVEL_ZOOMS[level]

    def spec(first: int, last: int, left_out: list[str]) -> dict[str, Any]:
        return _spec(display, {"min_zoom": first, "max_zoom": min(last, zoom), "left_out": left_out},
                     list(extra_legend), view)

    # The bound is on the file: the page without its tiles and popups (Leaflet, the page code, a check result)
    # is measured first, and they get what is left.
    script = _Script(spec(0, 0, []), {"tiles": {}, "popups": {kind: {} for kind in display.kinds}}, list(calls))
    script.add_to(m)
    page_bytes = len(render(m).encode()) + _NOTE_BYTES
    embedded = embed(display, max_zoom=zoom, max_bytes=max_bytes, bounds=bounds, focus=focus,
                     focus_zoom=_SITE_ZOOM if focus is not None else None, page_bytes=page_bytes)
    m.ecozone_tiles = embedded
    script.set(spec(*(embedded.zooms or (0, 0)), embedded.left_out),
               {"tiles": embedded.tiles, "popups": embedded.popups})
    return m


def render(m: folium.Map) -> str:
    """The map's full HTML page, in Chinese (``lang``), checked to load nothing from another host."""
    html = m.get_root().render().replace("<html>", '<html lang="zh-CN">', 1)
    return check_offline(html)


def layers_map(store: Store | None = None, as_of: dt.date | str | None = None, *, basemap: Basemap | None = None,
               static_url: str | None = None, tile_url: str | None = None, popup_url: str | None = None,
               max_zoom: int = 8, bounds: tuple[float, float, float, float] | None = None,
               max_bytes: int = MAX_FILE_BYTES) -> folium.Map:
    """All layers in force on ``as_of`` (default today), one switchable layer per kind, with the Chinese legend.

    Parameters
    ----------
    static_url : where the application serves ``maps.assets.STATIC_ROOTS`` (e.g. ``"/static"``); None
        inlines Leaflet and the page code, for a self-contained file.
    tile_url, popup_url : where the application serves the tiles and popups (see ``_page``); None puts the
        tiles of ``bounds`` (lon/lat; default every zone) from zoom 2 to ``max_zoom`` into the page, as far as
        ``max_bytes`` allows (``m.ecozone_tiles`` says what was left out).
    """
    with _opened(store) as opened:
        layers = map_layers(opened, _day(as_of))
        return _page(layers, f"ecozone 一张图 {layers.as_of}", static_url=static_url, basemap=basemap,
                     tile_url=tile_url, popup_url=popup_url, max_zoom=max_zoom, bounds=bounds,
                     max_bytes=max_bytes)


def check_map(result: CheckResult, store: Store | None = None, *, basemap: Basemap | None = None,
              static_url: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> folium.Map:
    """A check result on the layers it was checked against: the site, its rings, the zones met, the verdict.

    The page carries the tiles of every zone to zoom 6 and of the site's surroundings to zoom 16."""
    rings = site_rings(result.site.geometry, result.overlap.buffers_km)
    site = shapely.geometry.shape(result.site.geometry)
    with _opened(store) as opened:
        layers = map_layers(opened, result.as_of)
        return _page(layers, f"ecozone 核查结果 {result.verdict_label}", static_url=static_url, basemap=basemap,
                     max_zoom=_LEVEL_ZOOMS[0], focus=tuple(site.bounds), max_bytes=max_bytes,
                     calls=[("ecozone.showResult", [result.model_dump(mode="json"), rings])])


def batch_map(sites: gpd.GeoDataFrame, store: Store | None = None, as_of: dt.date | str | None = None, *,
              label_column: str | None = None, basemap: Basemap | None = None, static_url: str | None = None,
              max_zoom: int = 8, max_sites: int = 20_000, max_bytes: int = MAX_FILE_BYTES,
              tile_url: str | None = None, popup_url: str | None = None) -> folium.Map:
    """Screened sites coloured by their verdict (a site's verdict is its worst rule's), worst drawn on top.

    ``sites`` has a geometry in a CRS and a ``verdict`` column (Verdict values such as ``forbidden``, or
    their Chinese labels such as 禁止); other columns go into the popups. Past ``max_sites`` the worst sites
    are drawn and the legend says how many were left out: a browser cannot draw a million markers. With
    ``tile_url`` and ``popup_url`` (as ``layers_map`` takes them) the zones come from the application as the
    map is moved; without, the page carries them (up to ``max_zoom``, within ``max_bytes``).
    """
    if sites.crs is None:
        raise ValueError("the sites have no CRS; set one with set_crs() before drawing them")
    if "verdict" not in sites.columns:
        raise ValueError(f"the sites need a 'verdict' column; they have {list(sites.columns)}")
    codes = {**{v.value: v for v in Verdict}, **{label: v for v, label in VERDICT_LABELS.items()}}
    unknown = sorted({str(v) for v in sites["verdict"] if str(v) not in codes})
    if unknown:
        raise ValueError(f"unknown verdicts {unknown}; use one of {sorted(codes)}")
    sites = sites[~(sites.geometry.isna() | sites.geometry.is_empty)].to_crs(4326)
    rank = sites["verdict"].map(lambda v: VERDICT_ORDER.index(codes[str(v)]))
    ordered = sites.assign(_rank=rank).sort_values("_rank", kind="stable")
    shown = ordered.head(max_sites).iloc[::-1]  # worst last, so drawn on top
    features = []
    for _, row in shown.iterrows():
        verdict = codes[str(row["verdict"])]
        fields = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
                         for k, v in row.drop(labels=["geometry", "_rank"]).items()
                         if not (pd.api.types.is_scalar(v) and pd.isna(v)))
        title = escape(str(row[label_column])) if label_column else ""
        features.append({"verdict": verdict.value, "geometry": row.geometry.__geo_interface__,
                         "popup": f"<div class='ez-popup'><h4>{title} {VERDICT_LABELS[verdict]}</h4>"
                                  f"<table>{fields}</table></div>"})
    counts = ordered["_rank"].value_counts()
    legend = [{"label": f"{VERDICT_LABELS[v]}：{int(counts.get(i, 0))} 个", "color": VERDICT_COLORS[v]}
              for i, v in enumerate(VERDICT_ORDER) if counts.get(i, 0)]
    if len(ordered) > max_sites:
        legend.append({"label": f"另有 {len(ordered) - max_sites} 个较轻结论的点未绘制", "color": "#ffffff"})
    with _opened(store) as opened:
        layers = map_layers(opened, _day(as_of))
        return _page(layers, "ecozone 批量筛查", static_url=static_url, basemap=basemap, max_zoom=max_zoom,
                     max_bytes=max_bytes, tile_url=tile_url, popup_url=popup_url,
                     calls=[("ecozone.showBatch", [features])], extra_legend=legend)


def check_page(store: Store | None = None, as_of: dt.date | str | None = None, *, check_url: str, rings_url: str,
               tile_url: str, popup_url: str, static_url: str | None = None,
               basemap: Basemap | None = None) -> folium.Map:
    """The officer's page: draw, paste or upload a site, describe the project, check it through the API."""
    with _opened(store) as opened:
        layers = map_layers(opened, _day(as_of))
        m = _page(layers, "ecozone 项目选址核查", files=CHECK_PAGE, static_url=static_url, basemap=basemap,
                  tile_url=tile_url, popup_url=popup_url,
                  calls=[("ecozoneCheck.init", [{"check_url": check_url, "rings_url": rings_url,
                                                 "as_of": layers.as_of.isoformat()}])])
    m.get_root().html.add_child(branca.element.Element(_check_panel()), name="check_panel")
    return m


def _fact_field(spec: FactSpec) -> str:
    """The form field of one project fact, made from the project model so that the page offers every fact."""
    label = escape(spec.label_zh + (f" ({spec.unit})" if spec.unit else ""))
    attrs = f"id='ez-fact-{spec.name}' data-fact='{spec.name}' data-kind='{spec.kind}'"
    if spec.kind == "number":
        control = f"<input type='number' {attrs} min='0' step='any'>"
    elif spec.kind == "bool":
        control = f"<select {attrs}><option value=''>未说明</option><option value='true'>是</option>" \
                  "<option value='false'>否</option></select>"
    elif spec.kind == "choice":
        options = "".join(f"<option value='{c}'>{escape(CHOICE_LABELS.get(c, c))}</option>" for c in spec.choices)
        control = f"<select {attrs}><option value=''>未说明</option>{options}</select>"
    elif spec.name == "industry":
        options = "".join(f"<option value='{escape(name)}'>" for name in INDUSTRIES)
        control = f"<input type='text' {attrs} list='ez-industries' placeholder='如 水泥、火力发电、C3011'>" \
                  f"<datalist id='ez-industries'>{options}</datalist>"
    else:
        control = f"<input type='text' {attrs}>"
    return f"<label>{label} {control}</label>"


def _check_panel() -> str:
    facts = "\n    ".join(_fact_field(spec) for spec in fact_specs())
    return f"""
<div class="ez-panel" id="ez-check-panel">
  <h3>项目选址核查</h3>
  <fieldset><legend>项目地块</legend>
    <button type="button" id="ez-draw">在地图上绘制</button><button type="button" id="ez-clear">清除</button>
    <div class="ez-dim" id="ez-draw-hint">单击添加拐点，双击结束（至少 3 点）。</div>
    <label>或粘贴坐标（经度,纬度 每行一点；WKT；GeoJSON）：
      <textarea id="ez-coords" placeholder="87.6033,43.8011&#10;87.6100,43.8011&#10;87.6100,43.8060"></textarea></label>
    <label>或上传拐点文件（国土 TXT、CSV、Excel、GeoJSON、KML）：
      <input type="file" id="ez-file" accept=".txt,.csv,.xlsx,.wkt,.geojson,.json,.kml,.kmz,.gpkg"></label>
  </fieldset>
  <fieldset><legend>坐标参数</legend>
    <label>坐标系 <select id="ez-datum">
      <option value="wgs84">WGS84 / CGCS2000 经纬度（GPS、天地图）</option>
      <option value="gcj02">GCJ-02（高德、腾讯地图）</option>
      <option value="bd09">BD-09（百度地图）</option></select></label>
    <div class="ez-dim">CGCS2000 与 WGS84 经纬度相差在厘米级，按同一坐标系读取；高斯-克吕格坐标可在下方指定带号。</div>
    <label>高斯-克吕格带号（Y 值前无带号时填写，13–45）
      <input type="number" id="ez-gk-zone" min="13" max="45" step="1"></label>
    <label><input type="checkbox" id="ez-swap"> 交换每个拐点的两个坐标值（X/Y 顺序颠倒时）</label>
  </fieldset>
  <fieldset><legend>项目情况（未填写的建设性质按新建核查）</legend>
    {facts}
    <label>核查日期 <input type="date" id="ez-asof"></label>
  </fieldset>
  <button type="button" id="ez-run">核查</button>
  <div class="ez-downloads">下载核查报告：
    <button type="button" id="ez-report" data-format="pdf"
      title="PDF：结论、规则、图层、地块、位置示意图与可核验信息">PDF</button>
    <button type="button" id="ez-report-docx" data-format="docx" title="Word：可编辑的同一份报告">Word</button>
    <button type="button" id="ez-print" title="打印结论与规则（不含地图控件）">打印</button>
  </div>
  <div class="ez-status" id="ez-status"></div>
</div>"""


class _opened:
    """The given store, or the embedded dataset opened for the duration of the block."""

    def __init__(self, store: Store | None) -> None:
        self.store, self.own = store, store is None

    def __enter__(self) -> Store:
        if self.own:
            self.store = open_store()
        return self.store

    def __exit__(self, *exc) -> None:
        if self.own:
            self.store.close()


def _day(as_of: dt.date | str | None) -> dt.date:
    return dt.date.fromisoformat(str(as_of)) if as_of else dt.date.today()
