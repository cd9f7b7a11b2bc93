"""Run hostile cases (``tests.hostile_inputs``) in a child process with a memory cap and a time limit.

A regression that makes an input crash, hang or swallow memory must fail the tests, not the machine: the
child runs under ``RLIMIT_AS`` and is killed when a case gives no answer in time. It prints one JSON line
as it starts a case and one with the outcome, so a child that dies or hangs is pinned to its case; the
cases after it run in a new child.

Targets: ``site`` (``gis.sites.read_site``), ``check`` (``ecozone check`` through ``api.cli.main``),
``batch`` (``gis.batch.screen_file`` on a file case), ``screen`` (``ecozone screen`` on a file case),
and ``batch-register`` / ``screen-register``: one register (.csv) holding every given text or JSON case
as the 拐点坐标 cell of its own row, between good rows, screened once.

The child is ``python -m tests.hostile_runner TARGET[,TARGET...] CASE...``: each case goes through each
target in turn, so that its data is built once.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import resource
import select
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Address space of the child: the readers must stay far below it whatever the input.
MEMORY_BYTES = 1536 * 1024 * 1024
#: Seconds a case may run before its child is killed (generous: the machine is shared and slow).
CASE_SECONDS = 240
#: The register's columns; text and JSON cases go into 拐点坐标.
REGISTER_HEADER = ["序号", "项目名称", "经度", "纬度", "拐点坐标", "行业"]
REGISTER_COLUMN = "拐点坐标"
#: Texts longer than this go to the command line as a file (Linux refuses longer arguments, and any NUL).
ARGUMENT_CHARS = 100_000


# -- parent --------------------------------------------------------------------------------------------------------
def run_cases(groups: dict[tuple[str, ...], list[str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Outcome of each case through each target, ``result[target][case]``.

    ``groups`` maps targets to case names; each group runs in its own child (a case through its targets one
    after the other, so that its data is built once), the groups side by side. ``status`` is "ok", "error"
    (an ``EcozoneError``), "exit" (the command line's exit code and output), "crash" (another exception, with
    its traceback), "killed" (the child died: a signal, or memory) or "timeout" (no answer within
    ``CASE_SECONDS``); the cases after one that killed its child run in a new child.
    """
    results: dict[str, dict[str, dict[str, Any]]] = {target: {} for targets in groups for target in targets}
    waiting = {targets: list(names) for targets, names in groups.items()}
    running: list[_Child] = []
    while waiting or running:
        running += [_Child(targets, names) for targets, names in waiting.items()]
        waiting = {}
        ready, _, _ = select.select(running, [], [], max(min(c.deadline for c in running) - time.monotonic(), 0))
        for child in list(running):
            if child in ready and child.feed():
                continue
            if child not in ready and time.monotonic() < child.deadline:
                continue
            running.remove(child)
            for target, outcomes in child.finish(timed_out=child not in ready).items():
                results[target].update(outcomes)
            left = [name for name in child.names if any(name not in results[t] for t in child.targets)]
            if len(left) == len(child.names):
                raise RuntimeError(f"the {child.targets} child answered nothing for {left[:3]}...")
            if left:
                waiting[child.targets] = left
    return results


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


class _Child:
    """A child process answering cases through targets, read line by line as it answers."""

    def __init__(self, targets: tuple[str, ...], names: list[str]) -> None:
        # Allocators that reserve address space up front would spend the cap on nothing: Arrow's pool (used by
        # pyogrio when it writes) reserves 1 GiB at once, glibc 64 MiB per thread arena.
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ARROW_DEFAULT_MEMORY_POOL": "system",
               "MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.targets, self.names = targets, names
        self.results: dict[str, dict[str, dict[str, Any]]] = {target: {} for target in targets}
        self.current: str | None = None
        self.buffer = b""
        self.deadline = time.monotonic() + CASE_SECONDS
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish(), when the child ends
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.hostile_runner", ",".join(targets), *names], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=self.stderr,
            preexec_fn=_limit_memory)  # noqa: PLW1509 - started from the tests' only thread

    def fileno(self) -> int:
        """The child's output, for ``select``."""
        return self.process.stdout.fileno()

    def feed(self) -> bool:
        """Take in what the child wrote; False once it has closed its output."""
        chunk = os.read(self.fileno(), 1 << 16)
        if not chunk:
            return False
        self.deadline = time.monotonic() + CASE_SECONDS
        *lines, self.buffer = (self.buffer + chunk).split(b"\n")
        for line in lines:
            record = json.loads(line)
            if record.get("started"):
                self.current = record["case"]
            else:
                self.results[record.pop("target")][record["case"]] = record
        return True

    def finish(self, *, timed_out: bool) -> dict[str, dict[str, dict[str, Any]]]:
        """End the child (killing it if it hangs); the case it died on, if it died, is recorded as such."""
        if timed_out:
            self.process.kill()
        code = self.process.wait()
        self.process.stdout.close()
        if self.current is not None and (timed_out or code != 0):
            self.stderr.seek(0)
            died = {"status": "timeout" if timed_out else "killed", "returncode": code,
                    "stderr": self.stderr.read().decode("utf-8", "replace")[-3000:]}
            for name in self.names if self.current == "register" else [self.current]:
                for target in self.targets:
                    self.results[target].setdefault(name, {"case": name, **died})
        self.stderr.close()
        return self.results


