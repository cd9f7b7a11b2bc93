"""Evaluating rule packs against an overlap result and a project description: verdicts with reasons.

Each rule comes out as one of four things: it applies (its zones and its project conditions hold), it
needs review (something it depends on is unknown: a boundary contact, a fact the officer did not give, an
attribute the data does not state), it could not be checked (a layer it needs does not cover the site:
listed apart as 未核查, never read as clear), or it does not apply. Rules whose
place matches but whose activity the project does not declare (no boiler, no generating unit, no coal) are
listed as ``possible`` (where the site is known to be in their zones) so the officer sees what would follow,
without changing the verdict.

A hit names the 三线一单 access-list items it enforces (``access_items``): the control units the site lies in
list their items, each with the rules that apply it (``attributes.access_items`` of a ``control_unit``).
"""

from __future__ import annotations

import datetime as dt
import operator
import sys
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from gis.cache import BoundedCache
from gis.kinds import KINDS
from gis.results import non_default
from gis.rules.model import (FACT_NAMES, VERDICT_LABELS, VERDICT_ORDER, Comparison, Quantity, Rule, RulePack,
                             Verdict, ZoneCondition)
from gis.rules.project import DECLARED_FACTS, DERIVED_FROM, FACT_LABELS, Project

__all__ = ["RuleHit", "RuleEvaluation", "AccessItem", "evaluate_rules", "zone_facts", "ACTIVITY_FACTS",
           "PARTLY_UNCHECKED", "RuleBook", "rule_book", "Place", "place_of", "Facts", "facts_of", "facts_of_many",
           "distinct_rows", "evaluation", "verdict_of", "missing_reason", "computed_quantity", "OUTCOME", "NOTHING",
           "APPLIES", "REVIEW", "UNCHECKED", "POSSIBLE"]

#: Facts that declare an activity: when the project does not give one, it does not have that activity
#: (no boiler, no generating unit, no coal, not a 三高 project, no groundwater abstraction); the rules that
#: need one are listed as possible.
ACTIVITY_FACTS = {"boiler_tph", "power_mw", "coal_t", "three_high", "groundwater"}
#: Activity facts whose activity other facts declare, and those facts: a power-sector project (电力, 火力发电) has
#: generating units, a new coal-fired project uses new fuel coal. Such a project that does not give the figure
#: lacks it (需核查), rather than not having the activity (同址规则).
_IMPLIED_BY = {"power_mw": ("industry",), "coal_t": ("fuel", "scope")}

#: The verdict's label when no rule forbids or restricts the project but a layer that a rule of the place
#: needs does not cover the site: never 允许.
PARTLY_UNCHECKED = "部分未核查"
#: The rank (in ``VERDICT_ORDER``) from which a verdict clears the project of nothing: an obligation or 允许 gives
#: way to 部分未核查 while a rule could not be checked (an unchecked red line may forbid what an obligation asks).
CLEARED = VERDICT_ORDER.index(Verdict.obligation)

#: Facts declared only when the project has them (a furnace, a self-supplied well, 黄标车 ...): not given,
#: the project does not have them, and a yes/no one reads as "no". A rule asking for one the project lacks
#: does not apply and is not listed (with some thirty such facts, "possible" would list most rules of a
#: place); a rule asking for its absence (``remediation = { ne = true }``) holds.
_DECLARED = frozenset(DECLARED_FACTS)
_DECLARED_YES_NO = frozenset(
    name for name in _DECLARED
    if name not in Project.model_fields or Project.model_fields[name].annotation == (bool | None)
)

#: Relations in which the site shares ground with a zone.
_SHARING = {"inside", "contains", "overlaps"}
#: The value of a fact the project gave but that could not be read (``Project.unknown_facts``), and of a derived
#: fact computed from one: a rule comparing it needs review, whatever the fact's kind.
UNKNOWN = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN", "__doc__": "A fact given but not read."})()
#: The fields each derived fact reads, and the field itself for every other fact.
_READS = {name: set(DERIVED_FROM.get(name, (name,))) for name in FACT_NAMES}


class MatchedZone(BaseModel):
    zone_id: str
    kind: str
    name: str
    relation: str
    distance_m: float


class AccessItem(BaseModel):
    """One item of a control unit's access list (三线一单 生态环境准入清单) that a rule hit applies."""

    unit_id: str
    unit_name: str
    unit_code: str | None = None
    unit_type: str | None = Field(default=None, description="优先保护单元 / 重点管控单元 / 一般管控单元.")
    part: str = Field(description="空间布局约束, 污染物排放管控, 环境风险防控 or 资源利用效率.")
    code: str
    text: str


