"""Batch screening jobs over HTTP: 202 and a job, progress, downloads, cancellation, surviving a restart.

The jobs run ``gis.batch.screen_file`` in a real server process; progress and cancellation are observed
between chunks of rows.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import time

import pandas as pd
import pytest

from tests.sites_support import PLACES
from tests.api_support import start_server

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
        assert set(results) == {"xlsx", "csv", "geojson"}
        xlsx = http.get(results["xlsx"])
        assert xlsx.status_code == 200 and "filename" in xlsx.headers["content-disposition"]
        assert len(pd.read_excel(io.BytesIO(xlsx.content))) == 30
        assert len(pd.read_csv(io.BytesIO(http.get(results["csv"]).content))) == 30
        assert len(json.loads(http.get(results["geojson"]).content)["features"]) == 30


def test_job_cancelled_while_running(jobs_server):
    with jobs_server.client() as http:
        job = submit(http, 3000)
        wait(http, job["id"], lambda j: j["status"] == "running" and j["progress"]["done"] > 0)
        response = http.post(f"/screen/{job['id']}/cancel")
        assert response.status_code == 202, response.text
        final = wait(http, job["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
        assert final["status"] == "cancelled" and final["progress"]["done"] < 3000
        assert http.get(f"/screen/{job['id']}/result.csv").status_code == 409
        assert http.post(f"/screen/{job['id']}/cancel").status_code == 409


def test_job_survives_a_server_crash(tmp_path_factory):
    server = start_server(tmp_path_factory, "restart")
    try:
        with server.client() as http:
            job = submit(http, 1500)  # three chunks of a job: the server dies after the first
            wait(http, job["id"], lambda j: j["status"] == "running" and j["progress"]["done"] > 0)
        server.kill()
        server.start()
        with server.client() as http:
            final = wait(http, job["id"], lambda j: j["status"] in ("succeeded", "failed", "cancelled"))
            assert final["status"] == "succeeded", final
            assert final["attempts"] == 2 and "re-queued" in final["notes"][0]
            assert final["report"]["rows_out"] == 1500
    finally:
        server.stop()


def test_bad_job_inputs(jobs_server):
    with jobs_server.client() as http:
        assert http.post("/screen", files={"file": ("list.pdf", b"%PDF", "application/pdf")}).status_code == 400
        response = http.post("/screen", files={"file": ("许可清单.csv", permits(2), "text/csv")},
                             data={"columns": "[1, 2]"})
        assert response.status_code == 400 and response.json()["field"] == "columns"
        assert http.get("/screen/not-a-job-id").status_code == 404


def _manager(root, ran: list):
    from api.jobs import JobManager

    def make_runner(job):
        def run(path, outputs, progress, cancel):
            ran.append(job.id)
            return {"rows": 0}
        return run
    return JobManager(root, make_runner)


def test_the_runner_reads_only_the_queued_jobs(tmp_path, monkeypatch):
    """A server that has run thousands of jobs must not re-read them all on every poll."""
    from api.jobs import JobManager, JobStatus

    ran: list = []
    manager = _manager(tmp_path / "jobs", ran)
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
    assert ran == [waiting.id] and manager.get(waiting.id).status is JobStatus.succeeded
    assert manager._next_queued() is None and not any((tmp_path / "jobs" / "queue").iterdir())


def test_a_queued_job_missing_from_the_queue_is_found_when_a_runner_takes_over(tmp_path):
    from api.jobs import JobStatus

    ran: list = []
    manager = _manager(tmp_path / "jobs", ran)
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

    ran: list = []
    manager = _manager(tmp_path / "jobs", ran)
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
