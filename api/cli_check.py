"""``ecozone check SITE``: read a site, check it against every layer and rule pack, and report the verdict.

The project options are made from the project model (``gis.rules.project.fact_specs``): every fact the rules
can ask about is an option, and its value goes through ``read_project`` like every other interface's.
"""

from __future__ import annotations

import inspect
import json
import typing
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli_options import StoreOption, open_cli_store
from gis.check import CheckResult, check_site, covered_area
from gis.errors import EcozoneError, InputError
from gis.presentation import check_lines, site_lines
from gis.rules.project import FactSpec, fact_specs, read_project
from gis.sites import Site, read_site

__all__ = ["check", "describe_check", "describe_site", "name_fact_option", "option_of", "read_fact_options",
           "with_fact_options"]


class Datum(str, Enum):
    """Datum of lon/lat copied from a web map."""

    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"


class Output(str, Enum):
    """How the answer is printed."""

    text = "text"
    json = "json"


def option_of(fact: str) -> str:
    """The option that gives a project fact (how the command line names a missing fact)."""
    if fact == "scope":
        return "--new / --existing"
    return "--" + fact.replace("_", "-")


def name_fact_option(error: EcozoneError, facts: dict[str, Any]) -> None:
    """Name in ``error``'s fix the option that gives its field, when that is one of the project ``facts``; a
    number given that cannot be read gets the option written out (``--coal-t 20``), as the officer retypes it."""
    if error.field not in facts:
        return
    option = option_of(error.field)
    spec = next((s for s in fact_specs() if s.name == error.field), None)
    if spec is not None and spec.kind == "number" and facts[error.field] is not None:
        unit_zh, unit_en = (f"（{spec.unit}）", f" in {spec.unit}") if spec.unit else ("", "")
        error.fix = (f"写成一个数字{unit_zh}，可带“万”和单位，如 {option} 20 / give one number{unit_en} (万 and a "
                     f"unit allowed), e.g. {option} 20")
    else:
        error.fix = f"{error.fix}（{option}）" if error.fix else option


def read_fact_options(facts: dict[str, Any]) -> dict[str, Any]:
    """The project options given, read by ``read_project`` as a check reads them, for a batch's facts of every row
    that lacks them: one that cannot be read is its ``FieldError`` before any row is screened, and a number is
    the number read (``1.2万吨`` -> 12000.0), as a screening's 筛查汇总 records it and a re-screening compares it."""
    given = {name: value for name, value in facts.items() if value is not None}
    project = read_project(given).project
    numbers = {spec.name for spec in fact_specs() if spec.kind == "number"}
    read = {name: getattr(project, name) if name in numbers else value for name, value in given.items()}
    return {name: value for name, value in read.items() if value is not None}


def describe_site(site: Site) -> str:
    """The site for a permit officer, Chinese first: plots, area, where the coordinates came from, changes."""
    return "\n".join(site_lines(site))


def describe_check(result: CheckResult) -> str:
    """The check for a permit officer: the verdict first, then each rule with its zone and source, then layers."""
    return "\n".join(check_lines(result, option_of))