class ComputedQuantity(BaseModel):
    name: str
    label_zh: str
    label_en: str
    value: float | None
    unit: str
    formula: str


class RuleHit(BaseModel):
    """One rule that applies to the site and project, or might and needs review."""

    rule_id: str
    pack: str
    jurisdiction: str
    title_zh: str
    title_en: str
    verdict: Verdict
    verdict_label: str
    rule_verdict: Verdict = Field(description="What the rule says when it applies (differs when under review).")
    softened: bool = False
    condition_zh: str | None = None
    condition_en: str | None = None
    deadline: dt.date | None = None
    deadline_passed: bool | None = None
    zones: list[MatchedZone] = Field(default_factory=list)
    quantities: list[ComputedQuantity] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list, description="Why it is under review, or what is missing.")
    missing_facts: list[str] = Field(default_factory=list,
                                     description="Project facts the rule needs that were not given (their names).")
    uncovered_layers: list[str] = Field(
        default_factory=list, description="A rule not checked: the kinds of layer it needs that do not cover the site "
                                          "(wholly or in part).")
    source_doc: str
    source_article: str | None = None
    source_quote: str | None = Field(default=None, description="The document's words (原文).")
    source_summary: str | None = Field(default=None, description="A summary of the provision (概述), for a "
                                       "rule whose document is not quoted; never shown as a quote.")
    not_in_seeds: bool = False
    access_items: list[AccessItem] = Field(
        default_factory=list, description="The access-list items of the site's control units this rule applies.")


class RuleEvaluation(BaseModel):
    """The verdict cascade over every rule pack."""

    as_of: dt.date
    verdict: Verdict
    verdict_label: str
    hits: list[RuleHit] = Field(description="Rules that apply or need review, worst first.")
    possible: list[RuleHit] = Field(description="Rules of this place that would apply to an undeclared activity.")
    unchecked: list[RuleHit] = Field(
        description="Rules that could not be checked: a layer they need does not cover the site (未核查)."
    )
    uncovered_layers: list[str] = Field(
        default_factory=list, description="Kinds of the layers those rules need that do not (wholly) cover the "
        "site. While there is one, the verdict is never 允许: with no other rule applying it is 部分未核查.")
    packs: dict[str, str] = Field(description="Pack id -> version used.")


@dataclass
class _Outcome:
    """The state of one condition: True, False or unknown with the reasons."""

    state: bool | None
    zones: list[MatchedZone] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    uncovered: bool = False  # unknown only because a layer does not cover the site


def _status_at(history: list[dict], day: str) -> str | None:
    """The status of a dated list (``[{"as_of": "2019-03-31", "status": ...}, ...]``) on ``day``; entries
    that are not of that shape (an imported layer's own attribute of the same name) are passed over."""
    known = [h for h in history if isinstance(h, dict) and isinstance(h.get("as_of"), str) and h["as_of"] <= day]
    return max(known, key=lambda h: h["as_of"]).get("status") if known else None


def zone_facts(hit: Any, day: dt.date) -> dict[str, Any]:
    """A zone's attributes plus the facts derived for a date: each dated ``X_history`` list read as ``X`` on
    that day (a park's sewage status, a site's remediation status), and a park's water freeze."""
    facts = {**(hit.attributes or {}), "name": hit.name, "zone_id": hit.zone_id, "subtype": hit.subtype}
    iso = day.isoformat()
    if facts.get("unknown_notes"):  # why the data leaves an attribute open, said to the officer
        facts["_unknown"] = dict(facts["unknown_notes"])
    dated = [(name, value) for name, value in facts.items() if name.endswith("_history") and isinstance(value, list)]
    for name, history in dated:
        facts[name.removesuffix("_history")] = _status_at(history, iso)
    if hit.kind == "industrial_park":
        in_force = [freeze for freeze in facts.get("water_project_freezes", []) or []
                    if _freeze_holds(freeze, iso, facts.get("sewage_status"))]
        # any freeze (the rules naming the park), and those of the 兵团 itself (the rule on the 5 parks frozen by
        # 兵团生态环境局, and the 兵工信函 on parks behind their plan): a division's own freeze is not theirs
        for name, freezes in (("water_freeze_in_force", in_force),
                              ("xpcc_water_freeze_in_force", [f for f in in_force
                                                              if str(f.get("issuer", "")).startswith("兵团")])):
            definite = any(not f.get("inferred") for f in freezes)
            # A freeze the documents only imply for this park is a question for the officer, not a ban.
            facts[name] = True if definite else (None if freezes else False)
            if freezes and not definite:
                facts.setdefault("_unknown", {})[name] = "园区涉水项目限批系推定适用，需核查 (freeze inferred for this park)"
    return facts


