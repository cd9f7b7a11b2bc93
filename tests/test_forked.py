"""Work in processes forked from the test's: results in order, made in other processes, and made here when a
process dies."""

import os

import pytest

from gis.batch.forked import ForkedMap, can_fork

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
