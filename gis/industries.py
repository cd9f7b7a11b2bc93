"""Industry vocabulary: GB/T 4754-2017 codes and names, the 排污许可 categories, and the rule sectors they map to.

Registers name a unit's industry the way the national classification does (火力发电, 4411, D4411,
化学原料和化学制品制造业), the way the permit catalogue groups it (牲畜饲养031，家禽饲养032), with a common
variant (火电, 热电厂), or in the rule packs' own words (电力, 水泥). :func:`resolve_industry` turns any of these
into the rule sector that the rules test (a key of :data:`gis.rules.project.INDUSTRIES`) and the standard's code.

An industry that cannot be placed is not an error: the match has no sector and a notice says so, so the site is
still checked and only the rules that need the industry come out as 需核查. The tables live in
``data/industries`` (its README says where they come from and how they were compiled).
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from gis.errors import Notice
from gis.rules.project import INDUSTRIES

__all__ = [
    "INDUSTRIES_DIR",
    "MAX_TEXT_LENGTH",
    "OTHER_SECTOR",
    "IndustryCode",
    "IndustryMatch",
    "IndustryTable",
    "MatchHow",
    "default_industry_table",
    "resolve_industry",
]

#: Where the shipped tables live (GB/T 4754-2017, sectors, aliases, the permit catalogue).
INDUSTRIES_DIR = Path(__file__).resolve().parents[1] / "data" / "industries"

#: The rule sector of an industry that is known but belongs to none of the named rule sectors.
OTHER_SECTOR = "其他"

#: Longer texts are not searched: a register's industry cell is a few words (the work is bounded up front).
MAX_TEXT_LENGTH = 100

#: Distinct texts remembered per table: a register has a few hundred, a hostile file cannot grow memory.
CACHE_SIZE = 8192

_LEVEL_ZH = {"section": "门类", "division": "大类", "group": "中类", "class": "小类"}
_CODE = re.compile(r"([A-T])?[-.]?(\d{2,4})")
_CODE_THEN_NAME = re.compile(r"([A-T]?)[-.]?(\d{2,4})[-.:、]?([^\d,;/|]+)")
_NAME_THEN_CODE = re.compile(r"([^\d,;/|]+?)[(\[]?([A-T]?)[-.]?(\d{2,4})[)\]]?")
_SEPARATORS = re.compile(r"[,;/|]+")
_WHOLE_FLOAT = re.compile(r"(\d+)\.0+")
_SHORTEST_PART = 2
_FIX = "给出国民经济行业分类小类代码或名称，如 4411 火力发电 / give a GB/T 4754 class code or name, e.g. 4411 火力发电"


class MatchHow(str, Enum):
    """How a text was recognised (kept in every match so an officer can see why)."""

    sector = "sector"  # a rule sector's own name: 电力, 水泥
    code = "code"  # a GB/T 4754 code, with or without its section letter: D4411, 4411, 44
    standard_name = "standard_name"  # a GB/T 4754 name: 火力发电, 化学原料和化学制品制造业
    alias = "alias"  # a common variant listed in aliases.csv: 火电, 热电厂
    permit_category = "permit_category"  # a category of the 排污许可分类管理名录 (2019)
    partial_name = "partial_name"  # part of a name (化学原料), or a name inside a longer text
    unknown = "unknown"


@dataclass(frozen=True)
class IndustryCode:
    """One row of GB/T 4754-2017: a section letter, or a 2-, 3- or 4-digit code."""

    code: str
    name: str
    level: str
    section: str
    parent: str | None
    sector: str | None
    sector_own: bool
    note: str = ""

    @property
    def label(self) -> str:
        """The code with its section letter and name, as officers write it: ``D4411 火力发电``."""
        prefix = self.code if self.level == "section" else self.section + self.code
        return f"{prefix} {self.name}"


@dataclass(frozen=True)
class IndustryMatch:
    """What an industry text was recognised as.

    ``sector`` is the most specific rule sector, or None when the industry is unknown or too broad to say.
    ``sectors`` starts with it and adds the broader sectors above it in the standard (电解铝, then 有色) and the
    sectors of further industries the text lists, so that a rule written for the broader sector can see them.
    """

    text: str
    sector: str | None
    code: str | None
    name: str | None
    how: MatchHow
    sectors: tuple[str, ...] = ()
    notices: tuple[Notice, ...] = field(default=(), compare=False)

    @property
    def known(self) -> bool:
        """True when the rules can use the industry (a sector was found)."""
        return self.sector is not None


def _normal(text: str) -> str:
    """Full-width to half-width, no spaces, upper-case letters: the form every look-up compares.

    A line break in a cell separates two entries; other spaces are stray (水泥 制造 is 水泥制造).
    """
    text = re.sub(r"[\r\n]+", ",", unicodedata.normalize("NFKC", text).strip())
    text = re.sub(r"\s+", "", text).upper().strip("\"'“”‘’。.")
    whole = _WHOLE_FLOAT.fullmatch(text)  # 3011.0 from a spreadsheet's number cell
    return whole.group(1) if whole else text


class IndustryTable:
    """GB/T 4754-2017 with its rule sectors, the aliases and the permit catalogue, indexed for look-up.

    Built once per process from ``data/industries`` (:func:`default_industry_table`) and read-only afterwards,
    so one table is safe to share between threads. :meth:`resolve` remembers the last :data:`CACHE_SIZE` texts.
    """

    def __init__(self, codes: Iterable[IndustryCode], sector_codes: dict[str, str | None],
                 aliases: Iterable[tuple[str, str | None, str | None]], permit_categories: Iterable[dict[str, str]]):
        self.codes: dict[str, IndustryCode] = {row.code: row for row in codes}
        self.sector_codes = dict(sector_codes)
        self._children: dict[str, list[str]] = {}
        self._names: dict[str, list[str]] = {}
        for row in self.codes.values():
            if row.parent is not None:
                self._children.setdefault(row.parent, []).append(row.code)
            self._names.setdefault(_normal(row.name), []).append(row.code)
        self._aliases = {_normal(alias): (code, sector) for alias, code, sector in aliases}
        self._permit: dict[str, dict[str, str]] = {}
        for row in permit_categories:
            self._permit[_normal(row["category"])] = row
            self._permit.setdefault(_normal(re.sub(r"\d+", "", row["category"])), row)
        # Searched for inside longer texts: standard names, aliases and sector names (not 其他), longest first.
        inner = [*self._names, *self._aliases, *(s for s in INDUSTRIES if s != OTHER_SECTOR)]
        self._inner = sorted({n for n in inner if len(n) >= _SHORTEST_PART}, key=len, reverse=True)
        self.resolve = functools.lru_cache(maxsize=CACHE_SIZE)(self._resolve)

    @classmethod
    def load(cls, folder: str | Path = INDUSTRIES_DIR) -> IndustryTable:
        """Read the tables of ``folder``; ValueError naming the file and row when one is inconsistent."""
        folder = Path(folder)
        codes = []
        for number, row in enumerate(_rows(folder / "gbt4754_2017.csv"), start=2):
            _check_sector(row["sector"], "gbt4754_2017.csv", number)
            codes.append(IndustryCode(
                code=row["code"], name=row["name"], level=row["level"], section=row["section"],
                parent=row["parent"] or None, sector=row["sector"] or None, sector_own=row["sector_own"] == "1",
                note=row["note"]))
        known = {row.code for row in codes}
        sector_codes, aliases = {}, []
        for number, row in enumerate(_rows(folder / "sectors.csv"), start=2):
            _check_sector(row["sector"], "sectors.csv", number, code=row["code"], known=known)
            sector_codes[row["sector"]] = row["code"] or None
        for number, row in enumerate(_rows(folder / "aliases.csv"), start=2):
            _check_sector(row["sector"], "aliases.csv", number, code=row["code"], known=known)
            aliases.append((row["alias"], row["code"] or None, row["sector"] or None))
        return cls(codes, sector_codes, aliases, _rows(folder / "pollutant_permit_catalogue.csv"))

    # -- the tree ------------------------------------------------------------------------------------------

    def ancestors(self, code: str) -> list[str]:
        """The codes above ``code``, nearest first (4411 -> 441, 44, D)."""
        out, parent = [], self.codes[code].parent
        while parent is not None:
            out.append(parent)
            parent = self.codes[parent].parent
        return out

    def descendants(self, code: str) -> list[str]:
        """Every code below ``code``."""
        out, stack = [], list(self._children.get(code, ()))
        while stack:
            child = stack.pop()
            out.append(child)
            stack.extend(self._children.get(child, ()))
        return out

    def chain(self, code: str) -> tuple[str, ...]:
        """The sector of ``code`` and the distinct sectors above it; ``("其他",)`` when it has none."""
        if self.codes[code].sector is None:
            return (OTHER_SECTOR,)
        out: list[str] = []
        for above in (code, *self.ancestors(code)):
            sector = self.codes[above].sector
            if sector is None:
                break
            if sector not in out:
                out.append(sector)
        return tuple(out)

    def _sectors(self, sector: str, code: str | None) -> tuple[str, ...]:
        """``sector`` first, then the broader sectors of ``code``'s place in the standard."""
        if code is None:
            return (sector,)
        chain = self.chain(code)
        if chain[0] != sector and self.codes[code].parent is not None:  # an alias names a sector of its own
            chain = self.chain(self.codes[code].parent)
        return tuple(dict.fromkeys(s for s in (sector, *chain) if s != OTHER_SECTOR or s == sector))

    def _common_ancestor(self, codes: list[str]) -> str | None:
        lines = [[c, *self.ancestors(c)] for c in codes]
        common = set(lines[0]).intersection(*lines[1:])
        return next((c for c in lines[0] if c in common), None)

    # -- resolving -----------------------------------------------------------------------------------------

    def _resolve(self, text: str) -> IndustryMatch:
        if len(text) > 10 * MAX_TEXT_LENGTH:  # not even normalised: a cell this long is not an industry
            return _unknown(text[:MAX_TEXT_LENGTH] + "…", "too_long")
        key = _normal(text)
        if not key:
            return _unknown(text, "empty")
        if len(key) > MAX_TEXT_LENGTH:
            return _unknown(text, "too_long")
        return self._exact(text, key) or self._several(text, key) or self._partial(text, key) or _unknown(
            text, "unknown")

    def _exact(self, text: str, key: str) -> IndustryMatch | None:
        """Whole-text matches: sector, code, code with name, standard name, alias, permit category."""
        if key in INDUSTRIES:
            code = self.sector_codes.get(key)
            return self._match(text, code, MatchHow.sector, sector=key, sectors=self._sectors(key, code))
        found = self._by_code(text, key)
        if found is not None:
            return found
        if key in self._names:
            codes = self._names[key]
            deepest = max(codes, key=len)  # 炼铁 is both group 311 and class 3110: registers mean the class
            if all(c == deepest or c in self.ancestors(deepest) for c in codes):
                return self._from_code(text, deepest, MatchHow.standard_name)
            return self._settle(text, codes, MatchHow.standard_name)
        if key in self._aliases:
            code, sector = self._aliases[key]
            if code is None:
                return self._match(text, None, MatchHow.alias, sector=sector, sectors=(sector,))
            return self._from_code(text, code, MatchHow.alias, sector=sector)
        if key in self._permit:
            return self._from_permit(text, self._permit[key])
        if key.endswith("行业") and len(key) > 3:
            return self._exact(text, key[:-2])
        return None

    def _by_code(self, text: str, key: str) -> IndustryMatch | None:
        """A code alone (C3011, 3011, 44, C), or a code written before or after its name (3011 水泥制造)."""
        if len(key) == 1:
            return self._from_code(text, key, MatchHow.code) if key in self.codes else None
        alone = _CODE.fullmatch(key)
        if alone:
            return self._code_alone(text, alone.group(1), alone.group(2))
        before = _CODE_THEN_NAME.fullmatch(key)
        if before:
            return self._code_and_name(text, before.group(1), before.group(2), before.group(3))
        after = _NAME_THEN_CODE.fullmatch(key)
        if after:
            return self._code_and_name(text, after.group(2), after.group(3), after.group(1))
        return None

    def _code_alone(self, text: str, letter: str | None, digits: str) -> IndustryMatch:
        if digits not in self.codes:
            return _unknown(text, "unknown_code")
        notices = self._letter_notices(text, letter, digits)
        padded = self.codes.get("0" + digits)
        if not letter and padded is not None:
            row = self.codes[digits]
            notices.append(Notice(
                "industry_leading_zero",
                f"代码 {digits} 按“{row.label}”判断；若指“{padded.label}”（表格可能去掉了前导零），请写作 "
                f"{padded.code}。 Code {digits} was read as {row.label}; if {padded.label} is meant (a spreadsheet "
                "may have dropped the leading zero), write the code with its zero.",
                field="industry", value=text, level="info"))
        return self._from_code(text, digits, MatchHow.code, notices=notices)

    def _code_and_name(self, text: str, letter: str, digits: str, name: str) -> IndustryMatch | None:
        name = name.strip("()[]-:、")
        by_name = self._exact(name, name) if name else None
        if by_name is None or not by_name.known:  # a name we cannot place: the code decides, if it is one
            if digits not in self.codes:
                return None
            notice = Notice(
                "industry_name_unrecognised",
                f"名称“{name}”未识别，按代码 {self.codes[digits].label} 判断。 The name '{name}' is not known; "
                f"the code {self.codes[digits].label} was used.",
                field="industry", value=text, level="info")
            return self._from_code(text, digits, MatchHow.code,
                                   notices=[*self._letter_notices(text, letter, digits), notice])
        named = by_name.code
        for code in (digits, "0" + digits):
            if code in self.codes and (named is None or named == code or named in self.ancestors(code)
                                       or code in self.ancestors(named)):
                notices = self._letter_notices(text, letter, code)
                if code != digits:
                    notices.append(Notice(
                        "industry_leading_zero",
                        f"代码 {digits} 与名称“{name}”对照，按 {self.codes[code].label} 判断。 Code {digits} "
                        f"read together with its name as {self.codes[code].label}.",
                        field="industry", value=text, level="info"))
                return self._from_code(text, code, MatchHow.code, notices=notices)
        if digits in self.codes:
            row = self.codes[digits]
            notice = Notice(
                "industry_name_mismatch",
                f"名称“{name}”与代码 {digits}（{row.label}）不一致，按代码判断。 The name '{name}' does not match "
                f"code {digits} ({row.label}); the code was used.",
                field="industry", value=text)
            return self._from_code(text, digits, MatchHow.code, notices=[notice])
        notice = Notice(
            "industry_unknown_code",
            f"代码 {digits} 不在 GB/T 4754-2017 中，按名称“{name}”判断。 Code {digits} is not in GB/T 4754-2017; "
            f"the name '{name}' was used.",
            field="industry", value=text)
        return replace(by_name, text=text, notices=(*by_name.notices, notice))

    def _letter_notices(self, text: str, letter: str | None, code: str) -> list[Notice]:
        section = self.codes[code].section
        if not letter or letter == section:
            return []
        return [Notice(
            "industry_section_letter",
            f"门类字母 {letter} 与代码 {code} 不符（应为 {section}），按数字代码判断。 Section letter {letter} does "
            f"not fit code {code} (its section is {section}); the digits were used.",
            field="industry", value=text)]

    def _from_permit(self, text: str, row: dict[str, str]) -> IndustryMatch:
        if row["kind"] == "general_process":
            return _unknown(text, "general_process", detail=row["number"], how=MatchHow.permit_category)
        if row["kind"] != "industry":
            return _unknown(text, "catch_all", detail=row["number"], how=MatchHow.permit_category)
        return self._settle(text, row["codes"].split(";"), MatchHow.permit_category)

    def _several(self, text: str, key: str) -> IndustryMatch | None:
        """A text listing several industries (火力发电，热力生产和供应): the first known one decides, all count."""
        parts = [p for p in _SEPARATORS.split(key) if p]
        if len(parts) < 2:
            parts = key.split("、")  # also inside standard names, so only when every piece is a whole name
            if len(parts) < 2 or any(self._exact(p, p) is None for p in parts):
                return None
        matches = [self._exact(p, p) or self._partial(p, p) or _unknown(p, "unknown") for p in parts]
        known = [m for m in matches if m.known]
        if not known:
            return None
        first = known[0]
        sectors = tuple(dict.fromkeys(s for m in known for s in m.sectors))
        listed = "；".join(f"{m.text}（{m.sector or '未识别'}）" for m in matches)
        notice = Notice(
            "industry_several",
            f"行业含多项：{listed}；按第一项“{first.text}”判断，各项的规则行业：{'、'.join(sectors)}。 The text lists "
            f"several industries; the first known one ('{first.text}') decides; sectors of all: {', '.join(sectors)}.",
            field="industry", value=text, level="info")
        others = tuple(n for m in matches if m is not first for n in m.notices)
        return replace(first, text=text, sectors=sectors, notices=(*first.notices, *others, notice))

    def _partial(self, text: str, key: str) -> IndustryMatch | None:
        """Part of a standard name or alias (化学原料), else the longest name inside the text (某水泥熟料线)."""
        if len(key) < _SHORTEST_PART:
            return None
        codes = [c for name, found in self._names.items() if key in name for c in found]
        codes += [code for alias, (code, _) in self._aliases.items() if key in alias and code]
        if codes:
            codes = list(dict.fromkeys(codes))
            matched = "、".join(self.codes[c].label for c in codes[:8]) + ("等" if len(codes) > 8 else "")
            return _partial(self._settle(text, codes, MatchHow.partial_name), matched)
        inner = [name for name in self._inner if name in key]
        if not inner:
            return None
        longest = [name for name in inner if len(name) == len(inner[0])]
        found = [self._exact(name, name) for name in longest]
        if len(found) == 1:
            return _partial(replace(found[0], text=text), longest[0])
        codes = list(dict.fromkeys(m.code for m in found if m.code is not None))
        if not codes:
            return None
        return _partial(self._settle(text, codes, MatchHow.partial_name), "、".join(longest))

    def _settle(self, text: str, codes: list[str], how: MatchHow) -> IndustryMatch:
        """One match for several candidate codes: the most general one when it covers the others, else the
        sector they share; no sector when they point at different rule sectors."""
        if len(codes) == 1:
            return self._from_code(text, codes[0], how)
        top = self._common_ancestor(codes)
        if top in codes:
            return self._from_code(text, top, how)
        # 染整 is in 毛纺织及染整精加工 (172) and in its class 毛染整精加工 (1723): the class says more.
        codes = [c for c in codes if not any(c in self.ancestors(other) for other in codes)]
        each = [self._from_code(text, c, how) for c in codes]
        general = self._from_code(text, top, how) if top is not None else None
        sectors = {m.sector for m in each}
        if len(sectors) == 1 and None not in sectors:
            sector = sectors.pop()
            if general is not None and general.sector == sector:
                return replace(general, notices=())
            chain = tuple(dict.fromkeys(s for m in each for s in m.sectors))
            return self._match(text, None, how, sector=sector, sectors=chain)
        if general is not None and general.known and all(general.sector in m.sectors for m in each if m.known):
            return general
        return _unknown(text, "ambiguous", detail="、".join(self.codes[c].label for c in codes[:8]), how=how)

    def _from_code(self, text: str, code: str, how: MatchHow, *, sector: str | None = None,
                   notices: Iterable[Notice] = ()) -> IndustryMatch:
        """The match for one code: its sector, or 其他, or no sector when the code spans several rule sectors."""
        notices = list(notices)
        if sector is not None:
            return self._match(text, code, how, sector=sector, sectors=self._sectors(sector, code), notices=notices)
        row = self.codes[code]
        below = {self.codes[c].sector for c in self.descendants(code)} - {None}
        if row.sector is None and below:
            notices.append(Notice(
                "industry_too_broad",
                f"行业“{text}”对应{_LEVEL_ZH[row.level]}“{row.label}”，范围过宽（含 {'、'.join(sorted(below))} "
                f"等规则行业），无法确定规则行业；需要行业的规则判为需核查。 Industry '{text}' is {row.label}, which "
                "spans several rule sectors; rules that need the industry are 需核查 (needs review).",
                field="industry", value=text, fix=_FIX))
            return self._match(text, code, how, sector=None, sectors=(), notices=notices)
        chain = self.chain(code)
        finer = sorted(below - set(chain))
        if finer:
            notices.append(Notice(
                "industry_finer",
                f"行业“{row.label}”按“{chain[0]}”判断；其下 {'、'.join(finer)} 另有规则，如属其一请给出小类。 "
                f"{row.label} is taken as {chain[0]}; if the unit is {' or '.join(finer)}, give its class.",
                field="industry", value=text, level="info"))
        return self._match(text, code, how, sector=chain[0], sectors=chain, notices=notices)

    def _match(self, text: str, code: str | None, how: MatchHow, *, sector: str | None,
               sectors: tuple[str, ...], notices: Iterable[Notice] = ()) -> IndustryMatch:
        name = self.codes[code].name if code is not None else None
        return IndustryMatch(text=text, sector=sector, code=code, name=name, how=how, sectors=sectors,
                             notices=tuple(notices))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _check_sector(sector: str, file: str, number: int, *, code: str = "", known: set[str] | None = None) -> None:
    if sector and sector not in INDUSTRIES:
        raise ValueError(f"{file} row {number}: '{sector}' is not a rule sector (gis.rules.project.INDUSTRIES)")
    if code and known is not None and code not in known:
        raise ValueError(f"{file} row {number}: code '{code}' is not in gbt4754_2017.csv")


