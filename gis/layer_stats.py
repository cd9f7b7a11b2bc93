"""How much land a layer covers in each jurisdiction (union, geodesic), and the 兵团 red-line share against its
floor for every version of the layer.

A share is area(union of the layer's features ∩ unit) / area(unit), with the units of ``gis.jurisdictions``
taken from the administrative layer in force on ``admin_as_of`` (default today), the same units for every
version so that versions compare. The floor (21.87 %, 「不减少」, [004] 表2-1) is that of the 兵团's ecological
red line; it is checked for kind ``ecological_redline`` only.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydantic import BaseModel, Field

from gis.cache import BoundedCache
from gis.errors import InputError
from gis.jurisdictions import (
    BASIS_ZH,
    BINGTUAN_FLOOR_PCT,
    FLOOR_SOURCE,
    Jurisdictions,
    dissolve,
    geodesic_areas,
)
from gis.kinds import get_kind
from gis.store import LayerVersion, Store
from gis.versions import pick_version

__all__ = ["FLOOR_KIND", "Basis", "BingtuanShare", "LayerStats", "UnitShare", "VersionRef", "floor_warnings",
           "layer_stats", "share_history", "union_areas"]

#: The kind whose 兵团 share has a floor.
FLOOR_KIND = "ecological_redline"


class VersionRef(BaseModel):
    """Which layer version a figure is about."""

    version: int
    effective_from: str
    source: str
    feature_count: int
    content_sha256: str

    @classmethod
    def of(cls, version: LayerVersion) -> VersionRef:
        """The reference to a stored version."""
        return cls(version=version.version, effective_from=version.effective_from, source=version.source,
                   feature_count=version.feature_count, content_sha256=version.content_sha256)


class UnitShare(BaseModel):
    """One jurisdiction: its land, the layer's area in it and the share."""

    level: str = Field(description="region, bingtuan, bingtuan_city, prefecture or county.")
    level_label: str
    code: str = Field(description="adcode; 'bingtuan' for the 兵团 as a whole.")
    name: str
    parent: str | None = Field(description="adcode of the unit above.")
    division: str | None = Field(description="The 兵团 division a 兵团 city stands for.")
    land_m2: float
    zone_m2: float = Field(description="Area of the union of the layer's features inside the unit, geodesic m².")
    share_pct: float


class BingtuanShare(BaseModel):
    """The 兵团's share in one version, against the floor and the version before."""

    version: int
    effective_from: str
    zone_m2: float
    land_m2: float
    share_pct: float
    floor_pct: float | None = Field(description="21.87 for the red line; None for kinds without a floor.")
    meets_floor: bool | None
    change_pct_points: float | None = Field(description="Against the previous version; None for the first.")
    falls: bool = Field(description="The share is lower than in the previous version (「不减少」 broken).")


class Basis(BaseModel):
    """What the shares stand on: the administrative layer, the units standing for the 兵团, the floor."""

    admin_version: int
    admin_effective_from: str
    bingtuan_units: list[str] = Field(description="The 兵团 cities whose union stands for the 兵团.")
    note_zh: str = BASIS_ZH
    floor_pct: float = BINGTUAN_FLOOR_PCT
    floor_source: str = FLOOR_SOURCE


class LayerStats(BaseModel):
    """A layer version's area per jurisdiction, and the 兵团 share of every version."""

    kind: str
    label: str
    version: VersionRef
    union_m2: float = Field(description="Area of the union of all features (inside the region or not).")
    units: list[UnitShare]
    bingtuan: BingtuanShare | None
    history: list[BingtuanShare] = Field(description="The 兵团 share of every version of the layer, oldest first.")
    basis: Basis
    warnings: list[str] = Field(description="What an officer must see first (Chinese).")


def union_areas(store: Store, kind: str, version: LayerVersion, jurisdictions: Jurisdictions) -> tuple[float, np.ndarray]:
    """(area of the layer's union, area inside each unit), m²; kept per version and administrative layer."""
    key = (store.location, kind, version.version, version.content_sha256, jurisdictions.admin_version.content_sha256)
    found = _areas.get(key)
    if found is None:
        pieces = dissolve(store.read(kind, version.version).geometry.values)
        areas = geodesic_areas(pieces)
        found = _areas.put(key, (float(areas.sum()), jurisdictions.areas_within(pieces, areas)))
    return found


