"""Checking one site: the site as read, the overlap with every layer in force, and the verdict with reasons.

This is the one result model shared by the command line, the HTTP API, the maps and the batch screening.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from gis.overlap import OverlapEngine
from gis.results import OverlapResult
from gis.rules.evaluate import RuleEvaluation, evaluate_rules
from gis.rules import default_rule_packs
from gis.rules.model import RulePack, Verdict
from gis.rules.project import Project, ProjectFacts, read_project
from gis.cache import BoundedCache
from gis.sites import Site
from gis.sites.checks import CoveredArea
from gis.store import Store, open_store
from gis.store.base import iso_day

__all__ = ["CheckResult", "check_site", "covered_area", "search_radii"]

#: Default proximity rings, km.
DEFAULT_BUFFERS_KM = (1.0, 5.0, 10.0)


class CheckResult(BaseModel):
    """Everything a check found, and where each conclusion comes from."""

    verdict: Verdict
    verdict_label: str
    as_of: dt.date
    store: str
    site: Site
    project: Project
    project_notices: list[dict[str, Any]] = Field(
        default_factory=list, description="What reading the project's facts assumed (a missing 建设性质 taken as "
        "new) or could not use (an industry outside the rules' sectors), as notices (code, message, field, value, "
        "fix, level).")
    overlap: OverlapResult
    rules: RuleEvaluation
    rule_packs: dict[str, str] = Field(description="Rule pack id -> version.")
    illustrative: bool = Field(
        default_factory=lambda data: "overlap" in data and any(  # absent when the overlap is invalid
            hit.geometry_source == "illustrative" for layer in data["overlap"].layers for hit in layer.hits),
        description="True when a zone the site meets or comes near has an illustrative (示意) geometry.")


def check_site(
    site: Site,
    project: Project | ProjectFacts | Mapping[str, Any] | None = None,
    *,
    store: Store | None = None,
    as_of: dt.date | str | None = None,
    buffers_km: tuple[float, ...] = DEFAULT_BUFFERS_KM,
    tolerance_m: float = 0.5,
    packs: list[RulePack] | None = None,
    shared_engine: bool = True,
) -> CheckResult:
    """Check a site against the layers in force on ``as_of`` (default today) and apply the rule packs.

    The project's facts go through ``read_project`` (unless they come read already, as ``ProjectFacts``), so
    that every interface applies the same defaults and states the same assumptions. ``shared_engine=False``
    prepares only the zones of this site's search area, for a process that checks one site and ends
    (``ecozone check``): a dense layer would make the shared engine's tile cost several times the site's own.
    Both answer the same, to the last digit of the result digest (a report made by one verifies with the other)."""
    facts = project if isinstance(project, ProjectFacts) else read_project(project)
    store = store or open_store()
    day = dt.date.fromisoformat(iso_day(as_of))
    packs = default_rule_packs() if packs is None else packs
    search_km, reach_km = search_radii(packs, buffers_km)
    engine = OverlapEngine.for_site(store, site.shape, day, search_km, reach_km, tile=shared_engine)
    overlap = engine.check(site.shape, buffers_km=buffers_km, search_km=search_km, reach_km=reach_km,
                           tolerance_m=tolerance_m, as_of=day)
    layers = {layer.kind: layer for layer in overlap.layers}
    evaluation = evaluate_rules(packs, layers, facts.project, day)
    return CheckResult(
        verdict=evaluation.verdict, verdict_label=evaluation.verdict_label, as_of=day, store=store.name,
        site=site, project=facts.project, project_notices=facts.notices, overlap=overlap, rules=evaluation,
        rule_packs=evaluation.packs,
    )


def search_radii(packs: list[RulePack],
                 buffers_km: tuple[float, ...] = DEFAULT_BUFFERS_KM) -> tuple[float, dict[str, float]]:
    """How far a check looks for zones, km: the largest ring for every kind, and farther for a kind that a
    rule measures a longer distance to (``within_km``, e.g. 15 km to a CHP plant).

    Returns (search_km, {kind: km} for the kinds searched farther)."""
    search_km = max(buffers_km)
    reach: dict[str, float] = {}
    for pack in packs:
        for kind, km in pack.reach_km.items():
            if km > max(search_km, reach.get(kind, 0.0)):
                reach[kind] = km
    return search_km, reach


_covered: BoundedCache[CoveredArea] = BoundedCache(8)


def covered_area(store: Store) -> CoveredArea:
    """Where ``store``'s layers are, for the site readers' sanity check (a site far outside it is a typing
    error, not a project): the administrative layer's coverage when it has one (Xinjiang and Inner Mongolia in
    the embedded dataset), else every layer's coverage, else the box around the features. Kept per store and
    layer versions."""
    versions = store.in_force()
    key = (store.location, tuple(sorted((kind, v.version) for kind, v in versions.items())))
    area = _covered.get(key)
    if area is None:
        admin = versions.get("admin_division")
        if admin is not None and admin.coverage_wkb:
            polygons, what = [admin.coverage], ("行政区划图层的各行政单元", "the store's administrative units")
        else:
            polygons = list({v.coverage_wkb: v.coverage for v in versions.values() if v.coverage_wkb}.values())
            what = ("各图层的覆盖范围", "the layers' coverage")
        if polygons:
            area = CoveredArea(polygons)
            # the outlines are what is tested, not their box: a point in the box may lie outside them (Beijing
            # between Xinjiang and Inner Mongolia), so the box is named as a box
            area.name = (f"{what[0]}，其外包框 {area.name} 内也有范围外的地方 / {what[1]}, whose bounding box "
                         f"{area.name} holds places outside them too")
        else:
            features = store.features(list(versions.values()))
            area = CoveredArea.box(tuple(features.total_bounds) if len(features) else (-180.0, -90.0, 180.0, 90.0))
        area = _covered.put(key, area)
    return area