def _freeze_holds(freeze: dict[str, Any], iso: str, sewage_status: Any) -> bool:
    """Whether a park's water-project freeze holds on the day ``iso``: begun, not ended, not lifted by the plant."""
    started = freeze.get("from") is None or freeze["from"] <= iso
    ended = freeze.get("to") is not None and freeze["to"] <= iso
    lifted = freeze.get("lifting_condition_code") == "sewage_plant_operating" and sewage_status == "operating"
    return started and not ended and not lifted


def _unstated(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in {"", "未说明", "unknown"})


def _where_holds(where: dict[str, Comparison], facts: dict[str, Any], label: str) -> tuple[bool | None, list[str]]:
    """Do a zone's facts meet the attribute conditions? Unknown when the data does not state an attribute."""
    unknown = []
    for name, comparison in where.items():
        actual = facts.get(name)
        if _unstated(actual):
            explained = facts.get("_unknown", {}).get(name)
            unknown.append(f"{label}：{explained}" if explained else
                           f"{label}的属性“{name}”未说明 (attribute '{name}' not stated)")
        elif not comparison.holds(actual):
            return False, []
    return (None, unknown) if unknown else (True, [])


def _zone_condition(condition: ZoneCondition, layers: dict[str, Any], day: dt.date, facts: dict) -> _Outcome:
    """Is the site in (or within the distance of) a zone that matches the condition?"""
    label = KINDS[condition.kind].label_zh
    layer = layers.get(condition.kind)
    if layer is None or layer.status == "not_checked":
        reason = layer.reason if layer is not None and layer.reason else "no layer in force"
        # interned, as the few such texts recur on every rule of every place a batch keeps or sends
        return _Outcome(None, reasons=[sys.intern(f"{label}图层未核查: {reason}")], uncovered=True)
    matched, touching, unknown_reasons = [], [], []
    reach_m = 0.0 if condition.within_km is None else condition.within_km * 1000
    for hit in layer.hits:  # nearest first: the rest are too far once one is
        if hit.distance_m > reach_m:
            break
        relation = hit.relation  # a Relation (a str enum) or its value
        if condition.within_km is None and not (relation in _SHARING or relation == "touches"):
            continue  # near, at 0 m: within a great-circle edge's bulge of the zone, but not on it
        if condition.subtypes and hit.subtype not in condition.subtypes:
            continue
        if hit.zone_id not in facts:  # derived once per zone and evaluation, not once per rule
            facts[hit.zone_id] = zone_facts(hit, day)
        holds, reasons = _where_holds(condition.where, facts[hit.zone_id], f"{label}“{hit.name}”")
        if holds is False:
            continue
        relation = getattr(relation, "value", relation)
        zone = MatchedZone(zone_id=hit.zone_id, kind=hit.kind, name=hit.name, relation=relation,
                           distance_m=hit.distance_m)
        sharing = condition.within_km is not None or relation in _SHARING
        if sharing and holds:
            matched.append(zone)
            continue
        if sharing:  # shares ground, but an attribute the data does not state leaves it open
            unknown_reasons += reasons
        touching.append(zone)
    if matched:
        return _Outcome(True, matched)
    if touching:
        names = "、".join(z.name for z in touching)
        reasons = unknown_reasons or [f"与{label}“{names}”仅边界接触 (boundary contact only)"]
        return _Outcome(None, touching, reasons)
    if layer.status == "partial":
        return _Outcome(None, reasons=[sys.intern(f"项目部分位于{label}图层覆盖范围之外 (layer covers part of the site)")],
                        uncovered=True)
    return _Outcome(False)


def _fact_values(project: Project) -> dict[str, Any]:
    """Every fact a rule may test, read once; enum facts (scope, fuel) by value, as rule files write them."""
    return {name: _fact_value(project, name) for name in FACT_NAMES}


def _fact_value(project: Project, name: str) -> Any:
    if project.unknown_facts and not _READS[name].isdisjoint(project.unknown_facts):
        return UNKNOWN
    value = project.fact(name)
    return value.value if isinstance(value, Enum) else value


