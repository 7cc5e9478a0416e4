"""Processor time of one call, for the tests that bound a step's work by its input's size.

Python's cyclic garbage collector runs when enough objects have been made, anywhere in the
process: late in the suite one full collection walks every test's leftovers and can cost more
than a second, charged to whichever call happened to trigger it (CI once saw 1.5 s for a call
that takes 20 ms). The call is timed after a collection and with the collector paused, so the
figure is the call's own work.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def cpu_seconds(call: Callable[[], T]) -> tuple[float, T]:
    """(processor seconds the call took, its result), without garbage collection in it."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        started = time.process_time()
        result = call()
        return time.process_time() - started, result
    finally:
        if was_enabled:
            gc.enable()
