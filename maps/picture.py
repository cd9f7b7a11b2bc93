"""A still picture of a check for a printed report: the site, its proximity rings and the zones around it.

Drawn offline with matplotlib (no browser, no tiles, no network) in the colours of the interactive maps
(``maps.style``), so that the report and the map page look alike. Longitude and latitude are drawn with the
aspect of the site's latitude (equirectangular, true to scale at the centre): over the few tens of km of a
picture the distortion is below a per cent. The figure is built with matplotlib's object API, never pyplot,
so that threads of a server can draw at the same time.
"""

from __future__ import annotations

import functools
import io
import math
from typing import Any

import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib import font_manager
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath

from gis.check import CheckResult
from gis.kinds import KINDS
from gis.overlap import OverlapEngine
from gis.results import Relation
from gis.store import Store
from maps.rings import site_rings
from maps.style import DRAW_ORDER, VERDICT_COLORS, park_status, zone_style

__all__ = ["check_picture", "FONT_FAMILIES"]

#: Fonts tried for Chinese labels, in order (Debian's fonts-wqy-microhei, fonts-noto-cjk).
FONT_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP")

#: Share of the view added around the largest ring.
_MARGIN = 0.08

_KM_PER_DEGREE = 111.32

#: Outline of the zones the site lies in, overlaps or touches.
_MET = "#111111"


def check_picture(result: CheckResult, store: Store, *, dpi: int = 180) -> bytes:
    """A PNG of the check: the zones in force on its date around the site, the rings, the site on top.

    Zones the site lies in, overlaps or touches are outlined in the verdict's colour."""
    engine = OverlapEngine.for_store(store, result.as_of.isoformat())  # the engine the check used, kept in memory
    zones = engine.snapshot.zones
    site = shapely.geometry.shape(result.site.geometry)
    rings = site_rings(result.site.geometry, result.overlap.buffers_km)
    view = _view(site, rings)
    met = {hit.zone_id for layer in result.overlap.layers for hit in layer.hits if hit.relation is not Relation.NEAR}
    font = FontProperties(family=_font_family())

    figure = Figure(figsize=(8.4, 4.9), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.08, 0.06, 0.66, 0.91))
    minx, miny, maxx, maxy = view.bounds
    axes.set_xlim(minx, maxx)
    axes.set_ylim(miny, maxy)
    axes.set_aspect(1 / math.cos(math.radians((miny + maxy) / 2)))
    axes.set_facecolor("#fbfbf8")
    axes.tick_params(labelsize=6)
    axes.xaxis.set_major_formatter(lambda value, _: f"{value:.2f}°E")
    axes.yaxis.set_major_formatter(lambda value, _: f"{value:.2f}°N")

    legend = _draw_zones(axes, zones, view, met, result)
    highlight = VERDICT_COLORS[result.verdict]
    for ring in rings:
        _draw(axes, shapely.geometry.shape(ring["geometry"]), {"color": "#555555", "weight": 1, "fill": False,
                                                               "dashArray": "4 3"}, zorder=8)
        ring_shape = shapely.geometry.shape(ring["geometry"])
        axes.annotate(f"{ring['km']:g} km", (ring_shape.bounds[2], (ring_shape.bounds[1] + ring_shape.bounds[3]) / 2),
                      fontsize=6, color="#333333", ha="left", va="center", zorder=9)
    _draw(axes, site, {"color": "#000000", "weight": 2.5, "fillColor": highlight, "fillOpacity": 0.6}, zorder=10)
    centre = site.centroid
    axes.plot([centre.x], [centre.y], marker="*", markersize=11, color=highlight, markeredgecolor="#000000",
              markeredgewidth=0.8, zorder=11)
    _scale_bar(axes, view, font)
    axes.annotate("N\n↑", xy=(0.97, 0.95), xycoords="axes fraction", ha="center", va="top", fontsize=9,
                  fontproperties=font, zorder=12)
    handles = [Line2D([], [], marker="*", color=highlight, markeredgecolor="#000000", linestyle="none",
                      markersize=9, label="项目地块"),
               Line2D([], [], color="#555555", linestyle="--", linewidth=1,
                      label="缓冲区 " + " / ".join(f"{km:g}" for km in result.overlap.buffers_km) + " km"),
               Patch(facecolor="none", edgecolor=_MET, linewidth=1.3, label="项目所在、重叠或接触的区域"),
               *legend]
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), prop=font.copy(), fontsize=6.5,
                frameon=False, borderaxespad=0)
    for text in axes.get_legend().get_texts():
        text.set_fontsize(6.5)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


