"""A lease in the database: of several `noxbot run` instances, one reads the mailbox and
the chat (the pollers); the others only send from the outbox. The holder renews it; when it
stops renewing, another instance takes over after the lease runs out."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.store.tables import ChannelCursor

POLLERS = "lease:pollers"


def try_acquire(session: Session, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
    """Take or renew the lease; False while another holder's lease is still running."""
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
        return False
    row.value = value
    row.updated_at = now
    session.add(row)
    return True


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up at a clean stop, so another instance need not wait it out."""
    row = session.get(ChannelCursor, name)
    if row is not None and row.value.partition("|")[0] == holder:
        session.delete(row)
