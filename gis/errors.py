"""One hierarchy for every error ecozone raises on purpose, and the notices it reports.

Every error says what is wrong and, where it knows them, the file, the row, the field, the value and the
fix. ``api`` maps these classes to HTTP status codes once; nothing in ``gis`` knows about HTTP.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "EcozoneError",
    "InputError",
    "FormatError",
    "CRSError",
    "CoordinateError",
    "GeometryError",
    "FieldError",
    "UnknownKindError",
    "LimitExceededError",
    "StoreError",
    "StoreNotFoundError",
    "ReadOnlyStoreError",
    "VersionNotFoundError",
    "RuleError",
    "AuditError",
    "CancelledError",
    "Notice",
    "PROBLEMS_PER_KIND",
    "several",
]


#: In a fix, ``«name»`` stands for the input ``name`` as an interface takes it (``--gk-zone`` on the command
#: line, the member ``gk_zone`` in the API): the core never names an interface's option itself.
_INPUT = re.compile(r"«([a-z][a-z0-9_]*)»")


def fix_text(fix: str | None, give: Callable[[str], str] | None = None) -> str | None:
    """``fix`` with each ``«name»`` said by ``give`` (default: the name itself, as the API takes it)."""
    if fix is None:
        return None
    if give is None:
        return _plain_fix(fix)
    return _INPUT.sub(lambda match: give(match.group(1)), fix)


@functools.lru_cache(maxsize=1024)
def _plain_fix(fix: str) -> str:
    """A fix with its inputs named as the API takes them; kept, as a batch says the same few fixes on
    hundreds of thousands of rows."""
    return _INPUT.sub(lambda match: match.group(1), fix)


def _where(source: str | None, row: Any, field: str | None, value: Any) -> str:
    parts = []
    if source is not None:
        parts.append(f"file {source}")
    if row is not None:
        parts.append(f"row {row}")
    if field is not None:
        parts.append(f"field '{field}'")
    if value is not None:
        text = repr(value)
        parts.append(f"value {text if len(text) <= 80 else text[:77] + '...'}")
    return ", ".join(parts)


class EcozoneError(Exception):
    """A problem ecozone detected and can explain (the root of the hierarchy)."""

    title_zh: ClassVar[str] = "处理时发现的问题"

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: Any = None,
        field: str | None = None,
        value: Any = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.row = row
        self.field = field
        self.value = value
        self.fix = fix
        #: Every problem found in one input, when there are several (``several``): the first
        #: ``PROBLEMS_PER_KIND`` of each kind, in the order of their rows; ``unlisted`` counts the others.
        self.problems: list[EcozoneError] = []
        self.unlisted = 0
        # The text is made when it is read, not here: a batch sets the row of many errors after making them.
        super().__init__(message)

    def __str__(self) -> str:
        return self.text()

    @classmethod
    def title(cls) -> str:
        """What this kind of error is, Chinese first: ``title_zh``, then the first line of the class's docstring."""
        return f"{cls.title_zh} / {(cls.__doc__ or cls.__name__).strip().splitlines()[0]}"

    def text(self, give: Callable[[str], str] | None = None) -> str:
        """The message, where it happened and the fix, with inputs named by ``give`` (see ``fix_text``)."""
        where = _where(self.source, self.row, self.field, self.value)
        text = self.message + (f" ({where})" if where else "")
        return text + (f". 修正 / Fix: {fix_text(self.fix, give)}" if self.fix else "")

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data (for JSON output and problem+json bodies); with ``problems`` and
        ``unlisted`` when it stands for several problems."""
        data = {
            "type": type(self).__name__,
            "message": self.message,
            "source": self.source,
            "row": self.row,
            "field": self.field,
            "value": _plain(self.value),
            "fix": fix_text(self.fix),
        }
        if self.problems:
            data["problems"] = [problem.to_dict() for problem in self.problems]
            data["unlisted"] = self.unlisted
        return data


class InputError(EcozoneError):
    """Input from the user (a file, a coordinate string, an option) cannot be used as given."""

    title_zh: ClassVar[str] = "输入（文件、坐标、选项）无法按原样使用"


class FormatError(InputError):
    """A file or text is not in a format ecozone reads, or is malformed."""

    title_zh: ClassVar[str] = "文件或文字不是 ecozone 能读取的格式，或格式有误"


class CRSError(InputError):
    """A coordinate reference system is missing, unknown or does not fit the data."""

    title_zh: ClassVar[str] = "坐标参考系缺失、未知或与数据不符"


class CoordinateError(InputError):
    """A coordinate value is impossible or implausible for the place (swapped, wrong unit, wrong zone)."""

    title_zh: ClassVar[str] = "坐标值对该地点而言不可能或不合理（颠倒、单位有误、带号有误）"


class GeometryError(InputError):
    """A geometry is empty, degenerate or cannot be repaired."""

    title_zh: ClassVar[str] = "几何为空、退化或无法修复"


class FieldError(InputError):
    """A required attribute or column is missing, or its value is not allowed."""

    title_zh: ClassVar[str] = "缺少必需的属性或列，或其取值不被接受"


class UnknownKindError(InputError):
    """A zone kind ecozone does not know."""

    title_zh: ClassVar[str] = "图层类型不在 ecozone 的类型表中"


class LimitExceededError(InputError):
    """An input is larger than the configured limit (size, features, vertices)."""

    title_zh: ClassVar[str] = "输入超过设定的上限（大小、要素数、顶点数）"


class StoreError(EcozoneError):
    """The layer store cannot do what was asked."""

    title_zh: ClassVar[str] = "图层库无法完成所请求的操作"


class StoreNotFoundError(StoreError):
    """The store location does not exist or is not an ecozone store."""

    title_zh: ClassVar[str] = "图层库的位置不存在，或不是 ecozone 图层库"


class ReadOnlyStoreError(StoreError):
    """A write was asked of a store that must not be changed (e.g. the embedded dataset)."""

    title_zh: ClassVar[str] = "图层库不可修改（如内置数据集），不能写入"


class VersionNotFoundError(StoreError):
    """A layer version, or a layer in force on a date, does not exist."""

    title_zh: ClassVar[str] = "图层版本不存在，或该日期没有生效的图层"


class AuditError(EcozoneError):
    """The audit trail cannot record or verify as asked (its file, its key)."""

    title_zh: ClassVar[str] = "审计记录无法按要求写入或核验（文件、密钥）"


class RuleError(EcozoneError):
    """A rule pack is invalid: the message names the rule and the field."""

    title_zh: ClassVar[str] = "规则包无效：信息中指出规则和字段"


#: How many problems of one kind (same class, field and fix: e.g. subtype values not of the kind, NaN
#: coordinates) an error lists; the others are counted.
PROBLEMS_PER_KIND = 20


def _position(problem: EcozoneError) -> int:
    """Where a problem's row comes in the file (``12 (HX-0012)`` or ``12``); a problem of the whole file first."""
    number = str(problem.row).partition(" ")[0]
    return int(number) if number.isdigit() else 0


