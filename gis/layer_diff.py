"""What changed between two versions of a layer: zones added, removed and changed, the area the layer gained and
lost (its union before and after, geodesic), per zone and per jurisdiction, and the 兵团 share before and after.

A new official version usually changes a few per cent of its features, so the work follows the change, not the
layer: the store keeps a digest of each feature's geometry (WKB) and one of its fields, taken at import, and
reads them without the geometries (``Store.catalogue``); only zones whose digests differ are read and looked
at, and of the other features only those whose envelope meets a changed one. The union's gain is ``union(new shapes) − union(old features near
them)``, and its loss the reverse: unchanged features only matter where they meet a changed one. The share
after the change is the share before plus what was gained and minus what was lost in each unit, so the whole
layer is dissolved once (for the version before, and kept) rather than unioned twice.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pydantic import BaseModel, Field, PrivateAttr

from gis.crs import STORE_CRS, geodesic_area_m2
from gis.geometry import OVERLAY_GRID_DEGREES, overlay
from gis.jurisdictions import BINGTUAN_CODE, BINGTUAN_FLOOR_PCT, Jurisdictions, dissolve, geodesic_areas
from gis.kinds import get_kind
from gis.layer_stats import FLOOR_KIND, Basis, VersionRef, union_areas
from gis.store import LayerVersion, Store
from gis.store.base import hex_digests
from gis.versions import pick_version
from gis.zones import DIGEST_FIELDS, attributes_json, feature_digests

__all__ = ["BingtuanChange", "LayerDiff", "UnitChange", "ZoneChange", "diff_layer", "feature_digests"]

_COMPARED = DIGEST_FIELDS


class ZoneChange(BaseModel):
    """One zone added, removed or changed, with the fields that changed and its own area gained and lost."""

    zone_id: str
    name: str
    change: Literal["added", "removed", "changed"]
    geometry_changed: bool
    fields: list[str] = Field(description="Changed fields; attributes by key, e.g. 'attributes.level'.")
    added_m2: float = Field(description="Area of the new outline outside the old one (the whole zone if added).")
    removed_m2: float = Field(description="Area of the old outline outside the new one (the whole zone if removed).")
    area_before_m2: float | None
    area_after_m2: float | None
    jurisdiction: str | None


class UnitChange(BaseModel):
    """What the change does in one jurisdiction: area gained and lost by the layer's union, share before/after."""

    level: str
    level_label: str
    code: str
    name: str
    parent: str | None
    division: str | None
    land_m2: float
    added_m2: float
    removed_m2: float
    zone_before_m2: float
    zone_after_m2: float
    share_before_pct: float
    share_after_pct: float


class BingtuanChange(BaseModel):
    """The 兵团 share before and after, against the floor where the kind has one."""

    share_before_pct: float
    share_after_pct: float
    change_pct_points: float
    falls: bool = Field(description="The share is lower after the change (「不减少」 broken for the red line).")
    floor_pct: float | None
    meets_floor_before: bool | None
    meets_floor_after: bool | None


class LayerDiff(BaseModel):
    """The change report of one layer between two versions."""

    kind: str
    label: str
    from_version: VersionRef
    to_version: VersionRef
    added: list[str] = Field(description="Zone ids only in the later version.")
    removed: list[str] = Field(description="Zone ids only in the earlier version.")
    changed: list[str] = Field(description="Zone ids in both whose outline or fields differ.")
    unchanged: int
    added_m2: float = Field(description="Area of the union after that was not in the union before, geodesic m².")
    removed_m2: float = Field(description="Area of the union before that is not in the union after, geodesic m².")
    net_m2: float
    union_before_m2: float
    union_after_m2: float
    zones: list[ZoneChange]
    by_jurisdiction: list[UnitChange] = Field(description="Units the change touches, and always the region and "
                                                          "the 兵团.")
    bingtuan: BingtuanChange | None
    basis: Basis
    warnings: list[str] = Field(description="What an officer must see first (Chinese), a fall of the 兵团 share first.")
    illustrative: bool = Field(description="Some features of either version have illustrative (示意) geometry.")
    seconds: float
    _polygons: gpd.GeoDataFrame = PrivateAttr()

    @property
    def polygons(self) -> gpd.GeoDataFrame:
        """The difference polygons: ``change`` (added / removed), the zones behind them, the county-level unit
        they lie in, and their area; one row per part and unit, in the store CRS."""
        return self._polygons


