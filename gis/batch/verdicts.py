"""From sites and projects to the verdict columns: rules evaluated as arrays, with the code of a single check.

A rule's outcome for a row joins two halves (``gis.rules.evaluate``): what the row's place says of the rule
and what its project's facts say, through the one table ``OUTCOME``. Rows whose sites meet the same zones in
the same way (same key, see ``gis.batch.spatial``) share a place, made once from an exact check of one of
them (``place_of``, as ``check_site`` makes it), whose key is compared with the vectorised key: a key that
differs sends its rows to be checked one by one. Rows whose facts say the same to every rule share a project
class (``read_projects``; its facts read once, ``facts_of``). The outcomes of every (place, class) pair are
one array operation; the verdict is a reduction over it; each text column is made once per distinct thing it
depends on (the rules that apply; the place and the facts, for reasons; a row's own values, for quantities)
by ``gis.presentation``, and the rows take them by index. Rows the vectorised stage does not cover (lines,
multipoints, polygons a layer covers only in part) are checked one by one, with the same halves.
"""

from __future__ import annotations

import datetime as dt
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import shapely
from shapely.errors import GEOSException

from gis.batch.columnar import CodedText
from gis.batch.county import AdminUnits
from gis.forked import ForkedMap
from gis.batch.spatial import PROTECTED_KINDS, BatchEngine
from gis.check import DEFAULT_BUFFERS_KM, search_radii
from gis.kinds import KINDS
from gis.overlap import share_of
from gis.presentation import (join_reasons, quantity_text, review_reasons, rules_text, sources_text,
                              unchecked_reasons, zones_text)
from gis.results import Relation
from gis.rules.evaluate import (APPLIES, OUTCOME, REVIEW, UNCHECKED, Facts, Place, RuleHit, computed_quantity,
                                distinct_rows, facts_of_many, missing_reason, place_of, rule_book)
from gis.rules.model import VERDICT_LABELS, VERDICT_ORDER, RulePack, Verdict
from gis.rules.evaluate import CLEARED, PARTLY_UNCHECKED
from gis.rules.project import Project, ProjectColumn

__all__ = ["CODED_COLUMNS", "COLUMNS", "ERROR_CODE", "ERROR_LABEL", "VERDICT_NAMES", "Screener", "thresholds"]

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
              "radius (the largest proximity ring, 10 km); of zones as near (a site inside two), the first in that "
              "order.",
    "最近距离m": "Geodesic distance to that zone in metres (0 when the site meets it).",
    "计算量": "Computed quantities of the rule hits (e.g. coal to offset = 1.2 × new coal).",
    "需核查原因": "Why a rule needs review; then the rules that could not be checked (未核查), under each layer that does "
             "not cover the site (or covers it only in part).",
    "读取提示": "What the reader changed or inferred for this row (axis order, repairs, datum); a county column "
            "naming an administrative unit the site does not lie in.",
    "读取错误": "Why the row could not be read (row, field, value, fix), or why its check failed (结论 检查失败); "
            "the other columns are then empty.",
}

#: The verdict columns that repeat a few texts on many rows, held as ``CodedText``; the others hold numbers or
#: each row's own text, in lists.
CODED_COLUMNS = ("结论", "结论代码", "命中规则", "规则依据", "涉及区域", "最近保护区域", "计算量", "需核查原因", "读取提示")

ERROR_CODE = "error"
#: 结论 of a row that could not be read.
ERROR_LABEL = "读取失败"
#: 结论 by 结论代码, as a batch's counts and summaries name them.
VERDICT_NAMES = {**{verdict.value: label for verdict, label in VERDICT_LABELS.items()}, ERROR_CODE: ERROR_LABEL}
#: 结论 of a row whose check failed.
FAILED_LABEL = "检查失败"
_SITE_KINDS = np.array(sorted(["point", "polygon", "other", "none"]))
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
_RELATION_ZH = {"inside": "位于区内", "contains": "包含该区", "overlaps": "部分重叠", "touches": "边界接触"}
_NEEDS_REVIEW = VERDICT_ORDER.index(Verdict.needs_review)
_NO_VERDICT = len(VERDICT_ORDER)
#: Exact checks in a chunk from which they are spread over forked processes: fewer cost less than sending them
#: (about 1.1 ms each; a register over a real red line of 20,000 patches meets 4,251 places in 100,000 rows).
_FORK_CHECKS = 200
#: The search radius (km) of a place's exact check for the kinds no rule measures a distance to: the engine
#: takes none but a positive one, and a zone this near and apart is a near hit, which a place does not read.
_PLACE_SEARCH_KM = 0.001
#: Places kept from chunk to chunk (past it, all are forgotten): 300,000 rows, a third of them over a red line of
#: 20,000 patches, meet some 6,500; the benchmark's million rows on the embedded dataset, 800.
_KEPT_PLACES = 20_000
#: (Place, facts) pairs whose verdict, pattern and reasons are kept from chunk to chunk (a varied million-row
#: register makes some 180,000).
_KEPT_PAIRS = 500_000
#: Projects whose facts are kept from chunk to chunk (``read_projects`` keeps their classes as many).
_KEPT_PROJECTS = 50_000
#: Outcome patterns whose hits and texts are kept from chunk to chunk (a varied register has some 7,000).
_KEPT_PATTERNS = 50_000
#: Rule views and reason texts kept from chunk to chunk (a varied million-row register makes some 25,000 reasons).
_KEPT_TEXTS = 100_000
#: Each verdict a row can get, as (verdict, 结论): the rules' verdicts worst first, then, when no rule applies,
#: nothing checked at the place, some rule not checked, allowed.
_VERDICTS = [*((v, VERDICT_LABELS[v]) for v in VERDICT_ORDER),
             (Verdict.not_checked, VERDICT_LABELS[Verdict.not_checked]), (Verdict.not_checked, PARTLY_UNCHECKED),
             (Verdict.allowed, VERDICT_LABELS[Verdict.allowed])]


