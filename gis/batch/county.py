"""The county a register gives for a row (所在县市, 行政区划 ...) against where its site lies.

A county column that names another unit than the one the coordinates fall in is the commonest sign of wrong
coordinates. A cell is read once per distinct text (``AdminUnits.named``): the units of the store's
administrative layer it names, by full name (呼图壁县, 昌吉州呼图壁县), by name without its suffix (呼图壁), by
the short name of an autonomous unit (昌吉州), or by its code (652323); when it names several levels, the finest.
A cell naming nothing the layer holds (102团, blank) says nothing. The batch compares it with the admin units of
the row's place (``gis.batch.verdicts``), once per distinct (place, cell) pair; the verdict is not changed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from gis.cache import BoundedCache
from gis.store import Store

__all__ = ["AdminUnits"]

#: Suffixes a unit's name is also written without (the longest that ends the name first).
_SUFFIXES = ("自治县", "自治州", "自治旗", "自治区", "地区", "市", "县", "区", "州", "盟", "旗")
#: Peoples named before 自治: 昌吉回族自治州 is also written 昌吉州 and 昌吉.
_PEOPLES = ("维吾尔族", "维吾尔", "哈萨克族", "哈萨克", "柯尔克孜族", "柯尔克孜", "蒙古族", "蒙古", "回族", "锡伯族", "锡伯",
            "塔吉克族", "塔吉克", "达斡尔族", "达斡尔", "鄂温克族", "鄂温克", "鄂伦春族", "鄂伦春")
#: Levels, finest first: a cell naming a prefecture and a county (昌吉州呼图壁县) names the county.
_LEVELS = {"county": 0, "bingtuan_city": 0, "prefecture": 1, "province": 2}
#: A code of a unit (652323), or of a place under it (652323100000: its first six digits).
_CODE = re.compile(r"(\d{6})(\d{6})?(\.0+)?")
#: Cells whose reading is kept (a register repeats a few dozen counties; past this, all are read again).
_KEPT_CELLS = 100_000


class AdminUnits:
    """The units of the store's administrative layer in force on a day, and what register cells name of them.

    Parameters
    ----------
    zone_ids, names, levels, codes
        Per unit: its zone id (as checks name it), name, subtype and adcode (None when it has none).
    """

    def __init__(self, zone_ids: list[str], names: list[str], levels: list[str], codes: list[str | None]) -> None:
        self.zone_ids = list(zone_ids)
        self.names = list(names)
        self.levels = [_LEVELS.get(level, 0) for level in levels]
        self.index = {zone_id: i for i, zone_id in enumerate(self.zone_ids)}
        self._codes = {code: i for i, code in enumerate(codes) if code}
        full: dict[str, set[int]] = {}
        short: dict[str, set[int]] = {}
        for i, name in enumerate(self.names):
            for form, whole in _forms(name):
                (full if whole else short).setdefault(form, set()).add(i)
        self._full, self._short = full, short
        # longest first: at one position the alternation takes the longest form (乌鲁木齐县 before 乌鲁木齐)
        self._full_pattern = _alternation(full)
        self._short_pattern = _alternation(short)
        self._named: dict[str, frozenset[int]] = {}

    @classmethod
    def of_store(cls, store: Store, as_of: dt.date | str) -> AdminUnits | None:
        """The units in force on ``as_of``, read once per layer version; None when the store has none."""
        version = store.in_force(as_of).get("admin_division")
        if version is None:
            return None
        key = (store.location, version.version, version.content_sha256, str(as_of))
        found = _cache.get(key)
        if found is None:
            zones = store.snapshot(as_of, kinds=["admin_division"]).zones
            codes = [(attrs or {}).get("adcode") for attrs in zones["attributes"]]
            found = _cache.put(key, cls(zones["zone_id"].tolist(), zones["name"].tolist(), zones["subtype"].tolist(),
                                        [str(c) if c else None for c in codes]))
        return found

    def named(self, cell: Any) -> frozenset[int]:
        """The units a cell names (indices), the finest level it names; empty when it names none."""
        text = cell_text(cell)
        found = self._named.get(text)
        if found is None:
            if len(self._named) > _KEPT_CELLS:
                self._named.clear()
            found = self._named[text] = self._read(text)
        return found

    def _read(self, text: str) -> frozenset[int]:
        if not text:
            return frozenset()
        code = _CODE.fullmatch(text)
        if code is not None:
            unit = self._codes.get(code.group(1))
            return frozenset() if unit is None else frozenset([unit])
        # full names first; a name without its suffix only when the cell has none (乌什 is also in 乌什塔拉乡)
        spans = [self._full[m.group(0)] for m in self._full_pattern.finditer(text)] if self._full_pattern else []
        if not spans and self._short_pattern is not None:
            spans = [self._short[m.group(0)] for m in self._short_pattern.finditer(text)]
        if not spans:
            return frozenset()
        # a span's level is its finest unit's (昌吉 is 昌吉市 or 昌吉州: either is what the cell says)
        finest = min(min(self.levels[i] for i in units) for units in spans)
        return frozenset().union(*(units for units in spans if min(self.levels[i] for i in units) == finest))

    def notice(self, cell: Any, named: frozenset[int], lies_in: frozenset[int]) -> str | None:
        """What a row is told when its cell names ``named`` and its site lies in (or touches) ``lies_in``: None
        when it lies in one of them."""
        if not named or named & lies_in:
            return None
        said = cell_text(cell)
        units = "或".join(self.names[i] for i in sorted(named))
        units_en = " or ".join(self.names[i] for i in sorted(named))
        if lies_in:
            finest = min(self.levels[i] for i in lies_in)
            where = "、".join(self.names[i] for i in sorted(lies_in) if self.levels[i] == finest)
            return (f"登记所在县市「{said}」，坐标位于{where}，不在{units}内：请核对坐标 / the register says {said}, the "
                    f"site lies in {where}, outside {units_en}: check the coordinates")
        return (f"登记所在县市「{said}」，坐标不在{units}内，也不在行政区划图层的其他单元内：请核对坐标 / the register says "
                f"{said}, the site lies outside {units_en} and every other unit of the administrative layer: check "
                "the coordinates")


def cell_text(cell: Any) -> str:
    """A county cell as text: a number as its digits (652323.0 is 652323), blank as ''."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return re.sub(r"\s+", "", str(cell))


def _forms(name: str) -> list[tuple[str, bool]]:
    """The ways a unit's name is written, each with whether it is a whole name (with a level's suffix)."""
    forms = [(name, True)]
    suffix = next((s for s in _SUFFIXES if name.endswith(s) and len(name) - len(s) >= 2), None)
    if suffix is None:
        return forms
    stem = name[: -len(suffix)]
    if suffix.startswith("自治"):
        people = next((p for p in _PEOPLES if stem.endswith(p) and len(stem) - len(p) >= 2), None)
        if people is not None:
            stem = stem[: -len(people)]
            if suffix != "自治区":  # 昌吉州, 巴里坤县 (新疆区 is nobody's)
                forms.append((stem + suffix[-1], True))
    forms.append((stem, False))
    return forms


def _alternation(forms: dict[str, set[int]]) -> re.Pattern | None:
    if not forms:
        return None
    return re.compile("|".join(re.escape(form) for form in sorted(forms, key=lambda f: (-len(f), f))))


_cache: BoundedCache[AdminUnits] = BoundedCache(4)
