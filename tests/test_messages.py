"""What the core says to a person is Chinese first: every error of ``gis.errors`` that ``gis`` makes, and every
notice it reports, has a message and a fix that begin with their Chinese half (``中文 / English``).

The source is read with ``ast``: a message or fix written as a literal (a string, an f-string, a sum of them,
either branch of a conditional) must start with a CJK character or 「; an f-string that starts with a value
(a count, a label) must have Chinese before its first " / ". Texts made elsewhere (a variable, a call) are not
seen here; a few of them are triggered through the public functions below.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import gis.errors
from gis.errors import EcozoneError, FieldError, InputError, UnknownKindError, VersionNotFoundError

GIS = Path(gis.errors.__file__).resolve().parent
CLASSES = {name for name, value in vars(gis.errors).items()
           if inspect.isclass(value) and (issubclass(value, EcozoneError) or value is gis.errors.Notice)}
#: Modules whose messages another branch is rewriting at the time of writing (not checked strictly here).
def _chinese(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or char == "「"


def _offence(node: ast.expr) -> str | None:
    """Why the literal text ``node`` does not start in Chinese, or None (also when it is no literal)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return None if node.value and _chinese(node.value[0]) else repr(node.value[:60])
    if isinstance(node, ast.JoinedStr):
        parts = [v.value if isinstance(v, ast.Constant) else "\x00" for v in node.values]
        if parts and parts[0] != "\x00":
            return None if _chinese(parts[0][0]) else repr(parts[0][:60])
        # Starts with a value (a count, a label): the text before the English half must hold Chinese.
        half = "".join(parts).split(" / ")[0]
        return None if any(_chinese(c) for c in half) else repr(ast.unparse(node)[:60])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _offence(node.left)
    if isinstance(node, ast.IfExp):
        return _offence(node.body) or _offence(node.orelse)
    return None


def _error_names(tree: ast.Module) -> dict[str, str]:
    """The names under which a module refers to the classes of ``gis.errors``: name -> class."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module == "gis.errors" or node.level and node.module == "errors"):
            names.update({alias.asname or alias.name: alias.name for alias in node.names if alias.name in CLASSES})
    return names


def _texts(call: ast.Call, cls: str | None) -> list[tuple[str, ast.expr]]:
    """The message and the fix a call to an error class, a ``Notice`` or ``Log.note`` gives."""
    said = 1 if cls in ("Notice", None) else 0  # a notice's first argument is its code
    texts = [("message", call.args[said])] if len(call.args) > said else []
    texts += [(k.arg, k.value) for k in call.keywords if k.arg in ("message", "fix")]
    return texts


def offenders(path: Path) -> list[str]:
    """``line: class what: text`` for each message or fix of ``path`` that does not start in Chinese."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = _error_names(tree)
    shown = path.relative_to(GIS.parent) if path.is_relative_to(GIS.parent) else path.name
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in names:
            cls = names[node.func.id]
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "note":
            cls = None  # gis.sites.checks.Log.note(code, message, fix=...): a Notice
        else:
            continue
        for what, text in _texts(node, cls):
            why = _offence(text)
            if why:
                found.append(f"{shown}:{text.lineno} {cls or 'note'} {what}: {why}")
    return found


def _modules():
    for path in sorted(GIS.rglob("*.py")):
        name = str(path.relative_to(GIS))
        yield pytest.param(path, id=name)


@pytest.mark.parametrize("path", _modules())
def test_every_error_and_notice_of_the_core_is_chinese_first(path):
    found = offenders(path)
    assert not found, "messages or fixes not in Chinese first (中文 / English):\n" + "\n".join(found)


def test_the_check_sees_english_first_texts(tmp_path):
    """The check itself: an English message, an English fix and a value-first f-string without Chinese are
    found; Chinese-first texts, also those starting with a value or 「, pass."""
    module = tmp_path / "module.py"
    module.write_text(
        "from gis.errors import FieldError as FE, Notice\n"
        "raise FE('not a number', fix='写作整数 / write a whole number')\n"
        "raise FE('不是数字 / not a number', fix='write a whole number')\n"
        "raise FE(f'{n} rows read')\n"
        "raise FE(f'{n} 行 / {n} rows')\n"
        "raise FE(f'「{x}」不是 / {x} is not', fix='改用 / use ' + ', '.join(xs))\n"
        "Notice('code', 'closed a ring')\n"
        "log.note('code', '已闭合 / closed', fix='repeat the first vertex')\n",
        encoding="utf-8")
    found = [line.split(" ", 1)[1] for line in offenders(module)]
    assert found == ["FieldError message: 'not a number'", "FieldError fix: 'write a whole number'",
                     "FieldError message: \"f'{n} rows read'\"", "Notice message: 'closed a ring'",
                     "note fix: 'repeat the first vertex'"]