def thresholds(packs: list[RulePack]) -> dict[str, list[float]]:
    """Per numeric fact, the values the rules compare it with (what ``read_projects`` classes rows by)."""
    found: dict[str, set[float]] = {}
    for pack in packs:
        for rule in pack.rules:
            for name, comparison in rule.project.items():
                values = comparison.value if isinstance(comparison.value, list) else [comparison.value]
                for value in values:
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        found.setdefault(name, set()).add(float(value))
    return {name: sorted(values) for name, values in found.items()}


class _Site:
    """A place the rows share: what its layers say of each rule, and the columns' text of its zones. Not the
    layer checks themselves (some thousand objects a place): a batch on a real red line meets thousands of
    places, and each object kept is one more for every pass of the cyclic collector."""

    def __init__(self, place: Place, layers: dict, index_of: dict[tuple[str, str], int]) -> None:
        self.codes = place.codes
        # per rule, the zones it names as (kind, zone id), all the columns read of them: forked checks send places
        # back, and the zone models of 4,251 places took 0.5 s to receive
        self.zones = [tuple((zone.kind, zone.zone_id) for zone in zones) for zones in place.zones]
        self.reasons = place.reasons
        self.unknown_reasons = place.unknown_reasons
        self.uncovered = place.uncovered  # per rule, the kinds of layer not covering the site
        self.nothing_checked = place.nothing_checked
        self.unchecked_views: dict[int, RuleHit] = {}  # per rule not checked here, as the texts read it
        self.zones_text = zones_text(layers.values())
        # a polygon site's share of each zone it meets, (zone index, relation, % of the site), as its check measured
        self.shares = [(index_of[(kind, hit.zone_id)], Relation(hit.relation).value, hit.overlap_pct)
                       for kind, layer in layers.items() for hit in layer.hits
                       if hit.overlap_pct is not None and hit.relation != Relation.NEAR]
        # the administrative units the site lies in or touches, by zone id: what a register's county is compared with
        admin = layers.get("admin_division")
        self.admin = tuple(hit.zone_id for hit in admin.hits if hit.relation != Relation.NEAR) if admin else ()


