"""The change report of a layer as a map page: area gained in green, area lost in red, over the administrative
units, with the totals and the 兵团 share in a panel. Built like the other pages (``maps.build``): Leaflet and
the page code linked or inlined, nothing from another host."""

from __future__ import annotations

import datetime as dt
from html import escape

import folium

from gis.layer_diff import LayerDiff
from gis.layer_diff_files import summary_rows
from gis.store import Snapshot, Store
from maps.assets import LAYERS_PAGE
from maps.build import Basemap, _page
from maps.layers import DisplayLayers

__all__ = ["DIFF_COLORS", "DIFF_PAGE", "diff_map"]

#: Files of the page, in load order.
DIFF_PAGE = LAYERS_PAGE + (("ecozone", "diff.js"),)

#: Colours of the two kinds of difference polygon.
DIFF_COLORS = {"added": "#1a9850", "removed": "#d73027"}


def _popup(row: dict) -> str:
    cells = [("变化", row["change_zh"]), ("区域", row["zone_names"] or "—"), ("编号", row["zone_ids"] or "—"),
             ("县级辖区", row["unit_name"]), ("地州市", row["prefecture"]), ("师", row["division"]),
             ("面积", f"{row['area_m2'] / 1e6:,.4f} km²（{row['area_m2']:,.0f} m²）")]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in cells if v)
    return f"<div class='ez-popup'><h4>{escape(row['change_zh'])}图斑</h4><table>{body}</table></div>"


def _panel(diff: LayerDiff) -> str:
    rows = summary_rows(diff)
    warnings = "".join(f"<div class='ez-warn'>{escape(str(v))}</div>" for k, v in rows if k.startswith("⚠"))
    shown = [(k, v) for k, v in rows if not k.startswith(("⚠", "内容摘要", "兵团范围", "代表兵团"))]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in shown)
    units = "".join(
        f"<tr><td>{escape(u.level_label)}</td><td>{escape(u.name)}</td><td>+{u.added_m2 / 1e6:,.3f}</td>"
        f"<td>−{u.removed_m2 / 1e6:,.3f}</td><td>{u.share_before_pct:.3f} → {u.share_after_pct:.3f}</td></tr>"
        for u in diff.by_jurisdiction)
    return (f"<h3>{escape(diff.label)}变化 第 {diff.from_version.version} 版 → 第 {diff.to_version.version} 版</h3>"
            f"{warnings}<table class='ez-layers'>{table}</table>"
            f"<h4>分辖区（km²，占比 %）</h4><table class='ez-layers'><tr><th>层级</th><th>辖区</th><th>新增</th>"
            f"<th>减少</th><th>占比</th></tr>{units}</table>"
            f"<p class='ez-dim'>{escape(diff.basis.note_zh)}</p>")


def diff_map(diff: LayerDiff, store: Store, *, admin_as_of: str | dt.date | None = None,
             static_url: str | None = None, basemap: Basemap | None = None) -> folium.Map:
    """The page of ``diff`` over the administrative layer in force on ``admin_as_of`` (default today), the layer
    the report's jurisdictions come from. ``static_url`` as in ``maps.build.layers_map`` (None inlines all)."""
    admin = store.snapshot(admin_as_of, kinds=["admin_division"])
    day = dt.date.fromisoformat(admin.as_of)
    display = DisplayLayers(Snapshot(as_of=admin.as_of, versions=admin.versions, zones=admin.zones), day)
    polygons = diff.polygons
    features = [{"change": row["change"], "geometry": geom.__geo_interface__, "popup": _popup(row)}
                for row, geom in zip(polygons.drop(columns="geometry").to_dict("records"), polygons.geometry)]
    labels = {"added": f"新增 {diff.added_m2 / 1e6:,.4f} km²", "removed": f"减少 {diff.removed_m2 / 1e6:,.4f} km²"}
    data = {"colors": DIFF_COLORS, "labels": labels, "features": features, "panel": _panel(diff)}
    legend = [{"label": labels[change], "color": color} for change, color in DIFF_COLORS.items()]
    title = f"ecozone {diff.label}变化 v{diff.from_version.version}→v{diff.to_version.version}"
    return _page(display, title, files=DIFF_PAGE, static_url=static_url, basemap=basemap, inline_levels=1,
                 calls=[("ecozoneDiff.show", [data])], extra_legend=legend)
