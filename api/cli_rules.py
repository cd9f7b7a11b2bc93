"""``ecozone rules``: the rule packs, and how they cover the rules of the source documents."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from api.cli_options import check_format
from gis.errors import EcozoneError

app = typer.Typer(help="Rule packs: list them, and account for every rule of the source documents.",
                  invoke_without_command=True)

FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]

# In a pipe rich assumes 80 columns; tables of Chinese text need more to stay readable.
console = Console(width=None if sys.stdout.isatty() else 200)

STATUS_LABELS = {"encoded": "已编码", "missing": "未编码", "not_encodable": "无判据"}


def _fail(error: EcozoneError) -> None:
    from api.cli import fail

    fail(error)


def pack_rows() -> list[dict]:
    """One row per shipped rule pack: id, jurisdiction, version, rule count, title."""
    from gis.rules import default_rule_packs

    return [{"id": p.id, "jurisdiction": p.jurisdiction, "version": p.version, "rules": len(p.rules),
             "title": p.title} for p in default_rule_packs()]


@app.callback()
def rules(ctx: typer.Context, output: FormatOption = "text") -> None:
    """List the rule packs with their jurisdiction, version and number of rules."""
    if ctx.invoked_subcommand is not None:
        return
    check_format(output)
    try:
        rows = pack_rows()
    except EcozoneError as error:
        _fail(error)
    if output == "json":
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="规则包 / rule packs")
    for header in ("id", "管辖 jurisdiction", "版本 version", "规则数 rules", "名称 title"):
        table.add_column(header)
    for row in rows:
        table.add_row(row["id"], row["jurisdiction"], row["version"], str(row["rules"]), row["title"])
    console.print(table)


@app.command()
def coverage(
    output: FormatOption = "text",
    status: Annotated[Optional[str], typer.Option(help="Only ids of this status: encoded, missing or "
                                                       "not_encodable.")] = None,
) -> None:
    """Every rule id of the source documents (DOMAIN.md §2): encoded (by which pack rules), missing, or
    without a siting or project test (and why), with the totals."""
    check_format(output)
    if status is not None and status not in STATUS_LABELS:
        raise typer.BadParameter(f"'{status}' is not a status; use {', '.join(STATUS_LABELS)}",
                                 param_hint="--status")
    from gis.rules import RULES_DIR, default_rule_packs
    from gis.rules.coverage import COVERAGE_FILE, coverage_report

    try:
        report = coverage_report(default_rule_packs(), RULES_DIR / COVERAGE_FILE)
    except EcozoneError as error:
        _fail(error)
    entries = [e for e in report.entries if status is None or e.status == status]
    if output == "json":
        body = report.model_dump(mode="json")
        body["entries"] = [e.model_dump(mode="json") for e in entries]
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    table = Table(title="规则覆盖 / rule coverage (DOMAIN.md §2)")
    for header in ("id", "来源 doc", "状态 status", "规则 rules", "原因或说明 reason / note"):
        table.add_column(header)
    for e in entries:
        table.add_row(e.id, ",".join(e.doc), STATUS_LABELS[e.status], " ".join(e.rules),
                      e.reason or e.note or "")
    console.print(table)
    for name, totals in [("合计 all", report.totals), *report.by_region.items()]:
        share = f"{totals.share_encoded:.1%}" if totals.share_encoded is not None else "—"
        console.print(f"{name}: {totals.ids} 条 ids — 已编码 encoded {totals.encoded}, 未编码 missing "
                      f"{totals.missing}, 无判据 not encodable {totals.not_encodable}; 有判据者已编码 "
                      f"encoded of those with a test: {share}")
