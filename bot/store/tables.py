"""Storage: the SQLModel tables noxbot keeps, and the status values they hold.

Tables are plain records; what may change them (the lifecycle, the register, the audit
chain) lives in its own module. Timestamps are stored as aware UTC datetimes and have no
defaults: whoever writes a row sets them from the workflow's clock (`Services.clock`), so
nothing that decides behaviour depends on the date of the machine it runs on.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


class RequestStatus(StrEnum):
    RECEIVED = "received"
    AWAITING_VERIFICATION = "awaiting_verification"
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DONE = "done"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


#: States a case can end in; nothing moves out of them (bot.workflow.lifecycle).
FINAL_STATES: frozenset[RequestStatus] = frozenset(
    {RequestStatus.DONE, RequestStatus.WITHDRAWN, RequestStatus.CLOSED}
)


class ContactKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    TELEGRAM = "telegram"


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class MessageState(StrEnum):
    """What the pipeline made of an inbound message."""

    RECEIVED = "received"
    REQUEST = "request"  # opened a case
    THREAD = "thread"  # attached to an existing case
    VERIFICATION_ANSWER = "verification_answer"
    NOT_A_REQUEST = "not_a_request"  # ordinary mail: seen, left alone
    AUTOMATED = "automated"  # auto-reply, bounce, list, our own mail
    TRIAGE = "triage"  # classifier unsure: staff choose
    MALFORMED = "malformed"  # kept raw, shown to staff


class VerificationStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DENIED = "denied"  # "it wasn't me"
    EXPIRED = "expired"
    FAILED = "failed"  # too many wrong attempts
    CANCELLED = "cancelled"


class DraftStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # gave up after retries; staff see it
    MANUAL = "manual"  # a letter or a call: staff deliver it by hand
    CANCELLED = "cancelled"  # withdrawn before it went (an erasure took the data it carried)


class Subject(SQLModel, table=True):
    """A person on file (the register): what the policy says NOX keeps about consultants."""

    __tablename__ = "subject"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", sa_type=Text)
    company: str | None = None
    org_number: str | None = None
    roles: str | None = Field(default=None, sa_type=Text)
    competences: str | None = Field(default=None, sa_type=Text)
    availability: str | None = None
    cv_text: str | None = Field(default=None, sa_type=Text)
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Flags the rest of the system honours (Art. 18, 21).
    restricted: bool = False
    objected: bool = False
    marketing_suppressed: bool = False
    consent_withdrawn: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ContactPoint(SQLModel, table=True):
    """One way to reach a person: an email address, a phone number, a Telegram user id."""

    __tablename__ = "contact_point"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_contact_point_kind_value"),)

    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True, ondelete="CASCADE")
    kind: str
    value: str  # normalised: lower-case email, E.164 phone, decimal Telegram id
    #: A contact point a rectification just put on file proves nothing yet: it is not used to
    #: verify anyone before this time (the cooling-off period, bot.rules.verification).
    verify_after: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Suppression(SQLModel, table=True):
    """What stays after an erasure: a keyed hash of a contact point, so marketing stays off."""

    __tablename__ = "suppression"

    id: int | None = Field(default=None, primary_key=True)
    contact_hash: str = Field(index=True, unique=True)
    reason: str
    created_at: datetime = Field(sa_type=UTCDateTime)


class Request(SQLModel, table=True):
    """A case: one rights request from one person, with its legal deadline."""

    __tablename__ = "request"
    #: A requester's cases (answers to a code challenge, a Telegram user's open case).
    __table_args__ = (Index("ix_request_requester", "requester_address", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, index=True)
    subject_id: int | None = Field(
        default=None, foreign_key="subject.id", index=True, ondelete="SET NULL"
    )
    kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    language: str = "sv"
    channel: str
    requester_address: str
    requester_name: str | None = None
    status: str = Field(default=RequestStatus.RECEIVED, index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)
    due_date: date
    target_date: date
    #: Set once identity is confirmed (alternate channel, or a staff call): only then may a
    #: draft carry register data.
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verified_by: str | None = None
    extended: bool = False
    extended_due_date: date | None = None
    extension_reason: str | None = Field(default=None, sa_type=Text)
    confidence: float | None = None
    evidence: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: What a rectification asks to change: [{"field", "old", "new"}]; filled by its handler.
    requested_changes: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    #: What staff found and will do about a complaint (noxbot requests outcome); its reply
    #: cannot be approved before this is recorded.
    complaint_outcome: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """A message in or out, with the ids its channel needs to find it again."""

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_imap", "imap_uidvalidity", "imap_uid"),
        Index("ix_message_telegram", "telegram_chat_id", "telegram_message_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: Idempotency: channel + its own id (IMAP UIDVALIDITY/UID, Telegram chat/message id) or
    #: the Message-ID; a message handed in twice is processed once.
    dedupe_key: str = Field(unique=True, index=True)
    direction: str = Direction.INBOUND
    channel: str
    request_id: int | None = Field(
        default=None, foreign_key="request.id", index=True, ondelete="SET NULL"
    )
    address: str  # sender (inbound) or recipient (outbound)
    display_name: str | None = None
    subject: str = Field(default="", sa_type=Text)
    text: str = Field(default="", sa_type=Text)
    raw: bytes | None = Field(default=None, sa_type=LargeBinary)
    message_id: str | None = Field(default=None, index=True)
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    imap_uidvalidity: int | None = None
    imap_uid: int | None = None
    telegram_chat_id: int | None = None
    telegram_message_id: int | None = None
    telegram_reply_to_id: int | None = None
    received_at: datetime = Field(sa_type=UTCDateTime)
    state: str = Field(default=MessageState.RECEIVED, index=True)
    state_reason: str | None = Field(default=None, sa_type=Text)
    classification: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    #: Staff's triage choice, kept as a label for the classifier's evaluation.
    label_kinds: list[str] | None = Field(default=None, sa_column=Column(JSON))
    labelled_by: str | None = None
    #: Set when retention cleared the content of a message that opened no case.
    content_cleared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Verification(SQLModel, table=True):
    """A challenge sent through an alternate channel on file; codes only as keyed hashes."""

    __tablename__ = "verification"
    #: The challenges sent to an address (is a mail an answer to one?).
    __table_args__ = (Index("ix_verification_address", "address", "method"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True, ondelete="CASCADE")
    method: str  # telegram_confirm | email_code | phone_call
    channel: str
    address: str
    code_hash: str | None = None
    status: str = Field(default=VerificationStatus.PENDING, index=True)
    attempts: int = 0
    max_attempts: int = 5
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str | None = None
    note: str | None = Field(default=None, sa_type=Text)
    #: The id the challenge went out under (Telegram message id, Message-ID), to match answers.
    challenge_ref: str | None = Field(default=None, index=True)
    #: What the challenge named, so a confirmation covers exactly that: the kinds asked for,
    #: and (for a rectification of a contact point) the contact point whose old value it
    #: reached — "email", "phone" — or None for the confirmation of who asked.
    kinds: list[str] | None = Field(default=None, sa_column=Column(JSON))
    confirms_contact: str | None = None
    #: The new value the change of `confirms_contact` would put on file: a confirmation
    #: covers that value only, never another one staff or anyone set later.
    confirms_value: str | None = None


class Draft(SQLModel, table=True):
    """One version of a reply staff must approve; edits add versions, never overwrite."""

    __tablename__ = "draft"
    __table_args__ = (UniqueConstraint("series", "version", name="uq_draft_series_version"),)

    id: int | None = Field(default=None, primary_key=True)
    series: str = Field(index=True)  # the versions of one draft share it
    version: int = 1
    request_id: int = Field(foreign_key="request.id", index=True, ondelete="CASCADE")
    purpose: str  # reply | clarification | extension | refusal | verification_result ...
    status: str = Field(default=DraftStatus.AWAITING_APPROVAL, index=True)
    language: str
    to_channel: str
    to_address: str
    subject: str = Field(default="", sa_type=Text)
    text: str = Field(sa_type=Text)
    #: [{"filename", "content_type", "content"}] — text attachments (JSON, CSV exports).
    attachments: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    carries_personal_data: bool = False
    #: A reply's scope when it was written: {"kinds": [...], "changes": [...]}. Approval
    #: carries out exactly this, and is refused when the case has moved on since.
    covers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    author: str = "noxbot"
    created_at: datetime = Field(sa_type=UTCDateTime)
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_reason: str | None = Field(default=None, sa_type=Text)
    #: When the staff chat was shown this version with its buttons (None: not yet).
    staff_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The staff-chat message holding the card's buttons, edited once it is decided.
    staff_message_id: int | None = Field(default=None, sa_type=BigInteger)
    #: When that card was edited to say the decision and lost its buttons.
    staff_card_closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Outbox(SQLModel, table=True):
    """A message approved (or automatic, like a challenge) and waiting for its sender."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int | None = Field(
        default=None, foreign_key="request.id", index=True, ondelete="SET NULL"
    )
    draft_id: int | None = Field(default=None, foreign_key="draft.id", ondelete="SET NULL")
    channel: str
    address: str
    subject: str = Field(default="", sa_type=Text)
    text: str = Field(sa_type=Text)
    attachments: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    #: Threading and loop-prevention headers (Message-ID is fixed here, so a retry is the
    #: same message), Telegram reply_to and inline buttons.
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    purpose: str = "reply"
    status: str = Field(default=OutboxStatus.QUEUED, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The channel's id of what was sent (Message-ID, Telegram message id).
    sent_ref: str | None = None


class StaffAlert(SQLModel, table=True):
    """Something staff must look at: possible impersonation, a call to make, a complaint."""

    __tablename__ = "staff_alert"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int | None = Field(
        default=None, foreign_key="request.id", index=True, ondelete="SET NULL"
    )
    message_id: int | None = Field(default=None, foreign_key="message.id", ondelete="SET NULL")
    kind: str = Field(index=True)
    text: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str | None = None
    #: When the alert was posted to the staff chat (None: not yet).
    staff_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained record of every change (who, when, what, why)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str
    request_id: int | None = Field(default=None, index=True)
    reference: str | None = None
    action: str
    from_state: str | None = None
    to_state: str | None = None
    detail: str = Field(default="", sa_type=Text)
    prev_hash: str = Field(unique=True)  # one successor per event: the chain cannot fork
    hash: str = Field(unique=True)


class ChannelCursor(SQLModel, table=True):
    """Where a channel's reader left off (IMAP UIDVALIDITY + last UID, Telegram offset)."""

    __tablename__ = "channel_cursor"

    name: str = Field(primary_key=True)
    value: str
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ReferenceCounter(SQLModel, table=True):
    """Per-year counter behind DSR-YYYY-NNNN references."""

    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True)
    last: int = 0