def _fact_parameter(spec: FactSpec) -> inspect.Parameter:
    """A command-line option for one project fact."""
    about = spec.label_zh + (f"（{spec.unit}）" if spec.unit else "")
    if spec.name == "scope":
        annotation: Any = Annotated[bool | None, typer.Option(
            "--new/--existing", help=f"{about}: new (新、改、扩建) or existing; when omitted, checked as new and "
                                     "said so.")]
    elif spec.kind == "bool":
        flag = spec.name.replace("_", "-")
        annotation = Annotated[bool | None, typer.Option(f"--{flag}/--no-{flag}", help=f"{about}. {spec.description}")]
    elif spec.kind == "number":
        # text, read by ``read_project`` as a register's cell is (20, 1.2万吨, 30万千瓦), not by click as a float
        annotation = Annotated[str | None, typer.Option(
            option_of(spec.name), metavar="NUMBER",
            help=f"{about}. {spec.description} A number; 万 and a unit may follow (e.g. 20, 1.2万).")]
    else:
        choices = f" One of: {', '.join(spec.choices)} (Chinese words too)." if spec.choices else ""
        annotation = Annotated[str | None, typer.Option(option_of(spec.name),
                                                        help=f"{about}. {spec.description}{choices}")]
    return inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def _check(
    site: Annotated[str, typer.Argument(help="A file (国土 TXT, .csv, .xlsx, .shp, .gpkg, .geojson, .kml, .kmz) "
                                             "or coordinates, e.g. '87.6033,43.8011'.")],
    *,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date YYYY-MM-DD: layers and rules in force then.")] = None,
    buffers: Annotated[str, typer.Option(help="Proximity rings, km, comma-separated.")] = "1,5,10",
    tolerance_m: Annotated[float, typer.Option("--tolerance-m", help="Boundary-contact tolerance, m.")] = 0.5,
    store: StoreOption = None,
    site_only: Annotated[bool, typer.Option("--site-only", help="Only read and show the site.")] = False,
    crs: Annotated[str | None, typer.Option("--crs", help="CRS of the input, e.g. EPSG:4517.")] = None,
    gk_zone: Annotated[int | None, typer.Option("--gk-zone", help="Gauss-Krüger zone for Y without its zone "
                                                                  "number.")] = None,
    datum: Annotated[Datum, typer.Option("--datum", help="gcj02 for Amap/Tencent, bd09 for Baidu "
                                                         "coordinates.")] = Datum.wgs84,
    swap_xy: Annotated[bool, typer.Option("--swap-xy", help="Swap the two values of every vertex.")] = False,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding (detected when omitted).")] = None,
    output: Annotated[Output, typer.Option("--format", help="text for people, json for programs.")] = Output.text,
    report: Annotated[Path | None, typer.Option("--report", help="Also write the evidence report: FILE.pdf, "
                                                                 ".docx or .html (verify it with ecozone report "
                                                                 "verify FILE).")] = None,
    no_audit: Annotated[bool, typer.Option("--no-audit", help="Do not record this check in the audit trail "
                                                              "(also ECOZONE_AUDIT=0).")] = False,
    name: Annotated[str | None, typer.Option("--name", help="项目名称 / the project's name, as the report and the "
                                                            "audit trail give it.")] = None,
    **facts: Any,
) -> None:
    """Check a project site: the zones it touches, the verdict per rule with its source, and the site as read."""
    from api.cli import fail
    from api.cli_records import file_check, validate_report_path

    try:
        validate_report_path(report)
        result = None
        with open_cli_store(store) as opened:
            parsed = read_site(site, crs=crs, gk_zone=gk_zone, datum=datum.value, swap_xy=True if swap_xy else None,
                               encoding=encoding, coverage=covered_area(opened))
            if not site_only:
                rings = _parse_buffers(buffers)
                project = read_project({**facts, "name": name})
                result = check_site(parsed, project, store=opened, as_of=as_of, buffers_km=rings,
                                    tolerance_m=tolerance_m, shared_engine=False)  # one site, then the end
                file_check(result, opened, site, report=report, no_audit=no_audit)
    except EcozoneError as error:
        name_fact_option(error, facts)
        if output is Output.json:
            typer.echo(json.dumps({"error": error.to_dict()}, ensure_ascii=False, indent=2))
            raise typer.Exit(code=2) from None
        fail(error)
    if output is Output.json:
        body = {"site": parsed.model_dump(mode="json")} if result is None else result.model_dump(mode="json")
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        typer.echo(describe_site(parsed) if result is None else describe_check(result))


def with_fact_options(command):
    """``command`` (whose ``**facts`` take the project facts) with one option per project fact, as typer reads a
    command's options from its signature; ``--new/--existing`` arrives as scope ``new`` or ``existing``."""
    own = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)  # the annotations as objects, not strings
    parameters = [p.replace(annotation=hints[p.name]) for p in own.parameters.values()
                  if p.kind is not inspect.Parameter.VAR_KEYWORD]
    parameters += [_fact_parameter(spec) for spec in fact_specs()]

    def run(**options: Any) -> None:
        own_names = set(own.parameters)
        facts = {k: v for k, v in options.items() if k not in own_names}
        if facts.get("scope") is not None:
            facts["scope"] = "new" if facts["scope"] else "existing"
        command(**{k: v for k, v in options.items() if k in own_names}, **facts)

    run.__doc__ = command.__doc__
    run.__name__ = command.__name__.lstrip("_")
    run.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run


#: The ``ecozone check`` command.
check = with_fact_options(_check)


def _parse_buffers(text: str) -> tuple[float, ...]:
    try:
        rings = tuple(sorted(float(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise InputError("缓冲距离应为以逗号分隔的千米数 / buffer rings must be numbers in km", field="--buffers",
                         value=text, fix="例如 / e.g. --buffers 1,5,10") from None
    if not rings or rings[0] <= 0:
        raise InputError("缓冲距离应为正数（千米） / buffer rings must be positive distances in km",
                         field="--buffers", value=text, fix="例如 / e.g. --buffers 1,5,10")
    return rings
