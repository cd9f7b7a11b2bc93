"""The cyclic collector while a batch runs: fewer passes over the millions of objects a chunk holds."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["fewer_collections"]

#: New containers between two passes of the cyclic collector while a batch runs (Python's default is 700).
_BATCH_COLLECTOR_THRESHOLD = 50_000
_collector_lock = threading.Lock()
_collector_users: list[tuple[int, ...]] = []  # the thresholds in force before the first batch still running


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Let the cyclic collector run less often while a batch runs.

    A chunk holds millions of cells and lists, and by default every 700 new containers start a pass, and
    often enough a full one over all of them: a quarter to a third of a screening's time went there. Reference
    counting still frees everything without cycles at once. The thresholds are the process's, so they are set
    by the first batch that starts and put back by the last one to finish."""
    with _collector_lock:
        if not _collector_users:
            saved = gc.get_threshold()
            gc.set_threshold(max(saved[0], _BATCH_COLLECTOR_THRESHOLD), *saved[1:])
        else:
            saved = _collector_users[0]
        _collector_users.append(saved)
    try:
        yield
    finally:
        with _collector_lock:
            saved = _collector_users.pop()
            if not _collector_users:
                gc.set_threshold(*saved)