# -- child ---------------------------------------------------------------------------------------------------------
def _say(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _error(err: Exception) -> dict[str, Any]:
    from gis.errors import EcozoneError, InputError

    if isinstance(err, EcozoneError):
        return {"status": "error", "type": type(err).__name__, "input_error": isinstance(err, InputError),
                "field": err.field, "fix": err.fix, "message": str(err)[:2000]}
    return {"status": "crash", "type": type(err).__name__, "traceback": traceback.format_exc()[-4000:]}


def _materialise(case, folder: Path) -> Path:
    """The case's files written into ``folder``; the path of the one to read."""
    names = list(case.data)
    for name, data in case.data.items():
        (folder / name).write_bytes(data)
    return folder / names[0]


def _argument(case, folder: Path) -> str:
    """What ``ecozone check`` gets: the text itself, or a file when a command line cannot carry it."""
    if case.kind == "file":
        return str(_materialise(case, folder))
    if len(case.data) < ARGUMENT_CHARS and "\x00" not in case.data:
        return case.data
    path = folder / ("site.geojson" if case.kind == "json" else "site.txt")
    path.write_text(case.data, encoding="utf-8")
    return str(path)


def _cli(arguments: list[str]) -> dict[str, Any]:
    """``ecozone ARGUMENTS`` through the console script's entry point, in this process."""
    from api.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            sys.argv = ["ecozone", *arguments]
            try:
                main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except Exception as error:  # noqa: BLE001 - what a person would see as a traceback
        return _error(error)
    return {"status": "exit", "code": code, "stdout": out.getvalue()[-3000:], "stderr": err.getvalue()[-3000:]}


def _screened(path: Path) -> dict[str, Any]:
    """Rows and row errors of a screening output (.csv)."""
    limit = csv.field_size_limit(sys.maxsize)  # the module's limit is global: put it back for the readers
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    finally:
        csv.field_size_limit(limit)
    return {"rows_out": len(rows), "rows": [{"name": r.get("项目名称"), "verdict": r["结论"], "error": r["读取错误"]}
                                            for r in rows]}


def _one(target: str, case, folder: Path) -> dict[str, Any]:
    if target == "site":
        from gis.sites import read_site

        source = str(_materialise(case, folder)) if case.kind == "file" else case.data
        try:
            read_site(source)
        except Exception as err:  # noqa: BLE001 - recorded for the test to judge
            return _error(err)
        return {"status": "ok"}
    if target == "check":
        return _cli(["check", _argument(case, folder)])
    path, output = _materialise(case, folder), folder / "out.csv"
    # an .xlsx output copies every sheet of an .xlsx input: written once (by the batch), it is a reader too
    outputs = [output] + ([folder / "out.xlsx"] if path.suffix == ".xlsx" and target == "batch" else [])
    if target == "batch":
        from gis.batch import screen_file

        try:
            report = screen_file(path, outputs)
        except Exception as err:  # noqa: BLE001 - recorded for the test to judge
            return _error(err)
        return {"status": "ok", "rows_in": report.rows_in, **_screened(output)}
    result = _cli(["screen", str(path), *(f"--output={out}" for out in outputs)])
    if result.get("code") == 0:
        result.update(_screened(output))
    return result


def _register(target: str, cases: list, folder: Path) -> dict[str, dict[str, Any]]:
    """One register with each case in its own row between good rows, screened once; each case's row."""
    path, output = folder / "register.csv", folder / "out.csv"
    rows = []
    for number, case in enumerate(cases):
        rows.append([2 * number + 1, f"good-{number}", 87.6168, 43.8256, "", "电力"])
        rows.append([2 * number + 2, case.name, "", "", case.data, "电力"])
    rows.append([2 * len(cases) + 1, "good-last", 86.0411, 44.3059, "", "水泥"])
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([REGISTER_HEADER, *rows])
    if target == "batch-register":
        from gis.batch import screen_file

        try:
            report = screen_file(path, output)
        except Exception as err:  # noqa: BLE001 - recorded for the test to judge
            return {case.name: _error(err) for case in cases}
        result = {"status": "ok", "rows_in": report.rows_in}
    else:
        result = _cli(["screen", str(path), "-o", str(output)])
        if result.get("code") != 0:
            return {case.name: result for case in cases}
        result["rows_in"] = len(rows)
    screened = _screened(output)
    out = screened["rows"] + [None] * (len(rows) - len(screened["rows"]))  # rows keep their order
    good = [row for row, written in zip(out, rows) if written[1].startswith("good-")]
    return {case.name: {**result, "rows_written": len(rows), "rows_out": screened["rows_out"],
                        "row": out[2 * number + 1], "good_rows": good} for number, case in enumerate(cases)}


def _child(targets: list[str], names: list[str]) -> None:
    from tests.hostile_inputs import by_name

    cases = [by_name(name) for name in names]
    if targets[0].endswith("-register"):
        _say({"case": "register", "started": True})
        for target in targets:
            with tempfile.TemporaryDirectory(prefix="ecozone-hostile-") as folder:
                for name, outcome in _register(target, cases, Path(folder)).items():
                    _say({"case": name, "target": target, **outcome})
        return
    for case in cases:
        _say({"case": case.name, "started": True})
        for target in targets:
            started = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="ecozone-hostile-") as folder:
                outcome = _one(target, case, Path(folder))
            _say({"case": case.name, "target": target, **outcome, "seconds": round(time.perf_counter() - started, 2),
                  "memory_kb": _memory_kb()})


def _memory_kb() -> dict[str, int]:
    """The child's address space now and at its peak (what ``RLIMIT_AS`` bounds), and its resident memory."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {key: int(status[key].split()[0]) for key in ("VmSize", "VmPeak", "VmRSS", "VmHWM") if key in status}


if __name__ == "__main__":
    _child(sys.argv[1].split(","), sys.argv[2:])