def _fact_column(projects: list[Project], name: str, unknown: list[int]) -> list[Any]:
    """``Project.fact`` of many projects, as fields read as attributes (``Project.fact`` reads the industry
    apart); enums as they are (``_fact_value`` takes them by value); ``UNKNOWN`` where it reads a fact given but
    not read (``unknown``: the projects with such facts)."""
    column = ([project.fact(name) for project in projects] if name == "industry"
              else list(map(operator.attrgetter(name), projects)))
    for i in unknown:
        if not _READS[name].isdisjoint(projects[i].unknown_facts):
            column[i] = UNKNOWN
    return column


def _implied(name: str, facts: dict[str, Any]) -> bool:
    """Whether the project's other facts declare the activity of ``name`` (``_IMPLIED_BY``)."""
    if name == "power_mw":
        return isinstance(facts.get("industry"), frozenset) and "电力" in facts["industry"]
    if name == "coal_t":
        return facts.get("fuel") == "coal" and facts.get("scope") == "new"
    return False


def _facts_read(rule: Rule) -> tuple[str, ...]:
    """The facts a rule's project conditions read: its own, and those that may declare its activities."""
    return tuple(dict.fromkeys([*rule.project, *(n for name in rule.project for n in _IMPLIED_BY.get(name, ()))]))


def _project_conditions(rule: Rule, facts: dict[str, Any]) -> tuple[bool | None, list[str], bool]:
    """(state, names of the missing facts, lacks an activity fact)."""
    missing, lacks_activity = [], False
    for name, comparison in rule.project.items():
        actual = facts[name]
        if actual is UNKNOWN:  # given but not read: neither left out nor declared absent
            missing.append("industry" if name == "is_power" else name)
            continue
        if actual is None:
            if name in _DECLARED:
                if comparison.holds(False if name in _DECLARED_YES_NO else None):
                    continue  # not declared: the project does not have it, which is what the rule asks
                return False, [], False
            if name in ACTIVITY_FACTS and not _implied(name, facts):
                lacks_activity = True
            else:
                missing.append("industry" if name == "is_power" else name)
            continue
        if not comparison.holds(actual):
            return False, [], False
    if lacks_activity:
        return None, missing, True
    return (None, missing, False) if missing else (True, [], False)


def computed_quantity(quantity: Quantity, pack: RulePack, base: float | None) -> ComputedQuantity:
    """A rule's quantity for a project whose fact is ``base`` (None when the project lacks it)."""
    multiplier = pack.params[quantity.multiplier] if isinstance(quantity.multiplier, str) else quantity.multiplier
    value = None if base is None else round(base * multiplier, 6)
    label = FACT_LABELS.get(quantity.fact, quantity.fact)  # 新增燃料煤（t/a）: what the officer gave, in words
    formula = f"{multiplier:g} × {label}" + (f" = {multiplier:g} × {base:,.10g}" if base is not None else "")
    return ComputedQuantity.model_construct(name=quantity.name, label_zh=quantity.label_zh,
                                            label_en=quantity.label_en, value=value, unit=quantity.unit,
                                            formula=formula)


def _quantities(rule: Rule, pack: RulePack, project: Project) -> list[ComputedQuantity]:
    return [computed_quantity(q, pack, project.fact(q.fact)) for q in rule.quantities]


def _hit_fields(rule: Rule, pack: RulePack, day: dt.date) -> dict[str, Any]:
    """What every hit of the rule says on ``day``, whatever the site and the verdict."""
    return non_default(
        RuleHit, rule_id=rule.id, pack=pack.id, jurisdiction=pack.jurisdiction, title_zh=rule.title_zh,
        title_en=rule.title_en, rule_verdict=rule.verdict, softened=rule.softened, condition_zh=rule.condition_zh,
        condition_en=rule.condition_en, deadline=rule.deadline,
        deadline_passed=(day > rule.deadline) if rule.deadline else None,
        source_doc=pack.documents.get(rule.source.doc, rule.source.doc), source_article=rule.source.article,
        source_quote=rule.source.quote, source_summary=rule.source.summary, not_in_seeds=rule.source.not_in_seeds,
    )


def missing_reason(name: str) -> str:
    """Why a rule needs review when the project lacks a fact: the fact named in Chinese, then by its name."""
    return f"缺少项目信息：{FACT_LABELS.get(name, name)} (missing: {name})"


