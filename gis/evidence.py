"""The evidence of a check: what went in, what it was checked against, and a digest of what came out.

A report carries it machine-readably and the audit trail keeps it for every check: the site as read, the
project's facts and the options (enough to re-run the check without the input file), the layer versions with
their SHA-256, the rule packs with a digest of each file, the ecozone version and the input's SHA-256. The
result digest is a SHA-256 over the result in a canonical form; re-running the check (``verify``) and
comparing digests shows whether the conclusion still holds, and ``changes`` says what differs when it does not.

The layout is versioned (``Evidence.format``): evidence of format 1 predates the digest covering what the
decision shows of each zone (its name, subtype, geometry source, the access-list items of a control unit),
which a store changed after import could alter unseen; it is still verified with the digest it was made with.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import math
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, Field, ValidationError

from gis.check import CheckResult, check_site
from gis.errors import FormatError
from gis.kinds import KINDS
from gis.presentation import headline
from gis.results import Relation
from gis.rules import default_rule_packs
from gis.rules.model import VERDICT_LABELS, RulePack
from gis.rules.project import ProjectFacts
from gis.sites import Site
from gis.store import Store, is_postgres_url

__all__ = ["FORMAT", "Evidence", "InputRecord", "CheckOptions", "LayerProvenance", "PackProvenance", "Outcome",
           "Verification", "ecozone_version", "evidence_of", "input_record", "result_digest", "store_name",
           "sha256_of", "replay", "verify", "compare", "changes", "load_evidence", "LEGACY_FORMAT"]

#: What the embedded evidence is, so that a reader knows the layout it holds and how its digest was made.
FORMAT = "ecozone-evidence/2"
#: Evidence whose result digest leaves out the zones' names and texts (reports and records made before /2).
LEGACY_FORMAT = "ecozone-evidence/1"


class InputRecord(BaseModel):
    """The input as given: the file's name (None for text) and the SHA-256 of its bytes (of the text, UTF-8)."""

    name: str | None = None
    kind: Literal["file", "text"]
    sha256: str


class CheckOptions(BaseModel):
    """What the check measured: the date whose layers and rules applied, the rings, the contact tolerance."""

    as_of: dt.date
    buffers_km: list[float]
    tolerance_m: float


class LayerProvenance(BaseModel):
    """One layer version a check used, with the digest of its stored features."""

    kind: str
    label_zh: str
    version: int
    effective_from: str
    feature_count: int
    source: str
    content_sha256: str


class PackProvenance(BaseModel):
    """One rule pack a check applied: its version and the SHA-256 of its file."""

    id: str
    title: str
    version: str
    file: str | None = None
    sha256: str | None = None


class Outcome(BaseModel):
    """What the check concluded, in a form small enough to keep with every audit record and to compare."""

    verdict: str
    verdict_label: str
    headline: str
    rules: dict[str, str] = Field(description="Rule id -> verdict, for the rules that apply, need review or "
                                              "could not be checked.")
    zones: dict[str, list[str]] = Field(description="Layer kind -> the zones the site meets (name and relation).")
    zone_names: dict[str, str] = Field(default_factory=dict, description="Zone id -> name, for every zone the "
                                       "result names (met or near); empty in evidence of format 1.")


class Evidence(BaseModel):
    """Everything needed to re-run a check and show its result still holds."""

    format: Literal["ecozone-evidence/1", "ecozone-evidence/2"] = FORMAT
    ecozone_version: str
    created_at: str = Field(description="When the check ran, UTC ISO 8601.")
    input: InputRecord
    site: Site
    project: ProjectFacts
    options: CheckOptions
    store: str = Field(description="The store's name (a file name or a database name, never a path or a host).")
    layers: list[LayerProvenance]
    rule_packs: list[PackProvenance]
    outcome: Outcome
    result_sha256: str


class Verification(BaseModel):
    """A check re-run from its evidence: whether the result digest is the same, and what changed if not."""

    same: bool = Field(description="The result digest is the same and, for a report, the report's text is what "
                                   "its evidence gives.")
    recorded_sha256: str
    replayed_sha256: str
    changes: list[str] = Field(description="What differs in the result (verdict, rules, zones, versions).")
    text_changes: list[str] = Field(default_factory=list, description="Where a report's visible text differs from "
                                    "the report made again from its evidence.")
    replayed: Evidence


