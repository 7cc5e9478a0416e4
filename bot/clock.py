"""The one clock: the machine's time, read here and nowhere else in bot/ or handlers/.

The workflow is given a clock (`Services.clock`, this one in production) or a `now`; tests
give it one they move, and a test fails on any other read of the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: A clock: what time it is now, aware. The workflow is given one (`Services.clock`); tests
#: give it one they move.
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The machine's clock, aware, in UTC: the workflow's clock in production. The only
    place that reads the wall clock; everything else is given a clock or a `now`."""
    return datetime.now(UTC)