def _partial(match: IndustryMatch, matched: str) -> IndustryMatch:
    """Mark a match found from part of a name, with a notice asking the officer to check it."""
    if not match.known:
        return replace(match, how=MatchHow.partial_name)
    notice = Notice(
        "industry_partial",
        f"行业“{match.text}”按名称部分匹配（{matched}），判为“{match.sector}”，请核对。 Industry '{match.text}' "
        f"was matched by part of a name ({matched}) as {match.sector}; please check.",
        field="industry", value=match.text, level="info")
    return replace(match, how=MatchHow.partial_name, notices=(*match.notices, notice))


_WHY = {
    "empty": ("为空", "is empty"),
    "too_long": (f"超过 {MAX_TEXT_LENGTH} 个字符，未作识别",
                 f"is longer than {MAX_TEXT_LENGTH} characters and was not searched"),
    "unknown": ("不是国民经济行业分类（GB/T 4754-2017）的代码或名称，也不是规则行业",
                "is not a GB/T 4754-2017 code or name, nor a rule sector"),
    "unknown_code": ("的代码不在 GB/T 4754-2017 中", "is a code that GB/T 4754-2017 does not have"),
    "ambiguous": ("可对应规则行业不同的多个类别（{detail}）", "fits classes of different rule sectors ({detail})"),
    "general_process": ("是排污许可分类管理名录的通用工序（第{detail}类），不是行业",
                        "is a general process of the permit catalogue (class {detail}), not an industry"),
    "catch_all": ("是排污许可分类管理名录第{detail}类，未指明行业",
                  "is class {detail} of the permit catalogue, which names no industry"),
}