def several(problems: list[EcozoneError], *, source: str | None = None, fix: str | None = None,
            per_kind: int = PROBLEMS_PER_KIND) -> EcozoneError:
    """One error for every problem found in an input, so that it is mended in one go.

    One problem is raised as it is. Several are listed (``problems``) in the order of their rows, the first
    ``per_kind`` of each kind (same class, field and fix), the others counted (``unlisted``) by field in the
    message. The error is of the problems' class when they share one, else ``InputError``, and names their field
    when they share one.
    """
    if len(problems) == 1:
        return problems[0]
    ordered = sorted(problems, key=_position)
    seen: dict[tuple, int] = {}
    listed: list[EcozoneError] = []
    unlisted: dict[str | None, int] = {}
    for problem in ordered:
        key = (type(problem), problem.field, problem.fix)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= per_kind:
            listed.append(problem)
        else:
            unlisted[problem.field] = unlisted.get(problem.field, 0) + 1
    classes = {type(problem) for problem in problems}
    cls = classes.pop() if len(classes) == 1 else InputError
    rows = len({problem.row for problem in problems if problem.row is not None})
    fields = "、".join(dict.fromkeys(str(problem.field) for problem in ordered if problem.field))
    left = sum(unlisted.values())
    more_zh = more_en = ""
    if left:
        counts_zh = "，".join(f"{field} {count} 个" for field, count in unlisted.items())
        counts_en = ", ".join(f"{count} of {field}" for field, count in unlisted.items())
        more_zh = f"；每类列出前 {per_kind} 个，另有 {left} 个未列出（{counts_zh}）"
        more_en = f"; the first {per_kind} of each kind are listed, {left} more are not ({counts_en})"
    shared = {problem.field for problem in problems}
    error = cls(
        f"发现 {len(problems)} 个问题（{rows} 行；字段 {fields}）{more_zh} / {len(problems)} problems found "
        f"({rows} row{'' if rows == 1 else 's'}; fields {fields.replace('、', ', ')}){more_en}", source=source,
        field=shared.pop() if len(shared) == 1 else None,
        fix=fix or "逐条改正下列问题后重试 / fix each problem listed, then try again")
    error.problems, error.unlisted = listed, left
    return error


def _plain(value: Any) -> Any:
    """A value as plain data: JSON's scalars as they are, anything else as its repr."""
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


@dataclass(frozen=True)
class Notice:
    """Something the user must know that did not stop the work (a repair, an assumption, a conversion)."""

    code: str
    message: str
    source: str | None = None
    row: Any = None
    field: str | None = None
    value: Any = None
    fix: str | None = None
    level: str = "warning"

    def __str__(self) -> str:
        return self.text()

    def text(self, give: Callable[[str], str] | None = None) -> str:
        """The message, where it happened and the fix, with inputs named by ``give`` (see ``fix_text``)."""
        where = _where(self.source, self.row, self.field, self.value)
        text = self.message + (f" ({where})" if where else "")
        return text + (f". 修正 / Fix: {fix_text(self.fix, give)}" if self.fix else "")

    def to_dict(self) -> dict[str, Any]:
        """The notice as plain data, its fix naming inputs as the API takes them."""
        return {"code": self.code, "message": self.message, "source": self.source, "row": self.row,
                "field": self.field, "value": _plain(self.value), "fix": fix_text(self.fix), "level": self.level}


class CancelledError(EcozoneError):
    """A long task (a batch screening) was stopped at the caller's request before it finished."""

    title_zh: ClassVar[str] = "长时间任务（批量筛查）应请求在完成前停止"
