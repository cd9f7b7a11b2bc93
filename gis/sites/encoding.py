"""Decoding text files that come as UTF-8 (with or without BOM) or GBK/GB18030, the two habits in China."""

from __future__ import annotations

import glob
import re
from pathlib import Path

from gis.errors import FormatError

__all__ = ["dbf_encoding", "decode", "sidecar"]

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
            return data.decode(name), _LABELS.get(name, name.upper())
        except LookupError:
            raise FormatError(
                f"无法识别的文本编码 {name!r} / unknown text encoding {name!r}", source=source, field="encoding", value=name,
                fix="使用 utf-8、gbk 或 gb18030 之一 / use one of utf-8, gbk, gb18030",
            ) from None
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


def dbf_encoding(shp: Path) -> str | None:
    """The codec of a shapefile's .dbf that has no .cpg, detected from its records (UTF-8 or GB18030).

    None when there is a .cpg (GDAL reads it) or no .dbf. Only the records are decoded: the header is
    binary, and field names cut to 10 bytes often end mid-character.
    """
    dbf = sidecar(shp, ".dbf")
    if sidecar(shp, ".cpg") is not None or dbf is None:
        return None
    data = dbf.read_bytes()
    _, used = decode(data[int.from_bytes(data[8:10], "little"):], encoding=None, source=dbf.name)
    return "UTF-8" if used == "UTF-8" else "GB18030"  # ``used`` is a label; GDAL wants a codec name