def _changed_fields(old: dict, new: dict) -> list[str]:
    names = []
    for name in _COMPARED:
        if name == "attributes":
            before, after = old[name] or {}, new[name] or {}
            names += [f"attributes.{key}" for key in sorted(set(before) | set(after), key=str)
                      if attributes_json(before.get(key)) != attributes_json(after.get(key)) or
                      (key in before) != (key in after)]
        elif old[name] != new[name]:
            names.append(name)
    return names


def _union(geoms) -> shapely.Geometry:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return shapely.Polygon()
    try:
        return shapely.union_all(geoms)
    except shapely.errors.GEOSException:  # outlines GEOS cannot node (see ``overlay``)
        return shapely.union_all(geoms, grid_size=OVERLAY_GRID_DEGREES)


def _catalogue(store: Store, version: LayerVersion) -> pd.DataFrame:
    """The version's features without geometry (``Store.catalogue``), with the digests of each (taken at import;
    computed here from the features for a store that keeps none)."""
    catalogue = store.catalogue([version])
    if catalogue["geometry_digest"].isna().any() or catalogue["fields_digest"].isna().any():
        catalogue["geometry_digest"], catalogue["fields_digest"] = hex_digests(store.read(version.kind,
                                                                                          version.version))
    return catalogue


def _read(store: Store, version: LayerVersion, catalogue: pd.DataFrame, rows) -> dict[str, tuple[dict, shapely.Geometry]]:
    """Zone id -> (fields, geometry) of the catalogue's ``rows`` of ``version``, read from the store."""
    rows = np.asarray(sorted(rows), dtype=np.int64)
    zones = store.features_by_id([version], catalogue["fid"].to_numpy()[rows])
    records = zones.drop(columns=zones.geometry.name).to_dict("records")
    return {r["zone_id"]: (r, g) for r, g in zip(records, zones.geometry.values)}


def _gained(shapes: list, store: Store, version: LayerVersion, catalogue: pd.DataFrame) -> np.ndarray:
    """The polygons of ``union(shapes)`` outside every feature of ``version``, as parts whose interiors do not
    meet. The shapes are dissolved into separate pieces and each piece loses what its own neighbours cover:
    only features whose envelope meets a shape's are read, and no union is larger than one piece's
    neighbourhood."""
    if not shapes:
        return np.empty(0, dtype=object)
    pieces = dissolve(np.asarray(shapes, dtype=object))
    boxes = shapely.box(*catalogue[["minx", "miny", "maxx", "maxy"]].to_numpy().T)
    piece_at, near = shapely.STRtree(boxes).query(pieces, predicate="intersects")
    read = _read(store, version, catalogue, np.unique(near))
    neighbour = np.array([read[z][1] for z in catalogue["zone_id"].to_numpy()[near]], dtype=object)
    meets = shapely.intersects(pieces[piece_at], neighbour) if len(near) else np.zeros(0, dtype=bool)
    out = pieces.copy()
    for i in np.unique(piece_at[meets]):
        out[i] = overlay(shapely.difference, pieces[i], _union(neighbour[meets & (piece_at == i)]))
    parts = shapely.get_parts(shapely.get_parts(shapely.make_valid(out)))  # through what make_valid nests
    return parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]


def _polygonal(geom: shapely.Geometry) -> np.ndarray:
    parts = shapely.get_parts(geom)
    return parts[np.isin(shapely.get_type_id(parts), (shapely.GeometryType.POLYGON,))]


