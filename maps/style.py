"""How each kind of zone looks: one style table, so the layers map, a check map and the legend agree.

Styles are Leaflet path options. A kind is styled by its subtype where the subtype carries meaning (a
reserve's functional zones in graded greens, drinking-water levels in graded blues, control units by
class), and industrial parks by their sewage-plant / water-project-freeze status on the map's date.
Illustrative (示意) geometries keep their colour but get a dashed outline; the legend says so.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from types import SimpleNamespace
from typing import Any

from gis.kinds import GEOMETRY_SOURCES, KINDS
from gis.rules.evaluate import zone_facts
from gis.rules.model import Verdict

__all__ = [
    "DRAW_ORDER", "ILLUSTRATIVE_DASH", "PARK_STATUS", "VERDICT_COLORS", "kind_legend", "park_status",
    "style_index", "style_table", "zone_style",
]

#: Kinds from bottom to top: wide background layers first, small strict zones last, points on top.
DRAW_ORDER = (
    "admin_division", "river_basin", "water_scarce_area", "control_unit", "key_region", "groundwater_zone",
    "fuel_ban_zone", "built_up_area", "livestock_ban_zone", "industrial_park", "eco_sensitive_area",
    "headwater_area", "water_body", "drinking_water_zone", "natural_park", "nature_reserve",
    "ecological_redline", "chp_plant",
    # kinds of the issue-22 rule families
    "enclosure_zone", "overloaded_area", "heat_network", "water_supply_area", "traffic_restriction_zone",
    "contaminated_site", "mine",
)

#: Dash pattern of an illustrative (示意) outline.
ILLUSTRATIVE_DASH = "6 4"


def _fill(color: str, opacity: float, weight: float = 1.5, line: str | None = None) -> dict[str, Any]:
    return {"color": line or color, "weight": weight, "fillColor": color, "fillOpacity": opacity, "opacity": 0.9}


def _outline(color: str, weight: float, dash: str | None = None) -> dict[str, Any]:
    return {"color": color, "weight": weight, "fill": False, "opacity": 0.8, "dashArray": dash}


#: Style of each kind, by subtype; None is the kind's own look, for its zones without a subtype (or with one the
#: table does not know), labelled by the kind. Kinds without one get a grey look below.
_STYLES: dict[str, dict[str | None, dict[str, Any]]] = {
    "admin_division": {
        "province": _outline("#444444", 2.5),
        "prefecture": _outline("#666666", 1.5),
        "county": _outline("#999999", 0.8),
        "bingtuan_city": _outline("#8a5a00", 1.2),
    },
    "control_unit": {
        "priority": _fill("#3f9b5a", 0.12, 0.5),
        "key": _fill("#d9822b", 0.12, 0.5),
        "general": _fill("#b8b8b8", 0.06, 0.4),
    },
    "key_region": {
        "wu_chang_shi": _outline("#7b3294", 2.5, "10 6"),
        "kui_du_wu": _outline("#c2a5cf", 2.5, "10 6"),
        "nmg_key": _outline("#5e3c99", 2.5, "10 6"),
    },
    "river_basin": {None: _fill("#c6dbef", 0.12, 1.2, "#6b9ac4")},
    "water_scarce_area": {None: _fill("#fdd49e", 0.25, 0.8)},
    "headwater_area": {None: _fill("#0570b0", 0.35)},
    "eco_sensitive_area": {None: _fill("#66bd63", 0.25)},
    "groundwater_zone": {
        "prohibited": _fill("#08519c", 0.25),
        "limited": _fill("#6baed6", 0.25),
        "over_exploited": _fill("#9ecae1", 0.25),
    },
    "fuel_ban_zone": {
        "coal_ban": _fill("#3b3b3b", 0.2),
        "high_pollution_fuel": _fill("#7a7a7a", 0.2),
    },
    "built_up_area": {None: _fill("#f4a582", 0.35)},
    "livestock_ban_zone": {None: _fill("#b35806", 0.15)},
    "industrial_park": {None: _fill("#762a83", 0.35)},  # overridden by park status, see park_status
    "water_body": {
        "reservoir": _fill("#2b8cbe", 0.5),
        "lake": _fill("#2b8cbe", 0.5),
        "river": _fill("#74a9cf", 0.5),
    },
    "drinking_water_zone": {
        "level_1": _fill("#045a8d", 0.55),
        "level_2": _fill("#3690c0", 0.4),
        "quasi": _fill("#a6bddb", 0.35),
    },
    "natural_park": {
        "wetland_park": _fill("#41b6c4", 0.35),
        "desert_park": _fill("#dfc27d", 0.45),
    },
    "nature_reserve": {  # functional zones graded: the stricter, the darker
        "core": _fill("#00441b", 0.6),
        "core_protection": _fill("#00441b", 0.6),
        "buffer": _fill("#238b45", 0.45),
        "experimental": _fill("#74c476", 0.35),
        "general_control": _fill("#74c476", 0.35),
    },
    "ecological_redline": {  # an official delivery's 类型 holds the ecological function, not who drew it
        "bingtuan": _fill("#e31a1c", 0.3, 2),
        "autonomous_region": _fill("#fb6a4a", 0.3, 2),
        None: _fill("#a50f15", 0.3, 2),
    },
    "chp_plant": {None: {**_fill("#252525", 0.9, 1, "#ffffff"), "radius": 7}},
    "heat_network": {None: _fill("#e08214", 0.12, 1.2)},
    "water_supply_area": {None: _fill("#4393c3", 0.12, 1.2)},
    "contaminated_site": {
        "contaminated_plot": _fill("#7f3b08", 0.5),
        "effluent_pond": _fill("#b35806", 0.5),
    },
    "traffic_restriction_zone": {
        "yellow_label": _outline("#fee08b", 2.5, "4 4"),
        "nonroad_low_emission": _outline("#d6604d", 2.0, "4 4"),
    },
    "mine": {
        "coal_mine": {**_fill("#542788", 0.9, 1, "#ffffff"), "radius": 6},
        "open_pit_mine": {**_fill("#8073ac", 0.9, 1, "#ffffff"), "radius": 6},
        "tailings_pond": {**_fill("#b2abd2", 0.9, 1, "#ffffff"), "radius": 6},
        "abandoned_shaft": {**_fill("#2d004b", 0.9, 1, "#ffffff"), "radius": 6},
    },
    "enclosure_zone": {
        "sandy_land": _fill("#bf812d", 0.3),
        "degraded": _fill("#8c510a", 0.3),
        "grazing_ban": _fill("#dfc27d", 0.3),
    },
    "overloaded_area": {None: _fill("#c51b7d", 0.2)},
}

#: Colour of the own look of a kind whose subtype is required (the stores refuse its zones without one, but a
#: layer held in memory may bring one): grey, never some subtype's colour.
_UNCLASSIFIED = "#969696"


def _with_own_look(styles: dict[str | None, dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    """``styles`` with a look under None, last (a tile names a look by its position): the first subtype's, grey."""
    if None in styles:
        return styles
    first = next(iter(styles.values()))
    return {**styles, None: {**first, **{key: _UNCLASSIFIED for key in ("color", "fillColor") if key in first}}}


