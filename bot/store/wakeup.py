"""Waking the senders the moment something is queued, instead of at their next sweep.

A transaction that queues an outbox row, raises a staff alert or adds or decides a draft
marks its session; when it commits, every worker that waits on this database's `Wakeup` is
woken (an asyncio.Event per waiter, set thread-safely). On PostgreSQL the same commit also
sends `NOTIFY noxbot_wake`, so that the other instances (and `noxbot run` after a CLI
approval) wake too; bot.runtime.wakeups listens for it. The periodic sweep stays as the
fallback: a lost signal only costs the old wait.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import event, inspect, text
from sqlmodel import Session

from bot.store.tables import Draft, Outbox, OutboxStatus, StaffAlert

#: The PostgreSQL channel every instance listens on.
CHANNEL = "noxbot_wake"
_FLAG = "noxbot_wake"


class Wakeup:
    """The waiters of one process on one database."""

    def __init__(self) -> None:
        self.enabled = True
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def subscribe(self) -> asyncio.Event:
        """An event (of the running loop) set on every wake-up; the waiter clears it."""
        wake = asyncio.Event()
        with self._lock:
            self._waiters.append((asyncio.get_running_loop(), wake))
        return wake

    def unsubscribe(self, wake: asyncio.Event) -> None:
        with self._lock:
            self._waiters = [(loop, w) for loop, w in self._waiters if w is not wake]

    def notify(self) -> None:
        """Wake every waiter (from any thread)."""
        if not self.enabled:
            return
        with self._lock:
            waiters = list(self._waiters)
        for loop, wake in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)


def _status_changed(obj: Any) -> bool:
    return bool(inspect(obj).attrs.status.history.has_changes())


def _wakes(obj: Any, new: bool) -> bool:
    """A queued message (new, or put back in the queue), a new alert, a new draft or one
    whose status changed (a decision: its card is edited)."""
    if isinstance(obj, Outbox):
        return obj.status == OutboxStatus.QUEUED and (new or _status_changed(obj))
    if isinstance(obj, StaffAlert):
        return new
    if isinstance(obj, Draft):
        return new or _status_changed(obj)
    return False


@event.listens_for(Session, "before_flush")
def _mark(session: Session, _context: Any, _instances: Any) -> None:
    """Remember that this transaction queued or changed something a sender acts on."""
    if session.info.get(_FLAG):
        return
    if any(_wakes(o, True) for o in session.new) or any(_wakes(o, False) for o in session.dirty):
        session.info[_FLAG] = True


def note_inserted(session: Session, row: Any) -> None:
    """The same rule for a row written without the flush (bot.store.rows.insert_now)."""
    if not session.info.get(_FLAG) and _wakes(row, True):
        session.info[_FLAG] = True


def wants_wakeup(session: Session) -> bool:
    """Flush pending changes and say whether committing them should wake the senders; on
    PostgreSQL the NOTIFY is sent in the transaction, so it arrives only if it commits."""
    session.flush()
    if not session.info.get(_FLAG):
        return False
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))
    return True