def diff_layer(store: Store, kind: str, from_ref: int | str | dt.date, to_ref: int | str | dt.date, *,
               admin_as_of: str | dt.date | None = None) -> LayerDiff:
    """The change report of layer ``kind`` from version ``from_ref`` to ``to_ref`` (numbers, or dates meaning the
    version in force then). Jurisdictions come from the administrative layer in force on ``admin_as_of``
    (default today).

    Raises ``VersionNotFoundError`` for a version (or administrative layer) the store does not have.
    """
    started = time.perf_counter()
    spec = get_kind(kind)
    before_v = pick_version(store, kind, from_ref, field="from")
    after_v = pick_version(store, kind, to_ref, field="to")
    old_cat, new_cat = _catalogue(store, before_v), _catalogue(store, after_v)
    old_at = {zone_id: i for i, zone_id in enumerate(old_cat["zone_id"])}
    new_at = {zone_id: i for i, zone_id in enumerate(new_cat["zone_id"])}
    both = [zone_id for zone_id in new_at if zone_id in old_at]
    old_rows = np.array([old_at[z] for z in both], dtype=np.int64)
    new_rows = np.array([new_at[z] for z in both], dtype=np.int64)
    moved_digest = old_cat["geometry_digest"].to_numpy()[old_rows] != new_cat["geometry_digest"].to_numpy()[new_rows]
    fields_digest = old_cat["fields_digest"].to_numpy()[old_rows] != new_cat["fields_digest"].to_numpy()[new_rows]
    differ = moved_digest | fields_digest
    # Only the features that differ are read: a version changing 1 % of a layer costs that 1 %.
    added_ids = [z for z in new_at if z not in old_at]
    removed_ids = [z for z in old_at if z not in new_at]
    old_read = _read(store, before_v, old_cat, [*old_rows[differ], *(old_at[z] for z in removed_ids)])
    new_read = _read(store, after_v, new_cat, [*new_rows[differ], *(new_at[z] for z in added_ids)])

    zones: list[ZoneChange] = []
    gained_shapes, lost_shapes = [], []
    unchanged = len(both) - int(differ.sum())
    for zone_id in added_ids:
        record, geom = new_read[zone_id]
        gained_shapes.append(geom)
        area = geodesic_area_m2(geom)
        zones.append(ZoneChange(zone_id=zone_id, name=record["name"], change="added", geometry_changed=True,
                                fields=[], added_m2=area, removed_m2=0.0, area_before_m2=None, area_after_m2=area,
                                jurisdiction=record["jurisdiction"]))
    for zone_id, geometry_differs, fields_differ in zip(np.asarray(both, dtype=object)[differ], moved_digest[differ],
                                                        fields_digest[differ]):
        (old_record, old_geom), (new_record, new_geom) = old_read[zone_id], new_read[zone_id]
        moved = bool(geometry_differs) and not shapely.equals(old_geom, new_geom)
        fields = _changed_fields(old_record, new_record) if fields_differ else []
        if not moved and not fields:
            unchanged += 1
            continue
        gained = lost = 0.0
        if moved:
            gained_shapes.append(new_geom)
            lost_shapes.append(old_geom)
            gained = geodesic_area_m2(overlay(shapely.difference, new_geom, old_geom))
            lost = geodesic_area_m2(overlay(shapely.difference, old_geom, new_geom))
        zones.append(ZoneChange(
            zone_id=zone_id, name=new_record["name"], change="changed", geometry_changed=moved,
            fields=(["geometry"] if moved else []) + fields, added_m2=gained, removed_m2=lost,
            area_before_m2=geodesic_area_m2(old_geom), area_after_m2=geodesic_area_m2(new_geom),
            jurisdiction=new_record["jurisdiction"],
        ))
    for zone_id in removed_ids:
        record, geom = old_read[zone_id]
        lost_shapes.append(geom)
        area = geodesic_area_m2(geom)
        zones.append(ZoneChange(zone_id=zone_id, name=record["name"], change="removed", geometry_changed=True,
                                fields=[], added_m2=0.0, removed_m2=area, area_before_m2=area, area_after_m2=None,
                                jurisdiction=record["jurisdiction"]))

    gained_parts = _gained(gained_shapes, store, before_v, old_cat)
    lost_parts = _gained(lost_shapes, store, after_v, new_cat)
    gained_areas, lost_areas = geodesic_areas(gained_parts), geodesic_areas(lost_parts)

    jurisdictions = Jurisdictions.of_store(store, admin_as_of)
    union_before, within_before = union_areas(store, kind, before_v, jurisdictions)
    added_within = jurisdictions.areas_within(gained_parts, gained_areas)
    removed_within = jurisdictions.areas_within(lost_parts, lost_areas)
    within_after = within_before + added_within - removed_within
    units = []
    for unit, was, now, plus, minus in zip(jurisdictions.units, within_before, within_after, added_within,
                                           removed_within):
        if plus > 0 or minus > 0 or unit.level in ("region", BINGTUAN_CODE):
            units.append(UnitChange(
                level=unit.level, level_label=unit.level_label, code=unit.code, name=unit.name, parent=unit.parent,
                division=unit.division, land_m2=unit.land_m2, added_m2=float(plus), removed_m2=float(minus),
                zone_before_m2=float(was), zone_after_m2=float(now),
                share_before_pct=100 * float(was) / unit.land_m2, share_after_pct=100 * float(now) / unit.land_m2,
            ))
    bingtuan = next((u for u in units if u.level == BINGTUAN_CODE), None)
    change = None
    if bingtuan is not None:
        floor = BINGTUAN_FLOOR_PCT if kind == FLOOR_KIND else None
        change = BingtuanChange(
            share_before_pct=bingtuan.share_before_pct, share_after_pct=bingtuan.share_after_pct,
            change_pct_points=bingtuan.share_after_pct - bingtuan.share_before_pct,
            falls=bingtuan.zone_after_m2 < bingtuan.zone_before_m2,
            floor_pct=floor, meets_floor_before=None if floor is None else bingtuan.share_before_pct >= floor,
            meets_floor_after=None if floor is None else bingtuan.share_after_pct >= floor,
        )
    added_m2, removed_m2 = float(gained_areas.sum()), float(lost_areas.sum())
    sources = set(old_cat["geometry_source"]) | set(new_cat["geometry_source"])
    report = LayerDiff(
        kind=kind, label=spec.label_zh, from_version=VersionRef.of(before_v), to_version=VersionRef.of(after_v),
        added=sorted(z.zone_id for z in zones if z.change == "added"),
        removed=sorted(z.zone_id for z in zones if z.change == "removed"),
        changed=sorted(z.zone_id for z in zones if z.change == "changed"),
        unchanged=unchanged, added_m2=added_m2, removed_m2=removed_m2, net_m2=added_m2 - removed_m2,
        union_before_m2=union_before, union_after_m2=union_before + added_m2 - removed_m2,
        zones=sorted(zones, key=lambda z: ({"removed": 0, "changed": 1, "added": 2}[z.change], z.zone_id)),
        by_jurisdiction=units, bingtuan=change,
        basis=Basis(admin_version=jurisdictions.admin_version.version,
                    admin_effective_from=jurisdictions.admin_version.effective_from,
                    bingtuan_units=jurisdictions.bingtuan_cities),
        warnings=_warnings(spec.label_zh, change, removed_m2), illustrative="illustrative" in sources,
        seconds=round(time.perf_counter() - started, 3),
    )
    report._polygons = _difference_polygons(jurisdictions, gained_parts, lost_parts, gained_shapes, lost_shapes,
                                            zones)
    return report


