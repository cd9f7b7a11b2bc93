"""Work spread over processes forked from this one: they start with what this process has prepared (the
engines of a store version, the rule book) without copying or pickling it.

The batch uses them for the exact checks of many places: each is about 1.5 ms of Python with the interpreter
lock held, so threads cannot spread them, and a register over a real red line meets thousands (4,265 in
100,000 rows over 20,000 patches). Only the arguments and the results travel, pickled.

A process may fork only where nothing forbids it and nothing it forks can be left holding a lock: ``can_fork``.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["ForkedMap", "can_fork", "end_with_parent"]

_PR_SET_PDEATHSIG = 1  # prctl(2)
_served: Callable[[Any], Any] | None = None  # in a forked process: the function it runs


def can_fork() -> bool:
    """Whether this thread may fork processes: on Linux (Windows cannot fork, macOS's system libraries may not
    be forked), from the main thread (a server's thread may share the process with threads holding locks), not
    from a process that may not have children (a Dask worker's, a process pool's), and not under a limit of
    memory (a server's job: each child would have as much again)."""
    if (sys.platform != "linux" or threading.current_thread() is not threading.main_thread()
            or multiprocessing.current_process().daemon):
        return False
    import resource  # Unix only

    return resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY


def end_with_parent() -> None:
    """Ask the kernel for SIGKILL when the thread that started this process ends (Linux; elsewhere nothing):
    a child killed with its parent (the out-of-memory killer, a stopped server) is not left behind."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ForkedMap:
    """``function`` mapped over a list of arguments by ``processes`` processes forked from this one when first
    needed, and kept until ``close``; each runs ``function`` as it was at the fork.

    A process that dies (killed, out of memory) leaves the work to this process: ``map`` then runs the function
    here, the same results slower.
    """

    def __init__(self, function: Callable[[Any], Any], processes: int) -> None:
        self.function = function
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False

    def map(self, arguments: Sequence[Any]) -> list[Any]:
        """``function`` of each argument, in order."""
        if not self._broken:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("fork"),
                                                 initializer=_serve, initargs=(self.function,))
            try:
                with warnings.catch_warnings(), _ctrl_c_held():  # Python 3.12 warns of a fork in a process with
                    # threads: the children only run ``function``, which takes no lock another thread could hold
                    warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
                    results = self._pool.map(_run, arguments)  # the processes forked (the first time), work sent
                return list(results)
            except BrokenProcessPool:
                self._broken = True
                self.close()
        return [self.function(a) for a in arguments]

    def close(self) -> None:
        """Stop the processes."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Ctrl-C (SIGINT) noted while processes are forked, and acted on after: Python ignores what its handlers
    around a fork raise, so a KeyboardInterrupt raised in one was lost and the batch ran on. (Blocking the
    signal would not do: another thread of this process may take it.)"""
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and callable(previous):
        previous(signal.SIGINT, None)  # the default handler raises KeyboardInterrupt


def _serve(function: Callable[[Any], Any]) -> None:
    global _served
    _served = function
    # Ctrl-C reaches the whole process group: this process's parent stops the batch, then these processes
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # and a parent killed outright takes them with it, rather than leave them waiting for work
    end_with_parent()


def _run(argument: Any) -> Any:
    return _served(argument)
