"""folium maps of the store's layers, of a check result, of a screened batch, and the officer's check page.

Every map is one page: Leaflet plus ``ecozone.js`` (linked from the application or inlined), a spec of the
layers (labels, styles, popups, legend) and their geometry levels. Drawing happens in ``ecozone.js``, so a
check result looks the same in a saved file and on the live check page, where the same code shows the
answer of ``POST /check``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from html import escape
from typing import Any

import branca.element
import folium
import geopandas as gpd
import pandas as pd

from gis.cache import BoundedCache
from gis.check import CheckResult
from gis.results import Relation
from gis.rules.model import VERDICT_LABELS, VERDICT_ORDER, Verdict
from gis.rules.project import CHOICE_LABELS, INDUSTRIES, FactSpec, fact_specs
from gis.store import Store, open_store
from maps.assets import CHECK_PAGE, LAYERS_PAGE, attach, check_offline
from maps.layers import DisplayLayers
from maps.rings import site_rings
from maps.style import VERDICT_COLORS

__all__ = ["Basemap", "batch_map", "check_map", "check_page", "display_layers", "layers_map", "render"]

#: Centre of the default view (Xinjiang) before the layers' bounds are known.
_CENTRE = (42.0, 85.0)


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


def display_layers(store: Store, as_of: dt.date) -> DisplayLayers:
    """The store's layers in force on ``as_of``, ready to draw; kept while the store's versions stay the same.

    Read from the store given (a location without its password could not open it again)."""
    key = (store.location, tuple(sorted((kind, v.version) for kind, v in store.in_force(as_of).items())), as_of)
    display = _displays.get(key)
    return display if display is not None else _displays.put(key, DisplayLayers(store.snapshot(as_of), as_of))


_displays: BoundedCache[DisplayLayers] = BoundedCache(4)


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

    def __init__(self, spec: dict[str, Any], data: dict[str, str], calls: list[tuple[str, list]]) -> None:
        super().__init__()
        self.spec = _js(spec)
        self.data = {key: _script_safe(text) for key, text in data.items()}
        self.calls = [(call, ", ".join(_js(arg) for arg in args)) for call, args in calls]


def _script_safe(text: str) -> str:
    """JSON text safe inside a <script> element (no closing tag, no comment opener)."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _js(value: Any) -> str:
    """A value as JSON for a <script>, Chinese kept as UTF-8 (half the size of \\u escapes)."""
    return _script_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _spec(display: DisplayLayers, inline_levels: int | None, level_url: str | None,
          extra_legend: list[dict[str, str]]) -> tuple[dict[str, Any], dict[str, str]]:
    """The page spec and its inline geometry: levels up to ``inline_levels`` (None = all) inline, others by URL."""
    kinds, data = [], {}
    for kind in display.kinds:
        spec = display.kind_spec(kind)
        for index, level in enumerate(spec["levels"]):
            level["key"] = f"{kind}/{index}"
            if index == 0 or inline_levels is None or index <= inline_levels:
                data[level["key"]] = display.level_json(kind, index)
            elif level_url is not None:
                level["url"] = level_url.format(kind=kind, level=index)
        kinds.append(spec)
    spec = {
        "as_of": display.as_of.isoformat(),
        "bounds": display.bounds,
        "kinds": kinds,
        "illustrative": any(kind["illustrative"] for kind in kinds),
        "verdicts": {v.value: {"label": VERDICT_LABELS[v], "color": VERDICT_COLORS[v]} for v in VERDICT_ORDER},
        "relations": {r.value: r.label_zh for r in Relation},
        "extra_legend": extra_legend,
    }
    return spec, data


def _page(display: DisplayLayers, title: str, *, files=LAYERS_PAGE, static_url: str | None = None,
          basemap: Basemap | None = None, inline_levels: int | None = None, level_url: str | None = None,
          calls: list[tuple[str, list]] = (), extra_legend: list[dict[str, str]] = ()) -> folium.Map:
    m = folium.Map(location=_CENTRE, zoom_start=5, tiles=None, control_scale=False)
    attach(m, files, static_url)
    m.get_root().header.add_child(branca.element.Element(f"<title>{escape(title)}</title>"), name="title")
    if basemap is not None:
        folium.TileLayer(basemap.url, attr=basemap.attribution, subdomains=basemap.subdomains,
                         max_zoom=basemap.max_zoom, name="底图", control=False).add_to(m)
        if basemap.overlay_url:
            folium.TileLayer(basemap.overlay_url, attr=basemap.attribution, subdomains=basemap.subdomains,
                             max_zoom=basemap.max_zoom, name="注记", control=False, overlay=True).add_to(m)
    spec, data = _spec(display, inline_levels, level_url, list(extra_legend))
    _Script(spec, data, list(calls)).add_to(m)
    return m


