"""A lease in the database: of several `noxbot run` instances, one reads the mailbox and
the chat (the pollers); the others only send from the outbox. The holder renews it; when it
stops renewing, another instance takes over after the lease runs out — except that a lease
left by a dead process on this very machine (a kill -9, a crash) is taken over at once."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.store.tables import ChannelCursor

POLLERS = "lease:pollers"
log = logging.getLogger("noxbot")


def new_holder() -> str:
    """This process's name on a lease: host, process id, and a random part that keeps two
    holders apart even when a process id is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def holder_is_dead(holder: str) -> bool:
    """True only when `holder` surely no longer runs: it named this host, and no process
    with its id exists here. Another host's holder, or a live process (whatever it is now),
    is never taken for dead — then the lease runs out in its own time."""
    host, _, rest = holder.partition(":")
    pid, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # it exists, owned by someone else
        return False
    return False


def try_acquire(session: Session, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
    """Take or renew the lease; False while another living holder's lease is still running."""
    row = session.exec(
        select(ChannelCursor).where(ChannelCursor.name == name).with_for_update()
    ).first()
    value = f"{holder}|{(now + ttl).isoformat()}"
    if row is None:
        try:
            with session.begin_nested():
                session.add(ChannelCursor(name=name, value=value, updated_at=now))
        except IntegrityError:
            return False  # another instance created it a moment ago
        return True
    current, _, expires = row.value.partition("|")
    if current != holder and datetime.fromisoformat(expires) > now:
        if not holder_is_dead(current):
            return False
        log.info("taking over the lease %s of a process that ended (%s)", name, current)
    row.value = value
    row.updated_at = now
    session.add(row)
    return True


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up at a clean stop, so another instance need not wait it out."""
    row = session.get(ChannelCursor, name)
    if row is not None and row.value.partition("|")[0] == holder:
        session.delete(row)