@functools.cache
def ecozone_version() -> str:
    """The installed ecozone's version."""
    try:
        return importlib.metadata.version("ecozone")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def sha256_of(data: bytes | str) -> str:
    """SHA-256 of bytes, or of text as UTF-8."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def input_record(data: bytes | str, name: str | None = None) -> InputRecord:
    """The input's record: a file's bytes with its name, or the text given (coordinates, WKT, GeoJSON)."""
    return InputRecord(name=name, kind="file" if isinstance(data, bytes) else "text", sha256=sha256_of(data))


def store_name(store: Store) -> str:
    """How a report names the store: the GeoPackage's file name, or the PostgreSQL database and schema; never
    a server path, a host or a password."""
    if is_postgres_url(store.location):
        parts = urlsplit(store.location)
        schema = parse_qs(parts.query).get("schema", ["ecozone"])[0]
        return f"PostgreSQL {parts.path.lstrip('/') or 'postgres'}（schema {schema}）"
    return Path(store.location).name


def _rounded(value: Any) -> Any:
    """JSON data with every float to 9 significant digits (``_r``)."""
    kind = type(value)  # by type, not isinstance: a digest walks about a thousand values per check
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return float(f"{value:.9g}") if math.isfinite(value) else str(value)
    if kind is dict:
        return {key: _rounded(item) for key, item in value.items()}
    return [_rounded(item) for item in value]


def _r(value: float | None) -> float | None:
    """A measure to 9 significant digits, so that a digest is the same on any machine: the last bits of a
    floating-point sum may differ between builds of a library."""
    return None if value is None else float(f"{value:.9g}")


def result_digest(result: CheckResult, layers: list[LayerProvenance], packs: list[PackProvenance],
                  format: str = FORMAT) -> str:
    """SHA-256 of what the result says: the site's geometry, the project, the verdict, every rule with its
    verdict, zones, quantities and reasons, every layer's status and measures, the digests of the layer
    versions and rule-pack files it comes from, and (from format 2) what the result shows of each zone as
    read from the store: the layer versions' digests are those recorded at import, which a store changed
    since does not alter. Not the store's location, which differs between copies of a store. Built field by
    field: a check answers in milliseconds, and so must its digest."""
    overlap, rules = result.overlap, result.rules
    content = {
        "as_of": result.as_of.isoformat(), "site": _rounded(result.site.geometry),
        "project": result.project.model_dump(mode="json"), "notices": result.project_notices,
        "verdict": [result.verdict.value, result.verdict_label, rules.uncovered_layers],
        "rules": [[group, hit.rule_id, hit.pack, hit.verdict.value, hit.rule_verdict.value, hit.reasons,
                   hit.missing_facts, hit.deadline_passed,
                   [[zone.zone_id, zone.relation, _r(zone.distance_m)] for zone in hit.zones],
                   [[quantity.name, _r(quantity.value), quantity.formula] for quantity in hit.quantities]]
                  for group, hits in (("hits", rules.hits), ("possible", rules.possible), ("unchecked", rules.unchecked))
                  for hit in hits],
        "measure": [overlap.site_type, _r(overlap.site_area_m2), _r(overlap.site_length_m),
                    [_r(km) for km in overlap.buffers_km], _r(overlap.search_km), _r(overlap.tolerance_m)],
        "layers": [[layer.kind, layer.version, layer.status, layer.reason, _r(layer.covered_pct), _r(layer.search_km),
                    _r(layer.overlap_m2), _r(layer.overlap_pct), _r(layer.overlap_length_m),
                    [[hit.zone_id, hit.relation.value, _r(hit.distance_m), _r(hit.overlap_m2), _r(hit.overlap_pct),
                      _r(hit.overlap_length_m), _r(hit.ring_km)] for hit in layer.hits]]
                   for layer in overlap.layers],
        "layer_versions": {layer.kind: layer.content_sha256 for layer in layers},
        "rule_packs": {pack.id: [pack.version, pack.sha256] for pack in packs},
    }
    if format != LEGACY_FORMAT:
        every = [*rules.hits, *rules.possible, *rules.unchecked]
        content["shown"] = [
            [[hit.zone_id, hit.name, hit.subtype, hit.geometry_source] for layer in overlap.layers for hit in layer.hits],
            [[zone.zone_id, zone.kind, zone.name] for hit in every for zone in hit.zones],
            [[item.unit_id, item.unit_name, item.unit_code, item.unit_type, item.part, item.code, item.text]
             for hit in every for item in hit.access_items],
        ]
    return sha256_of(json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")))


@functools.cache
def _file_sha256(path: str) -> str | None:
    """A rule pack file's digest, once per process (packs are loaded once per process too)."""
    try:
        return sha256_of(Path(path).read_bytes())
    except OSError:
        return None


def _pack_provenance(pack: RulePack) -> PackProvenance:
    return PackProvenance(id=pack.id, title=pack.title, version=pack.version,
                          file=Path(pack.path).name if pack.path else None,
                          sha256=_file_sha256(pack.path) if pack.path else None)


