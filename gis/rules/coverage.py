"""Rule coverage: which rules of DOMAIN.md §2 the packs encode, which are missing, which have no test.

``data/rules/coverage.toml`` lists every §2 id with its source documents and whether the documents give it
a siting or project test (with the reason when they do not). Whether an id is encoded comes from the packs
themselves (``Rule.domain_ids``), so the accounting cannot drift from what is really evaluated.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gis.errors import RuleError
from gis.rules.model import DOMAIN_ID, RulePack

__all__ = ["COVERAGE_FILE", "CoverageEntry", "CoverageReport", "coverage_report", "load_coverage",
           "domain_rule_ids"]

#: Name of the coverage file in the rules folder (not a rule pack).
COVERAGE_FILE = "coverage.toml"

Status = Literal["encoded", "missing", "not_encodable"]

#: Source tag of the Inner Mongolia document: its rules are counted apart from Xinjiang's.
INNER_MONGOLIA_DOC = "001"


class _Declared(BaseModel):
    """One id as coverage.toml declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc: list[str]
    test: bool
    reason: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _reason_when_no_test(self):
        if not self.test and not self.reason:
            raise ValueError("an id without a test ('test = false') needs the 'reason'")
        return self


class CoverageEntry(BaseModel):
    """One DOMAIN.md §2 rule id and how the packs cover it."""

    id: str
    doc: list[str] = Field(description="Source documents, as tags 000..004.")
    region: Literal["新疆", "内蒙古"]
    test: bool = Field(description="The documents give it a siting or project test.")
    status: Status
    rules: list[str] = Field(default_factory=list, description="Pack rules that encode it, as pack:rule.")
    reason: str | None = Field(default=None, description="Why it has no test (status not_encodable).")
    note: str | None = None


class CoverageTotals(BaseModel):
    """Counts of one group of ids, and the share encoded of those with a test."""

    ids: int
    encoded: int
    missing: int
    not_encodable: int
    share_encoded: float | None = Field(description="encoded / (encoded + missing), or None when none has a test.")


class CoverageReport(BaseModel):
    """Every §2 id with its status, and the totals overall, per region and per section."""

    entries: list[CoverageEntry]
    totals: CoverageTotals
    by_region: dict[str, CoverageTotals]
    by_section: dict[str, CoverageTotals]
    packs: dict[str, str] = Field(description="Pack id -> version the statuses were read from.")


def load_coverage(path: str | Path) -> dict[str, _Declared]:
    """Read coverage.toml; an error names the file, the id and the field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"规则覆盖清单不是有效的 TOML / the coverage file is not valid TOML ({exc})",
                        source=path.name, fix="按所示行号改正语法 / correct the syntax at the line given") from None
    declared = {}
    for rule_id, fields in raw.items():
        if not DOMAIN_ID.fullmatch(rule_id):
            raise RuleError(f"「{rule_id}」不是 DOMAIN.md §2 中的规则编号 / '{rule_id}' is not a DOMAIN.md §2 rule id",
                            source=path.name, row=rule_id, fix="使用 BLR-05 这样的编号 / use ids such as BLR-05")
        try:
            declared[rule_id] = _Declared(**fields)
        except (ValidationError, TypeError) as exc:
            raise RuleError(f"规则覆盖清单中 {rule_id} 一项无效 / invalid coverage entry {rule_id}: {exc}",
                            source=path.name, row=rule_id,
                            fix="给出 doc、test，test = false 时还要给出 reason / give doc, test, and reason when "
                                "test = false") from None
    return declared


def _totals(entries: list[CoverageEntry]) -> CoverageTotals:
    counts = {status: sum(e.status == status for e in entries) for status in ("encoded", "missing", "not_encodable")}
    tested = counts["encoded"] + counts["missing"]
    return CoverageTotals(ids=len(entries), **counts,
                          share_encoded=round(counts["encoded"] / tested, 4) if tested else None)


def coverage_report(packs: list[RulePack], path: str | Path) -> CoverageReport:
    """Every id of ``path`` (coverage.toml) with the pack rules that encode it, and the totals."""
    declared = load_coverage(path)
    encoding: dict[str, list[str]] = {}
    for pack in packs:
        for rule in pack.rules:
            for rule_id in rule.domain_ids:
                encoding.setdefault(rule_id, []).append(f"{pack.id}:{rule.id}")
    unknown = sorted(set(encoding) - set(declared))
    if unknown:
        listed = ", ".join(unknown)
        raise RuleError(f"规则中有编号未列入 coverage.toml：{listed} / rules encode ids that coverage.toml does not "
                        f"list: {listed}", source=Path(path).name,
                        fix="把这些编号加入 coverage.toml，或改正规则的 covers / add the ids to coverage.toml or correct "
                            "the rules' 'covers'")
    entries = []
    for rule_id, entry in declared.items():
        rules = encoding.get(rule_id, [])
        status = "encoded" if rules else ("missing" if entry.test else "not_encodable")
        region = "内蒙古" if INNER_MONGOLIA_DOC in entry.doc else "新疆"
        entries.append(CoverageEntry(id=rule_id, doc=entry.doc, region=region, test=entry.test or bool(rules),
                                     status=status, rules=rules, reason=None if rules else entry.reason,
                                     note=entry.note))
    sections: dict[str, list[CoverageEntry]] = {}
    regions: dict[str, list[CoverageEntry]] = {}
    for entry in entries:
        sections.setdefault(entry.id.split("-")[0], []).append(entry)
        regions.setdefault(entry.region, []).append(entry)
    return CoverageReport(
        entries=entries, totals=_totals(entries),
        by_region={name: _totals(group) for name, group in regions.items()},
        by_section={name: _totals(group) for name, group in sections.items()},
        packs={pack.id: pack.version for pack in packs},
    )


def domain_rule_ids(domain_text: str) -> list[str]:
    """The rule ids of DOMAIN.md §2: the first cell of each rule-table row (``| BLR-05 | ...``)."""
    return re.findall(r"^\| ([A-Z]+-\d{2}) \|", domain_text, re.M)
