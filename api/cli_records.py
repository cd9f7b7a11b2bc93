"""``ecozone report verify`` and ``ecozone audit``: the records a check leaves, and re-running them.

``ecozone check --report FILE`` writes the evidence report and every check is recorded in the audit trail
(``$XDG_DATA_HOME/ecozone/audit.sqlite``; ``ECOZONE_AUDIT=0`` or ``--no-audit`` turns that off,
``ECOZONE_AUDIT_DB`` moves it). These commands read them back: ``report verify`` re-runs the check a report
holds and says whether its result digest is the same; ``audit`` lists the records, ``audit verify`` walks the
chain, ``audit replay ID`` re-runs a recorded check, ``audit keygen FILE`` makes an audit key (records signed with
it when ``ECOZONE_AUDIT_KEY_FILE`` names its file), ``audit sign`` signs a trail written without one.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from api.cli_options import StoreOption, open_cli_store
from gis.audit import AuditTrail, read_key_file, write_key_file
from gis.check import CheckResult
from gis.errors import EcozoneError, InputError
from gis.evidence import LEGACY_FORMAT, Verification, evidence_of
from gis.store import Store

__all__ = ["report_app", "audit_app", "file_check", "cli_trail", "validate_report_path"]

report_app = typer.Typer(help="Evidence reports: check that a report still holds.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail: every check, batch and import, append-only.",
                        invoke_without_command=True)

_KEY_FILE = typer.Option("--key-file", help="The audit key's file (default $ECOZONE_AUDIT_KEY_FILE): every "
                                           "record's signature is verified with it.")
_DB = typer.Option("--db", help="The audit trail's file (default $ECOZONE_AUDIT_DB, else "
                                "$XDG_DATA_HOME/ecozone/audit.sqlite).")


class Output(str, Enum):
    """How the answer is printed."""

    text = "text"
    json = "json"


def _audit_on(no_audit: bool) -> bool:
    return not no_audit and os.environ.get("ECOZONE_AUDIT", "1").strip().lower() not in {"0", "false", "no", "off"}


def cli_trail(db: Path | None = None, key_file: Path | None = None) -> AuditTrail:
    """The command line's audit trail: ``--db``, else ``$ECOZONE_AUDIT_DB``, else the user's data folder; with
    the key in ``key_file``, else in ``$ECOZONE_AUDIT_KEY_FILE``, else none."""
    from api.filing import AUDIT_DB_ENV, AUDIT_KEY_FILE_ENV, default_audit_db

    key_file = key_file or os.environ.get(AUDIT_KEY_FILE_ENV) or None
    return AuditTrail(db or os.environ.get(AUDIT_DB_ENV) or default_audit_db(),
                      read_key_file(key_file) if key_file else None)


def validate_report_path(report: Path | None) -> None:
    """Refuse a report name of another format before the check runs."""
    if report is not None:
        from gis.report import report_format

        report_format(report)


def file_check(result: CheckResult, store: Store, site: str, *, report: Path | None, no_audit: bool) -> None:
    """After ``ecozone check``: record the check unless auditing is off, then write the report: a report is
    never left for a check the trail refused to record."""
    audit = _audit_on(no_audit)
    if report is None and not audit:
        return
    from api.filing import report_bytes, site_input
    from gis.report import report_format
    from gis.sites import site_file

    evidence = evidence_of(result, store, site_input(site, site_file(site)))
    content = report_bytes(result, store, evidence, report_format(report)) if report is not None else None
    if audit:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no login name (a container without a passwd entry)
            user = str(os.getuid())
        try:
            cli_trail().record_check(evidence, "cli", key_name=f"user:{user}")
        except EcozoneError as error:
            error.fix = f"{error.fix}；或关闭审计：--no-audit 或 ECOZONE_AUDIT=0" if error.fix else "--no-audit"
            if report is not None:
                error.message += "；报告未写入 / the report was not written"
            raise
    if report is not None:
        try:
            report.write_bytes(content)
        except OSError as error:
            raise InputError(f"报告无法写入 / the report cannot be written: {error.strerror}", field="--report",
                             value=str(report), fix="选择一个存在且可写的文件夹 / choose a folder that exists and is "
                                                    "writable") from None
        typer.echo(f"报告已写入 / report written: {report}", err=True)


def _print_verification(verification: Verification, output: Output) -> None:
    if output is Output.json:
        body = verification.model_dump(mode="json", exclude={"replayed"})
        body["headline"] = verification.replayed.outcome.headline
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
    elif verification.same:
        typer.echo(f"结果一致 / the result still holds: 结果摘要 {verification.recorded_sha256}")
        typer.echo(f"结论：{verification.replayed.outcome.headline}")
    elif verification.text_changes:
        # Format 1's digest leaves out the zones' names: a store changed after import shows here too.
        legacy = verification.replayed.format == LEGACY_FORMAT
        typer.echo("报告文字与其核验数据不符：报告在写出后被改动" + ("，或图层库中区域的名称被改动" if legacy else "")
                   + " / the report's text is not what its evidence gives: the report was changed after it was "
                   "written" + (", or the store's zone names were changed" if legacy else "") + ":")
        for line in verification.text_changes:
            typer.echo(f"  - {line}")
        typer.echo(f"按核验数据重新核查的结论 / the verdict its evidence gives: {verification.replayed.outcome.headline}")
    else:
        typer.echo("结果已变化 / the result changed:")
        typer.echo(f"  记录的结果摘要 / recorded: {verification.recorded_sha256}")
        typer.echo(f"  重新核查的摘要 / replayed: {verification.replayed_sha256}")
        for line in verification.changes:
            typer.echo(f"  - {line}")


@report_app.command("verify")
def verify_command(
    file: Annotated[Path, typer.Argument(help="A report written by ecozone check --report (PDF, .docx, HTML).")],
    store: StoreOption = None,
    output: Annotated[Output, typer.Option("--format", help="text for people, json for programs.")] = Output.text,
) -> None:
    """Re-run the check a report holds (its site, facts, date and options) and compare the result digest,
    then make the report again and compare its text with the file's.

    Exit status 0: the same result, and the report says it; 1: the result changed, or the report's text is
    not what its evidence gives (listed); 2: the report or store cannot be read."""
    from api.cli import fail
    from api.filing import report_bytes
    from gis.report import verify_report

    try:
        data = file.read_bytes()
    except OSError as error:
        fail(InputError(f"报告无法读取 / cannot read the report: {error.strerror}", field="file", value=str(file)))
    try:
        with open_cli_store(store) as opened:
            verification = verify_report(data, opened, source=file.name, render=report_bytes)
    except EcozoneError as error:
        fail(error)
    _print_verification(verification, output)
    raise typer.Exit(code=0 if verification.same else 1)


@audit_app.callback()
def audit_list(
    context: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="Records from this date (YYYY-MM-DD, UTC) on.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only check, batch, batch_result or import.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many (the newest).")] = 100,
    output: Annotated[Output, typer.Option("--format", help="text for people, json for programs.")] = Output.text,
    db: Annotated[Path | None, _DB] = None,
) -> None:
    """List the audit records, oldest first: when, what, through which interface, which key, the verdict."""
    if context.invoked_subcommand is not None:
        context.obj = db
        return
    from api.cli import fail

    try:
        day = dt.date.fromisoformat(since) if since else None
    except ValueError:
        fail(InputError("日期应写作 YYYY-MM-DD / a date is written YYYY-MM-DD", field="--since", value=since))
    try:
        records = cli_trail(db).records(day, action=action, limit=limit)
    except EcozoneError as error:
        fail(error)
    if output is Output.json:
        typer.echo(json.dumps([r.model_dump(mode="json", exclude={"details"}) | {"details": _brief(r.details)}
                               for r in records], ensure_ascii=False, indent=2))
        return
    if not records:
        typer.echo("没有审计记录 / no audit records")
    for record in records:
        who = record.key_name or "（无密钥）"
        typer.echo(f"#{record.id} {record.at[:19]}Z {record.action} {record.interface} {who} — "
                   f"{record.verdict or ''} 输入 {(record.input_sha256 or '')[:12]} 结果 {(record.result_sha256 or '')[:12]}")


def _brief(details: dict) -> dict:
    """A record's details without the site's geometry (kept in the file, long to print)."""
    if "site" in details:
        site = details["site"]
        return {**details, "site": {"name": site.get("name"), "source": site.get("source"),
                                    "type": site.get("geometry", {}).get("type")}}
    return details


@audit_app.command("verify")
def audit_verify(
    context: typer.Context,
    key_file: Annotated[Path | None, _KEY_FILE] = None,
    kept: Annotated[str | None, typer.Option(
        "--kept", help="A digest kept elsewhere from an earlier verify (its 最新摘要, or 16 hex digits of it at "
                       "least): it must still be in the trail. Reveals the newest records removed, and an unsigned "
                       "trail rewritten, which the chain alone does not.")] = None,
    output: Annotated[Output, typer.Option("--format", help="text for people, json for programs.")] = Output.text,
) -> None:
    """Walk the chain of digests from the first record: intact, or the first record changed or missing. With
    the audit key every record must be signed with it (a record without its signature is a break). Keep the
    latest digest it shows somewhere else (a filed report, a register) and give it later with --kept.

    Exit status 0: intact; 1: broken, the kept digest gone, or no record signed with the key given; 2: signed
    records and no key or another key given (or no trail)."""
    from api.cli import fail

    try:
        chain = cli_trail(context.obj, key_file).verify(kept)
    except EcozoneError as error:
        fail(error)
    code = 0 if chain.intact else 2 if chain.unverified_from is not None else 1
    if output is Output.json:
        typer.echo(json.dumps(chain.model_dump(), ensure_ascii=False, indent=2))
        raise typer.Exit(code=code)
    if chain.intact:
        signed = (f"，每条记录均以密钥 {chain.key_id} 签名并已核验 / every record signed with key id {chain.key_id} and "
                  "verified" if chain.signed else "")
        typer.echo(f"审计记录完整 / the chain is intact: {chain.records} 条记录，最新摘要 {chain.last_digest}{signed}")
        if chain.kept_at is not None:
            typer.echo(f"记下的摘要为第 {chain.kept_at} 条记录的摘要，仍在记录中 / the digest kept is record "
                       f"#{chain.kept_at}'s, still in the trail")
        if chain.note:
            typer.echo(f"注意 / note: {chain.note}")
        return
    if chain.unverified_from is not None:
        typer.echo(f"审计记录无法核验 / the chain cannot be verified: {chain.reason}")
        typer.echo("  给出密钥：--key-file 文件 或 ECOZONE_AUDIT_KEY_FILE / give the key: --key-file FILE or "
                   "ECOZONE_AUDIT_KEY_FILE")
        raise typer.Exit(code=code)
    where = (f"第 {chain.broken_at} 条记录处 / at record #{chain.broken_at}" if chain.broken_at is not None
             else "记下的摘要 / the digest kept")
    typer.echo(f"审计记录被改动 / the chain is broken, {where}: {chain.reason}")
    raise typer.Exit(code=code)


@audit_app.command("sign")
def audit_sign(context: typer.Context, key_file: Annotated[Path | None, _KEY_FILE] = None) -> None:
    """Sign a trail written without an audit key, once: its chain is verified, then every record signed with
    the key (from then on every writer needs the key). Only for a trail never signed: if 'audit verify
    --key-file' says no record is signed with a key that was in use, the signatures were removed: do not sign.

    Exit status 0: signed (or already signed with this key); 2: no key, a broken chain, or a trail partly
    signed or signed with another key."""
    from api.cli import fail

    try:
        trail = cli_trail(context.obj, key_file)
        if trail.key_id is None:
            fail(InputError("签名需要审计密钥 / signing needs the audit key", field="key_file",
                            fix="--key-file 文件 或 ECOZONE_AUDIT_KEY_FILE / --key-file FILE or ECOZONE_AUDIT_KEY_FILE"))
        signed = trail.sign()
    except EcozoneError as error:
        fail(error)
    if signed:
        typer.echo(f"已以密钥 {trail.key_id} 签名 {signed} 条记录 / {signed} records signed with key id {trail.key_id}")
    else:
        typer.echo(f"没有待签名的记录 / nothing to sign: every record is signed with key id {trail.key_id}")


@audit_app.command("keygen")
def audit_keygen(
    path: Annotated[Path, typer.Argument(help="The new key's file (never overwritten); keep it away from the "
                                              "audit trail's database.")],
) -> None:
    """Make an audit key: 32 random bytes in a new file only its owner may read (0600). Point
    ECOZONE_AUDIT_KEY_FILE at it: new records are then signed with it (HMAC-SHA256).

    Exit status 0: written; 2: the file exists or cannot be written."""
    from api.cli import fail

    try:
        identifier = write_key_file(path)
    except EcozoneError as error:
        fail(error)
    typer.echo(f"审计密钥已写入 / audit key written: {path}（密钥编号 / key id {identifier}）")


@audit_app.command("replay")
def audit_replay(
    context: typer.Context,
    record_id: Annotated[int, typer.Argument(help="The record's number (ecozone audit lists them).")],
    store: StoreOption = None,
    output: Annotated[Output, typer.Option("--format", help="text for people, json for programs.")] = Output.text,
) -> None:
    """Re-run a recorded check on the store (default the embedded dataset) and say what changed.

    Exit status 0: the same result; 1: something changed (listed)."""
    from api.cli import fail

    try:
        with open_cli_store(store) as opened:
            verification = cli_trail(context.obj).replay(record_id, opened)
    except EcozoneError as error:
        fail(error)
    _print_verification(verification, output)
    raise typer.Exit(code=0 if verification.same else 1)