def _layer_provenance(result: CheckResult, store: Store) -> list[LayerProvenance]:
    """The versions the check used (by number, so that an import since then is not mistaken for them)."""
    known = {(v.kind, v.version): v for v in store.versions()}
    layers = []
    for kind, number in result.overlap.versions.items():
        version = known[(kind, number)]
        layers.append(LayerProvenance(kind=kind, label_zh=KINDS[kind].label_zh, version=number,
                                      effective_from=version.effective_from, feature_count=version.feature_count,
                                      source=version.source, content_sha256=version.content_sha256))
    return layers


def _outcome(result: CheckResult) -> Outcome:
    rules = {hit.rule_id: hit.verdict.value for hit in [*result.rules.hits, *result.rules.unchecked]}
    zones = {layer.kind: [f"{hit.name}（{hit.relation_zh}）" for hit in layer.hits if hit.relation is not Relation.NEAR]
             for layer in result.overlap.layers}
    named = {hit.zone_id: hit.name for layer in result.overlap.layers for hit in layer.hits}
    named |= {zone.zone_id: zone.name for hit in [*result.rules.hits, *result.rules.unchecked] for zone in hit.zones}
    return Outcome(verdict=result.verdict.value, verdict_label=result.verdict_label, headline=headline(result),
                   rules=rules, zones={kind: names for kind, names in zones.items() if names}, zone_names=named)


def evidence_of(result: CheckResult, store: Store, input: InputRecord, *, packs: list[RulePack] | None = None,
                created_at: str | None = None, format: str = FORMAT) -> Evidence:
    """The evidence of a check run on ``store`` (the store it was run on, still open), its digest made as
    ``format`` asks (an older format's when a check of that format is re-run)."""
    packs = default_rule_packs() if packs is None else packs
    layers = _layer_provenance(result, store)
    used = [_pack_provenance(pack) for pack in packs if pack.id in result.rule_packs]
    return Evidence(
        format=format, ecozone_version=ecozone_version(),
        created_at=created_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        input=input, site=result.site,
        project=ProjectFacts(project=result.project, notices=result.project_notices),
        options=CheckOptions(as_of=result.as_of, buffers_km=result.overlap.buffers_km,
                             tolerance_m=result.overlap.tolerance_m),
        store=store_name(store), layers=layers,
        rule_packs=used, outcome=_outcome(result), result_sha256=result_digest(result, layers, used, format),
    )


def replay(evidence: Evidence, store: Store, packs: list[RulePack] | None = None) -> tuple[CheckResult, Evidence]:
    """Re-run the check of ``evidence`` on ``store``: the same site, facts, date, rings and tolerance, its
    digest made as the recorded one was."""
    options = evidence.options
    result = check_site(evidence.site, evidence.project, store=store, as_of=options.as_of,
                        buffers_km=tuple(options.buffers_km), tolerance_m=options.tolerance_m, packs=packs)
    return result, evidence_of(result, store, evidence.input, packs=packs, format=evidence.format)


def verify(evidence: Evidence, store: Store, packs: list[RulePack] | None = None) -> Verification:
    """Re-run the check and compare: the same result digest, or what changed."""
    return compare(evidence, replay(evidence, store, packs)[1])


def compare(recorded: Evidence, replayed: Evidence) -> Verification:
    """A recorded check against its re-run: the same result digest, or what changed."""
    same = replayed.result_sha256 == recorded.result_sha256
    return Verification(same=same, recorded_sha256=recorded.result_sha256, replayed_sha256=replayed.result_sha256,
                        changes=[] if same else changes(recorded, replayed), replayed=replayed)


def load_evidence(data: str | dict[str, Any], **where: Any) -> Evidence:
    """Evidence read back (a report's JSON text, an audit record's details); a ``FormatError`` at ``where``
    (``source``, ``field``, ``value``) naming the damaged fields when it is not what ecozone writes. Pydantic's
    own text would show the input and end in a URL, cut off mid-way in a message."""
    try:
        return Evidence.model_validate_json(data) if isinstance(data, str) else Evidence.model_validate(data)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        fields = list(dict.fromkeys(".".join(map(str, problem["loc"])) or "JSON" for problem in problems))
        said = "; ".join(f"{'.'.join(map(str, p['loc'])) or 'JSON'}: {p['msg']}" for p in problems[:3])
        raise FormatError(f"核验数据已损坏（字段 {'、'.join(fields[:5])}{' 等' if len(fields) > 5 else ''}） / the embedded "
                          f"evidence is damaged: {said}", fix="使用 ecozone 写出的原文件，不要改动 / use the file as "
                          "ecozone wrote it", **where) from None


