"""What the interfaces file for a check besides its answer: the evidence report and the audit record.

``ecozone check`` and ``POST /check`` share it: the evidence is made once (``gis.evidence``), the report is
drawn from it (``gis.report`` with ``maps.picture``'s offline map), and the check is recorded in the audit
trail (``gis.audit``) under the key's name. Keys are configured as ``name:secret`` (a bare secret is named by
a short digest of it), so that a record names who checked without ever holding a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gis.check import CheckResult
from gis.evidence import Evidence, InputRecord, input_record
from gis.store import Store

__all__ = ["data_home", "default_audit_db", "parse_key", "key_name", "site_input", "report_bytes", "AUDIT_ENV",
           "AUDIT_DB_ENV", "AUDIT_KEY_FILE_ENV"]

#: Environment variables that turn the audit trail off (0, false, no, off), move its file, and name the file of
#: its key (records signed with HMAC-SHA256; the file kept away from the database).
AUDIT_ENV, AUDIT_DB_ENV, AUDIT_KEY_FILE_ENV = "ECOZONE_AUDIT", "ECOZONE_AUDIT_DB", "ECOZONE_AUDIT_KEY_FILE"

_NAME = re.compile(r"[\w.\-]{1,64}")


def data_home() -> Path:
    """Where per-user data lives (XDG): the audit trail and the batch jobs, whatever folder a command runs in."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_audit_db() -> Path:
    """The audit trail's file: ``$XDG_DATA_HOME/ecozone/audit.sqlite``."""
    return data_home() / "ecozone" / "audit.sqlite"


def parse_key(entry: str) -> tuple[str, str]:
    """(name, secret) of a configured key: ``name:secret``, or a bare secret named ``key-`` + 8 hex digits of
    its SHA-256 (too few to guess the secret from, enough to tell keys apart)."""
    name, colon, secret = entry.partition(":")
    if colon and secret and _NAME.fullmatch(name):
        return name, secret
    return "key-" + hashlib.sha256(entry.encode()).hexdigest()[:8], entry


def key_name(key: str | None, names: Mapping[str, str]) -> str | None:
    """The name of the configured key sent (``names``: secret -> name), compared in constant time; None
    when no key or an unknown one was sent."""
    if not key:
        return None
    for secret, name in names.items():
        if hmac.compare_digest(key.encode(), secret.encode()):
            return name
    return None


def site_input(site: str | dict[str, Any] | Path | None, file: Path | None = None) -> InputRecord:
    """The record of a check's input: an uploaded or named file's bytes, else the site's text (a GeoJSON
    object as JSON with sorted keys)."""
    if file is not None:
        return input_record(file.read_bytes(), file.name)
    if isinstance(site, dict):
        return input_record(json.dumps(site, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    return input_record(str(site or ""))


def report_bytes(result: CheckResult, store: Store, evidence: Evidence, fmt: str) -> bytes:
    """The report of a check in ``fmt`` (pdf, docx, html), with the offline map picture."""
    from gis.report import render_report
    from maps.picture import check_picture
    from maps.style import VERDICT_COLORS

    return render_report(result, evidence, fmt, picture=check_picture(result, store), colors=VERDICT_COLORS)
