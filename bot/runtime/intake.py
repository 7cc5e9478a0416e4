"""One inbound message and its channel cursor in one transaction: processed once, never
lost; a message that breaks the pipeline is quarantined for staff and the cursor moves on."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from bot.channels.messages import InboundMessage
from bot.reading.classifier import Classification
from bot.store.database import Database, is_transient
from bot.store.tables import ChannelCursor
from bot.workflow.pipeline import process_inbound, quarantine
from bot.workflow.services import Services

log = logging.getLogger("noxbot")


def read_cursor(session: Session, name: str) -> str | None:
    row = session.get(ChannelCursor, name)
    return row.value if row else None


def write_cursor(session: Session, name: str, value: str, now: datetime) -> None:
    row = session.get(ChannelCursor, name) or ChannelCursor(name=name, value=value)
    row.value = value
    row.updated_at = now
    session.add(row)


def handle_inbound(
    database: Database,
    services: Services,
    inbound: InboundMessage,
    cursor: str,
    position: str,
    classification: Classification | None = None,
) -> None:
    """Process one message and advance the cursor in one transaction (`classification`:
    see process_inbound).

    Cases when it fails:
    - the database is down or busy (`is_transient`): re-raised, the cursor stays, the
      worker waits and reads the message again — nothing is lost, nothing quarantined;
    - anything else (a bug, a statement the database refuses for this message): it is
      quarantined for staff and the cursor moves on, so one bad message never stops the
      worker;
    - storing it for quarantine fails too: a bare record (key, sender, raw bytes) is kept.
    """
    try:
        with database.session() as session:
            process_inbound(session, services, inbound, classification=classification)
            write_cursor(session, cursor, position, services.clock())
        return
    except Exception as exc:  # any other failure: keep the message, tell staff, go on
        if is_transient(exc):
            raise
        error = exc
    for bare in (False, True):
        try:
            with database.session() as session:
                quarantine(session, inbound, error, now=services.clock(), bare=bare)
                write_cursor(session, cursor, position, services.clock())
        except Exception as exc:  # the bare record is the last resort
            if bare or is_transient(exc):
                raise
            log.error("storing a failed message (%s); keeping a bare record", type(exc).__name__)
            continue
        log.error("pipeline failed on a message (%s); quarantined for staff", type(error).__name__)
        return