def _place(in_all, in_any, not_in, layers, day, facts, answers) -> list[_Outcome] | None:
    """Where the site stands against a rule's zone conditions; None as soon as one of them is false.

    ``answers`` keeps each condition's outcome by its content, as many rules ask the same question."""

    def outcome_of(condition: ZoneCondition) -> _Outcome:
        if condition.key not in answers:
            answers[condition.key] = _zone_condition(condition, layers, day, facts)
        return answers[condition.key]

    outcomes = []
    for condition in in_all:
        outcome = outcome_of(condition)
        if outcome.state is False:
            return None
        outcomes.append(outcome)
    if in_any:
        alternatives = [outcome_of(c) for c in in_any]
        if any(o.state for o in alternatives):
            outcomes.append(next(o for o in alternatives if o.state))
        elif all(o.state is False for o in alternatives):
            return None
        else:
            outcomes.append(_Outcome(None, [z for o in alternatives for z in o.zones],
                                     [r for o in alternatives for r in o.reasons],
                                     uncovered=all(o.uncovered for o in alternatives if o.state is None)))
    for condition in not_in:
        inside = outcome_of(condition)
        if inside.state is True:
            return None
        outcomes.append(_Outcome(None if inside.state is None else True, [], inside.reasons, inside.uncovered))
    return outcomes


def _access_items(layers: dict[str, Any], rule_ids: set[str]) -> dict[str, list[AccessItem]]:
    """By rule id (of ``rule_ids``), the access-list items that name it, of the control units the site shares
    ground with."""
    layer = layers.get("control_unit")
    if layer is None or layer.status == "not_checked":
        return {}
    by_rule: dict[str, list[AccessItem]] = {}
    for unit in layer.hits:  # nearest first: units the site is in come first, at 0 m
        if unit.distance_m > 0:
            break
        if getattr(unit.relation, "value", unit.relation) not in _SHARING:
            continue
        attributes = unit.attributes or {}
        for item in attributes.get("access_items", []):
            named = rule_ids.intersection(item.get("rules", ()))
            if not named:
                continue
            access = AccessItem(unit_id=unit.zone_id, unit_name=unit.name, unit_code=attributes.get("unit_code"),
                                unit_type=KINDS["control_unit"].subtype_label(unit.subtype), part=item["part"],
                                code=item["code"], text=item["text"])
            for rule_id in named:
                by_rule.setdefault(rule_id, []).append(access)
    return by_rule


# -- the evaluation in two halves: what the place says of each rule, what the project says, and the table
# that joins them. A single check joins one place with one project; a batch joins each place (a set of rows
# meeting the same zones) with each project as arrays, with the same table and the same halves.

class Entry(NamedTuple):
    """A rule in force on the book's day, with its pack and what every hit of it says."""

    pack: RulePack
    rule: Rule
    hit_fields: dict[str, Any]


class RuleBook:
    """The rules of the packs in force on one day, in pack order (the order of every array below)."""

    def __init__(self, packs: list[RulePack], day: dt.date) -> None:
        self.packs, self.day = list(packs), day
        self.entries = [Entry(pack, rule, _hit_fields(rule, pack, day))
                        for pack in self.packs for rule in pack.rules if rule.in_force(day)]
        self.spans = []  # (pack, first entry, end), in pack order
        start = 0
        for pack in self.packs:
            end = start + sum(1 for rule in pack.rules if rule.in_force(day))
            self.spans.append((pack, start, end))
            start = end
        #: The rank in ``VERDICT_ORDER`` of what each rule says when it applies.
        self.ranks = np.array([VERDICT_ORDER.index(e.rule.verdict) for e in self.entries], dtype=np.int16)
        #: The kinds each rule's zone conditions (its pack's included) ask about, in ``KINDS`` order.
        self.kinds = [_kinds_in_order({c.kind for c in (*e.pack.applies_within, *e.rule.conditions)})
                      for e in self.entries]


def _kinds_in_order(kinds: set[str]) -> tuple[str, ...]:
    return tuple(kind for kind in KINDS if kind in kinds)


_BOOKS: BoundedCache[RuleBook] = BoundedCache(64)


def rule_book(packs: list[RulePack], day: dt.date) -> RuleBook:
    """The rule book of ``packs`` on ``day``, kept (the packs are kept in it, so a reused id never matches)."""
    key = (tuple(id(p) for p in packs), day)
    book = _BOOKS.get(key)
    if book is None or any(a is not b for a, b in zip(book.packs, packs)):
        book = _BOOKS.put(key, RuleBook(packs, day))
    return book


