"""Decoding text files that come as UTF-8 (with or without BOM) or GBK/GB18030, the two habits in China."""

from __future__ import annotations

import codecs
import glob
import re
from pathlib import Path

from gis.errors import FormatError

__all__ = ["cpg_holds", "dbf_encoding", "decode", "records_encoding", "sidecar"]

_LABELS = {"utf-8-sig": "UTF-8", "gb18030": "GBK/GB18030"}
#: The first byte of a three- or four-byte UTF-8 sequence (every Chinese character in UTF-8 starts so).
_LEAD3 = re.compile(rb"[\xe0-\xf4]")


def decode(data: bytes, *, encoding: str | None, source: str) -> tuple[str, str]:
    """Decode bytes with the given encoding, or detect UTF-8 vs GB18030 (a superset of GBK and GB2312).

    UTF-8 is tried first because GB18030 decodes almost any byte string, while valid UTF-8 that is
    really GBK is vanishingly rare for Chinese text. Returns the text and the encoding used.
    """
    candidates = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for name in candidates:
        try:
            "".encode(name)  # a text codec Python knows (empty bytes decode with any name, rot13 included)
        except (LookupError, ValueError):  # ValueError: a name with a NUL character
            raise FormatError(
                f"无法识别的文本编码 {name!r} / unknown text encoding {name!r}", source=source, field="encoding", value=name,
                fix="使用 utf-8、gbk 或 gb18030 之一 / use one of utf-8, gbk, gb18030",
            ) from None
        try:
            return data.decode(name), _LABELS.get(name, name.upper())
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            if encoding:
                raise FormatError(
                    f"文件不是有效的 {encoding} 文本 / the file is not valid {encoding}", source=source, row=line,
                    value=data[err.start : err.start + 4].hex(" "),
                    fix="去掉 «encoding»，由 ecozone 识别 UTF-8 或 GBK / omit «encoding» to let ecozone detect UTF-8 or GBK",
                ) from None
            if name == "utf-8-sig" and _mixed(data, err.start):
                raise FormatError(
                    f"文件混用了 UTF-8 和 GBK 编码（从第 {line} 行起不再是 UTF-8） / the file mixes UTF-8 and GBK text "
                    f"(UTF-8 Chinese before line {line}, something else from there)", source=source, row=line,
                    field="encoding", value=data[err.start : err.start + 4].hex(" "),
                    fix="用同一种编码（UTF-8）重新保存整个文件 / save the whole file again in one encoding (UTF-8)",
                ) from None
    raise FormatError(
        "文件既不是 UTF-8 也不是 GBK/GB18030 文本 / the file is neither UTF-8 nor GBK/GB18030 text", source=source,
        fix="另存为 UTF-8 或 GBK 文本，或给出 «encoding» / save it as UTF-8 or GBK text, or give «encoding»",
    )


def _mixed(data: bytes, failed_at: int) -> bool:
    """Whether the bytes before the first invalid UTF-8 sequence hold Chinese in UTF-8: GBK text almost never
    decodes as UTF-8 for long, so valid multi-byte UTF-8 first means a second encoding came later."""
    first = _LEAD3.search(data, 0, failed_at)
    return first is not None and _LEAD3.search(data, first.end(), failed_at) is not None


def sidecar(shp: Path, suffix: str) -> Path | None:
    """The file beside ``shp`` with the same stem and ``suffix`` (any case: .DBF, .dbf), if there is one."""
    return next((p for p in shp.parent.glob(glob.escape(shp.stem) + ".*") if p.suffix.lower() == suffix), None)


def dbf_encoding(shp: Path) -> tuple[str | None, str | None]:
    """The codec to read a shapefile's .dbf with, and what its .cpg says when its records do not bear that out
    (``records_encoding``); (None, None) without a .dbf."""
    dbf = sidecar(shp, ".dbf")
    if dbf is None:
        return None, None
    cpg = sidecar(shp, ".cpg")
    return records_encoding(dbf.read_bytes(), cpg.read_bytes() if cpg is not None else None, dbf.name)


def records_encoding(dbf: bytes, cpg: bytes | None, source: str) -> tuple[str, str | None]:
    """The codec of a .dbf's records: its .cpg's (``UTF-8``, ``ANSI 936`` ...), given to GDAL by name as it does
    not know every spelling, when the records bear it out (``cpg_holds``); else detected, UTF-8 or GB18030.
    Second, the .cpg's text when it was passed over. Only the records are decoded: the header is binary, and
    field names cut to 10 bytes often end mid-character."""
    records = dbf[int.from_bytes(dbf[8:10], "little"):]
    declared = cpg[:100].decode("latin-1").strip() if cpg is not None else None
    if declared is not None and cpg_holds(declared, records):
        return _cpg_codec(declared), None
    _, used = decode(records, encoding=None, source=source)
    return ("UTF-8" if used == "UTF-8" else "GB18030"), declared  # ``used`` is a label; GDAL wants a codec name


def cpg_holds(declared: str, records: bytes) -> bool:
    """Whether a .cpg's code page reads the records: one Python knows (``ANSI 936``, ``65001``, ``UTF-8``), that
    decodes them, and, when it is a one-byte page (``1252``, ``ANSI 1252``, as exports from a Western system
    write), whose records are not text in UTF-8 or GBK: any bytes decode in a one-byte page, so Chinese read in
    one would be silently garbled."""
    codec = _cpg_codec(declared)
    if codec is None:
        return False
    if records.isascii():
        return True
    try:
        records.decode(codec)
    except UnicodeDecodeError:
        return False
    if codec in _MULTIBYTE:
        return True
    for chinese in ("utf-8", "gb18030"):
        try:
            records.decode(chinese)
            return False
        except UnicodeDecodeError:
            pass
    return True


#: Codecs in which a text's bytes must follow rules, so that decoding is a test of the encoding.
_MULTIBYTE = {"utf-8", "gbk", "gb2312", "gb18030", "big5", "cp950", "euc_jp", "shift_jis", "euc_kr", "cp949"}


def _cpg_codec(declared: str) -> str | None:
    """The Python codec a .cpg names (``UTF-8``, ``ANSI 936``, ``936``, ``GBK``, ``1252``), or None."""
    name = re.sub(r"^(ANSI|CP|WINDOWS)[ _-]?", "", declared.strip().upper())
    if name.isdigit():
        name = {"65001": "utf-8", "936": "gbk", "54936": "gb18030", "950": "big5"}.get(name, f"cp{name}")
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL character in the name
        return None
