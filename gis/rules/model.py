"""Rule packs as data: the schema of a rule, and loading a pack with errors that name the rule and field.

A pack is one TOML file per jurisdiction in ``data/rules/``. A rule says where it applies (zone
conditions: the site is in all of ``in_all``, in at least one of ``in_any``, in none of ``not_in``), to
what project (fact conditions with explicit comparisons, e.g. ``boiler_tph = { lt = 65 }``), what follows
(a verdict, a condition, a deadline, computed quantities), when it is in force, and the document and quote
it comes from.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gis.errors import RuleError
from gis.kinds import KINDS
from gis.rules.project import DERIVED_FACTS, INDUSTRIES, Project

__all__ = ["Verdict", "VERDICT_ORDER", "VERDICT_LABELS", "Comparison", "ZoneCondition", "Quantity", "Source",
           "Rule", "RulePack", "load_pack", "FACT_NAMES", "DOMAIN_ID"]


class Verdict(str, Enum):
    """What a rule says about the project; overall verdicts also use ``not_checked``."""

    forbidden = "forbidden"
    phase_out = "phase_out"
    restricted = "restricted"
    needs_review = "needs_review"
    obligation = "obligation"
    allowed = "allowed"
    not_checked = "not_checked"


#: The cascade, worst first: the overall verdict is the worst verdict of the rules that apply.
VERDICT_ORDER = [Verdict.forbidden, Verdict.phase_out, Verdict.restricted, Verdict.needs_review,
                 Verdict.obligation, Verdict.allowed, Verdict.not_checked]

VERDICT_LABELS = {
    Verdict.forbidden: "禁止",
    Verdict.phase_out: "限期淘汰",
    Verdict.restricted: "限制",
    Verdict.needs_review: "需核查",
    Verdict.obligation: "应履行义务",
    Verdict.allowed: "允许",
    Verdict.not_checked: "未核查",
}

_OPERATORS = {"eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"}

#: Project facts a rule may test: the fields of ``Project`` and its derived facts.
FACT_NAMES = frozenset((set(Project.model_fields) - {"name", "unknown_facts"}) | set(DERIVED_FACTS))

#: A rule id of DOMAIN.md §2 (``BLR-05``); a pack rule's id starts with the one it encodes (``BLR-07a``).
DOMAIN_ID = re.compile(r"[A-Z]+-\d{2}")


def _enum_values(fact: str) -> set[str] | None:
    """The values of a fact whose field is an enumeration (scope, fuel, furnace ...), else None."""
    field = Project.model_fields.get(fact)
    enums = [a for a in get_args(field.annotation) if isinstance(a, type) and issubclass(a, Enum)] if field else []
    return {member.value for member in enums[0]} if enums else None


class Comparison(BaseModel):
    """One comparison of a value: ``{ lt = 65 }``, ``{ in = ["国家级", "自治区级"] }``, or a plain value (eq)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: str
    value: Any

    @classmethod
    def parse(cls, raw: Any) -> Comparison:
        """A comparison from a pack: a bare value (equals) or ``{op: value}``."""
        if isinstance(raw, dict):
            if len(raw) != 1 or next(iter(raw)) not in _OPERATORS:
                raise ValueError(f"a comparison is one of {sorted(_OPERATORS)} with a value, got {raw!r}")
            op, value = next(iter(raw.items()))
            if op in {"in", "not_in"} and not isinstance(value, list):
                raise ValueError(f"'{op}' needs a list, got {value!r}")
            return cls(op=op, value=value)
        return cls(op="eq", value=raw)

    def holds(self, actual: Any) -> bool:
        """Does the comparison hold for ``actual``? A set (a project's industry and the sectors holding it)
        holds when one of its members does."""
        if isinstance(actual, frozenset):
            values = self.value if self.op in ("in", "not_in") else [self.value]
            met = any(value in actual for value in values)
            return not met if self.op in ("ne", "not_in") else met
        if self.op == "eq":
            return actual == self.value
        if self.op == "ne":
            return actual != self.value
        if self.op == "in":
            return actual in self.value
        if self.op == "not_in":
            return actual not in self.value
        if actual is None:
            return False
        return {"lt": actual < self.value, "le": actual <= self.value, "gt": actual > self.value,
                "ge": actual >= self.value}[self.op]

    def describe(self) -> str:
        """The comparison as an officer reads it (``≥ 10``)."""
        symbols = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "∈", "not_in": "∉"}
        return f"{symbols[self.op]} {self.value}"