_areas: BoundedCache[tuple[float, np.ndarray]] = BoundedCache(16)


def _share(zone_m2: float, land_m2: float) -> float:
    return 100.0 * zone_m2 / land_m2 if land_m2 else 0.0


def _check_polygonal(kind: str) -> None:
    if get_kind(kind).geometry != "polygon":
        raise InputError(f"图层类型 {kind} 是点图层，不覆盖土地 / kind '{kind}' holds points: it covers no land",
                         field="kind", value=kind,
                         fix="选择面图层，如 ecological_redline / choose a polygon layer, e.g. ecological_redline")


def share_history(store: Store, kind: str, jurisdictions: Jurisdictions) -> list[BingtuanShare]:
    """The 兵团 share of every version of ``kind``, oldest first, each against the floor and the one before."""
    _check_polygonal(kind)
    whole = jurisdictions.bingtuan
    if whole is None:
        return []
    index = jurisdictions.units.index(whole)
    floor = BINGTUAN_FLOOR_PCT if kind == FLOOR_KIND else None
    history: list[BingtuanShare] = []
    for version in store.versions(kind):
        zone_m2 = float(union_areas(store, kind, version, jurisdictions)[1][index])
        share = _share(zone_m2, whole.land_m2)
        before = history[-1].share_pct if history else None
        history.append(BingtuanShare(
            version=version.version, effective_from=version.effective_from, zone_m2=zone_m2, land_m2=whole.land_m2,
            share_pct=share, floor_pct=floor, meets_floor=None if floor is None else share >= floor,
            change_pct_points=None if before is None else share - before,
            falls=before is not None and share < before - 1e-9,
        ))
    return history


def floor_warnings(kind: str, shares: list[BingtuanShare]) -> list[str]:
    """Chinese warnings for the shares given (a fall first, then being under the floor)."""
    warnings = []
    for share in shares:
        if share.falls:
            warnings.append(f"兵团{get_kind(kind).label_zh}占比下降：第 {share.version} 版 {share.share_pct:.4f}%，"
                            f"较上一版减少 {-share.change_pct_points:.4f} 个百分点（指标要求「不减少」）")
    for share in shares[-1:]:
        if share.meets_floor is False:
            warnings.append(f"兵团生态保护红线占比 {share.share_pct:.4f}% 低于 {BINGTUAN_FLOOR_PCT}%（[004] 表2-1）")
    return warnings


def layer_stats(store: Store, kind: str, version: int | str | dt.date | None = None, *,
                admin_as_of: str | dt.date | None = None) -> LayerStats:
    """Area and share per jurisdiction of one version of ``kind`` (default the newest), and the 兵团 history.

    ``version`` is a number or a date (the version in force then). Raises ``VersionNotFoundError`` when the
    layer or the administrative layer has no such version, ``InputError`` for a point layer.
    """
    _check_polygonal(kind)
    chosen = pick_version(store, kind, version)
    jurisdictions = Jurisdictions.of_store(store, admin_as_of)
    union_m2, within = union_areas(store, kind, chosen, jurisdictions)
    units = [
        UnitShare(level=u.level, level_label=u.level_label, code=u.code, name=u.name, parent=u.parent,
                  division=u.division, land_m2=u.land_m2, zone_m2=float(m2), share_pct=_share(m2, u.land_m2))
        for u, m2 in zip(jurisdictions.units, within)
    ]
    history = share_history(store, kind, jurisdictions)
    current = next((h for h in history if h.version == chosen.version), None)
    admin = jurisdictions.admin_version
    return LayerStats(
        kind=kind, label=get_kind(kind).label_zh, version=VersionRef.of(chosen), union_m2=union_m2, units=units,
        bingtuan=current, history=history,
        basis=Basis(admin_version=admin.version, admin_effective_from=admin.effective_from,
                    bingtuan_units=jurisdictions.bingtuan_cities),
        warnings=floor_warnings(kind, [h for h in history if h.version <= chosen.version]) if current else [],
    )