_STYLES = {kind: _with_own_look(styles) for kind, styles in _STYLES.items()}

#: Industrial-park status on a date: code -> (Chinese label, fill colour), in legend order.
PARK_STATUS = {
    "frozen": ("涉水项目限批中", "#b2182b"),
    "frozen_inferred": ("涉水项目限批（推定，需核查）", "#ef8a62"),
    "operating": ("污水集中处理设施已运行", "#2166ac"),
    "building": ("污水处理设施在建/调试", "#9970ab"),
    "none": ("无污水集中处理设施", "#543005"),
    "unknown": ("污水处理状态未说明", "#969696"),
}

_SEWAGE_GROUPS = {
    "operating": "operating", "relies_on_town_plant": "operating", "under_construction": "building",
    "commissioning": "building", "none": "none",
}

#: Verdict colours, worst first (VERDICT_ORDER).
VERDICT_COLORS = {
    Verdict.forbidden: "#d7191c",
    Verdict.phase_out: "#8e0152",
    Verdict.restricted: "#fdae61",
    Verdict.needs_review: "#ffd700",
    Verdict.obligation: "#80cdc1",
    Verdict.allowed: "#1a9641",
    Verdict.not_checked: "#9e9e9e",
}


def park_status(row: Any, day: dt.date) -> str:
    """A park's status code (PARK_STATUS) on ``day``: freeze first, since a freeze is what stops a project."""
    facts = zone_facts(SimpleNamespace(**row), day)
    freeze = facts["water_freeze_in_force"]
    if freeze is True:
        return "frozen"
    if freeze is None:
        return "frozen_inferred"
    return _SEWAGE_GROUPS.get(facts["sewage_status"], "unknown")


