"""The evidence report of the sample boiler (石河子, 热力 20 t/h coal), read back with tools that are not ecozone's.

The PDF's text comes from poppler's pdftotext, its pictures from pdfimages, its fonts from pdffonts; the Word
file's text from python-docx. What the report must hold comes from elsewhere too: the verdict and rule ids
from the check's JSON answer, the layer digests from the store's version table, the input's SHA-256 from
hashlib. The pages are rendered with pdftoppm into tests/_artifacts/ to be looked at.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
import subprocess
from pathlib import Path

import docx
import pypdf
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.filing import report_bytes
from api.settings import Settings
from gis.evidence import LEGACY_FORMAT, evidence_of, replay
from gis.presentation import headline
from gis.check import CheckResult
from gis.report import read_evidence
from gis.store import open_store
from tests.conftest import ARTIFACTS

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "samples" / "shihezi_boiler.txt"
FACTS = ["--industry", "热力", "--boiler-tph", "20", "--fuel", "coal"]

runner = CliRunner()


def _squeeze(text: str) -> str:
    """Text without whitespace: a table cell may wrap a long value over lines."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def boiler(tmp_path_factory):
    """The sample checked by ``ecozone check`` with a PDF, a Word and an HTML report, and its JSON answer."""
    folder = tmp_path_factory.mktemp("report")
    env = {"ECOZONE_AUDIT": "0"}
    answer = runner.invoke(app, ["check", str(SAMPLE), *FACTS, "--format", "json", "--report", str(folder / "r.pdf")],
                           env=env)
    assert answer.exit_code == 0, answer.output
    for suffix in ("docx", "html"):
        made = runner.invoke(app, ["check", str(SAMPLE), *FACTS, "--report", str(folder / f"r.{suffix}")], env=env)
        assert made.exit_code == 0, made.output
    result = CheckResult.model_validate_json(answer.stdout)
    store = open_store()
    in_force = store.in_force(result.as_of)
    expected = {
        "headline": headline(result),
        "rules": sorted({h.rule_id for h in [*result.rules.hits, *result.rules.unchecked, *result.rules.possible]}),
        "layer_digests": {kind: in_force[kind].content_sha256 for kind in result.overlap.versions},
        "input_sha256": hashlib.sha256(SAMPLE.read_bytes()).hexdigest(),
    }
    return folder, result, expected


def _assert_holds(text: str, result: CheckResult, expected: dict) -> None:
    squeezed = _squeeze(text)
    assert _squeeze(expected["headline"]) in squeezed
    assert result.verdict_label == "禁止"  # the sample: a coal boiler in 石河子's built-up area
    missing = [rule for rule in expected["rules"] if rule not in squeezed]
    assert not missing, missing
    for kind, digest in expected["layer_digests"].items():
        assert digest in squeezed, kind
    assert expected["input_sha256"] in squeezed