class Screener:
    """Screens rows of sites against one store version and rule packs, keeping places across chunks.

    Parameters
    ----------
    batch
        The prepared batch engine.
    packs
        Rule packs to apply.
    as_of
        The date whose layers and rules are in force.
    by_row_upto
        While the rows screened, this chunk's included, are at most this many, check every point on its own
        instead of keying points on the engine's grid: for a batch of a few hundred rows, fewer checks than the
        grid's making costs (seconds on a real layer). The same columns either way.
    processes
        Processes to fork for the exact checks when a chunk has many (``gis.forked``; only where
        ``can_fork``); 0 or 1: all checks in this process. The same columns either way. ``close`` stops them.
    units
        The store's administrative units, which a register's county cells are read against (``screen``'s
        ``declared``); None: no cell is read.
    """

    def __init__(self, batch: BatchEngine, packs: list[RulePack], as_of: dt.date, *, by_row_upto: int = 0,
                 processes: int = 0, units: AdminUnits | None = None) -> None:
        self.batch = batch
        self.units = units
        self._forked = ForkedMap(self._checked_wkb, processes) if processes > 1 else None
        self.by_row_upto = by_row_upto
        self.rows_seen = 0
        self.packs = packs
        self.book = rule_book(packs, as_of)
        self.search_km, self.reach_km = search_radii(packs, DEFAULT_BUFFERS_KM)
        # each rule's place in (pack, rule id) order: the order of rules of one verdict in every text
        by_name = sorted(range(len(self.book.entries)),
                         key=lambda i: (self.book.entries[i].pack.id, self.book.entries[i].rule.id))
        self._name_order = np.argsort(np.array(by_name, dtype=np.int64))
        # and in (verdict, pack, rule id) order: the order of the rules not checked
        self._rule_rank = (self.book.ranks.astype(np.int64) * len(by_name) + self._name_order).tolist()
        self._sites: list[_Site] = []
        self._site_of: dict[tuple[str, int], int | None] = {}  # by (site kind, key); None: check row by row
        # What is kept from chunk to chunk, in plain dicts (a screener serves one thread), each emptied between
        # chunks once past its bound (what it held is then made again when met):
        self._reasons: dict[tuple, str] = {}  # see _reason_text
        self._reason_by_numbers: dict[tuple[int, int, int], str] = {}  # see _reasons_of
        self._views: dict[tuple, RuleHit | list[str]] = {}  # see _view; and what places say unchecked
        self._patterns: dict[bytes, tuple] = {}  # by the outcomes' bytes
        self._hit_texts: dict[tuple, tuple[str, str]] = {}  # see _rule_texts
        self._facts: dict[int, tuple[Project, Facts, int, int]] = {}  # by id(project)
        self._numbers: dict[tuple, int] = {}  # see _number
        self._bounds = [(self._reasons, _KEPT_TEXTS), (self._reason_by_numbers, _KEPT_TEXTS),
                        (self._views, _KEPT_TEXTS), (self._patterns, _KEPT_PATTERNS), (self._hit_texts, _KEPT_PATTERNS),
                        (self._facts, _KEPT_PROJECTS), (self._numbers, 2 * _KEPT_PROJECTS)]
        self._counter = itertools.count()
        self._forget_pairs()
        self.rows_exact = 0

    def screen(self, geoms: np.ndarray, projects: ProjectColumn,
               declared: np.ndarray | None = None) -> dict[str, CodedText | list]:
        """Verdict columns (``COLUMNS``) for rows of sites (lon/lat shapely, None for unread rows): those of
        ``CODED_COLUMNS`` as ``CodedText``, the others as lists. ``declared``: each row's county cell, whose
        mismatch with the place is told in 读取提示 (nothing else there: the caller adds what it read)."""
        if len(self._sites) > _KEPT_PLACES:  # between chunks, as rows index them: each is made again when met
            self._forget_places()
        if len(self._pairs) > _KEPT_PAIRS:
            self._forget_pairs()
        for kept, bound in self._bounds:
            if len(kept) > bound:
                kept.clear()
        n = len(geoms)
        self.rows_seen += n
        out = {name: CodedText(n) if name in CODED_COLUMNS else np.full(n, None, dtype=object) for name in COLUMNS}
        # What the projects say first: it needs no zone, and the first chunk's point keys wait for the grid
        said = self._facts_of(projects.projects)
        kind = _site_kinds(geoms)
        key = np.zeros(n, dtype=np.uint64)
        exact = kind == "other"
        overlaps: dict[int, list[tuple[int, str, float]]] = {}
        points = np.flatnonzero(kind == "point")
        if self.rows_seen <= self.by_row_upto:
            exact[points] = True
        elif len(points):
            xy = shapely.get_coordinates(geoms[points])
            key[points] = self.batch.point_keys(xy[:, 0], xy[:, 1])
            exact[points] |= self.batch.on_slender_zones(geoms[points])
        polygons = np.flatnonzero(kind == "polygon")
        if len(polygons):
            pairs = self.batch.polygon_pairs(geoms[polygons])
            key[polygons] = pairs["key"]
            exact[polygons[pairs["exact"]]] = True
            area = pairs["area_m2"]
            for s, z, rel, m in zip(pairs["site"], pairs["zone"], pairs["relation"], pairs["overlap_m2"]):
                overlaps.setdefault(int(polygons[s]), []).append((int(z), rel, share_of(m, area[s])[1] or 0.0))

        # Each row's place: shared by key, or its own for the rows checked one by one.
        site = np.full(n, -1, dtype=np.int64)
        for shape in ("point", "polygon"):
            rows = np.flatnonzero(~exact & (kind == shape))
            keys, first, inverse = np.unique(key[rows], return_index=True, return_inverse=True)
            keys = keys.tolist()
            new = [u for u, k in enumerate(keys) if (shape, k) not in self._site_of]
            for u, checked in zip(new, self._checked_sites(geoms[rows[first[new]]])):
                self._site_of[(shape, keys[u])] = self._shared_site(checked, keys[u])
            places = np.array([-1 if (p := self._site_of[(shape, k)]) is None else p for k in keys], dtype=np.int64)
            site[rows] = places[inverse]
            exact[rows[places[inverse] < 0]] = True
        checked_rows = np.flatnonzero(exact)
        self.rows_exact += len(checked_rows)
        for i, checked in zip(checked_rows.tolist(), self._checked_sites(geoms[checked_rows])):
            if isinstance(checked, GEOSException):
                out["结论"].put(i, FAILED_LABEL)
                out["结论代码"].put(i, ERROR_CODE)
                out["读取错误"][i] = f"the check failed in GEOS ({checked}); the site is kept unscreened"
            else:
                site[i] = self._add(checked[0])
        # The nearest protected zones are found beside the columns: that search is GEOS work off the interpreter
        # lock, _fill is Python with no GEOS call, and they fill different columns.
        with ThreadPoolExecutor(1, thread_name_prefix="ecozone-nearest") as beside:
            nearest = beside.submit(self._nearest, out, geoms, kind)
            hits = self._fill(out, site, projects, said)
            nearest.result()
        # Polygon sites: the share of the site in each zone; for a row checked one by one, as its check measured it.
        for row in np.flatnonzero((kind == "polygon") & (site >= 0)).tolist():
            if not exact[row] and row not in overlaps:
                continue
            place = self._sites[site[row]]
            named = {zone for i, _ in hits[row] for zone in place.zones[i]}
            if exact[row]:
                out["重叠比例%"][row] = self._cited_share(place.shares, named)
            else:
                self._fill_overlaps(out, row, overlaps[row], named)
        if declared is not None and self.units is not None:
            self._county_notices(out["读取提示"], site, declared)
        return {name: column if isinstance(column, CodedText) else column.tolist() for name, column in out.items()}

    def _county_notices(self, column: CodedText, site: np.ndarray, declared: np.ndarray) -> None:
        """读取提示 of the rows whose county cell names administrative units their place neither lies in nor
        touches (``AdminUnits``): each distinct cell read once, each distinct (place, cell) pair told once, as a
        million rows share a few hundred places and a few dozen counties."""
        cells, texts = pd.factorize(np.asarray(declared, dtype=object), use_na_sentinel=True)
        if not len(texts):
            return
        named = [self.units.named(text) for text in texts]
        naming = np.array([bool(units) for units in named] + [False], dtype=bool)  # -1 (blank): names nothing
        rows = np.flatnonzero((site >= 0) & naming[cells])
        if not len(rows):
            return
        which, pairs = pd.factorize(site[rows] * len(texts) + cells[rows])
        index = self.units.index
        notices = []
        for pair in pairs.tolist():
            place, cell = divmod(pair, len(texts))
            lies_in = frozenset(index[z] for z in self._sites[place].admin if z in index)
            notices.append(self.units.notice(texts[cell], named[cell], lies_in))
        column.put(rows, notices, which)

    # -- places ------------------------------------------------------------------------------------------------
    def _forget_places(self) -> None:
        """Forget every place, and the pairs and texts made for them (kept by place)."""
        self._sites = []
        self._site_of = {}
        self._forget_pairs()
        self._reasons.clear()
        self._reason_by_numbers.clear()
        self._views.clear()

    def _forget_pairs(self) -> None:
        """Forget the (place, facts) pairs made (``_fill``): their keys, and of each its pattern, verdict, reason."""
        self._pairs = pd.Index([], dtype=np.int64)
        self._pair_made = [np.empty(0, dtype=object), np.empty(0, dtype=np.int8), np.empty(0, dtype=np.int64)]
        self._reason_ids: dict[str, int] = {}  # the pairs' 需核查原因, numbered in the order made
        self._reason_texts: list[str] = []  # by number

    def _checked_sites(self, geoms: np.ndarray) -> list[tuple[_Site, int] | GEOSException]:
        """``_checked_site`` of each site: in the forked processes when they are many (``_FORK_CHECKS``)."""
        if self._forked is not None and len(geoms) >= _FORK_CHECKS:
            parts = np.array_split(shapely.to_wkb(geoms), 4 * self._forked.processes)
            return [checked for part in self._forked.map(parts) for checked in part]
        return [self._checked_site(geom) for geom in geoms]

    def _checked_wkb(self, wkb: np.ndarray) -> list[tuple[_Site, int] | GEOSException]:
        """``_checked_site`` of sites given as WKB (what a forked process gets: exact, and cheap to send)."""
        return [self._checked_site(geom) for geom in shapely.from_wkb(wkb)]

    def _checked_site(self, geom) -> tuple[_Site, int] | GEOSException:
        """A site's place from its exact check (as ``check_site`` makes it) and the check's key; the error of a
        check that failed in GEOS."""
        try:
            # only as far as a rule measures a distance (``BatchEngine.reach_km``): a place's outcomes, key and
            # columns read the zones its site shares or touches and those within a rule's distance, never the
            # others nearby, whose distances were a quarter to a third of a check's time
            overlap = self.batch.engine.check(geom, buffers_km=DEFAULT_BUFFERS_KM, search_km=_PLACE_SEARCH_KM,
                                              reach_km=self.batch.reach_km)
        except GEOSException as error:
            return error
        layers = {layer.kind: layer for layer in overlap.layers}
        return _Site(place_of(self.book, layers), layers, self.batch.index_of), self.batch.key_of(overlap)

    def _add(self, site: _Site) -> int:
        self._sites.append(site)
        return len(self._sites) - 1

    def _shared_site(self, checked: tuple[_Site, int] | GEOSException, key: int) -> int | None:
        """The place of the rows with ``key``, from an exact check of one of them; None when that check's own
        key differs (or it failed): those rows are checked one by one."""
        if isinstance(checked, GEOSException):
            return None
        site, check_key = checked
        if np.int64(np.uint64(check_key)) != np.int64(np.uint64(key)):
            return None
        return self._add(site)

    def close(self) -> None:
        """Stop the processes forked for checks, if any."""
        if self._forked is not None:
            self._forked.close()

    # -- the columns ---------------------------------------------------------------------------------------------
    def _fill(self, out: dict, site: np.ndarray, projects: ProjectColumn,
              said: tuple[list[Facts], np.ndarray, np.ndarray]) -> np.ndarray:
        """The columns of every row from its (place, what its facts say) pair, each pair's verdict, outcome
        pattern and 需核查原因 made once (``_made_pairs``) and kept from chunk to chunk: a varied register's
        100,000 rows make some 47,000 pairs, of which the chunks after the first meet a half to four fifths again.
        Returns each row's rule hits ((rule, outcome), worst first). ``said``: ``_facts_of`` the projects."""
        hits_of_row = np.empty(len(site), dtype=object)
        hits_of_row[:] = [()] * len(site)
        rows = np.flatnonzero(site >= 0)
        if not len(rows):
            return hits_of_row
        says = said[1]
        # a pair's key: the place and the number of what the facts say, each below 2**31
        keys = (site[rows] << 32) | says[projects.codes[rows]]
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        slot = self._pairs.get_indexer(unique)
        new = np.flatnonzero(slot < 0)
        if len(new):
            made = self._made_pairs(site[rows[first[new]]], projects.codes[rows[first[new]]], said)
            slot[new] = len(self._pairs) + np.arange(len(new))
            self._pairs = self._pairs.append(pd.Index(unique[new]))
            self._pair_made = [np.concatenate([kept, part]) for kept, part in zip(self._pair_made, made)]
        pattern, verdict, reason = (kept[slot] for kept in self._pair_made)
        # the pairs' patterns by number, each pattern's texts and hits taken once
        numbers = np.fromiter((p[-1] for p in pattern), dtype=np.int64, count=len(pattern))
        _, first_of, pattern_of = np.unique(numbers, return_index=True, return_inverse=True)
        patterns = pattern[first_of]
        hits_by_pattern = _object_array([found for found, *_ in patterns])
        used, reason_of = np.unique(reason, return_inverse=True)
        reasons = [self._reason_texts[i] for i in used.tolist()]
        pattern_of = pattern_of.ravel()[inverse]
        columns = {"结论": ([label for _, label in _VERDICTS], verdict),
                   "结论代码": ([v.value for v, _ in _VERDICTS], verdict),
                   "命中规则": ([texts[0] for *_, texts, _ in patterns], None),
                   "规则依据": ([texts[1] for *_, texts, _ in patterns], None),
                   "需核查原因": (reasons, reason_of.ravel())}
        for name, (texts, of_pair) in columns.items():
            out[name].put(rows, texts, pattern_of if of_pair is None else of_pair[inverse])
        out["涉及区域"].put(rows, [place.zones_text for place in self._sites], site[rows])
        hits_of_row[rows] = hits_by_pattern[pattern_of]
        self._fill_quantities(out, rows, pattern_of, hits_by_pattern, projects)
        return hits_of_row

    def _made_pairs(self, sites: np.ndarray, classes: np.ndarray,
                    said: tuple[list[Facts], np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Of each new (place, project class) pair: its outcome pattern (``_pattern``), its verdict (an index into
        ``_VERDICTS``) and its 需核查原因. Every rule's outcome of every pair is one array operation; the verdict a
        reduction over it; each text made once per distinct thing it depends on."""
        facts, says, lacks = said
        # Project classes whose facts say the same to every rule (a varied register's 13,000 classes a chunk say
        # some 1,500 things) share their outcomes: the pairs' facts are taken by what they say.
        saying, saying_of = np.unique(says[classes], return_index=True, return_inverse=True)[1:]
        place_codes = np.stack([place.codes for place in self._sites])
        facts_codes = np.stack([facts[c].codes for c in classes[saying]])
        # (pairs, rules): OUTCOME[place code, facts code], through the flat table (half the time of a 2-D take)
        outcomes = OUTCOME.ravel()[place_codes[sites] * np.int8(OUTCOME.shape[1]) + facts_codes[saying_of.ravel()]]
        # Pairs with the same outcome of every rule share their verdict and rule texts: each made once.
        patterns, pattern_of = distinct_rows(outcomes)
        ranks = np.where(patterns == APPLIES, self.book.ranks,
                         np.where(patterns == REVIEW, _NEEDS_REVIEW, _NO_VERDICT))
        worst = ranks.min(axis=1, initial=_NO_VERDICT)
        unchecked = (patterns == UNCHECKED).any(axis=1)
        nothing = np.array([place.nothing_checked for place in self._sites], dtype=bool)
        # the verdict of each pair, as an index into _VERDICTS: the worst rule's, else by what was checked
        worst, unchecked = worst[pattern_of], unchecked[pattern_of]
        verdict = np.where((worst < _NO_VERDICT) & ~(unchecked & (worst >= CLEARED)), worst, _NO_VERDICT + np.where(
            nothing[sites] & (worst == _NO_VERDICT), 0, np.where(unchecked, 1, 2)))
        said_of = _object_array(self._patterns_of(patterns))  # (hits, review, unchecked, (texts), number)
        # pairs of a pattern with nothing to review or unchecked all share the empty text (key -1)
        reasoned = np.array([bool(review or unchecked) for _, review, unchecked, *_ in said_of], dtype=bool)[pattern_of]
        missing_of = pd.factorize(lacks[classes])[0]
        reason_key = np.where(reasoned, (sites * len(patterns) + pattern_of) * (missing_of.max(initial=0) + 1)
                              + missing_of, -1)
        distinct, first_pair, reason_of = np.unique(reason_key, return_index=True, return_inverse=True)
        made = first_pair[distinct >= 0]  # a pair of each reason (-1, no reason, sorts first)
        texts = [""] * (len(distinct) - len(made)) + self._reasons_of(sites[made], pattern_of[made], classes[made],
                                                                      list(said_of), facts, lacks)
        reasons = np.array([self._reason_ids.setdefault(text, len(self._reason_ids)) for text in texts], dtype=np.int64)
        if len(self._reason_texts) < len(self._reason_ids):
            self._reason_texts = list(self._reason_ids)
        return said_of[pattern_of], verdict.astype(np.int8), reasons[reason_of.ravel()]

    def _facts_of(self, projects: list[Project]) -> tuple[list[Facts], np.ndarray, np.ndarray]:
        """``facts_of_many`` of the projects, those of earlier chunks kept (a register's classes recur, as the
        same objects: ``read_projects`` keeps them), with two numbers per project: what its facts say to every
        rule, and its missing facts, each the same number for the same thing. Kept by identity, with the project
        itself, as hashing a project costs as much as comparing all its facts; the numbers are made once, with
        the facts."""
        found = [self._facts.get(id(project)) for project in projects]
        found = [kept if kept is not None and kept[0] is project else None for project, kept in zip(projects, found)]
        new = [i for i, kept in enumerate(found) if kept is None]
        numbered: dict[int, int] = {}  # by the identity of a tuple of missing facts, which facts_of_many shares
        for i, facts in zip(new, facts_of_many(self.book, [projects[i] for i in new]) if new else []):
            missing = numbered.get(id(facts.missing))
            if missing is None:
                missing = numbered[id(facts.missing)] = self._number(("missing", facts.missing))
            found[i] = self._facts[id(projects[i])] = (projects[i], facts, self._number(
                ("says", facts.codes.tobytes(), missing)), missing)
        return ([kept[1] for kept in found], np.array([kept[2] for kept in found], dtype=np.int64),
                np.array([kept[3] for kept in found], dtype=np.int64))

    def _number(self, thing: tuple) -> int:
        """A number for ``thing``, the same while it is kept (a new one after, which only shares less)."""
        number = self._numbers.get(thing)
        if number is None:
            number = self._numbers[thing] = next(self._counter)
        return number

    def _patterns_of(self, patterns: np.ndarray) -> list[tuple]:
        """``_pattern`` of each row of outcomes, looked up by the row's bytes."""
        width = patterns.shape[1] * patterns.itemsize
        keys = np.ascontiguousarray(patterns).view(f"V{width}").ravel().tolist() if width else [b""] * len(patterns)
        return [self._patterns.get(key) or self._pattern(patterns[i], key) for i, key in enumerate(keys)]

    def _pattern(self, outcomes: np.ndarray, key: bytes) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...],
                                                                  tuple[int, ...], tuple[str, str], int]:
        """What an outcome pattern (every rule's outcome; ``key`` its bytes) says, kept from chunk to chunk: the
        rules that apply or need review, worst first as ``evaluation`` sorts them ((rule, outcome)); those
        needing review; those not checked; the 命中规则 and 规则依据 texts; a number of its own (while it is
        kept)."""
        found = np.flatnonzero((outcomes == APPLIES) | (outcomes == REVIEW))
        rank = np.where(outcomes[found] == APPLIES, self.book.ranks[found], _NEEDS_REVIEW)
        ordered = found[np.lexsort((self._name_order[found], rank))].tolist()
        hits = tuple(zip(ordered, outcomes[ordered].tolist()))
        review = tuple(i for i, outcome in hits if outcome == REVIEW)
        unchecked = tuple(np.flatnonzero(outcomes == UNCHECKED).tolist())
        said = self._patterns[key] = (hits, review, unchecked, self._rule_texts(hits), next(self._counter))
        return said

    def _view(self, index: int, outcome: int, reasons: list[str] = (), missing: tuple[str, ...] = (),
              not_covering: tuple[str, ...] = ()) -> RuleHit:
        """A rule hit as the columns read it (what ``evaluation`` makes, without the zones); made once per
        distinct (rule, outcome, reasons, missing facts, layers not covering), as a batch asks for the same ones
        again and again."""
        key = (index, outcome, tuple(reasons), tuple(missing), not_covering)
        view = self._views.get(key)
        if view is None:
            entry = self.book.entries[index]
            verdict = Verdict.needs_review if outcome == REVIEW else Verdict.not_checked if outcome == UNCHECKED \
                else entry.rule.verdict
            # the list fields given, not defaulted: pydantic's default factories cost a signature look-up each
            view = self._views[key] = RuleHit.model_construct(
                **entry.hit_fields, verdict=verdict, verdict_label=VERDICT_LABELS[verdict], reasons=list(reasons),
                missing_facts=list(missing), uncovered_layers=list(not_covering), zones=[], quantities=[],
                access_items=[])
        return view

    def _rule_texts(self, hits: tuple[tuple[int, int], ...]) -> tuple[str, str]:
        """命中规则 and 规则依据 of rule hits; kept by the hits, which patterns differing only in the rules not
        checked share (a varied register's 11,000 patterns have some 4,000)."""
        texts = self._hit_texts.get(hits)
        if texts is None:
            views = [self._view(i, outcome) for i, outcome in hits]
            texts = self._hit_texts[hits] = (rules_text(views), sources_text(views))
        return texts

    def _reasons_of(self, sites: np.ndarray, patterns: np.ndarray, classes: np.ndarray, said: list[tuple],
                    facts: list[Facts], lacks: np.ndarray) -> list[str]:
        """需核查原因 of (place, outcome pattern, project class) triples, kept from chunk to chunk by their numbers
        (place, pattern, missing facts: what the text depends on): a varied register's million rows ask for a
        quarter of a million, some 25,000 of them new."""
        numbers = np.array([number for *_, number in said], dtype=np.int64)
        keys = list(zip(sites.tolist(), numbers[patterns].tolist(), lacks[classes].tolist()))
        texts = list(map(self._reason_by_numbers.get, keys))
        for i in [i for i, text in enumerate(texts) if text is None]:
            pattern = said[patterns[i]]
            texts[i] = self._reason_by_numbers[keys[i]] = self._reason_text(int(sites[i]), facts[classes[i]],
                                                                            *pattern[1:3])
        return texts

    def _reason_text(self, site: int, facts, review: tuple[int, ...], unchecked: tuple[int, ...]) -> str:
        """需核查原因 of a (place, project) pair with rules to review or unchecked: the reviewed rules' reasons, the
        unchecked ones by reason."""
        key = (site, review, tuple(facts.missing[i] for i in review), unchecked)
        text = self._reasons.get(key)
        if text is None:
            place = self._sites[site]
            views = [self._view(i, REVIEW, [*place.reasons[i], *map(missing_reason, facts.missing[i])],
                                facts.missing[i]) for i in review]
            text = self._reasons[key] = join_reasons(review_reasons(views), self._unchecked(site, unchecked))
        return text

    def _unchecked(self, site: int, unchecked: tuple[int, ...]) -> list[str]:
        """What 需核查原因 says of the rules not checked at a place (``unchecked_reasons`` of them, as
        ``evaluation`` orders them); kept, as the many reasons of one place (one per project that needs review
        there) list the same ones."""
        key = ("unchecked", site, unchecked)
        said = self._views.get(key)
        if said is None:
            place = self._sites[site]
            views = []
            for i in sorted(unchecked, key=self._rule_rank.__getitem__):
                view = place.unchecked_views.get(i)
                if view is None:
                    view = place.unchecked_views[i] = self._view(i, UNCHECKED, place.unknown_reasons[i],
                                                                 not_covering=place.uncovered[i])
                views.append(view)
            said = self._views[key] = unchecked_reasons(views)
        return said

    def _fill_quantities(self, out: dict, rows: np.ndarray, row_pattern: np.ndarray,
                         hits_by_pattern: np.ndarray, projects: ProjectColumn) -> None:
        """计算量: each row's own values through each of its rules' quantities, made once per distinct
        (outcome pattern, values of the facts the quantities read)."""
        entries = self.book.entries
        if any(entry.rule.quantities for entry in entries):
            out["计算量"].put(rows, "")
        rules_of = {p: [i for i, _ in hits if entries[i].rule.quantities] for p, hits in enumerate(hits_by_pattern)}
        rules_of = {p: found for p, found in rules_of.items() if found}
        if not rules_of:
            return
        facts = sorted({q.fact for found in rules_of.values() for i in found for q in entries[i].rule.quantities})
        take = np.flatnonzero(np.isin(row_pattern, list(rules_of)))
        chosen = rows[take]
        values = []
        for name in facts:
            if name in projects.values:  # the row's own value
                column = projects.values[name][chosen]
            else:
                own = [projects.projects[c].fact(name) for c in range(len(projects.projects))]
                column = np.array([np.nan if v is None else float(v) for v in own])[projects.codes[chosen]]
            values.append(np.where(np.isnan(column), None, column).astype(object))
        text_of: dict[tuple, int] = {}  # by (pattern, values): index into texts
        texts, which = [], np.empty(len(chosen), dtype=np.int64)
        for at, key in enumerate(zip(row_pattern[take].tolist(), *values)):
            found = text_of.get(key)
            if found is None:
                given = dict(zip(facts, key[1:]))
                parts = [f"{entries[i].rule.id} {quantity_text(computed_quantity(q, entries[i].pack, given[q.fact]))}"
                         for i in rules_of[key[0]] for q in entries[i].rule.quantities]
                found = text_of[key] = len(texts)
                texts.append("；".join(parts))
            which[at] = found
        out["计算量"].put(chosen, texts, which)

    def _nearest(self, out: dict, geoms: np.ndarray, kind: np.ndarray) -> None:
        """最近保护区域 and its distance, for every read row."""
        read = np.flatnonzero(kind != "none")
        protected_m = 1000 * max(self.reach_km.get(k, self.search_km) for k in PROTECTED_KINDS)
        nearest, distance = self.batch.nearest_protected(geoms[read], protected_m)
        records = self.batch.engine._records
        found = nearest >= 0
        zones, which = np.unique(nearest[found], return_inverse=True)
        names = [f"{KINDS[records[z]['kind']].label_zh}「{records[z]['name']}」" for z in zones]
        out["最近保护区域"].put(read[found], names, which.ravel())
        out["最近距离m"][read[found]] = np.round(distance[found], 1)

    def _fill_overlaps(self, out: dict, row: int, overlaps, named: set) -> None:
        """Zones of a polygon site with the share of the site in each, and the largest share in a cited zone."""
        records = self.batch.engine._records
        overlaps = sorted(overlaps, key=lambda o: (_KIND_ORDER[records[o[0]]["kind"]], records[o[0]]["name"]))
        out["涉及区域"].put(row, "；".join(
            f"{KINDS[records[z]['kind']].label_zh}「{records[z]['name']}」{_RELATION_ZH[rel]} {pct:.2f}%"
            for z, rel, pct in overlaps
        ))
        out["重叠比例%"][row] = self._cited_share(overlaps, named)

    def _cited_share(self, overlaps, named: set) -> float | None:
        """重叠比例%: the largest share of the site (%) in a zone that a rule hit names, of those it overlaps."""
        records = self.batch.engine._records
        cited = [pct for z, rel, pct in overlaps
                 if rel != "touches" and (records[z]["kind"], records[z]["zone_id"]) in named]
        return round(max(cited), 4) if cited else None


def _object_array(items: list) -> np.ndarray:
    """``items`` as a one-dimensional object array, an item to an element: numpy would take tuples of one
    length as rows."""
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array


def _site_kinds(geoms: np.ndarray) -> np.ndarray:
    """Each row's kind of site: point, polygon, other (checked one by one) or none (not read)."""
    types = shapely.get_type_id(np.asarray(geoms, dtype=object))  # -1 for None
    kind = np.full(len(types), "other", dtype=object)
    kind[types == shapely.GeometryType.POINT] = "point"
    kind[np.isin(types, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])] = "polygon"
    kind[types < 0] = "none"
    return kind
