"""Hostile inputs end in a clean error naming the field, or are read, through every interface that reads sites.

The corpus (``tests/hostile_inputs.py``) runs in child processes under a 1.5 GiB address-space cap and a
time limit (``tests/hostile_runner.py``), so that a regression fails here instead of crashing, hanging or
swapping: through ``gis.sites.read_site`` and ``ecozone check`` (every site case), through
``gis.batch.screen_file`` and ``ecozone screen`` (every file a batch reads), and, for text and JSON cases,
as the rows of one register among good rows, screened once. Nothing may end in a traceback, a crash or a
kill; a batch always gives rows in = rows out.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile_inputs import CASES, by_name
from tests.hostile_runner import MEMORY_BYTES, REGISTER_COLUMN, ROOT, run_cases

pytestmark = pytest.mark.slow

SITE = [case for case in CASES if "site" in case.expect]
BATCH_FILES = [case for case in CASES if "batch" in case.expect and case.kind == "file"]
BATCH_TEXTS = [case for case in CASES if "batch" in case.expect and case.kind != "file"]


def _ids(cases):
    return [case.name for case in cases]


@pytest.fixture(scope="module")
def outcomes():
    """Outcomes by target and case: the three groups of targets run side by side, once for the module."""
    results = run_cases({("site", "check"): _ids(SITE), ("batch", "screen"): _ids(BATCH_FILES),
                         ("batch-register", "screen-register"): _ids(BATCH_TEXTS)})
    return results.__getitem__


def _fields(text: str) -> list[str]:
    return re.findall(r"field '([^']*)'", text or "")


def _refused_or_read(outcome: dict, want: str | None) -> None:
    """An ``InputError`` naming ``want`` with a fix, or (``want`` None) the input read."""
    if want is None:
        assert outcome["status"] == "ok", outcome
        return
    assert outcome["status"] == "error", outcome
    assert outcome["input_error"], outcome
    assert want in (outcome["field"] or ""), outcome
    assert outcome["fix"], outcome


def _answered(outcome: dict, want: str | None) -> None:
    """The command line's answer: exit 0, or exit 2 with the message naming ``want`` and the fix; no traceback."""
    assert outcome["status"] == "exit", outcome
    assert "Traceback" not in outcome["stdout"] + outcome["stderr"], outcome
    if want is None:
        assert outcome["code"] == 0, outcome
        return
    assert outcome["code"] == 2, outcome
    assert any(want in field for field in _fields(outcome["stderr"])), outcome["stderr"]
    assert "Fix:" in outcome["stderr"], outcome["stderr"]


def _screened(outcome: dict, want: str | None) -> None:
    """A batch of a file: refused as a whole naming ``want``, or screened with rows in = rows out, every row
    error naming its row, a field and a fix (and, for ``want``, some row naming it)."""
    if outcome["status"] == "error" or outcome.get("code") == 2:
        assert want is not None, outcome
        if outcome["status"] == "error":
            _refused_or_read(outcome, want)
        else:
            _answered(outcome, want)
        return
    assert outcome["status"] in ("ok", "exit"), outcome
    assert outcome.get("code", 0) == 0, outcome
    assert outcome["rows_out"] == len(outcome["rows"]) > 0, outcome
    if "rows_in" in outcome:
        assert outcome["rows_in"] == outcome["rows_out"], outcome
    errors = [row["error"] for row in outcome["rows"] if row["error"]]
    for error in errors:
        assert re.search(r"row \d+", error) and _fields(error) and "Fix:" in error, error
    if want is not None:
        assert any(want in field for error in errors for field in _fields(error)), errors


@pytest.mark.parametrize("case", SITE, ids=_ids(SITE))
def test_read_site(outcomes, case):
    _refused_or_read(outcomes("site")[case.name], case.expect["site"])


@pytest.mark.parametrize("case", SITE, ids=_ids(SITE))
def test_ecozone_check(outcomes, case):
    _answered(outcomes("check")[case.name], case.expect["site"])


@pytest.mark.parametrize("case", BATCH_FILES, ids=_ids(BATCH_FILES))
def test_screen_file(outcomes, case):
    _screened(outcomes("batch")[case.name], case.expect["batch"])


@pytest.mark.parametrize("case", BATCH_FILES, ids=_ids(BATCH_FILES))
def test_ecozone_screen_file(outcomes, case):
    _screened(outcomes("screen")[case.name], case.expect["batch"])


@pytest.mark.parametrize("target", ["batch-register", "screen-register"])
@pytest.mark.parametrize("case", BATCH_TEXTS, ids=_ids(BATCH_TEXTS))
def test_a_bad_row_marks_that_row_only(outcomes, target, case):
    outcome = outcomes(target)[case.name]
    assert outcome["status"] in ("ok", "exit") and outcome.get("code", 0) == 0, outcome
    assert outcome["rows_in"] == outcome["rows_written"] == outcome["rows_out"], outcome
    assert all(not row["error"] and row["verdict"] != "读取失败" for row in outcome["good_rows"]), outcome["good_rows"]
    want = case.expect["batch"]
    error = outcome["row"]["error"]
    if want is None:
        assert not error and outcome["row"]["verdict"] != "读取失败", outcome["row"]
        return
    row = 2 * _ids(BATCH_TEXTS).index(case.name) + 3  # the header is row 1, a good row precedes each case
    named = REGISTER_COLUMN if want == "site" else want
    assert outcome["row"]["verdict"] == "读取失败", outcome["row"]
    assert f"row {row}" in error and "Fix:" in error, error
    assert any(named in field for field in _fields(error)), error


def _console(arguments: list[str]) -> subprocess.CompletedProcess:
    """The installed console script ``ecozone`` (this checkout first on its path), under the same caps."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))

    script = Path(sys.executable).with_name("ecozone")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from api.cli import main; main()"]
    return subprocess.run([*command, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "ARROW_DEFAULT_MEMORY_POOL": "system",
                               "MALLOC_ARENA_MAX": "2"}, preexec_fn=limit)


def test_console_script_reads_text_longer_than_a_file_name():
    text = by_name("wkt_parcel_with_hole_400_chars").data
    assert len(text) > 255
    result = _console(["check", text, "--site-only"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("项目地块：") and "Traceback" not in result.stderr


def test_console_script_refuses_nested_wkt_with_exit_2(tmp_path):
    path = tmp_path / "nested.wkt"
    path.write_text(by_name("wkt_nested_collections").data)
    result = _console(["check", str(path)])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "field 'site'" in result.stderr and "Fix:" in result.stderr


def test_the_corpus_covers_the_issue():
    names = _ids(CASES)
    assert len(names) == len(set(names)) >= 100
    assert {case.kind for case in CASES} == {"text", "json", "file"}
    for case in CASES:
        assert case.expect and set(case.expect) <= {"site", "batch"}, case.name
        assert case.kind != "file" or list(case.data), case.name
    # the inputs issue 17 names
    for name in ("wkt_nested_collections", "json_nested_collections", "xlsx_dimension_bomb", "xlsx_entity_bomb",
                 "kmz_bomb", "gpkg_recursive_view_only", "gpkg_layer_styles", "wkt_parcel_with_hole_400_chars",
                 "csv_6000_vertex_parcel", "json_nan_coordinate", "json_type_list", "json_polygon_empty_ring",
                 "json_empty_collection", "wkt_400_digit_number", "txt_infinite_point_count", "wkt_whole_world",
                 "wkt_mixed_collection", "wkt_100001_vertices"):
        assert name in names