#: What the place says of a rule: its zones do not hold; they hold; it is open whether they hold (a boundary
#: contact, an attribute the data leaves open); open only because a layer does not cover the site.
PLACE_NO, PLACE_HOLDS, PLACE_OPEN, PLACE_UNCOVERED = range(4)
#: What the project says of a rule: its facts rule it out; they meet it; facts it needs are missing; the
#: project does not declare the activity it is about.
FACTS_NO, FACTS_MEET, FACTS_MISSING, FACTS_NO_ACTIVITY = range(4)
#: What follows for the rule: nothing; it applies (its own verdict); it needs review; it could not be checked
#: (未核查); it would apply to an activity the project did not declare (同址规则).
NOTHING, APPLIES, REVIEW, UNCHECKED, POSSIBLE = range(5)
#: The one table joining the two halves, ``OUTCOME[place, facts]``.
OUTCOME = np.array([
    # FACTS_NO  MEET        MISSING     NO_ACTIVITY
    [NOTHING, NOTHING, NOTHING, NOTHING],        # PLACE_NO
    [NOTHING, APPLIES, REVIEW, POSSIBLE],        # PLACE_HOLDS
    [NOTHING, REVIEW, REVIEW, NOTHING],          # PLACE_OPEN: what would follow is not known here
    [NOTHING, UNCHECKED, UNCHECKED, NOTHING],    # PLACE_UNCOVERED: where the site stands is unknown
], dtype=np.int8)


@dataclass
class Place:
    """What one site's layer checks say of each rule of a book (arrays and lists in the book's order)."""

    codes: np.ndarray
    # per rule, as tuples: most rules name nothing at a place, and their empty tuples are one object
    zones: list[tuple[MatchedZone, ...]]
    reasons: list[tuple[str, ...]]  # why it is open (every outcome's reasons)
    unknown_reasons: list[tuple[str, ...]]  # the reasons of the outcomes that are open
    uncovered: list[tuple[str, ...]]  # kinds of its conditions whose layer does not cover the site, in KINDS order
    layers: dict[str, Any]

    @property
    def nothing_checked(self) -> bool:
        """No layer covers the site at all."""
        return bool(self.layers) and all(layer.status == "not_checked" for layer in self.layers.values())


def place_of(book: RuleBook, layers: dict[str, Any], wanted: np.ndarray | None = None) -> Place:
    """What the layer checks of one site say of each rule (of those ``wanted``, default all).

    ``layers`` maps a kind to its layer check (``status``, ``reason``, ``hits`` nearest first, with
    ``relation``, ``distance_m``, ``attributes`` ...), as the overlap engine returns them."""
    n = len(book.entries)
    codes = np.full(n, PLACE_NO, dtype=np.int8)
    zones: list[tuple[MatchedZone, ...]] = [()] * n
    reasons: list[tuple[str, ...]] = [()] * n
    unknown_reasons: list[tuple[str, ...]] = [()] * n
    uncovered: list[tuple[str, ...]] = [()] * n
    facts: dict[str, dict] = {}
    answers: dict[str, _Outcome] = {}
    checked = {kind for kind, layer in layers.items() if layer.status == "checked"}
    for pack, start, end in book.spans:
        if wanted is not None and not wanted[start:end].any():
            continue
        scope = _place(pack.applies_within, [], [], layers, book.day, facts, answers)  # once per pack
        if scope is None:
            continue
        for i in range(start, end):
            if wanted is not None and not wanted[i]:
                continue
            rule = book.entries[i].rule
            place = _place(rule.in_all, rule.in_any, rule.not_in, layers, book.day, facts, answers)
            if place is None:
                continue
            outcomes = scope + place
            # The zones the rule itself names (the pack's own area, e.g. the region, is true of every rule).
            zones[i] = tuple(z for o in place for z in o.zones) or tuple(z for o in scope for z in o.zones)
            reasons[i] = tuple(r for o in outcomes for r in o.reasons)
            unknown = [o for o in outcomes if o.state is None]
            unknown_reasons[i] = tuple(r for o in unknown for r in o.reasons)
            if unknown and all(o.uncovered for o in unknown):
                codes[i] = PLACE_UNCOVERED
                uncovered[i] = tuple(kind for kind in book.kinds[i] if kind not in checked)
            else:
                codes[i] = PLACE_OPEN if unknown else PLACE_HOLDS
    return Place(codes, zones, reasons, unknown_reasons, uncovered, layers)