def _warnings(label: str, change: BingtuanChange | None, removed_m2: float) -> list[str]:
    warnings = []
    if change is not None and change.falls:
        warnings.append(f"兵团{label}占比下降：{change.share_before_pct:.4f}% → {change.share_after_pct:.4f}%"
                        f"（减少 {-change.change_pct_points:.4f} 个百分点）" +
                        ("，违反「不减少」（[004] 表2-1）" if change.floor_pct is not None else ""))
    if change is not None and change.meets_floor_after is False:
        warnings.append(f"兵团生态保护红线占比 {change.share_after_pct:.4f}% 低于 {change.floor_pct}%（[004] 表2-1）")
    if removed_m2 > 0:
        warnings.append(f"{label}减少 {removed_m2 / 1e6:,.4f} km²（见「减少」图斑）")
    return warnings


def _difference_polygons(jurisdictions: Jurisdictions, gained_parts, lost_parts, gained_shapes, lost_shapes,
                         zones: list[ZoneChange]) -> gpd.GeoDataFrame:
    """Added and removed parts cut by the county-level units (counties and 兵团 cities tile the region), each
    with the zones whose change produced it; parts outside every unit keep no unit. Cut, measured and traced
    to their zones as arrays: a change of a few hundred zones makes thousands of parts."""
    locals_ = [u for u in jurisdictions.units if u.level in ("county", "bingtuan_city")]
    by_code = {u.code: u for u in jurisdictions.units}
    unit_geoms = np.array([u.geometry for u in locals_], dtype=object)
    tree = shapely.STRtree(unit_geoms) if locals_ else None
    gained_ids = [z.zone_id for z in zones if z.change == "added" or (z.change == "changed" and z.geometry_changed)]
    lost_ids = [z.zone_id for z in zones if z.change == "removed" or (z.change == "changed" and z.geometry_changed)]
    names = {z.zone_id: z.name for z in zones}
    rows, geoms = [], []
    for change, parts, shapes, ids in (("added", gained_parts, gained_shapes, gained_ids),
                                       ("removed", lost_parts, lost_shapes, lost_ids)):
        parts = np.asarray(parts, dtype=object)
        pieces, units = _cut(parts, unit_geoms, tree)
        polygonal, owner = shapely.get_parts(pieces, return_index=True)
        keep = shapely.get_type_id(polygonal) == shapely.GeometryType.POLYGON
        present = np.unique(owner[keep])
        if not len(present):
            continue
        pieces = shapely.multipolygons(polygonal[keep], indices=np.searchsorted(present, owner[keep]))
        units = units[present]
        areas = geodesic_areas(pieces)
        behind: list[list[str]] = [[] for _ in pieces]
        if shapes:
            shapes = np.asarray(shapes, dtype=object)
            piece_at, shape_at = shapely.STRtree(shapes).query(pieces, predicate="intersects")
            inner = shapely.relate_pattern(shapes[shape_at], pieces[piece_at], "T********")
            for k, j in zip(piece_at[inner], shape_at[inner]):
                behind[k].append(ids[j])
        for piece, unit_at, area, found in zip(pieces, units, areas, behind):
            unit = locals_[unit_at] if unit_at >= 0 else None
            parent = by_code.get(unit.parent) if unit is not None and unit.parent else None
            rows.append({
                "change": change, "change_zh": "新增" if change == "added" else "减少",
                "zone_ids": "、".join(found), "zone_names": "、".join(names[z] for z in found),
                "unit_code": unit.code if unit else None, "unit_name": unit.name if unit else "区外",
                "prefecture": parent.name if parent is not None and parent.level == "prefecture" else None,
                "division": unit.division if unit else None, "area_m2": float(area),
            })
            geoms.append(piece)
    return gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(geoms, crs=STORE_CRS),
                            columns=["change", "change_zh", "zone_ids", "zone_names", "unit_code", "unit_name",
                                     "prefecture", "division", "area_m2"])