@functools.cache
def _font_family() -> str:
    """The first installed font of ``FONT_FAMILIES`` (matplotlib's default font has no Chinese)."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in FONT_FAMILIES if family in installed), "DejaVu Sans")


def _view(site: shapely.Geometry, rings: list[dict[str, Any]]) -> shapely.Geometry:
    """The largest ring's extent and a margin, widened to a 4:3 frame on the ground."""
    extent = shapely.geometry.shape(rings[-1]["geometry"]) if rings else site.buffer(0.01)
    minx, miny, maxx, maxy = extent.bounds
    scale = math.cos(math.radians((miny + maxy) / 2))
    width, height = (maxx - minx) * scale, maxy - miny
    side = max(width, height * 4 / 3) * (1 + 2 * _MARGIN)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half_w, half_h = side / scale / 2, side * 3 / 4 / 2
    return shapely.box(cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def _draw_zones(axes, zones, view: shapely.Geometry, met: set[str], result: CheckResult) -> list[Patch]:
    """Every zone in view, clipped to it, by kind from bottom to top; the legend's rows for the kinds drawn."""
    if not len(zones):
        return []
    minx, miny, maxx, maxy = view.bounds
    bounds = shapely.bounds(zones.geometry.values)
    in_view = zones[(bounds[:, 0] <= maxx) & (bounds[:, 2] >= minx) & (bounds[:, 1] <= maxy) & (bounds[:, 3] >= miny)]
    pixel = (maxx - minx) / 2000
    legend: list[Patch] = []
    for order, kind in enumerate(DRAW_ORDER):
        frame = in_view[in_view["kind"] == kind]
        first = None
        for row in frame.to_dict("records"):
            # Clipped to the view and simplified below a pixel: a province's outline has 100,000s of vertices.
            shape = shapely.simplify(shapely.clip_by_rect(row["geometry"], minx, miny, maxx, maxy), pixel)
            if shape.is_empty:
                continue
            status = park_status(row, result.as_of) if kind == "industrial_park" else None
            style = zone_style(kind, row["subtype"], row["geometry_source"], status)
            _draw(axes, shape, style, zorder=1 + order * 0.1)
            if row["zone_id"] in met:
                _draw(axes, shape, {"color": _MET, "weight": 2.2, "fill": False}, zorder=7)
            first = first or style
        if first is not None:
            legend.append(_legend_patch(KINDS[kind].label_zh, first))
    return legend


def _legend_patch(label: str, style: dict[str, Any]) -> Patch:
    filled = style.get("fill", True)
    return Patch(facecolor=style.get("fillColor", style["color"]) if filled else "none",
                 alpha=None, edgecolor=style["color"], linewidth=max(style.get("weight", 1) * 0.6, 0.6),
                 linestyle="--" if style.get("dashArray") else "-", label=label)


def _draw(axes, shape: shapely.Geometry, style: dict[str, Any], zorder: float) -> None:
    """One geometry in a Leaflet path style (``maps.style``): polygons filled, lines stroked, points as dots."""
    color = style["color"]
    width = max(style.get("weight", 1) * 0.6, 0.4)
    dashes = "--" if style.get("dashArray") else "-"
    polygons = [g for g in shapely.get_parts(shape) if g.geom_type == "Polygon"]
    lines = [g for g in shapely.get_parts(shape) if g.geom_type in ("LineString", "LinearRing")]
    points = [g for g in shapely.get_parts(shape) if g.geom_type == "Point"]
    for polygon in polygons:
        path = _polygon_path(polygon)
        if style.get("fill", True):
            # add_artist, not add_patch: the view is fixed, and fitting it to every path costs more than drawing
            axes.add_artist(PathPatch(path, facecolor=style.get("fillColor", color), edgecolor="none",
                                      alpha=style.get("fillOpacity", 0.2), zorder=zorder))
        axes.add_artist(PathPatch(path, facecolor="none", edgecolor=color, linewidth=width, linestyle=dashes,
                                  alpha=style.get("opacity", 1.0), zorder=zorder))
    for line in lines:
        x, y = np.asarray(line.coords).T[:2]
        axes.plot(x, y, color=color, linewidth=width, linestyle=dashes, zorder=zorder)
    for point in points:
        axes.plot([point.x], [point.y], marker="o", markersize=max(style.get("radius", 4) * 0.8, 3),
                  color=style.get("fillColor", color), markeredgecolor=color, zorder=zorder + 5)


def _polygon_path(polygon: shapely.Polygon) -> MplPath:
    """A polygon with its holes as one path (holes cut out by the even-odd rule of opposite windings)."""
    polygon = shapely.geometry.polygon.orient(polygon, 1.0)  # holes wound against the exterior
    rings = [np.asarray(polygon.exterior.coords)[:, :2], *(np.asarray(r.coords)[:, :2] for r in polygon.interiors)]
    vertices = np.concatenate(rings)
    codes = np.concatenate([[MplPath.MOVETO, *[MplPath.LINETO] * (len(r) - 2), MplPath.CLOSEPOLY] for r in rings])
    return MplPath(vertices, codes)


def _scale_bar(axes, view: shapely.Geometry, font: FontProperties) -> None:
    """A bar of a round length, about a fifth of the view's width, at the bottom left."""
    minx, miny, maxx, maxy = view.bounds
    km_per_degree = _KM_PER_DEGREE * math.cos(math.radians((miny + maxy) / 2))
    target = (maxx - minx) * km_per_degree / 5
    length = max(step for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if step <= max(target, 0.1))
    x0, y0 = minx + (maxx - minx) * 0.04, miny + (maxy - miny) * 0.05
    x1 = x0 + length / km_per_degree
    axes.plot([x0, x1], [y0, y0], color="#000000", linewidth=2.5, solid_capstyle="butt", zorder=12)
    axes.annotate(f"{length:g} km", ((x0 + x1) / 2, y0), xytext=(0, 3), textcoords="offset points", ha="center",
                  va="bottom", fontsize=6.5, fontproperties=font, zorder=12)
