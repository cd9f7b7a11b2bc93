"""Batch screening jobs over HTTP: 202 and a job, progress, downloads, cancellation, surviving a restart.

The jobs run ``gis.batch.screen_file`` in a real server process; progress and cancellation are observed
between chunks of rows.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import signal
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from tests.api_support import nested_wkt, start_server, xlsx_bytes
from tests.sites_support import PLACES

POLLS = 1200  # × 0.25 s at most, per wait


@pytest.fixture(scope="module")
def jobs_server(tmp_path_factory):
    server = start_server(tmp_path_factory, "jobs")
    yield server
    server.stop()


def permits(rows: int) -> bytes:
    lon, lat = PLACES["Shihezi"]
    frame = pd.DataFrame({"项目名称": [f"项目{i}" for i in range(rows)],
                          "经度": [lon + 0.01 * (i % 20) for i in range(rows)],
                          "纬度": [lat + 0.01 * (i // 20) for i in range(rows)]})
    return frame.to_csv(index=False).encode("utf-8")


def submit(http, rows: int) -> dict:
    response = http.post("/screen", files={"file": ("许可清单.csv", permits(rows), "text/csv")},
                         data={"as_of": "2024-06-30"})
    assert response.status_code == 202, response.text
    assert response.headers["location"].endswith(f"/screen/{response.json()['id']}")
    return response.json()


def wait(http, job_id: str, until) -> dict:
    for _ in range(POLLS):
        job = http.get(f"/screen/{job_id}").json()
        if until(job):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} never reached the state asked: {job}")


def test_job_end_to_end(jobs_server):
    with jobs_server.client() as http:
        job = submit(http, 30)
        assert job["status"] in ("queued", "running")
        done = wait(http, job["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
        assert done["status"] == "succeeded", done
        assert done["progress"]["done"] == done["progress"]["total"] == 30
        assert done["report"]["rows_in"] == done["report"]["rows_out"] == 30
        results = {link["title"]: link["href"] for link in done["links"] if link["rel"] == "result"}
        assert set(results) == {"xlsx", "csv", "geojson", "gpkg", "parquet"}
        xlsx = http.get(results["xlsx"])
        assert xlsx.status_code == 200 and "filename" in xlsx.headers["content-disposition"]
        assert len(pd.read_excel(io.BytesIO(xlsx.content))) == 30
        assert len(pd.read_csv(io.BytesIO(http.get(results["csv"]).content))) == 30
        assert len(json.loads(http.get(results["geojson"]).content)["features"]) == 30
        # the result's map fetches the zones tile by tile, as the other map pages do, and carries only the sites
        page = http.get(f"/map/screen/{job['id']}/map")
        assert page.status_code == 200 and "/tiles/" in page.text and len(page.content) < 1_000_000
        tile = re.search(r'"tiles":\{"url":"([^"]+)"', page.text).group(1).replace("{z}/{x}/{y}", "5/23/11")
        assert http.get(tile).status_code == 200


def test_job_with_batch_wide_facts_gis_results_and_time_left(jobs_server, tmp_path):
    import geopandas as gpd
    import pyogrio
    import shapely

    rows = 2000
    with jobs_server.client() as http:
        bad = http.post("/screen", files={"file": ("许可清单.csv", permits(5), "text/csv")}, data={"scope": "调研"})
        assert bad.status_code == 400 and bad.json()["field"] == "scope", bad.text
        response = http.post("/screen", files={"file": ("现有企业.csv", permits(rows), "text/csv")},
                             data={"as_of": "2024-06-30", "scope": "existing", "industry": "水泥制造"})
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["options"]["defaults"] == {"scope": "existing", "industry": "水泥制造"}
        running = wait(http, job["id"], lambda j: j["status"] != "queued" and (
            j["status"] != "running" or 0 < j["progress"]["done"] < j["progress"]["total"]))
        if running["status"] == "running":  # a time left from the rate so far
            assert running["progress"]["eta_seconds"] is not None and running["progress"]["eta_seconds"] >= 0
        done = wait(http, job["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
        assert done["status"] == "succeeded", done
        assert done["progress"]["eta_seconds"] is None
        results = {link["title"]: link["href"] for link in done["links"] if link["rel"] == "result"}
        (tmp_path / "r.gpkg").write_bytes(http.get(results["gpkg"]).content)
        (tmp_path / "r.parquet").write_bytes(http.get(results["parquet"]).content)
    source = pd.read_csv(io.BytesIO(permits(rows)))
    for frame in (pyogrio.read_dataframe(tmp_path / "r.gpkg"), gpd.read_parquet(tmp_path / "r.parquet")):
        assert len(frame) == rows and frame.crs.to_epsg() == 4326
        expected = shapely.points(source["经度"].to_numpy(), source["纬度"].to_numpy())
        assert shapely.equals_exact(frame.geometry.values, expected, tolerance=1e-9).all()
        assert frame["读取提示"].str.contains("按现有核查").all()


def test_job_reads_a_register_in_the_encoding_given(jobs_server):
    """A UTF-16 register (as some systems export) is refused with the field to give, then read with it."""
    register = pd.read_csv(io.BytesIO(permits(3)))
    text = register.to_csv(index=False).encode("utf-16")
    with jobs_server.client() as http:
        unknown = http.post("/screen", files={"file": ("清单.csv", text, "text/csv")}, data={"encoding": "klingon"})
        assert unknown.status_code == 400 and unknown.json()["field"] == "encoding", unknown.text
        undetected = http.post("/screen", files={"file": ("清单.csv", text, "text/csv")}).json()
        failed = wait(http, undetected["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
        fix = failed["error"]["fix"]
        assert failed["status"] == "failed" and "encoding" in fix and "--encoding" not in fix, failed
        given = http.post("/screen", files={"file": ("清单.csv", text, "text/csv")}, data={"encoding": "utf-16"})
        assert given.status_code == 202 and given.json()["options"]["encoding"] == "utf-16", given.text
        done = wait(http, given.json()["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
        assert done["status"] == "succeeded", done
        csv = http.get(next(link["href"] for link in done["links"] if link.get("title") == "csv")).content
    screened = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")
    assert screened["项目名称"].tolist() == register["项目名称"].tolist()
    assert screened["经度"].tolist() == register["经度"].tolist()


def test_job_reads_xy_in_the_crs_given(jobs_server, tmp_path):
    """A register of Gauss-Krüger X/Y without 带号 nor the zone in front of Y (EPSG:4538, CM 87°E): an unknown CRS
    is the request's 400 naming the field crs; with the CRS given, every row is where pyproj puts it."""
    import geopandas as gpd
    import numpy as np
    from pyproj import Transformer

    lon, lat = PLACES["Urumqi"]
    lonlat = np.array([(lon + 0.01 * (i % 20), lat + 0.01 * (i // 20)) for i in range(300)])
    east, north = Transformer.from_crs("EPSG:4490", "EPSG:4538", always_xy=True).transform(*lonlat.T)
    register = pd.DataFrame({"项目名称": [f"项目{i}" for i in range(300)], "东坐标": east.round(3),
                             "北坐标": north.round(3)}).to_csv(index=False).encode("utf-8")
    with jobs_server.client() as http:
        unknown = http.post("/screen", files={"file": ("测绘.csv", register, "text/csv")}, data={"crs": "EPSG:999999"})
        problem = unknown.json()
        assert unknown.status_code == 400 and problem["field"] == "crs", unknown.text
        assert "«" not in problem["fix"] and "crs" in problem["fix"] and "--crs" not in problem["fix"], problem
        given = http.post("/screen", files={"file": ("测绘.csv", register, "text/csv")}, data={"crs": "EPSG:4538"})
        assert given.status_code == 202 and given.json()["options"]["crs"] == "EPSG:4538", given.text
        done = wait(http, given.json()["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
        assert done["status"] == "succeeded" and done["report"]["rows_failed"] == 0, done
        result = next(link["href"] for link in done["links"] if link.get("title") == "parquet")
        (tmp_path / "r.parquet").write_bytes(http.get(result).content)
    written = gpd.read_parquet(tmp_path / "r.parquet")
    assert np.abs(np.column_stack([written.geometry.x, written.geometry.y]) - lonlat).max() < 1e-7


def test_job_cancelled_while_running(jobs_server):
    with jobs_server.client() as http:
        job = submit(http, 3000)
        wait(http, job["id"], lambda j: j["status"] == "running" and j["progress"]["done"] > 0)
        response = http.post(f"/screen/{job['id']}/cancel")
        assert response.status_code == 202, response.text
        final = wait(http, job["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
        assert final["status"] == "cancelled" and final["progress"]["done"] < 3000
        assert not _job_processes(jobs_server)  # cancelling ended the job's process
        refused = http.get(f"/screen/{job['id']}/result.csv")
        assert refused.status_code == 409
        assert "已取消" in refused.json()["fix"] and "submit the file again" in refused.json()["fix"], refused.text
        assert "poll" not in refused.json()["fix"]  # a cancelled job never reaches succeeded
        assert http.post(f"/screen/{job['id']}/cancel").status_code == 409


def _partials(server, job_id: str) -> list[str]:
    return sorted(p.name for p in (server.jobs_dir / job_id).rglob("*") if ".partial" in p.name)


def test_a_cancelled_job_leaves_no_partial_output_even_after_a_restart(tmp_path_factory):
    """Its process is killed, so the writers never remove what they had written: the server does, when the
    attempt ends and, for what an earlier server left, at start; a finished job's results are kept."""
    server = start_server(tmp_path_factory, "cancel-partials")
    try:
        with server.client() as http:
            done = submit(http, 20)
            done = wait(http, done["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
            assert done["status"] == "succeeded", done
            job = submit(http, 6000)  # 12 chunks: it is writing its outputs when cancelled
            wait(http, job["id"], lambda j: j["status"] == "running" and j["progress"]["done"] > 0)
            assert _partials(server, job["id"])  # the outputs being written, beside their paths
            assert http.post(f"/screen/{job['id']}/cancel").status_code == 202
            final = wait(http, job["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
            assert final["status"] == "cancelled", final
            assert _partials(server, job["id"]) == [], sorted(p.name for p in (server.jobs_dir / job["id"]).rglob("*"))
        # what a server before this fix (or a power cut) left: partial outputs of jobs that are not running
        server.stop()
        results = {name: server.jobs_dir / name / "results" for name in (done["id"], job["id"])}
        kept = {path: path.read_bytes() for path in results[done["id"]].iterdir()}
        for folder in results.values():
            for name in (".result.partial.csv", ".result.partial.gpkg", ".result.partial.gpkg-journal"):
                (folder / name).write_bytes(b"half")
        server.start()
        with server.client() as http:
            assert http.get(f"/screen/{done['id']}/result.csv").status_code == 200
        assert _partials(server, job["id"]) == [] and _partials(server, done["id"]) == []
        assert {path: path.read_bytes() for path in results[done["id"]].iterdir()} == kept  # results untouched
    finally:
        server.stop()


def test_job_survives_a_server_crash(tmp_path_factory):
    server = start_server(tmp_path_factory, "restart")
    try:
        with server.client() as http:
            job = submit(http, 1500)  # three chunks of a job: the server dies after the first
            wait(http, job["id"], lambda j: j["status"] == "running" and j["progress"]["done"] > 0)
            [worker] = _job_processes(server)
        server.kill()
        _, alive = psutil.wait_procs([worker], timeout=30)
        assert not alive  # the job's process died with its server: it never runs alongside the next one
        server.start()
        with server.client() as http:
            final = wait(http, job["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
            assert final["status"] == "succeeded", final
            assert final["attempts"] == 2 and "re-queued" in final["notes"][0]
            assert final["report"]["rows_out"] == 1500
    finally:
        server.stop()


def _job_processes(server) -> list[psutil.Process]:
    """The server's job processes (spawned by multiprocessing; the server's own process is not one)."""
    return [child for child in psutil.Process(server.process.pid).children()
            if any("spawn_main" in part for part in child.cmdline())]


def test_a_file_that_crashes_the_screening_leaves_the_server_up(tmp_path_factory):
    """A 4 KB workbook whose 拐点坐标 cell nests 50,000 GEOMETRYCOLLECTIONs overflowed the stack of the
    server; now at worst it ends its job's process, a bounded number of times."""
    server = start_server(tmp_path_factory, "hostile-job", job_max_attempts="2")
    try:
        pid = server.process.pid
        workbook = xlsx_bytes([["项目名称", "拐点坐标"], ["嵌套", nested_wkt(50_000)],
                               ["正常", "POINT (86.0413 44.3056)"]])
        with server.client() as http:
            response = http.post("/screen", files={"file": ("清单.xlsx", workbook, "application/octet-stream")})
            assert response.status_code == 202, response.text
            final = wait(http, response.json()["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
            assert final["attempts"] <= 2
            if final["status"] == "failed":  # the reader still crashes on it: the job says why, once out of attempts
                assert final["attempts"] == 2 and "筛查进程异常退出（信号" in final["error"]["message"], final
            else:  # the reader refuses the cell: that row is marked, the other screened
                assert final["status"] == "succeeded" and final["report"]["rows_failed"] == 1, final
            assert http.get("/ogc/conformance").status_code == 200
        assert server.process.poll() is None and server.process.pid == pid
    finally:
        server.stop()


def test_bad_job_inputs(jobs_server):
    with jobs_server.client() as http:
        assert http.post("/screen", files={"file": ("list.pdf", b"%PDF", "application/pdf")}).status_code == 400
        response = http.post("/screen", files={"file": ("许可清单.csv", permits(2), "text/csv")},
                             data={"columns": "[1, 2]"})
        assert response.status_code == 400 and response.json()["field"] == "columns"
        assert http.get("/screen/not-a-job-id").status_code == 404


def _record_run(job, input_path, outputs, progress):
    """A job's work that leaves a mark in its folder (the working directory of the job's process)."""
    Path("ran").touch()
    return {"rows": 0, "attempts_seen": json.loads(Path("job.json").read_text())["attempts"]}


def _manager(root, work=_record_run, **limits):
    from api.jobs import JobLimits, JobManager

    return JobManager(root, work, limits=JobLimits(**limits))


def _ran(manager, job_id: str) -> bool:
    return (manager.root / job_id / "ran").exists()


def test_the_runner_reads_only_the_queued_jobs(tmp_path, monkeypatch):
    """A server that has run thousands of jobs must not re-read them all on every poll."""
    from api.jobs import JobManager, JobStatus

    manager = _manager(tmp_path / "jobs")
    finished = []
    for i in range(40):
        upload = tmp_path / f"old{i}.csv"
        upload.write_text("a\n1\n")
        job = manager.submit(upload, {})
        manager._update(job.id, status=JobStatus.succeeded)
        finished.append(job.id)
    upload = tmp_path / "new.csv"
    upload.write_text("a\n1\n")
    waiting = manager.submit(upload, {})
    read = []
    original = JobManager.get
    monkeypatch.setattr(JobManager, "get", lambda self, job_id: read.append(job_id) or original(self, job_id))
    assert manager._next_queued().id == waiting.id
    # the 40 finished jobs' markers were stale and are gone; the queued one stays until it runs
    assert set(read) <= {waiting.id, *finished} and waiting.id in read
    read.clear()
    assert manager._next_queued().id == waiting.id and read == [waiting.id]
    manager._run(manager._next_queued())
    assert _ran(manager, waiting.id) and manager.get(waiting.id).status is JobStatus.succeeded
    assert not any(_ran(manager, job_id) for job_id in finished)
    assert manager._next_queued() is None and not any((tmp_path / "jobs" / "queue").iterdir())


def test_the_runner_outlives_a_failed_turn_and_a_job_it_cannot_read(tmp_path, monkeypatch):
    """Out of file handles for a moment, and a job whose job.json was cut short outside ecozone: the runner logs
    both and goes on to run the next job."""
    import api.jobs
    from api.jobs import JobManager, JobStatus

    monkeypatch.setattr(api.jobs, "_RETRY_S", 0.05)
    manager = _manager(tmp_path / "jobs")
    uploads = [tmp_path / f"permits{i}.csv" for i in range(2)]
    for upload in uploads:
        upload.write_text("a\n1\n")
    damaged = manager.submit(uploads[0], {})
    (tmp_path / "jobs" / damaged.id / "job.json").write_bytes(b"")
    failed = []
    original = JobManager._next_queued

    def out_of_handles_once(self):
        if not failed:
            failed.append(True)
            raise OSError(24, "Too many open files")
        return original(self)

    monkeypatch.setattr(JobManager, "_next_queued", out_of_handles_once)
    waiting = manager.submit(uploads[1], {})
    manager.start()
    try:
        _wait_for(manager, waiting.id, JobStatus.succeeded)
    finally:
        manager.stop()
    assert failed and _ran(manager, waiting.id) and manager.get(waiting.id).status is JobStatus.succeeded
    assert manager.get(damaged.id) is None


def test_a_queued_job_missing_from_the_queue_is_found_when_a_runner_takes_over(tmp_path):
    from api.jobs import JobStatus

    manager = _manager(tmp_path / "jobs")
    upload = tmp_path / "permits.csv"
    upload.write_text("a\n1\n")
    job = manager.submit(upload, {})
    (tmp_path / "jobs" / "queue" / job.id).unlink()  # as if the process stopped between the two writes
    assert manager._next_queued() is None
    assert manager._take_runner_lock()
    try:
        assert manager._next_queued().id == job.id
    finally:
        manager.stop()
    assert manager.get(job.id).status is JobStatus.queued


def test_finished_jobs_are_deleted_after_the_retention_period(tmp_path):
    from api.jobs import JobStatus

    manager = _manager(tmp_path / "jobs")
    manager.keep_days = 30
    jobs = {}
    for name in ("old", "recent", "queued"):
        upload = tmp_path / f"{name}.csv"
        upload.write_text("a\n1\n")
        jobs[name] = manager.submit(upload, {}).id
    for name in ("old", "recent"):
        manager._run(manager.get(jobs[name]))
        assert manager.get(jobs[name]).status is JobStatus.succeeded
    now = dt.datetime.fromisoformat(manager.get(jobs["recent"]).finished_at)
    manager._update(jobs["old"], finished_at=(now - dt.timedelta(days=30, seconds=1)).isoformat())
    manager._update(jobs["recent"], finished_at=(now - dt.timedelta(days=29)).isoformat())
    abandoned = manager.staging()
    os.utime(abandoned, (now.timestamp() - 2 * 86400,) * 2)
    fresh = manager.staging()

    assert manager.prune(now) == [jobs["old"]]
    assert manager.get(jobs["old"]) is None and not (tmp_path / "jobs" / jobs["old"]).exists()
    assert manager.get(jobs["recent"]).status is JobStatus.succeeded
    assert manager.get(jobs["queued"]).status is JobStatus.queued  # unfinished jobs are never deleted
    assert not abandoned.exists() and fresh.exists()

    manager.keep_days = 0  # keep every job
    assert manager.prune(now + dt.timedelta(days=3650)) == [] and manager.get(jobs["recent"]) is not None


# -- a job cannot take the server down, nor crash it again and again ------------------------------------------


def _segfault(job, input_path, outputs, progress):
    progress(1, 10)
    os.kill(os.getpid(), signal.SIGSEGV)


def _exhaust_memory(job, input_path, outputs, progress):
    return {"size": len(bytearray(8 * 2**30))}


def _thread_at_the_cap(job, input_path, outputs, progress):
    """Reserve all the address space the cap leaves but a little (reserved, not resident: nothing is touched),
    then start a thread: its stack no longer fits, as in a batch whose pools start threads."""
    import mmap
    import resource
    import threading

    cap = resource.getrlimit(resource.RLIMIT_AS)[0]
    used = int(Path("/proc/self/status").read_text().split("VmSize:")[1].split()[0]) * 1024
    reserved = mmap.mmap(-1, cap - used - 4 * 2**20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    threading.Thread(target=print).start()
    return {"reserved": len(reserved)}


def _sleep(job, input_path, outputs, progress):
    time.sleep(120)


def _wait_for(manager, job_id: str, status) -> None:
    """Poll the manager until the job has ``status`` (at most POLLS × 0.25 s); the caller asserts on it."""
    for _ in range(POLLS):
        if manager.get(job_id).status is status:
            return
        time.sleep(0.25)


def _submit_file(manager, tmp_path, name: str = "permits.csv"):
    upload = tmp_path / name
    upload.write_text("a\n1\n")
    return manager.submit(upload, {})


def test_the_attempt_is_counted_before_the_job_runs(tmp_path):
    from api.jobs import JobStatus

    manager = _manager(tmp_path / "jobs")
    job = _submit_file(manager, tmp_path)
    manager._run(manager._next_queued())
    done = manager.get(job.id)
    assert done.status is JobStatus.succeeded and done.attempts == 1
    assert done.report["attempts_seen"] == 1  # job.json said so while the job's process ran


def test_a_crashing_job_is_retried_a_bounded_number_of_times_then_failed_with_the_reason(tmp_path):
    from api.jobs import JobStatus

    manager = _manager(tmp_path / "jobs", _segfault, attempts=3)
    job = _submit_file(manager, tmp_path)
    for attempt in (1, 2):
        manager._run(manager._next_queued())  # the segfault ends the job's process, not this one
        state = manager.get(job.id)
        assert state.status is JobStatus.queued and state.attempts == attempt
        assert "信号 11" in state.notes[-1] and "SIGSEGV" in state.notes[-1]
    manager._run(manager._next_queued())
    failed = manager.get(job.id)
    assert failed.status is JobStatus.failed and failed.attempts == 3 and failed.finished_at
    assert failed.error["message"].startswith("筛查进程异常退出（信号 11，SIGSEGV），已重试 2 次")
    assert "tried 3 times" in failed.error["message"] and failed.error["fix"]
    assert manager._next_queued() is None  # never run again
    assert not (tmp_path / "jobs" / job.id / "tmp").exists()  # its temporary folder went with it


def test_a_job_over_the_memory_cap_ends_in_its_own_process(tmp_path):
    from api.jobs import JobStatus

    manager = _manager(tmp_path / "jobs", _exhaust_memory, attempts=1, memory_bytes=3 * 2**30)
    job = _submit_file(manager, tmp_path)
    manager._run(manager._next_queued())
    failed = manager.get(job.id)
    assert failed.status is JobStatus.failed, failed
    assert "内存上限（3072 MiB）" in failed.error["message"] and "memory cap" in failed.error["message"]


def test_a_thread_that_cannot_start_under_the_cap_is_the_memory_cap_and_not_retried(tmp_path):
    """A 20,000-row job failed as InternalError (\"report it\") on ``can't start new thread``; the cap was
    what stopped it, and it would again: one attempt, the memory cap's problem."""
    from api.jobs import JobStatus

    manager = _manager(tmp_path / "jobs", _thread_at_the_cap, attempts=3, memory_bytes=2 * 2**30)
    job = _submit_file(manager, tmp_path)
    manager._run(manager._next_queued())
    failed = manager.get(job.id)
    assert failed.status is JobStatus.failed and failed.attempts == 1, failed
    assert failed.error["type"] == "JobError"
    assert failed.error["message"].startswith("筛查进程超出内存上限（2048 MiB） / ")
    assert "memory cap (2048 MiB)" in failed.error["message"] and "ECOZONE_JOB_MAX_MEMORY_MB" in failed.error["fix"]
    assert manager._next_queued() is None  # not queued again


def test_a_limit_is_found_through_what_an_error_was_raised_from():
    from concurrent.futures import ThreadPoolExecutor

    from api.job_worker import _limit_hit

    def no_thread():
        raise RuntimeError("can't start new thread")

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(no_thread)
    try:
        try:
            future.result()
        except RuntimeError as error:
            raise ValueError("while writing") from error
    except ValueError as wrapped:
        assert _limit_hit(wrapped) == "memory"
    assert _limit_hit(MemoryError()) == "memory" and _limit_hit(RecursionError()) == "recursion"
    assert _limit_hit(RuntimeError("something else")) is None and _limit_hit(KeyError("x")) is None


def test_a_job_over_the_time_cap_is_stopped_and_failed_at_once(tmp_path):
    from api.jobs import JobStatus

    manager = _manager(tmp_path / "jobs", _sleep, attempts=3, seconds=1)
    job = _submit_file(manager, tmp_path)
    manager._run(manager._next_queued())
    failed = manager.get(job.id)
    assert failed.status is JobStatus.failed and failed.attempts == 1  # it would take as long again
    assert "超过时限（1 秒）" in failed.error["message"] and "ECOZONE_JOB_MAX_SECONDS" in failed.error["fix"]


def test_a_job_out_of_attempts_when_its_server_died_is_failed_by_the_next_server(tmp_path):
    from api.jobs import JobStatus

    manager = _manager(tmp_path / "jobs", attempts=2)
    tried_once, tried_twice = _submit_file(manager, tmp_path, "a.csv"), _submit_file(manager, tmp_path, "b.csv")
    manager._update(tried_once.id, status=JobStatus.running, attempts=1)  # as a server killed mid-job leaves it
    manager._update(tried_twice.id, status=JobStatus.running, attempts=2)
    (tmp_path / "jobs" / tried_twice.id / "tmp").mkdir()
    assert manager._take_runner_lock()
    try:
        again = manager.get(tried_once.id)
        assert again.status is JobStatus.queued and "re-queued" in again.notes[-1]
        failed = manager.get(tried_twice.id)
        assert failed.status is JobStatus.failed and "服务进程在筛查中停止，已重试 1 次" in failed.error["message"]
        assert not (tmp_path / "jobs" / tried_twice.id / "tmp").exists()
        assert manager._next_queued().id == tried_once.id
    finally:
        manager.stop()


def test_job_ids_are_matched_whole(tmp_path):
    manager = _manager(tmp_path / "jobs")
    job = _submit_file(manager, tmp_path)
    assert manager.get(job.id) is not None
    for near in (job.id + "\n", job.id + "\n\n", " " + job.id, job.id.upper(), job.id[:-1]):
        assert manager.get(near) is None, repr(near)


def test_leftovers_of_dead_server_processes_are_deleted_at_start(tmp_path):
    import subprocess
    import sys

    root = tmp_path / "jobs"
    # Another server process that crashed: its scratch folder and a staged upload remain, its lock is free.
    code = ("import sys; from api.jobs import JobManager; from tests.test_api_jobs import _record_run; "
            "m = JobManager(sys.argv[1], _record_run); d = m.staging(); (d / 'upload.xlsx').write_bytes(b'x'); "
            "print(m.scratch, flush=True); import os; os._exit(0)")
    dead = Path(subprocess.run([sys.executable, "-c", code, str(root)], check=True, capture_output=True, text=True,
                               env={**os.environ}).stdout.strip())
    assert dead.is_dir() and any(dead.rglob("upload.xlsx"))
    # A live one (this test process holds its lock): kept.
    live = _manager(root)
    mine = live.staging()
    other = _manager(root)
    try:
        assert other.prune_leftovers() == [dead]
        assert not dead.exists() and mine.is_dir()
    finally:
        live.stop()
        other.stop()
    assert not mine.parent.exists()  # a manager that stops deletes its own scratch folder


def test_a_job_running_when_the_server_stops_goes_back_to_the_queue_uncounted(tmp_path):
    from api.jobs import JobStatus

    manager = _manager(tmp_path / "jobs", _sleep, attempts=1)
    job = _submit_file(manager, tmp_path)
    manager.start()
    try:
        _wait_for(manager, job.id, JobStatus.running)
    finally:
        manager.stop()
    stopped = manager.get(job.id)
    assert stopped.status is JobStatus.queued and stopped.attempts == 0 and "re-queued" in stopped.notes[-1]
    assert manager._next_queued().id == job.id