@dataclass(frozen=True)
class Facts:
    """What one project's facts say of each rule of a book."""

    codes: np.ndarray
    missing: tuple[tuple[str, ...], ...]  # the facts each rule needs that the project lacks


_FACTS: BoundedCache[tuple[RuleBook, Facts]] = BoundedCache(4096)


def facts_of(book: RuleBook, project: Project) -> Facts:
    """What ``project``'s facts say of each rule of ``book``; the same for every site of the project, so kept
    (with the book, so that a reused id never matches)."""
    key = (id(book), project)
    kept = _FACTS.get(key)
    if kept is None or kept[0] is not book:
        values = _fact_values(project)
        codes = np.full(len(book.entries), FACTS_NO, dtype=np.int8)
        missing: list[tuple[str, ...]] = [()] * len(book.entries)
        for i, entry in enumerate(book.entries):
            state, lacking, no_activity = _project_conditions(entry.rule, values)
            if state is False:
                continue
            codes[i] = FACTS_NO_ACTIVITY if no_activity else FACTS_MISSING if lacking else FACTS_MEET
            missing[i] = tuple(lacking)
        kept = _FACTS.put(key, (book, Facts(codes, tuple(missing))))
    return kept[1]


def facts_of_many(book: RuleBook, projects: list[Project]) -> list[Facts]:
    """``facts_of`` of many projects at once: each rule is evaluated once per distinct combination of the
    values of the facts it reads (a batch has thousands of projects that differ in facts most rules never
    read), and the projects take the results by index; projects lacking the same facts share one tuple of them."""
    codes = np.full((len(projects), len(book.entries)), FACTS_NO, dtype=np.int8)
    lacking = np.zeros((len(projects), len(book.entries)), dtype=np.int32, order="F")  # index into ``lacks``
    lacks: dict[tuple[str, ...], int] = {(): 0}  # each distinct tuple of missing facts
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, entry in enumerate(book.entries):
        groups.setdefault(_facts_read(entry.rule), []).append(i)
    # each fact a rule reads as codes, and the value of each code (read from a project that has it), once
    coded, values = {}, {}
    unknown = [i for i, project in enumerate(projects) if project.unknown_facts]
    for name in sorted({name for names in groups for name in names}):
        column = _fact_column(projects, name, unknown)
        coded[name] = pd.factorize(pd.Series(column, dtype=object), use_na_sentinel=False)[0]
        values[name] = [value.value if isinstance(value, Enum) else value
                        for value in (column[p] for p in np.unique(coded[name], return_index=True)[1].tolist())]
    for names, rules in groups.items():
        combined = np.zeros(len(projects), dtype=np.int64)
        for name in names:
            combined = pd.factorize(combined * (int(coded[name].max(initial=0)) + 1) + coded[name])[0]
        inverse = combined.astype(np.int64)
        firsts = np.unique(inverse, return_index=True)[1].tolist()
        facts = [{name: values[name][coded[name][p]] for name in names} for p in firsts]
        for i in rules:
            said = [_project_conditions(book.entries[i].rule, given) for given in facts]
            code = np.array([FACTS_NO if state is False else FACTS_NO_ACTIVITY if no_activity
                             else FACTS_MISSING if lacking else FACTS_MEET for state, lacking, no_activity in said],
                            dtype=np.int8)
            lack = np.array([0 if state is False else lacks.setdefault(tuple(missing), len(lacks))
                             for state, missing, _ in said], dtype=np.int32)
            codes[:, i] = code[inverse]
            lacking[:, i] = lack[inverse]
    patterns, pattern_of = distinct_rows(lacking)  # projects alike in what they lack
    named = list(lacks)
    missing = [tuple(named[k] for k in pattern) for pattern in patterns.tolist()]
    return [Facts(codes[p], missing[k]) for p, k in enumerate(pattern_of.tolist())]


def distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 2-D array and each row's index among them, by hashing each row's bytes (as
    fixed-width byte strings; numpy drops their trailing zero bytes, which keeps rows of one width apart)."""
    if matrix.shape[1] == 0:
        return matrix[:1], np.zeros(len(matrix), dtype=np.int64)
    rows = np.ascontiguousarray(matrix).view(f"S{matrix.shape[1] * matrix.dtype.itemsize}").ravel()
    codes, _ = pd.factorize(rows)
    first = np.unique(codes, return_index=True)[1]
    return matrix[first], codes


def verdict_of(book: RuleBook, outcomes: np.ndarray, nothing_checked: bool) -> tuple[Verdict, str]:
    """The verdict and its label from the outcomes of every rule (``OUTCOME`` per rule): the worst verdict
    of the rules that apply or need review; never 允许 or 应履行义务 while a rule could not be checked (部分未核查)."""
    ranks = np.where(outcomes == APPLIES, book.ranks, np.where(outcomes == REVIEW,
                     VERDICT_ORDER.index(Verdict.needs_review), len(VERDICT_ORDER)))
    worst = int(ranks.min(initial=len(VERDICT_ORDER)))
    unchecked = bool((outcomes == UNCHECKED).any())
    if worst < len(VERDICT_ORDER) and not (unchecked and worst >= CLEARED):
        return VERDICT_ORDER[worst], VERDICT_LABELS[VERDICT_ORDER[worst]]
    if nothing_checked and worst == len(VERDICT_ORDER):
        return Verdict.not_checked, VERDICT_LABELS[Verdict.not_checked]
    if unchecked:  # nothing forbids, restricts or needs review, but a layer some rule needs is missing
        return Verdict.not_checked, PARTLY_UNCHECKED
    return Verdict.allowed, VERDICT_LABELS[Verdict.allowed]


def evaluation(book: RuleBook, place: Place, facts: Facts, project: Project) -> RuleEvaluation:
    """The evaluation of one site (``place``) and one project (``facts``): every rule's outcome
    (``OUTCOME``) as rule hits, with zones, reasons and quantities, and the verdict."""
    outcomes = OUTCOME[place.codes, facts.codes]
    hits: list[RuleHit] = []
    possible: list[RuleHit] = []
    unchecked: list[RuleHit] = []
    for i in np.flatnonzero(outcomes):
        entry, outcome = book.entries[i], outcomes[i]
        missing = [missing_reason(name) for name in facts.missing[i]]
        not_covering: list[str] = []
        if outcome == UNCHECKED:
            verdict, reasons, lacking = Verdict.not_checked, list(place.unknown_reasons[i]), []
            not_covering = list(place.uncovered[i])
        elif outcome == REVIEW:
            verdict, reasons, lacking = Verdict.needs_review, [*place.reasons[i], *missing], list(facts.missing[i])
        elif outcome == POSSIBLE:
            verdict, reasons, lacking = entry.rule.verdict, [*place.reasons[i], *missing], []
        else:
            verdict, reasons, lacking = entry.rule.verdict, [], []
        hit = RuleHit(**entry.hit_fields, verdict=verdict, verdict_label=VERDICT_LABELS[verdict],
                      zones=list(place.zones[i]), quantities=_quantities(entry.rule, entry.pack, project),
                      reasons=reasons, missing_facts=lacking, uncovered_layers=not_covering)
        (unchecked if outcome == UNCHECKED else possible if outcome == POSSIBLE else hits).append(hit)
    hits.sort(key=lambda h: (VERDICT_ORDER.index(h.verdict), h.pack, h.rule_id))
    possible.sort(key=lambda h: (VERDICT_ORDER.index(h.verdict), h.pack, h.rule_id))
    unchecked.sort(key=lambda h: (VERDICT_ORDER.index(h.rule_verdict), h.pack, h.rule_id))
    items = _access_items(place.layers, {hit.rule_id for hit in [*hits, *possible]})
    for hit in [*hits, *possible] if items else ():
        hit.access_items = items.get(hit.rule_id, [])
    verdict, label = verdict_of(book, outcomes, place.nothing_checked)
    uncovered = set().union(*(place.uncovered[i] for i in np.flatnonzero(outcomes == UNCHECKED)))
    return RuleEvaluation(
        as_of=book.day, verdict=verdict, verdict_label=label, hits=hits, possible=possible, unchecked=unchecked,
        uncovered_layers=[kind for kind in KINDS if kind in uncovered], packs={p.id: p.version for p in book.packs},
    )


def evaluate_rules(packs: list[RulePack], layers: dict[str, Any], project: Project, as_of: dt.date) -> RuleEvaluation:
    """Apply every rule in force on ``as_of`` to the site's layer checks and the project.

    ``layers`` maps a kind to its layer check (``status``, ``reason``, ``hits`` nearest first, with
    ``relation``, ``distance_m``, ``attributes`` ...), as the overlap engine returns them. The project's facts
    come first: they settle most rules before any zone is looked at.
    """
    book = rule_book(packs, as_of)
    facts = facts_of(book, project)
    place = place_of(book, layers, wanted=facts.codes != FACTS_NO)
    return evaluation(book, place, facts, project)