def _comparisons(raw: dict[str, Any] | None) -> dict[str, Comparison]:
    return {key: Comparison.parse(value) for key, value in (raw or {}).items()}


class ZoneCondition(BaseModel):
    """Zones of one kind, narrowed by subtype and attributes, and how the site must relate to them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    subtypes: list[str] | None = None
    where: dict[str, Comparison] = Field(default_factory=dict)
    within_km: float | None = Field(default=None, gt=0, description="Within this distance instead of inside.")

    @field_validator("where", mode="before")
    @classmethod
    def _parse_where(cls, raw):
        return _comparisons(raw)

    @model_validator(mode="after")
    def _known_kind(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown zone kind '{self.kind}'; known: {', '.join(KINDS)}")
        unknown = set(self.subtypes or []) - set(KINDS[self.kind].subtypes)
        if unknown:
            raise ValueError(f"kind '{self.kind}' has no subtype {sorted(unknown)}")
        return self

    @functools.cached_property
    def key(self) -> str:
        """The condition's content: rules that ask the same question share one answer per evaluation."""
        return self.model_dump_json()

    def describe(self) -> str:
        """The zone condition in Chinese: the kind and its subtypes."""
        text = KINDS[self.kind].label_zh
        if self.subtypes:
            text += "(" + "、".join(KINDS[self.kind].subtypes[s] for s in self.subtypes) + ")"
        if self.where:
            text += "[" + ", ".join(f"{k} {c.describe()}" for k, c in self.where.items()) + "]"
        if self.within_km:
            text += f" {self.within_km:g} km 范围内"
        return text


