"""From sites and projects to the verdict columns: the vectorised keys, one rule evaluation per distinct key.

Rows whose sites meet the same zones in the same way (same key, see ``gis.batch.spatial``) and whose
projects are equal get the same verdict, rules, reasons and quantities. Each such group is evaluated once,
on its first row, with the per-site engine and ``evaluate_rules``, exactly as ``check_site`` does; the key of
that exact result is compared with the group's vectorised key, and a group whose keys differ is evaluated
row by row. Rows the vectorised stage does not cover (lines, multipoints, polygons a layer covers only in
part) are also checked one by one. Per-row measures (overlap %, distance to the nearest protected zone)
come from the vectorised stage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.errors import GEOSException

from gis.batch.spatial import PROTECTED_KINDS, BatchEngine
from gis.check import DEFAULT_BUFFERS_KM, search_radii
from gis.kinds import KINDS
from gis.presentation import quantities_text, reasons_text, rules_text, sources_text, zones_text
from gis.rules.evaluate import RuleEvaluation, evaluate_rules
from gis.rules.model import RulePack
from gis.rules.project import Project, read_project

__all__ = ["COLUMNS", "ERROR_CODE", "Screener"]

#: The verdict columns added to every row, in order, with what each holds.
COLUMNS = {
    "结论": "Worst verdict of the rules that apply (禁止 > 限期淘汰 > 限制 > 需核查 > 应履行义务 > 允许; 未核查 when no "
          "layer covers the site; 读取失败 when the row could not be read).",
    "结论代码": "The verdict as a code: forbidden, phase_out, restricted, needs_review, obligation, allowed, "
            "not_checked, error.",
    "命中规则": "Rules that apply or need review, worst first: rule id, verdict, title.",
    "规则依据": "Per rule: the source document and article.",
    "涉及区域": "Zones the site lies in, overlaps or touches: layer, name, relation (and % of the site for parcels).",
    "重叠比例%": "Polygon sites: the largest share of the site (%) inside a zone that a rule hit names.",
    "最近保护区域": "The nearest red line, nature reserve, natural park or drinking-water zone within the search "
              "radius (the largest proximity ring, 10 km).",
    "最近距离m": "Geodesic distance to that zone in metres (0 when the site meets it).",
    "计算量": "Computed quantities of the rule hits (e.g. coal to offset = 1.2 × new coal).",
    "需核查原因": "Why a rule needs review, and rules that could not be checked (未核查) with the reason.",
    "读取提示": "What the reader changed or inferred for this row (axis order, repairs, datum).",
    "读取错误": "Why the row could not be read (row, field, value, fix), or why its check failed (结论 检查失败); "
            "the other columns are then empty.",
}

ERROR_CODE = "error"
_SHARING = ("inside", "contains", "overlaps", "touches")


@dataclass(frozen=True)
class _Outcome:
    """What a rule evaluation says, in the text of the columns; shared by the rows of a group."""

    verdict: str
    label: str
    rules: str
    sources: str
    zones: str
    quantities: str
    reasons: str
    rule_zones: frozenset
    overlap_pct: float | None
    error: str | None = None


class Screener:
    """Screens rows of sites against one store version and rule packs, caching evaluations across chunks.

    Parameters
    ----------
    batch
        The prepared batch engine.
    packs
        Rule packs to apply.
    as_of
        The date whose layers and rules are in force.
    """

    def __init__(self, batch: BatchEngine, packs: list[RulePack], as_of: dt.date) -> None:
        self.batch = batch
        self.packs = packs
        self.as_of = as_of
        self.search_km, self.reach_km = search_radii(packs, DEFAULT_BUFFERS_KM)
        self._groups: dict[tuple, _Outcome | None] = {}
        self.rows_exact = 0

    def screen(self, geoms: np.ndarray, projects: list[Project | None]) -> dict[str, list]:
        """Verdict columns (``COLUMNS``) for rows of sites (lon/lat shapely, None for unread rows).

        Each distinct project goes through ``read_project`` (already read projects come out the same), so a
        row's facts get the defaults ``check_site`` gives them."""
        read = {project: read_project(project).project for project in dict.fromkeys(projects)}
        projects = [read[project] for project in projects]
        n = len(geoms)
        out = {name: np.full(n, None, dtype=object) for name in COLUMNS}
        outcomes = np.full(n, None, dtype=object)
        kind = np.array([_site_kind(g) for g in geoms], dtype=object)
        key = np.zeros(n, dtype=np.uint64)
        exact = kind == "other"
        overlap_of: dict[int, list[tuple[int, str, float]]] = {}

        points = np.flatnonzero(kind == "point")
        if len(points):
            xy = shapely.get_coordinates(geoms[points])
            key[points] = self.batch.point_keys(xy[:, 0], xy[:, 1])
        polygons = np.flatnonzero(kind == "polygon")
        if len(polygons):
            pairs = self.batch.polygon_pairs(geoms[polygons])
            key[polygons] = pairs["key"]
            exact[polygons[pairs["exact"]]] = True
            area = pairs["area_m2"]
            for s, z, rel, m in zip(pairs["site"], pairs["zone"], pairs["relation"], pairs["overlap_m2"]):
                pct = 100 * m / area[s] if area[s] > 0 else 0.0
                overlap_of.setdefault(int(polygons[s]), []).append((int(z), rel, pct))

        read = np.flatnonzero(kind != "none")
        protected_m = 1000 * max(self.reach_km.get(kind, self.search_km) for kind in PROTECTED_KINDS)
        nearest, distance = self.batch.nearest_protected(geoms[read], protected_m)
        records = self.batch.engine._records
        found = nearest >= 0
        names = {z: f"{KINDS[records[z]['kind']].label_zh}「{records[z]['name']}」" for z in np.unique(nearest[found])}
        out["最近保护区域"][read[found]] = [names[z] for z in nearest[found]]
        out["最近距离m"][read[found]] = np.round(distance[found], 1)

        # One evaluation per distinct (site kind, key, project).
        codes: dict[Project, int] = {}
        project_code = np.array([codes.setdefault(p, len(codes)) for p in projects], dtype=np.int64)
        by_code = list(codes)
        kind_code = np.searchsorted(_KINDS, kind.astype(str))
        grouped = np.flatnonzero(~exact & (kind != "none"))
        table = np.stack([kind_code[grouped], key[grouped].view(np.int64), project_code[grouped]], axis=1)
        unique, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
        for g, (code, group_key, project) in enumerate(unique):
            members = grouped[order[bounds[g]:bounds[g + 1]]]
            cache_key = (int(code), int(group_key), by_code[project])
            if cache_key not in self._groups:
                row = grouped[first[g]]
                outcome, check_key = self._outcome_of(geoms[row], by_code[project])
                same = check_key >= 0 and np.int64(np.uint64(check_key)) == group_key
                self._groups[cache_key] = outcome if same or outcome.verdict == ERROR_CODE else None
            outcome = self._groups[cache_key]
            if outcome is None:
                exact[members] = True
                continue
            self._fill(out, members, outcome)
            outcomes[members] = outcome
        for row in np.flatnonzero(exact):
            self.rows_exact += 1
            outcomes[row] = self._outcome_of(geoms[row], projects[row])[0]
            self._fill(out, np.array([row]), outcomes[row])
        for row, overlaps in overlap_of.items():
            if not exact[row]:
                self._fill_overlaps(out, row, overlaps, outcomes[row])
        return {name: column.tolist() for name, column in out.items()}

    def _evaluate(self, geom, project: Project) -> tuple[RuleEvaluation, dict, int]:
        """Rules on the per-site engine's result with ``check_site``'s radii; the layers and their key."""
        overlap = self.batch.engine.check(geom, buffers_km=DEFAULT_BUFFERS_KM, search_km=self.search_km,
                                          reach_km=self.reach_km)
        layers = {layer.kind: layer for layer in overlap.layers}
        evaluation = evaluate_rules(self.packs, layers, project, self.as_of)
        return evaluation, layers, self.batch.key_of(overlap)

    def _outcome_of(self, geom, project: Project) -> tuple[_Outcome, int]:
        """The outcome of one exact check and its key; a check the geometry library refuses is an error row."""
        try:
            evaluation, layers, key = self._evaluate(geom, project)
        except GEOSException as err:
            return _failed(f"the check failed in GEOS ({err}); the site is kept unscreened"), -1
        return _outcome(evaluation, layers), key

    @staticmethod
    def _fill(out: dict[str, np.ndarray], rows: np.ndarray, outcome: _Outcome) -> None:
        out["结论"][rows] = outcome.label
        out["结论代码"][rows] = outcome.verdict
        out["命中规则"][rows] = outcome.rules
        out["规则依据"][rows] = outcome.sources
        out["涉及区域"][rows] = outcome.zones
        out["计算量"][rows] = outcome.quantities
        out["需核查原因"][rows] = outcome.reasons
        out["重叠比例%"][rows] = outcome.overlap_pct
        out["读取错误"][rows] = outcome.error

    def _fill_overlaps(self, out: dict[str, np.ndarray], row: int, overlaps, outcome: _Outcome) -> None:
        """Zones of a polygon site with the share of the site in each, and the largest share in a cited zone."""
        records = self.batch.engine._records
        overlaps = sorted(overlaps, key=lambda o: (_KIND_ORDER[records[o[0]]["kind"]], records[o[0]]["name"]))
        out["涉及区域"][row] = "；".join(
            f"{KINDS[records[z]['kind']].label_zh}「{records[z]['name']}」{_RELATION_ZH[rel]} {pct:.2f}%"
            for z, rel, pct in overlaps
        )
        cited = [pct for z, rel, pct in overlaps
                 if rel != "touches" and (records[z]["kind"], records[z]["zone_id"]) in outcome.rule_zones]
        out["重叠比例%"][row] = round(max(cited), 4) if cited else None