def render(m: folium.Map) -> str:
    """The map's full HTML page, checked to load nothing from another host."""
    return check_offline(m.get_root().render())


def layers_map(store: Store | None = None, as_of: dt.date | str | None = None, *, basemap: Basemap | None = None,
               static_url: str | None = None, inline_levels: int | None = 2,
               level_url: str | None = None) -> folium.Map:
    """All layers in force on ``as_of`` (default today), one switchable layer per kind, with the Chinese legend.

    Parameters
    ----------
    static_url : where the application serves ``maps.assets.STATIC_ROOTS`` (e.g. ``"/static"``); None
        inlines Leaflet and the page code, for a self-contained file.
    inline_levels : display levels inlined (0 = only the coarsest, None = all); deeper ones are fetched from
        ``level_url`` (a template with ``{kind}`` and ``{level}``) or, without one, not drawn (the page
        keeps the finest inlined level). A file with the default 2 is about 6 MB.
    """
    with _opened(store) as opened:
        display = display_layers(opened, _day(as_of))
    return _page(display, f"ecozone 一张图 {display.as_of}", static_url=static_url, basemap=basemap,
                 inline_levels=inline_levels, level_url=level_url)


def check_map(result: CheckResult, store: Store | None = None, *, basemap: Basemap | None = None,
              static_url: str | None = None, inline_levels: int | None = 1) -> folium.Map:
    """A check result on the layers it was checked against: the site, its rings, the zones met, the verdict."""
    with _opened(store) as opened:
        display = display_layers(opened, result.as_of)
    rings = site_rings(result.site.geometry, result.overlap.buffers_km)
    return _page(display, f"ecozone 核查结果 {result.verdict_label}", static_url=static_url, basemap=basemap,
                 inline_levels=inline_levels,
                 calls=[("ecozone.showResult", [result.model_dump(mode="json"), rings])])


def batch_map(sites: gpd.GeoDataFrame, store: Store | None = None, as_of: dt.date | str | None = None, *,
              label_column: str | None = None, basemap: Basemap | None = None, static_url: str | None = None,
              inline_levels: int | None = 1, max_sites: int = 20_000) -> folium.Map:
    """Screened sites coloured by their verdict (a site's verdict is its worst rule's), worst drawn on top.

    ``sites`` has a geometry in a CRS and a ``verdict`` column (Verdict values such as ``forbidden``, or
    their Chinese labels such as 禁止); other columns go into the popups. Past ``max_sites`` the worst sites
    are drawn and the legend says how many were left out: a browser cannot draw a million markers.
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
        display = display_layers(opened, _day(as_of))
    return _page(display, "ecozone 批量筛查", static_url=static_url, basemap=basemap, inline_levels=inline_levels,
                 calls=[("ecozone.showBatch", [features])], extra_legend=legend)


def check_page(store: Store | None = None, as_of: dt.date | str | None = None, *, check_url: str, rings_url: str,
               static_url: str | None = None, basemap: Basemap | None = None,
               level_url: str | None = None) -> folium.Map:
    """The officer's page: draw, paste or upload a site, describe the project, check it through the API."""
    with _opened(store) as opened:
        display = display_layers(opened, _day(as_of))
    m = _page(display, "ecozone 项目选址核查", files=CHECK_PAGE, static_url=static_url, basemap=basemap,
              inline_levels=0 if level_url else 1, level_url=level_url,
              calls=[("ecozoneCheck.init", [{"check_url": check_url, "rings_url": rings_url,
                                             "as_of": display.as_of.isoformat()}])])
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
  <fieldset><legend>项目情况（未填写的建设性质按新建核查）</legend>
    {facts}
    <label>核查日期 <input type="date" id="ez-asof"></label>
  </fieldset>
  <button type="button" id="ez-run">核查</button>
  <button type="button" id="ez-report" title="PDF：结论、规则、图层、地块、位置示意图与可核验信息">下载核查报告（PDF）</button>
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
