"""One store checked from several threads at once: no crash, and every result equal to the sequential one.

The overlap engine is shared by every thread of a server process. GEOS prepared geometries are not safe to
share (two threads checking parcels on one engine crashed the process in 3 runs of 3), so the check runs in a
process of its own: a crash fails the test instead of ending the test session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_checks_of_parcels_points_and_files_equal_sequential_ones(tmp_path, threads):
    run = subprocess.run([sys.executable, "-m", "tests.threads_worker", "20", str(threads), str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"exit {run.returncode} (negative: the signal that ended it)\n{run.stderr[-3000:]}"
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["differ"] == [] and report["rounds"] == 20 and report["sites"] > 40