_KINDS = np.array(sorted(["point", "polygon", "other", "none"]))
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
_RELATION_ZH = {"inside": "位于区内", "contains": "包含该区", "overlaps": "部分重叠", "touches": "边界接触"}


def _site_kind(geom) -> str:
    if geom is None:
        return "none"
    kind = shapely.get_type_id(geom)
    if kind == shapely.GeometryType.POINT:
        return "point"
    if kind in (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON):
        return "polygon"
    return "other"


def _failed(reason: str) -> _Outcome:
    return _Outcome(verdict=ERROR_CODE, label="检查失败", rules="", sources="", zones="", quantities="", reasons="",
                    rule_zones=frozenset(), overlap_pct=None, error=reason)


def _outcome(evaluation: RuleEvaluation, layers: dict) -> _Outcome:
    """The columns' text for one evaluation, in the words of ``gis.presentation``."""
    hits = evaluation.hits
    rule_zones = frozenset((z.kind, z.zone_id) for h in hits for z in h.zones)
    cited = [hit.overlap_pct for layer in layers.values() for hit in layer.hits
             if hit.overlap_pct is not None and hit.relation.value != "touches" and (hit.kind, hit.zone_id) in rule_zones]
    return _Outcome(
        verdict=evaluation.verdict.value,
        label=evaluation.verdict_label,
        rules=rules_text(hits),
        sources=sources_text(hits),
        zones=zones_text(layers.values()),
        quantities=quantities_text(hits),
        reasons=reasons_text(hits, evaluation.unchecked),
        rule_zones=rule_zones,
        overlap_pct=round(max(cited), 4) if cited else None,
    )