def _cut(parts: np.ndarray, unit_geoms: np.ndarray, tree: shapely.STRtree | None) -> tuple[np.ndarray, np.ndarray]:
    """Each part cut by the units it meets, and what lies in none: (pieces, unit position or -1), in the order
    of the parts. A part inside a unit is its own piece; a unit is first cut to a crossing part's box (no
    overlay with a whole county's boundary)."""
    if tree is None or not len(parts):
        return parts, np.full(len(parts), -1)
    part_at, unit_at = tree.query(parts, predicate="intersects")
    order = np.lexsort((unit_at, part_at))
    part_at, unit_at = part_at[order], unit_at[order]
    pieces = parts[part_at].copy()
    inside = shapely.contains_properly(unit_geoms[unit_at], pieces)
    crossing = np.flatnonzero(~inside)
    if len(crossing):
        near = shapely.make_valid(np.array([shapely.clip_by_rect(unit_geoms[u], *box) for u, box in
                                            zip(unit_at[crossing], shapely.bounds(pieces[crossing]))], dtype=object))
        pieces[crossing] = overlay(shapely.intersection, near, pieces[crossing])
    # What of a part lies in no unit (outside the region, or in a gap between units).
    held = np.zeros(len(parts), dtype=bool)
    held[part_at[inside]] = True
    rest_parts, rest = [], []
    for i in np.flatnonzero(~held):
        covered = _union(pieces[part_at == i])
        left = overlay(shapely.difference, parts[i], covered) if not covered.is_empty else parts[i]
        if geodesic_area_m2(left) > 0:
            rest_parts.append(i)
            rest.append(left)
    all_parts = np.concatenate([part_at, np.asarray(rest_parts, dtype=np.int64)])
    order = np.argsort(all_parts, kind="stable")
    pieces = np.concatenate([pieces, np.asarray(rest, dtype=object)])[order]
    units = np.concatenate([unit_at, np.full(len(rest), -1)])[order]
    return pieces, units