def _unknown(text: str, why: str, *, detail: str = "", how: MatchHow = MatchHow.unknown) -> IndustryMatch:
    """No sector: a notice (Chinese first) says why and that the rules needing the industry are 需核查."""
    zh, en = (part.format(detail=detail) for part in _WHY[why])
    notice = Notice(
        f"industry_{why}",
        f"行业“{text}”{zh}，无法确定规则行业；需要行业的规则判为需核查。 Industry '{text}' {en}; rules that need "
        "the industry are 需核查 (needs review).",
        field="industry", value=text, fix=_FIX)
    return IndustryMatch(text=text, sector=None, code=None, name=None, how=how, notices=(notice,))


@functools.cache
def default_industry_table() -> IndustryTable:
    """The shipped tables (``data/industries``), loaded once per process."""
    return IndustryTable.load(INDUSTRIES_DIR)


def resolve_industry(text: str | float, table: IndustryTable | None = None) -> IndustryMatch:
    """Recognise an industry text as a rule sector and a GB/T 4754-2017 code; never raises for unknown text.

    Accepts a rule sector (电力), a code with or without its section letter (C3011, 3011, D4411, 44), a standard
    name (火力发电, 化学原料和化学制品制造业), code and name together (3011 水泥制造), a permit-catalogue category
    (牲畜饲养031，家禽饲养032), a common variant (火电, 热电厂), part of a name (化学原料) and several industries in
    one text. Full-width characters and stray spaces do not matter. Results are cached per text.

    Examples
    --------
    >>> resolve_industry("D4411").sector, resolve_industry("火力发电").code
    ('电力', '4411')
    >>> resolve_industry("铝冶炼").sectors
    ('电解铝', '有色')
    >>> resolve_industry("铸铁件毛坯").sector is None
    True
    """
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    return (table or default_industry_table()).resolve(str(text))
