"""Work in processes forked from the test's: results in order, made in other processes, and made here when a
process dies."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gis.forked import ForkedMap, can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="this system or thread cannot fork")


def test_results_come_in_order_from_other_processes():
    parent = os.getpid()
    spread = ForkedMap(lambda n: (n * n, os.getpid()), 2)
    try:
        results = spread.map(list(range(40)))
    finally:
        spread.close()
    assert [square for square, _ in results] == [n * n for n in range(40)]
    assert parent not in {pid for _, pid in results}


def test_a_process_that_dies_leaves_its_work_to_this_one():
    parent = os.getpid()

    def square_or_die(n: int) -> int:
        if os.getpid() != parent:
            os._exit(3)  # as a process killed for its memory would end
        return n * n

    spread = ForkedMap(square_or_die, 2)
    try:
        assert spread.map([1, 2, 3]) == [1, 4, 9]
        assert spread.map([4]) == [16]  # and what follows is done here too, without forking again
    finally:
        spread.close()


def test_no_fork_from_another_thread():
    """A server's jobs run in threads of its process: they check in that process, never fork it."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as thread:
        assert thread.submit(can_fork).result() is False
    assert can_fork() is True


def test_no_fork_under_a_memory_limit():
    """A server's job runs under a limit of memory that its forked processes would each have again."""
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30)); "
            "from gis.forked import can_fork; print(can_fork())")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


_WAIT_FOREVER = """
import os, sys, time
from pathlib import Path
from gis.forked import ForkedMap

def wait(n):
    Path(sys.argv[1], str(os.getpid())).touch()
    time.sleep(600)

ForkedMap(wait, 2).map([1, 2, 3, 4])
"""


def test_the_processes_end_with_their_parent(tmp_path):
    """A batch killed outright (the out-of-memory killer) leaves no process behind waiting for work."""
    parent = subprocess.Popen([sys.executable, "-c", _WAIT_FOREVER, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        children = [int(p.name) for p in tmp_path.iterdir()]
        assert len(children) == 2
        assert all(_alive(pid) for pid in children)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def _alive(pid: int) -> bool:
    """Running, not ended (a process ended but not yet reaped is a zombie: ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