def zone_style(kind: str, subtype: str | None, geometry_source: str, status: str | None = None) -> dict[str, Any]:
    """Leaflet path options for one zone; ``status`` is a park's PARK_STATUS code."""
    style = dict(_STYLES[kind].get(subtype) or _STYLES[kind][None])
    if status is not None:
        style["fillColor"] = style["color"] = PARK_STATUS[status][1]
    if geometry_source == "illustrative" and style.get("fill", True):
        style["dashArray"] = ILLUSTRATIVE_DASH
    return {key: value for key, value in style.items() if value is not None}


@cache
def _styles_of(kind: str) -> tuple[tuple[str, ...], dict[tuple, int]]:
    """Every distinct look of a kind (as JSON), and the index of each (subtype, source, status) combination."""
    statuses = (None, *PARK_STATUS) if kind == "industrial_park" else (None,)
    looks: dict[str, int] = {}
    index: dict[tuple, int] = {}
    for subtype in _STYLES[kind]:
        for source in GEOMETRY_SOURCES:
            for status in statuses:
                look = json.dumps(zone_style(kind, subtype, source, status), sort_keys=True)
                index[(subtype, source, status)] = looks.setdefault(look, len(looks))
    return tuple(looks), index


def style_table(kind: str) -> list[dict[str, Any]]:
    """Every look a zone of ``kind`` can have, in a fixed order: a vector tile names a zone's look by its
    position here (``style_index``), so the page carries a few styles per kind, never one per zone."""
    # Leaflet fills a polygon by default, but a vector tile's paths only when told.
    return [{"fill": True, **json.loads(look)} for look in _styles_of(kind)[0]]


def style_index(kind: str, subtype: str | None, geometry_source: str, status: str | None = None) -> int:
    """Position in ``style_table(kind)`` of the look ``zone_style`` gives these values."""
    known = subtype if subtype in _STYLES[kind] else None
    source = geometry_source if geometry_source in GEOMETRY_SOURCES else "official"
    return _styles_of(kind)[1][(known, source, status if kind == "industrial_park" else None)]


def kind_legend(kind: str, present: set[str | None]) -> list[tuple[str, dict[str, Any]]]:
    """Legend rows of one kind: (Chinese label, style) for each subtype present, in the table's order."""
    spec = KINDS[kind]
    if kind == "industrial_park":
        return [(label, zone_style(kind, None, "official", code)) for code, (label, _) in PARK_STATUS.items()
                if code in present]
    styles = _STYLES[kind]
    # Zones without a subtype the table knows are drawn in the kind's own look and labelled by the kind: an
    # official red line has no 兵团/自治区 subtype, and must not be shown as one.
    shown = {subtype if subtype in styles else None for subtype in present}
    return [(spec.subtype_label(subtype) or spec.label_zh, dict(style)) for subtype, style in styles.items()
            if subtype in shown]

