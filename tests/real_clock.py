"""The servers tests start keep the real time while the suite's clock is moved."""

from __future__ import annotations

import os

#: What moves a process's clock (libfaketime, as .ci/at-date runs the suite at other dates).
#: The servers the tests start are not given it, and live in the real present like servers on
#: other machines: PostgreSQL's own timers (deadlock detection, lock_timeout,
#: statement_timeout) never fire in a server whose clock libfaketime moves, and Dovecot
#: refuses mail whose file times and clock disagree (tests/dovecot.py). noxbot never asks
#: a server for the time: every instant it stores comes from its own clock.
CLOCK_MOVERS = ("LD_PRELOAD", "FAKETIME", "FAKETIME_SHARED", "NO_FAKE_STAT")


def real_clock_env() -> dict[str, str]:
    """This process's environment without what moves the clock (see CLOCK_MOVERS)."""
    return {name: value for name, value in os.environ.items() if name not in CLOCK_MOVERS}
