"""Rule packs: siting rules as data (one TOML file per jurisdiction in ``data/rules``) and their evaluation."""

from __future__ import annotations

import functools
from pathlib import Path

from gis.rules.coverage import COVERAGE_FILE
from gis.rules.model import RulePack, Verdict, load_pack
from gis.rules.project import Project

__all__ = ["RULES_DIR", "default_rule_packs", "load_pack", "RulePack", "Verdict", "Project"]

#: Where the shipped rule packs live.
RULES_DIR = Path(__file__).resolve().parents[2] / "data" / "rules"


@functools.cache
def _packs_in(folder: str) -> tuple[RulePack, ...]:
    paths = sorted(p for p in Path(folder).glob("*.toml") if p.name != COVERAGE_FILE)
    return tuple(load_pack(path) for path in paths)


def default_rule_packs(folder: str | Path | None = None) -> list[RulePack]:
    """The rule packs in ``data/rules`` (or ``folder``; every ``*.toml`` but ``coverage.toml``), loaded and
    validated once per process."""
    return list(_packs_in(str(folder or RULES_DIR)))