def changes(old: Evidence, new: Evidence) -> list[str]:
    """What differs between a recorded check and its re-run, Chinese first: the verdict, the rules (added,
    removed, with another verdict), the zones met, the layer versions, the rule packs, the ecozone version."""
    lines = []
    if old.outcome.headline != new.outcome.headline:
        lines.append(f"结论变化 / verdict: {old.outcome.headline} → {new.outcome.headline}")
    lines += _rule_changes(old.outcome.rules, new.outcome.rules)
    renamed = {zone: (old.outcome.zone_names[zone], name) for zone, name in new.outcome.zone_names.items()
               if old.outcome.zone_names.get(zone, name) != name}
    lines += [f"区域名称变化 / zone renamed: {zone}「{before}」→「{after}」" for zone, (before, after) in renamed.items()]
    new_names = dict(renamed.values())  # a renamed zone is said once, above, not also as a zone gone and one met
    for kind in dict.fromkeys([*old.outcome.zones, *new.outcome.zones]):
        before = [_renamed(zone, new_names) for zone in old.outcome.zones.get(kind, [])]
        after = new.outcome.zones.get(kind, [])
        label = KINDS[kind].label_zh if kind in KINDS else kind
        lines += [f"新增涉及区域 / zone met: {label} {zone}" for zone in after if zone not in before]
        lines += [f"不再涉及区域 / zone no longer met: {label} {zone}" for zone in before if zone not in after]
    versions = _version_changes({layer.kind: layer for layer in old.layers}, {layer.kind: layer for layer in new.layers})
    if renamed and not versions:  # a new version may rename a zone; the same version cannot, but for an edit
        lines.append("图层版本未变而区域名称不同：图层库在导入后被改动，可用 ecozone layers verify 核查 / the same layer "
                     "versions name zones differently: the store was changed after import (ecozone layers verify)")
    lines += versions
    lines += _pack_changes({p.id: p for p in old.rule_packs}, {p.id: p for p in new.rule_packs})
    if old.ecozone_version != new.ecozone_version:
        lines.append(f"ecozone 版本 / version: {old.ecozone_version} → {new.ecozone_version}")
    if not lines and old.result_sha256 != new.result_sha256:
        lines.append("面积、距离或说明文字有变化，结论与规则未变 / areas, distances or texts differ; verdict and "
                     "rules are the same")
    return lines


def _renamed(zone: str, names: dict[str, str]) -> str:
    """An outcome's zone (``name（relation）``) under its new name."""
    name, _, relation = zone.rpartition("（")
    return f"{names.get(name, name)}（{relation}"


def _verdict(value: str) -> str:
    return next((label for verdict, label in VERDICT_LABELS.items() if verdict.value == value), value)


def _rule_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    lines = [f"新增规则 / rule added: {rule} [{_verdict(after[rule])}]" for rule in after if rule not in before]
    lines += [f"规则不再适用 / rule removed: {rule} [{_verdict(before[rule])}]" for rule in before if rule not in after]
    lines += [f"规则结论变化 / rule verdict: {rule} {_verdict(before[rule])} → {_verdict(after[rule])}"
              for rule in before if rule in after and before[rule] != after[rule]]
    return lines


def _version_changes(before: dict[str, LayerProvenance], after: dict[str, LayerProvenance]) -> list[str]:
    lines = []
    for kind in dict.fromkeys([*before, *after]):
        old, new = before.get(kind), after.get(kind)
        label = (old or new).label_zh
        if old is None:
            lines.append(f"图层版本 / layer version: {label} 新增第 {new.version} 版（{new.content_sha256[:12]}…）")
        elif new is None:
            lines.append(f"图层版本 / layer version: {label} 第 {old.version} 版已不在现行图层中")
        elif (old.version, old.content_sha256) != (new.version, new.content_sha256):
            lines.append(f"图层版本 / layer version: {label} 第 {old.version} 版（{old.content_sha256[:12]}…）→ "
                         f"第 {new.version} 版（{new.content_sha256[:12]}…）")
    return lines


def _pack_changes(before: dict[str, PackProvenance], after: dict[str, PackProvenance]) -> list[str]:
    lines = []
    for pack_id in dict.fromkeys([*before, *after]):
        old, new = before.get(pack_id), after.get(pack_id)
        if old is None or new is None:
            state = "新增" if old is None else "已移除"
            lines.append(f"规则包 / rule pack: {pack_id} {state}")
        elif (old.version, old.sha256) != (new.version, new.sha256):
            lines.append(f"规则包 / rule pack: {pack_id} {old.version} → {new.version}"
                         + ("（文件内容不同 / file differs）" if old.sha256 != new.sha256 else ""))
    return lines