class StaffAccount(SQLModel, table=True):
    """A staff member who logs in to the web console (bot.web); the password as an argon2
    hash only, and until it is set, a one-time setup link (as a keyed hash)."""

    __tablename__ = "staff_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    password_hash: str | None = None
    setup_token_hash: str | None = Field(default=None, index=True)
    setup_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A logged-in browser: the cookie's token as a hash, its CSRF token, when it ends."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True)
    staff_id: int = Field(foreign_key="staff_account.id", index=True, ondelete="CASCADE")
    csrf_token: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class FindingState(StrEnum):
    FOUND = "found"
    ERASED = "erased"  # moved to the holding place, or deleted, as the source is configured
    FAILED = "failed"  # the source refused or was down while acting on it: see `outcome`
    RECTIFIED = "rectified"  # an approved rectification's update statements ran on it
    RESTRICTED = "restricted"  # an approved restriction's restrict statement ran on it


class SourceFinding(SQLModel, table=True):
    """One thing a source holds about a case's person (a file, a mail, a row), as found when
    the reply was drafted; what the reply shows and what an approved erasure acts on."""

    __tablename__ = "source_finding"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True, ondelete="CASCADE")
    source: str
    #: Where the source finds it again (a path, folder/UIDVALIDITY/UID, a row's key).
    ref: str = Field(sa_type=Text)
    category: str
    #: What staff and the person read: a file name; a mail's date, direction and subject.
    summary: str = Field(sa_type=Text)
    #: (key, value) pairs shown with it: a mail's direction, a row's columns.
    details: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: Whether the source may erase it (a mail the person is only mentioned in: no).
    erasable: bool = True
    state: str = FindingState.FOUND
    outcome: str | None = Field(default=None, sa_type=Text)
    found_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChecklistItem(SQLModel, table=True):
    """A task staff carry out by hand and tick off with a note before approval: a system
    noxbot cannot reach, or a source that was down or refused."""

    __tablename__ = "checklist_item"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True, ondelete="CASCADE")
    source: str
    task: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by: str | None = None
    note: str | None = Field(default=None, sa_type=Text)


class Disclosure(SQLModel, table=True):
    """Who received a person's data (Art. 15(1)(c), Art. 19): a client a CV was sent to.
    Imported from CSV (noxbot disclosures import); erased with the person."""

    __tablename__ = "disclosure"

    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True, ondelete="CASCADE")
    recipient: str
    #: Where an Art. 19 notice goes; none: a checklist item (tell them another way).
    recipient_email: str | None = None
    disclosed_on: date
    what: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