def test_pdf_report_holds_the_evidence(boiler):
    folder, result, expected = boiler
    pdf = folder / "r.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    _assert_holds(text, result, expected)
    assert "拐点" in text and "CGCS2000" in text and "结果摘要" in text

    # The map picture is an image in the PDF, drawn at print resolution.
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    sizes = [(int(row.split()[3]), int(row.split()[4])) for row in images.splitlines()[2:] if row.split()[2] == "image"]
    assert any(width >= 1000 and height >= 500 for width, height in sizes), images

    # Chinese text is set in an embedded CJK font (subset), so that any reader shows it.
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    cjk = [row for row in fonts.splitlines() if "WenQuanYi" in row or "Noto" in row]
    assert cjk and all(" yes " in row.split("Identity-H", 1)[-1] for row in cjk), fonts

    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("report-shihezi-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "80", "-png", str(pdf), str(ARTIFACTS / "report-shihezi")], check=True)
    pages = sorted(ARTIFACTS.glob("report-shihezi-*.png"))
    assert 3 <= len(pages) <= 12, pages


def test_word_report_holds_the_evidence(boiler):
    folder, result, expected = boiler
    document = docx.Document(str(folder / "r.docx"))
    texts = [paragraph.text for paragraph in document.paragraphs]
    texts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    _assert_holds("\n".join(texts), result, expected)
    assert len(document.inline_shapes) == 1  # the map picture
    assert document.core_properties.subject == expected["headline"]


def test_html_report_embeds_evidence_and_picture(boiler):
    folder, result, expected = boiler
    page = (folder / "r.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in page
    embedded = re.search(r'<script type="application/json" id="ecozone-evidence">(.*?)</script>', page, re.S)
    evidence = json.loads(embedded.group(1))
    assert evidence["input"]["sha256"] == expected["input_sha256"]
    assert {layer["kind"]: layer["content_sha256"] for layer in evidence["layers"]} == expected["layer_digests"]
    assert evidence["options"]["as_of"] == result.as_of.isoformat()


@pytest.mark.parametrize("suffix", ["pdf", "docx", "html"])
def test_report_verify_holds_for_a_fresh_report(boiler, suffix):
    folder, _, _ = boiler
    verified = runner.invoke(app, ["report", "verify", str(folder / f"r.{suffix}")])
    assert verified.exit_code == 0, verified.output
    assert "结果一致" in verified.output


def _forge_pdf(data: bytes, old: str, new: str) -> bytes:
    """The PDF with ``old`` shown as ``new`` (as many characters) in its text layer, as a PDF editor rewrites
    text: each font's glyphs for them found in its ToUnicode map and swapped in the pages' text strings."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))

    def swap(glyphs: str, before: str, after: str) -> str:  # glyph by glyph: 4 hex digits each
        return "|".join(re.findall("....", glyphs)).replace(before, after).replace("|", "")

    for page in writer.pages:
        contents = page.get_contents()
        text = contents.get_data().decode("latin-1")
        for font in page["/Resources"]["/Font"].values():
            unicode_map = font.get_object()["/ToUnicode"].get_object().get_data().decode()
            glyph = {chr(int(code, 16)): gid for gid, code in re.findall(r"<([0-9a-f]{4})> <([0-9a-f]{4})>", unicode_map)}
            if all(c in glyph for c in old + new):
                before, after = ("|".join(glyph[c] for c in word) for word in (old, new))
                text = re.sub(r"<([0-9a-f]*)>", lambda match: f"<{swap(match.group(1), before, after)}>", text)
        contents.set_data(text.encode("latin-1"))
        page.replace_contents(contents)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _forge_verdict(report: Path, folder: Path) -> tuple[Path, str]:
    """A copy of ``report`` whose visible verdict 禁止 reads otherwise, with its evidence untouched, and the
    verdict it now shows; read back with tools that are not ecozone's, to be sure the forgery shows."""
    forged = folder / f"forged{report.suffix}"
    if report.suffix == ".html":
        page = report.read_text(encoding="utf-8")
        page = page.replace('<div class="headline">禁止；', '<div class="headline">允许；').replace("<td>禁止；另有", "<td>允许；另有")
        forged.write_text(page, encoding="utf-8")
        assert "<td>允许；另有" in forged.read_text(encoding="utf-8")
        return forged, "允许"
    if report.suffix == ".docx":
        document = docx.Document(str(report))
        cells = [cell.paragraphs[0] for table in document.tables for row in table.rows for cell in row.cells]
        for paragraph in [*document.paragraphs, *cells]:
            for run in paragraph.runs:
                run.text = run.text.replace("禁止；另有", "允许；另有")
        document.save(str(forged))
        assert docx.Document(str(forged)).tables[0].rows[0].cells[1].text.startswith("允许；另有")
        return forged, "允许"
    # No font of the PDF holds 允 and 许: 限制 (restricted), whose glyphs it holds, where it said 禁止.
    forged.write_bytes(_forge_pdf(report.read_bytes(), "禁止", "限制"))
    text = subprocess.run(["pdftotext", str(forged), "-"], capture_output=True, text=True, check=True).stdout
    assert "限制；另有" in _squeeze(text) and "禁止；另有" not in _squeeze(text)
    return forged, "限制"


@pytest.mark.parametrize("suffix", ["pdf", "docx", "html"])
def test_report_verify_fails_for_a_report_whose_visible_verdict_was_changed(boiler, tmp_path, suffix):
    """The evidence still re-runs to the same result; the page the officer files says otherwise."""
    folder, _, _ = boiler
    forged, verdict = _forge_verdict(folder / f"r.{suffix}", tmp_path)
    verified = runner.invoke(app, ["report", "verify", str(forged)])
    assert verified.exit_code == 1, verified.output
    assert "报告文字与其核验数据不符" in verified.output and "结果一致" not in verified.output
    assert f"报告写「{verdict}；另有" in verified.output and "按核验数据应为「禁止；另有" in verified.output
    answer = json.loads(runner.invoke(app, ["report", "verify", str(forged), "--format", "json"]).stdout)
    assert answer["same"] is False and answer["changes"] == [] and answer["text_changes"]
    assert answer["recorded_sha256"] == answer["replayed_sha256"]


def test_report_verify_names_the_damaged_evidence_field_in_chinese_first(boiler, tmp_path):
    folder, _, _ = boiler
    page = (folder / "r.html").read_text(encoding="utf-8")
    script = re.compile(r'(<script type="application/json" id="ecozone-evidence">)(.*?)(</script>)', re.S)
    evidence = json.loads(script.search(page).group(2))
    evidence["outcome"] = "allowed"
    damaged = tmp_path / "damaged.html"
    damaged.write_text(script.sub(lambda m: m.group(1) + json.dumps(evidence, ensure_ascii=False) + m.group(3), page),
                       encoding="utf-8")
    verified = runner.invoke(app, ["report", "verify", str(damaged)])
    assert verified.exit_code == 2, verified.output
    message = verified.output.split("错误 / error: ", 1)[1]
    assert message.startswith("核验数据已损坏（字段 outcome）"), message
    assert "http" not in message and "pydantic" not in message and "damaged.html" in message


def _rename_zone(store_path: Path, zone_id: str, name: str) -> None:
    """Change a zone's name in a GeoPackage behind ecozone's back, as sqlite3 would; ``layers verify`` finds it."""
    with sqlite3.connect(store_path) as connection:
        assert connection.execute("UPDATE zones SET name = ? WHERE zone_id = ?", (name, zone_id)).rowcount
    checked = runner.invoke(app, ["layers", "verify", "--store", str(store_path)])
    assert checked.exit_code != 0, checked.output


def test_report_verify_names_a_zone_renamed_in_the_store_after_import(boiler, tmp_path):
    """The layer versions and their import digests are the same; what the decision shows of a zone is not."""
    folder, _, _ = boiler
    copy = tmp_path / "copy.gpkg"
    assert runner.invoke(app, ["layers", "init", str(copy)]).exit_code == 0
    _rename_zone(copy, "built_up:shihezi", "被改动的名称")
    verified = runner.invoke(app, ["report", "verify", str(folder / "r.pdf"), "--store", str(copy), "--format", "json"])
    assert verified.exit_code == 1, verified.output
    answer = json.loads(verified.stdout)
    assert not answer["same"] and answer["recorded_sha256"] != answer["replayed_sha256"]
    assert "区域名称变化 / zone renamed: built_up:shihezi「石河子市城市建成区」→「被改动的名称」" in answer["changes"]
    assert not any("zone met" in line or "no longer met" in line for line in answer["changes"])


def test_a_report_of_evidence_format_1_still_verifies(boiler, tmp_path):
    """A report written before the digest covered the zones' names: verified with its own digest and made again
    as it was written (内容 SHA-256); its text still shows a zone renamed in the store since."""
    folder, _, _ = boiler
    evidence = read_evidence((folder / "r.html").read_bytes())
    store = open_store()
    result, _ = replay(evidence, store)
    legacy = evidence_of(result, store, evidence.input, format=LEGACY_FORMAT, created_at=evidence.created_at)
    assert legacy.format == LEGACY_FORMAT and legacy.result_sha256 != evidence.result_sha256
    report = tmp_path / "legacy.docx"
    report.write_bytes(report_bytes(result, store, legacy, "docx"))
    headers = [table.rows[0].cells[-1].text for table in docx.Document(str(report)).tables]
    assert "内容 SHA-256" in headers and "导入时内容 SHA-256" not in headers
    verified = runner.invoke(app, ["report", "verify", str(report)])
    assert verified.exit_code == 0 and "结果一致" in verified.output, verified.output

    copy = tmp_path / "copy.gpkg"
    assert runner.invoke(app, ["layers", "init", str(copy)]).exit_code == 0
    _rename_zone(copy, "built_up:shihezi", "被改动的名称")
    renamed = runner.invoke(app, ["report", "verify", str(report), "--store", str(copy)])
    assert renamed.exit_code == 1, renamed.output
    assert "或图层库中区域的名称被改动" in renamed.output and "按核验数据应为「被改动的名称" in renamed.output


def _import_without_shihezi_built_up(store_path: Path, tmp_path: Path) -> str:
    """A new version of the built-up areas without 石河子's, imported into a writable copy; its digest."""
    frame = open_store().read("built_up_area")
    keys = sorted({key for attributes in frame["attributes"] for key in attributes})
    for key in keys:
        frame[key] = [attributes.get(key) for attributes in frame["attributes"]]
    frame = frame[~frame["name"].str.contains("石河子")]
    path = tmp_path / "建成区.geojson"
    frame[["zone_id", "name", "subtype", "jurisdiction", *keys, "geometry"]].to_file(path, driver="GeoJSON")
    imported = runner.invoke(app, ["layers", "import", str(path), "--kind", "built_up_area", "--store", str(store_path),
                                   "--geometry-source", "illustrative"])
    assert imported.exit_code == 0, imported.output
    return open_store(store_path).versions("built_up_area")[-1].content_sha256


def test_report_verify_says_what_changed_after_a_new_layer_version(boiler, tmp_path):
    folder, result, _ = boiler
    copy = tmp_path / "copy.gpkg"
    made = runner.invoke(app, ["layers", "init", str(copy)])
    assert made.exit_code == 0, made.output
    same = runner.invoke(app, ["report", "verify", str(folder / "r.pdf"), "--store", str(copy)])
    assert same.exit_code == 0, same.output  # a copy of the store holds the same versions

    digest = _import_without_shihezi_built_up(copy, tmp_path)
    changed = runner.invoke(app, ["report", "verify", str(folder / "r.pdf"), "--store", str(copy), "--format", "json"])
    assert changed.exit_code == 1, changed.output
    answer = json.loads(changed.stdout)
    assert not answer["same"]
    # Oracle: the same check run afresh on the changed store, by the ordinary command.
    fresh = runner.invoke(app, ["check", str(SAMPLE), *FACTS, "--store", str(copy), "--format", "json", "--no-audit"])
    after = CheckResult.model_validate_json(fresh.stdout)
    before_ids = {h.rule_id for h in [*result.rules.hits, *result.rules.unchecked]}
    after_ids = {h.rule_id for h in [*after.rules.hits, *after.rules.unchecked]}
    assert before_ids - after_ids  # the built-up rules no longer apply
    changes = "\n".join(answer["changes"])
    for rule in before_ids - after_ids:
        assert f"rule removed: {rule}" in changes
    assert f"第 2 版（{digest[:12]}" in changes and "城市建成区" in changes
    assert "石河子市城市建成区" in changes


def test_api_answers_the_report_for_accept(tmp_path):
    settings = Settings(jobs_dir=tmp_path / "jobs", audit_db=tmp_path / "audit.sqlite")
    body = {"site": "86.0413,44.3056", "project": {"industry": "热力", "boiler_tph": 20, "fuel": "coal"}}
    with TestClient(create_app(settings)) as client:
        plain = client.post("/check", json=body)
        pdf = client.post("/check", json=body, headers={"Accept": "application/pdf"})
        word = client.post("/check", json=body, headers={
            "Accept": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"})
        either = client.post("/check", json=body, headers={"Accept": "application/json, application/pdf;q=0.5"})
    assert plain.headers["content-type"] == "application/json" and either.headers["content-type"] == "application/json"
    result = CheckResult.model_validate(plain.json())
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
    path = tmp_path / "api.pdf"
    path.write_bytes(pdf.content)
    text = _squeeze(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout)
    assert _squeeze(headline(result)) in text
    assert all(hit.rule_id in text for hit in result.rules.hits)
    assert hashlib.sha256(body["site"].encode()).hexdigest() in text  # the input text's digest
    assert word.status_code == 200 and word.content.startswith(b"PK")
    assert word.headers["content-type"].startswith("application/vnd.openxmlformats")


def _file_vertices(path: Path) -> list[tuple[float, float]]:
    """(X, Y) of each point line of a 国土 TXT file, read with the standard library, the closing point left out."""
    points = [tuple(map(float, line.split(",")[2:4])) for line in path.read_text(encoding="gbk").splitlines()
              if re.match(r"J\d+,", line)]
    return points[:-1] if points[0] == points[-1] else points


def test_word_vertex_table_numbers_the_site_as_read_and_says_so(boiler):
    """The sample's ring runs clockwise; read, it winds anticlockwise from the same first point. The table lists
    the file's own points in that order under 序号, and its caption says they are not the file's 点号."""
    folder, _, _ = boiler
    document = docx.Document(str(folder / "r.docx"))
    table = next(t for t in document.tables if t.rows[0].cells[1].text == "序号")
    rows = [[cell.text for cell in row.cells] for row in table.rows[1:]]
    listed = [(float(row[2]), float(row[3])) for row in rows]
    given = _file_vertices(SAMPLE)
    anticlockwise = [given[0], *reversed(given[1:])]
    assert [row[1] for row in rows] == [str(n) for n in range(1, len(given) + 1)]
    assert max(abs(a - b) for pair in zip(listed, anticlockwise) for a, b in zip(*pair)) < 0.002
    captions = [p.text for p in document.paragraphs if p.text.startswith("拐点坐标")]
    assert captions and "不是输入文件的点号" in captions[0]


def test_word_summary_sets_only_the_digests_in_the_code_font(boiler):
    """The summary's verdict, project and date are in the body font; the digests alone in the fixed-width one."""
    folder, _, _ = boiler
    summary = docx.Document(str(folder / "r.docx")).tables[0]
    fonts = {row.cells[0].text: {run.font.name for run in row.cells[1].paragraphs[0].runs} for row in summary.rows}
    assert fonts["结果摘要 SHA-256"] == {"Consolas"}
    assert all("Consolas" not in names for label, names in fonts.items() if "SHA-256" not in label), fonts


def test_word_report_of_a_site_whose_name_holds_a_control_character(tmp_path):
    """A plot name with a DOS end-of-file mark inside: the Word report is written, the mark shown as U+FFFD."""
    text = SAMPLE.read_bytes().replace("石河子市某供热锅炉房项目".encode("gbk"), "石河子市某供热\x1a锅炉房项目".encode("gbk"))
    site = tmp_path / "site.txt"
    site.write_bytes(text)
    made = runner.invoke(app, ["check", str(site), *FACTS, "--report", str(tmp_path / "r.docx")],
                         env={"ECOZONE_AUDIT": "0"})
    assert made.exit_code == 0, made.output
    document = docx.Document(str(tmp_path / "r.docx"))
    texts = [p.text for p in document.paragraphs]
    assert any("石河子市某供热\ufffd锅炉房项目" in text for text in texts), texts


def test_report_names_the_access_list_items_each_rule_applies(tmp_path):
    """A new 化工 project inside 玛纳斯县's 优先保护单元: every 准入清单 item the check's JSON gives a hit (code and
    text) is in the PDF (pdftotext) and the Word report (python-docx)."""
    where = ["check", "86.11,44.05", "--industry", "化工", "--wastewater", "--no-audit"]
    answer = runner.invoke(app, [*where, "--format", "json"])
    result = CheckResult.model_validate_json(answer.stdout)
    items = [item for hit in result.rules.hits for item in hit.access_items]
    assert items, "the site lies in a unit whose items the rules apply"
    for suffix in ("pdf", "docx"):
        made = runner.invoke(app, [*where, "--report", str(tmp_path / f"r.{suffix}")])
        assert made.exit_code == 0, made.output
    pdf = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    document = docx.Document(str(tmp_path / "r.docx"))
    word = "\n".join(cell.text for table in document.tables for row in table.rows for cell in row.cells)
    for item in items:
        for text in (_squeeze(pdf), _squeeze(word)):
            assert _squeeze(f"{item.code}：{item.text}") in text, (item.code, item.text)


def test_the_report_names_the_project_given_or_says_it_is_missing(tmp_path):
    """``--name`` is the project's name in the report; without it the report says the name is missing and gives
    the site's own, the 地块名称 of the 国土 TXT (read here from the file's GBK text). Read back with python-docx."""
    plot_line = next(line for line in SAMPLE.read_bytes().decode("gbk").splitlines() if line.endswith("@"))
    plot_name = plot_line.split(",")[3]
    env = {"ECOZONE_AUDIT": "0"}
    for name, report in (("石河子某热力公司燃煤锅炉改造", tmp_path / "named.docx"), (None, tmp_path / "unnamed.docx")):
        made = runner.invoke(app, ["check", str(SAMPLE), *FACTS, *(["--name", name] if name else []),
                                   "--report", str(report)], env=env)
        assert made.exit_code == 0, made.output
        document = docx.Document(report)
        cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        shown = cells[cells.index("项目") + 1]
        assert shown == (name or f"（未填写；地块：{plot_name}）")