def test_the_titles_of_the_errors_are_plain_words():
    """A title (API problem answers) is ``title_zh / first docstring line``: no code markup for an officer."""
    for name in sorted(CLASSES - {"Notice"}):
        title = getattr(gis.errors, name).title()
        assert _chinese(title[0]) and " / " in title and "``" not in title, title


def _assert_chinese_first(error: EcozoneError, english: str) -> None:
    text = str(error)
    assert _chinese(text[0]), text
    assert f" / {english}" in text, text
    assert error.fix is None or _chinese(error.fix[0]), error.fix


def test_an_unknown_kind_is_named_in_chinese_first():
    from gis.kinds import get_kind

    with pytest.raises(UnknownKindError) as info:
        get_kind("foo")
    _assert_chinese_first(info.value, "'foo' is not a known zone kind")
    assert str(info.value).startswith("「foo」不是 ecozone 的图层类型 / ")
    assert "修正 / Fix: 改用以下类型之一 / use one of: ecological_redline" in str(info.value)


def test_a_date_before_every_version_is_refused_in_chinese_first():
    from gis.store import open_store
    from gis.versions import pick_version

    store = open_store()
    try:
        with pytest.raises(VersionNotFoundError) as info:
            pick_version(store, "ecological_redline", "1900-01-01")
    finally:
        store.close()
    _assert_chinese_first(info.value, "no version of layer 'ecological_redline' was in force on 1900-01-01")
    assert "给出更晚的日期或版本号" in info.value.fix


def test_a_txt_coordinate_that_is_no_number_is_refused_in_chinese_first(tmp_path):
    from gis.sites import read_site

    path = tmp_path / "raw.txt"
    path.write_bytes(("[属性描述]\n坐标系=2000国家大地坐标系\n几度分带=3\n带号=29\n[地块坐标]\n"
                      "4,,1,A,面,,,,@\nJ1,1,48517x5.1,29548285.2\n").encode("gbk"))
    with pytest.raises(FieldError) as info:
        read_site(path)
    _assert_chinese_first(info.value, "not a number (file raw.txt, row 7, field 'X'")
    assert str(info.value).startswith("不是数字 / not a number")


def test_an_unknown_report_format_is_refused_in_chinese_first():
    from gis.check import check_site
    from gis.evidence import evidence_of, input_record
    from gis.report import render_report
    from gis.sites import read_site
    from gis.store import open_store

    store = open_store()
    try:
        result = check_site(read_site("87.6, 43.8"), {"industry": "热力"}, store=store, as_of="2024-01-01")
        evidence = evidence_of(result, store, input_record("87.6, 43.8"))
        with pytest.raises(InputError) as info:
            render_report(result, evidence, "xls")
    finally:
        store.close()
    _assert_chinese_first(info.value, "unknown report format 'xls'")
    assert str(info.value).startswith("「xls」不是报告格式 / ")


def test_what_was_done_to_a_site_and_where_its_crs_came_from_read_chinese_first(tmp_path):
    """The report's section on the site as read (转换 n, 坐标来源) is Chinese first: a 国土 TXT in GBK with the
    zone in front of Y, a GBK CSV register, a WKT ring left open, an Amap (GCJ-02) point, a point in degrees."""
    from gis.presentation import site_lines
    from gis.sites import read_site

    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    sites = [read_site(samples / "shihezi_boiler.txt"), read_site(samples / "baotou_coal_unit.txt"),
             read_site("POLYGON((87.60 44.00, 87.61 44.00, 87.61 44.01, 87.60 44.01))"),
             read_site("87.6,44.0", datum="gcj02"), read_site("87.6,44.0")]
    table = tmp_path / "地块.csv"
    table.write_bytes("点号,X,Y\n1,4873000,29550000\n2,4873000,29550100\n3,4873100,29550100\n".encode("gbk"))
    sites.append(read_site(table))
    conversions = [c.description for site in sites for c in site.conversions]
    assert {"decode", "zone_prefix", "proj_transform", "ring_closed", "gcj02_to_wgs84"} <= {
        c.step for site in sites for c in site.conversions}
    assert [text for text in conversions if not _chinese(text[0])] == []
    origins = [next(line for line in site_lines(site) if line.startswith("坐标来源")) for site in sites]
    assert [line for line in origins if not any(_chinese(c) for c in line.split("（", 1)[1])] == []