class Quantity(BaseModel):
    """A computed requirement: ``multiplier`` × a project fact (e.g. coal to be offset = 1.2 × new coal)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    label_zh: str
    label_en: str
    fact: str
    multiplier: float | str = Field(description="A number, or the name of a pack parameter.")
    unit: str


class Source(BaseModel):
    """Where a rule comes from: the document and article, and either a quote (原文, the document's own words) or,
    for a rule whose document is not at hand to quote, a summary of the provision (概述), never shown as a quote."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc: str
    article: str | None = None
    quote: str | None = Field(default=None, description="A verbatim passage of the document (原文).")
    summary: str | None = Field(default=None, description="A summary in Chinese of the provision (概述), when "
                                                          "there is no text of the document to quote.")
    not_in_seeds: bool = Field(default=False, description="General regulatory knowledge, not the source documents.")
    confidence: Literal["H", "M", "L"] | None = None

    @model_validator(mode="after")
    def _quote_or_summary(self):
        if (self.quote is None) == (self.summary is None):
            raise ValueError("give either 'quote' (the document's words) or 'summary' (概述), one of them")
        return self


class Rule(BaseModel):
    """One siting rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title_zh: str
    title_en: str
    verdict: Verdict
    in_all: list[ZoneCondition] = Field(default_factory=list)
    in_any: list[ZoneCondition] = Field(default_factory=list)
    not_in: list[ZoneCondition] = Field(default_factory=list)
    project: dict[str, Comparison] = Field(default_factory=dict)
    condition_zh: str | None = None
    condition_en: str | None = None
    softened: bool = Field(default=False, description="原则上: the text softens the ban.")
    deadline: dt.date | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    quantities: list[Quantity] = Field(default_factory=list)
    covers: list[str] | None = Field(
        default=None, description="DOMAIN.md §2 ids the rule encodes; default: the id its own id starts with.")
    source: Source

    @field_validator("project", mode="before")
    @classmethod
    def _parse_project(cls, raw):
        comparisons = _comparisons(raw)
        for name, comparison in comparisons.items():
            if name not in FACT_NAMES:
                raise ValueError(f"unknown project fact '{name}'; known: {', '.join(sorted(FACT_NAMES))}")
            values = comparison.value if isinstance(comparison.value, list) else [comparison.value]
            if name == "industry":
                unknown = [v for v in values if v not in INDUSTRIES]
                if unknown:
                    raise ValueError(f"unknown industry {unknown}; known: {', '.join(INDUSTRIES)}")
            choices = _enum_values(name)
            if choices and not set(values) <= choices | {None}:
                raise ValueError(f"'{name}' takes one of {sorted(choices)}, got {values}")
        return comparisons

    @model_validator(mode="after")
    def _check(self):
        if self.verdict == Verdict.not_checked:
            raise ValueError("'not_checked' is not a rule verdict")
        for quantity in self.quantities:
            if quantity.fact not in FACT_NAMES:
                raise ValueError(f"quantity '{quantity.name}' uses unknown fact '{quantity.fact}'")
        if self.effective_from and self.effective_to and self.effective_to <= self.effective_from:
            raise ValueError("effective_to must be after effective_from")
        return self

    @field_validator("covers")
    @classmethod
    def _domain_ids(cls, covers):
        bad = [c for c in covers or [] if not DOMAIN_ID.fullmatch(c)]
        if bad:
            raise ValueError(f"'covers' takes DOMAIN.md §2 ids such as 'BLR-05', got {bad}")
        return covers

    @property
    def domain_ids(self) -> list[str]:
        """The DOMAIN.md §2 rules this rule encodes (``covers``, else the id its own id starts with)."""
        if self.covers is not None:
            return list(self.covers)
        match = DOMAIN_ID.match(self.id)
        return [match.group()] if match else []

    def in_force(self, day: dt.date) -> bool:
        """Whether the rule applies on ``day`` (effective_from inclusive, effective_to exclusive)."""
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day < self.effective_to
        )

    @property
    def conditions(self) -> tuple[ZoneCondition, ...]:
        """Every zone condition of the rule (in_all, in_any, not_in)."""
        return (*self.in_all, *self.in_any, *self.not_in)


class RulePack(BaseModel):
    """The rules of one jurisdiction, from one file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    jurisdiction: str
    title: str
    version: str
    documents: dict[str, str] = Field(default_factory=dict, description="Source tag -> document title.")
    params: dict[str, float] = Field(default_factory=dict)
    applies_within: list[ZoneCondition] = Field(
        default_factory=list, description="Zones the whole pack is limited to (added to every rule's in_all)."
    )
    rules: list[Rule]
    path: str | None = None

    @functools.cached_property
    def reach_km(self) -> dict[str, float]:
        """Per zone kind, how far from the site a rule of the pack looks for it (``within_km``), km."""
        reach: dict[str, float] = {}
        for condition in [*self.applies_within, *(c for rule in self.rules for c in rule.conditions)]:
            if condition.within_km:
                reach[condition.kind] = max(reach.get(condition.kind, 0.0), condition.within_km)
        return reach

    @model_validator(mode="after")
    def _check(self):
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id '{rule.id}' is used twice")
            seen.add(rule.id)
            if not (rule.in_all or rule.in_any or self.applies_within):
                raise ValueError(f"rule {rule.id} names no zone: give 'in_all' or 'in_any' (or the pack 'applies_within')")
            for quantity in rule.quantities:
                if isinstance(quantity.multiplier, str) and quantity.multiplier not in self.params:
                    raise ValueError(
                        f"rule {rule.id}: quantity '{quantity.name}' uses parameter '{quantity.multiplier}', "
                        f"which [params] does not define"
                    )
        return self


def _error_location(loc: tuple, raw: dict) -> tuple[str | None, str]:
    """Turn a pydantic error location into (rule id, dotted field)."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules", [])
        rule_id = rules[loc[1]].get("id", f"#{loc[1] + 1}") if loc[1] < len(rules) else f"#{loc[1] + 1}"
        return rule_id, ".".join(str(p) for p in loc[2:]) or "rule"
    return None, ".".join(str(p) for p in loc) or "pack"


def load_pack(path: str | Path) -> RulePack:
    """Load and validate a rule pack; any error names the file, the rule and the field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"规则文件不是有效的 TOML / the rule file is not valid TOML ({exc})", source=path.name,
                        fix="按所示行号改正语法 / correct the syntax at the line given") from None
    try:
        return RulePack(**raw, path=str(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        rule_id, field = _error_location(tuple(first["loc"]), raw)
        message = first["msg"].removeprefix("Value error, ")
        raise RuleError(
            f"规则 {rule_id} 无效 / invalid rule {rule_id}: {message}" if rule_id
            else f"规则包无效 / invalid rule pack: {message}",
            source=path.name, row=rule_id, field=field, value=first.get("input") if first["type"] != "missing" else None,
            fix="参见 gis/rules/model.py 中的规则结构和 README 中关于规则的一节 / see the rule schema in "
                "gis/rules/model.py and the README's section on rules",
        ) from None
