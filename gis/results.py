"""What a check of one site returns: per layer, the zones it meets or comes near, with areas and distances.

These are plain pydantic models, so ``api`` serialises them as they are and ``maps`` draws from them. Every
area is geodesic on the WGS 84 ellipsoid (m²), every distance geodesic (m), every percentage 0-100.
"""

from __future__ import annotations

import functools
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

__all__ = ["LayerCheck", "OverlapResult", "Relation", "ZoneHit", "non_default"]

_RELATION_LABELS = {
    "inside": "位于区内",
    "contains": "包含该区",
    "overlaps": "部分重叠",
    "touches": "边界接触",
    "near": "邻近",
    "clear": "无关",
}


def non_default(model: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """The fields whose value differs from the model's default: made with only these, the model validates
    fewer fields (each costs time, and checks make tens of hits) and takes its defaults for the rest."""
    defaults = _defaults(model)
    return {name: value for name, value in fields.items() if value != defaults[name]}


@functools.cache
def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Each field's default: reading ``model_fields`` costs as much as the comparison, 20,000 times for the
    zones of a real red line."""
    return {name: info.default for name, info in model.model_fields.items()}


class Relation(str, Enum):
    """How a site relates to one zone; the first definition that holds applies.

    Shared parts are taken on the geometries as stored (straight edges in longitude/latitude, as PostGIS
    ``ST_Intersects`` on ``geometry`` sees them). The contact tolerance ``tolerance_m`` of the check decides
    between ``overlaps`` and ``touches``.

    - ``inside``: the site lies in the zone. A point (every point of a multipoint) is in the zone's interior;
      a line or polygon is within the zone (it may run along the zone's boundary from inside). A site equal
      to the zone is ``inside``.
    - ``contains``: the site contains the whole zone (e.g. a polygon site around a small zone, or around a
      point zone such as a CHP plant).
    - ``overlaps``: the site and the zone share more than a contact. Points: some point of the site is in
      the zone's interior. Lines: the length of the line in the zone's interior exceeds ``tolerance_m``.
      Polygons: the shared area is wider than ``tolerance_m`` on average, i.e. 2 × area / perimeter of the
      shared area exceeds ``tolerance_m`` (for a strip of width w, 2A/P ≈ w).
    - ``touches``: they meet, but only at the boundary or in a sliver below the tolerance (边界接触, never
      counted as overlap).
    - ``near``: they do not meet and the geodesic distance is at most the search radius of the layer
      (``LayerCheck.search_km``).
    - ``clear``: farther than the search radius (such zones are not listed).
    """

    INSIDE = "inside"
    CONTAINS = "contains"
    OVERLAPS = "overlaps"
    TOUCHES = "touches"
    NEAR = "near"
    CLEAR = "clear"

    @property
    def label_zh(self) -> str:
        """Chinese label for reports and maps."""
        return _RELATION_LABELS[self]  # a str enum member hashes as its value


class ZoneHit(BaseModel):
    """One zone the site meets or comes within the search radius of."""

    model_config = ConfigDict(frozen=True)

    zone_id: str
    kind: str
    name: str
    subtype: str | None = None
    subtype_label: str | None = Field(default=None, description="Chinese label of the subtype.")
    jurisdiction: str | None = None
    geometry_source: str = Field(description="official, derived or illustrative (示意).")
    relation: Relation
    overlap_m2: float | None = Field(
        default=None, description="Area of site ∩ zone; polygon sites only (set for touches too: the sliver)."
    )
    overlap_pct: float | None = Field(
        default=None, description="overlap_m2 as % of the site area; polygon sites only."
    )
    overlap_length_m: float | None = Field(default=None, description="Length of a line site inside the zone.")
    distance_m: float = Field(description="Geodesic distance to the zone's nearest part; 0 if they meet.")
    ring_km: float | None = Field(
        default=None, description="Smallest buffer ring reaching the zone; None if beyond the largest ring."
    )
    # Neither copied nor validated key by key on every hit: they are the zone's stored attributes, validated on
    # import. Typed Any rather than SkipValidation, whose serialiser calls back into Python for every hit.
    attributes: Annotated[Any, WithJsonSchema({"type": "object", "additionalProperties": True})] = Field(
        default_factory=dict, description="The zone's stored attributes (编号, 面积 ...).")
    source_doc: str | None = None
    source_quote: str | None = None
    # Stored rather than computed when serialised: a computed field costs a call back into Python per hit.
    relation_zh: str = Field(default_factory=lambda data: Relation(data["relation"]).label_zh if "relation" in data
                             else "", description="The relation in Chinese.")


class LayerCheck(BaseModel):
    """The site against one layer (one zone kind) of the store version used.

    ``status`` is ``checked`` when the layer is complete over the whole site, ``partial`` when only part of
    the site lies in the layer's coverage (zones are still evaluated; the rest is unknown) and
    ``not_checked`` when no version is in force or the site lies wholly outside the coverage. A layer that
    is not fully checked carries a ``reason`` and must never be read as clear; the zones it does hold are
    still listed. Coverage is judged on the site itself: a zone near the site but outside the layer's
    coverage may be missing from ``hits``.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    label_zh: str
    version: int | None = None
    status: Literal["checked", "partial", "not_checked"]
    reason: str | None = Field(
        default=None, description="Why the layer is not fully checked (Chinese / English)."
    )
    covered_pct: float | None = Field(default=None, description="% of the site inside the layer's coverage.")
    search_km: float | None = Field(
        default=None, description="How far zones of this kind were looked for, km: the largest ring, or "
                                  "farther when a rule measures a longer distance to this kind (a CHP plant)."
    )
    overlap_m2: float | None = Field(
        default=None, description="Area of site ∩ union of the layer's zones (overlaps counted once)."
    )
    overlap_pct: float | None = None
    overlap_length_m: float | None = Field(
        default=None, description="Length of a line site in the union of the layer's zones."
    )
    hits: list[ZoneHit] = Field(default_factory=list, description="Zones met or near, nearest first.")

    @property
    def nearest(self) -> ZoneHit | None:
        """The nearest zone within the layer's search radius, or None: the first hit. Not in the JSON, where it
        would repeat that hit (a fifth of a check's answer)."""
        return self.hits[0] if self.hits else None


class OverlapResult(BaseModel):
    """A site checked against every layer in force on one date."""

    model_config = ConfigDict(frozen=True)

    as_of: str
    versions: dict[str, int] = Field(description="Layer versions used, by kind.")
    site_type: Literal["point", "line", "polygon"]
    site_area_m2: float | None = Field(default=None, description="Geodesic area of a polygon site.")
    site_length_m: float | None = Field(default=None, description="Geodesic length of a line site.")
    buffers_km: list[float]
    search_km: float = Field(description="How far zones were looked for, km (some layers farther: their "
                                         "own search_km).")
    tolerance_m: float
    layers: list[LayerCheck]

    def layer(self, kind: str) -> LayerCheck:
        """The check of one kind (KeyError if that kind was not asked for)."""
        for check in self.layers:
            if check.kind == kind:
                return check
        raise KeyError(kind)
