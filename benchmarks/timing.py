"""What the file benchmarks share: one timed run, printed as it ends."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed(label: str, run: Callable[[], object]) -> float:
    """Run ``run()`` once and print its wall time beside ``label``; returns the seconds."""
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(f"  {label:<48} {seconds:8.2f} s", flush=True)
    return seconds
