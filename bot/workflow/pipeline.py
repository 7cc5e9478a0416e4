"""The pipeline: what noxbot does with one inbound message, in one transaction.

The cases, in the order they are tried (the first that applies decides):
1. seen before (same channel id or Message-ID)  → nothing more; processed once;
2. could not be parsed                          → kept raw, shown to staff;
3. auto-reply, bounce, mailing list, our own    → recorded, left alone (RFC 3834 loops);
4. a press of a verification button             → the verification answered;
5. an answer to a pending code challenge        → the verification answered;
6. part of an existing case (reference, thread) → attached; new rights it asks are added;
7. otherwise classified: not a request          → recorded as seen, left alone;
                         unsure                 → staff triage (their choice is kept);
                         a rights request       → a case is opened.
Personal identity numbers are masked before anything is stored (the policy: not needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import inspect
from sqlmodel import Session, col, select

from bot.channels.messages import InboundMessage
from bot.reading.automated import detect_automated
from bot.reading.classifier import Classification, classify
from bot.reading.language import detect_language
from bot.reading.safe_text import stored_name
from bot.rules.channels import ChannelName
from bot.rules.kinds import KINDS_NEEDING_VERIFICATION, RequestKind
from bot.store import audit
from bot.store.later import insert_later
from bot.store.records import (
    SYSTEM,
    alert_staff,
    contact_kind_of,
    find_reference,
    normalised_or_raw,
    resolve_by,
    subject_of,
)
from bot.store.register import contacts_of
from bot.store.rows import (
    in_parts,
    insert_with_long_text,
    new_row,
    row_values,
    table_of,
    update_now_if,
)
from bot.store.tables import (
    Direction,
    Message,
    MessageState,
    Request,
    RequestStatus,
    StaffAlert,
)
from bot.workflow.cases import Opened, open_case, stop_marketing_at_once
from bot.workflow.confirming import (
    answer_button,
    answer_code,
)
from bot.workflow.conversation import answer_help, is_help_command
from bot.workflow.drafts import redraft_reply
from bot.workflow.lifecycle import FINAL_STATES, claim_case, is_open
from bot.workflow.services import Services

S = RequestStatus


@dataclass(frozen=True)
class Outcome:
    """What became of one inbound message."""

    message_id: int
    state: MessageState
    duplicate: bool = False
    reference: str | None = None
    detail: str = ""


def process_inbound(
    session: Session,
    services: Services,
    inbound: InboundMessage,
    *,
    stated_kinds: list[RequestKind] | None = None,
    actor: str = SYSTEM,
    classification: Classification | None = None,
    known_new: bool = False,
) -> Outcome:
    """Take one inbound message through the cases above; returns what became of it.

    `stated_kinds` (manual intake): staff say what the person asked for; those kinds replace
    the classifier's guess at step 7, and are kept as the message's label.
    `classification`: the classifier's reading of this message, made already where it was
    read within a time budget (bot.runtime.mail_reader); made here otherwise.
    `known_new`: the caller has just looked, in this transaction, and no message with this
    key is stored (bot.runtime.intake.handle_batch looks for a whole batch at once).

    The message is written once its outcome is known (one INSERT, not an INSERT and an
    UPDATE) - but for a text written in parts (bot.store.rows.in_parts: at once, by `_record`);
    whatever needs its id or changes it first stores it (`_stored`), and so does
    answer_code once the message says a code. Ordinary mail that nothing else touched is
    written by a plain INSERT at the end (`_finish`).
    """
    key = inbound.dedupe_key()
    seen = (
        None
        if known_new
        else session.exec(select(Message).where(Message.dedupe_key == key)).first()
    )
    if seen is not None:
        return Outcome(
            seen.id or 0,
            MessageState(seen.state),
            duplicate=True,
            reference=_reference_of(session, seen),
            detail="already processed",
        )

    message = _record(session, inbound, key, keep_raw=bool(inbound.malformed), now=services.clock())

    if inbound.malformed:
        return _malformed(session, message, inbound.malformed, now=services.clock())

    if inbound.channel is ChannelName.EMAIL:
        automated = detect_automated(
            {"from": inbound.sender, **inbound.headers},
            own_addresses=services.settings.own_addresses,
            content_type=inbound.content_type,
        )
        if automated is not None:
            return _finish(message, MessageState.AUTOMATED, automated.reason, session)

    if inbound.callback_data is not None:
        _stored(session, message)
        done = answer_button(session, services, message, inbound.callback_data)
        if done is None:
            return _finish(message, MessageState.NOT_A_REQUEST, "button not for this user", session)
        return _finish(message, MessageState.VERIFICATION_ANSWER, done, session)

    if inbound.channel is ChannelName.TELEGRAM and is_help_command(message.text):
        _stored(session, message)
        answer_help(session, services, message)  # what the bot is for; never a case
        return _finish(message, MessageState.NOT_A_REQUEST, "a /start or /help command", session)

    # (most mail says no code: answered without the database; else answer_code adds it)
    if (done := answer_code(session, services, message)) is not None:
        return _finish(message, MessageState.VERIFICATION_ANSWER, done, session)

    if classification is None:  # else made as here, by mail_classifying.classify_inbound
        classification = classify(
            message.text,
            subject=message.subject,
            channel="chat" if message.channel == "telegram" else "email",
            # A mail the reader parsed is its visible text already: only what the
            # classifier reads of it is stripped again (a mail of many MB costs no more).
            visible=inbound.stored_form,
        )
    message.classification = {**classification.to_json()}
    if stated_kinds is not None:
        _stored(session, message)
        classification = _stated(
            session, message, classification, stated_kinds, actor, now=services.clock()
        )
    case = _thread_case(session, message)
    if case is not None:
        _stored(session, message)
        if _from_requester(session, case, message):
            return _attach_to_case(session, services, message, case, classification)
        # Someone else quoting a reference or answering in the thread (a colleague in Cc, a
        # guessed reference): never their words in another person's case. Staff are told;
        # the message is read on its own below.
        session.add(
            StaffAlert(
                request_id=case.id,
                message_id=message.id,
                kind="other_sender",
                text=f"{case.reference}: message {message.id} from a different sender "
                f"({message.channel}) refers to this case; it was not added to it",
                created_at=services.clock(),
            )
        )

    # Unsure either way — a weak request, or data talk that matched nothing — staff decide.
    if classification.confidence < services.settings.classifier.triage_threshold:
        _stored(session, message)
        session.add(
            StaffAlert(
                message_id=message.id,
                kind="triage",
                text=f"message {message.id} from {message.channel} may be a "
                f"request ({', '.join(classification.kinds)}, confidence "
                f"{classification.confidence:.2f}); choose its kinds",
                created_at=services.clock(),
            )
        )
        return _finish(message, MessageState.TRIAGE, "classifier unsure", session)
    if not classification.is_request:
        return _finish(message, MessageState.NOT_A_REQUEST, "not a rights request", session)
    return _open_from(session, services, message, classification)


# --- steps ---------------------------------------------------------------------------------


def quarantine(
    session: Session,
    inbound: InboundMessage,
    error: BaseException,
    *,
    now: datetime,
    bare: bool = False,
) -> Outcome:
    """A message whose processing failed: kept (raw) and shown to staff, so the worker can go
    on and nothing is lost. The error's type is recorded, not its text (it may hold data).

    `bare` is the last resort when even storing the message failed: only its key, sender and
    (size-capped) raw bytes, nothing parsed."""
    key = inbound.dedupe_key()
    seen = session.exec(select(Message).where(Message.dedupe_key == key)).first()
    if seen is not None:
        return Outcome(seen.id or 0, MessageState(seen.state), duplicate=True)
    if bare:
        message = Message(
            dedupe_key=key,
            direction=Direction.INBOUND,
            channel=inbound.channel,
            address=_storable(inbound.sender)[:320],
            raw=(inbound.raw or b"")[:MAX_QUARANTINED_RAW] or None,
            received_at=inbound.arrival(now),
        )
        session.add(message)
        session.flush()
    else:
        message = _record(session, inbound, key, keep_raw=True, now=now)
    return _malformed(session, message, f"processing failed ({type(error).__name__})", now=now)


#: A quarantined message keeps at most this many raw bytes (a mail server's usual limit).
MAX_QUARANTINED_RAW = 25 * 1024 * 1024
#: A Message-ID longer than this cannot be a real one (RFC 5322 lines end at 998) and would
#: not fit the index that threads replies; such a message is simply not threaded by it.
MAX_MESSAGE_ID = 250
MAX_REFERENCES = 20


def _storable(text: str | None) -> str:
    """Text as the database can hold it: PostgreSQL refuses NUL characters in text, and no
    database a lone surrogate (the reading replaces them; this is the bare record's
    guarantee)."""
    text = (text or "").replace("\x00", "")
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def _message_id(value: str | None) -> str | None:
    value = _storable(value).strip()
    return value if value and len(value) <= MAX_MESSAGE_ID else None


def _record(
    session: Session, inbound: InboundMessage, key: str, *, keep_raw: bool, now: datetime
) -> Message:
    """The message, masked, not yet in the session (see process_inbound) - unless its
    text is written in parts (bot.store.rows.in_parts): then it is written now. The raw
    bytes (unmasked: a personal identity number may stand in them) are kept only when staff
    need them — mail that could not be read or processed; the original of any other mail
    stays in the mailbox, untouched."""
    stored_subject, stored_body = inbound.stored_subject_and_text()
    message = new_row(  # (bot.store.rows: a third of an ordinary mail's cost otherwise)
        Message,
        dedupe_key=key,
        direction=Direction.INBOUND,
        channel=inbound.channel,
        address=normalised_or_raw(inbound.channel, _storable(inbound.sender)),
        display_name=stored_name(inbound.sender_name),
        subject=stored_subject,
        text=stored_body,
        raw=inbound.raw if keep_raw else None,
        message_id=_message_id(inbound.message_id),
        in_reply_to=_message_id(inbound.in_reply_to),
        # The newest few are enough to find a thread; thousands would only be a weapon.
        references=[r for r in map(_message_id, inbound.references) if r][-MAX_REFERENCES:],
        imap_uidvalidity=inbound.imap_uidvalidity,
        imap_uid=inbound.imap_uid,
        telegram_chat_id=inbound.telegram_chat_id,
        telegram_message_id=inbound.telegram_message_id,
        telegram_reply_to_id=inbound.telegram_reply_to_id,
        received_at=inbound.arrival(now),
    )
    if in_parts(session, stored_body):  # written now, in parts (see insert_with_long_text)
        insert_with_long_text(session, message, "text", stored_body)
    return message


def _stored(session: Session, message: Message) -> None:
    """The message in the session and written, so that it has an id to be referred to by
    and whatever changes it from now on is written with it."""
    session.add(message)
    if message.id is None:
        session.flush()


def _insert_alone(session: Session, message: Message) -> None:
    """A message that nothing refers to or changed (ordinary mail), written by a plain
    INSERT in the transaction — a fraction of what the unit of work's flush costs — or,
    in a batch of inbound mail, with the next statement, together with the mail before it
    (bot.store.later: its id stays unknown, as nothing needs it). The object stays outside
    the session (it is done with)."""
    session.flush()  # anything pending goes first, as a flush would order it
    message.id = insert_later(session, table_of(Message), row_values(message))


def _finish(message: Message, state: MessageState, reason: str, session: Session) -> Outcome:
    message.state = state
    message.state_reason = reason
    if inspect(message).transient:
        _insert_alone(session, message)
    else:
        _stored(session, message)  # (a change to a stored one goes with the next flush)
    reference = _reference_of(session, message)
    return Outcome(message.id or 0, state, reference=reference, detail=reason)


def _reference_of(session: Session, message: Message) -> str | None:
    if message.request_id is None:
        return None
    case = session.get(Request, message.request_id)
    return case.reference if case else None


def _malformed(session: Session, message: Message, why: str, *, now: datetime) -> Outcome:
    _stored(session, message)
    session.add(
        StaffAlert(
            message_id=message.id,
            kind="malformed",
            text=f"message {message.id} could not be read ({why}); the raw "
            "message is kept for you to look at",
            created_at=now,
        )
    )
    return _finish(message, MessageState.MALFORMED, why, session)


def _open_from(
    session: Session, services: Services, message: Message, classification: Classification
) -> Outcome:
    opened = open_case(
        session,
        services,
        message,
        list(classification.kinds),
        classification.language,
        confidence=classification.confidence,
        evidence=list(classification.evidence),
    )
    return _opened(session, message, opened)


def _opened(session: Session, message: Message, opened: Opened) -> Outcome:
    if message.state != MessageState.REQUEST:  # (open_case set it; setting it again costs a flush)
        message.state = MessageState.REQUEST
    _stored(session, message)  # (its state goes with the next flush)
    case = opened.case
    return Outcome(
        message.id or 0,
        MessageState.REQUEST,
        reference=case.reference,
        detail=f"{', '.join(case.kinds)}: {case.status}",
    )


# --- threads -------------------------------------------------------------------------------


def _thread_case(session: Session, message: Message) -> Request | None:
    """The case this message continues: a reference in the subject, a mail thread, a reply on
    Telegram, or a Telegram user's open case."""
    if reference := find_reference(f"{message.subject}\n{message.text[:2000]}"):
        case = session.exec(select(Request).where(Request.reference == reference)).first()
        if case is not None:
            return case
    ids = [i for i in (message.in_reply_to, *message.references) if i]
    if ids:
        earlier = session.exec(
            select(Message)
            .where(col(Message.message_id).in_(ids), col(Message.request_id).is_not(None))
            .order_by(col(Message.id).desc())
        ).first()
        if earlier is not None:
            return session.get(Request, earlier.request_id)
    if message.channel == "telegram" and message.telegram_reply_to_id is not None:
        earlier = session.exec(
            select(Message).where(
                Message.telegram_chat_id == message.telegram_chat_id,
                Message.telegram_message_id == message.telegram_reply_to_id,
                col(Message.request_id).is_not(None),
            )
        ).first()
        if earlier is not None:
            return session.get(Request, earlier.request_id)
    if message.channel == "telegram":
        # A chat has no subject or thread headers: what the requester writes while their
        # case is open belongs to it ("any news?"), so staff see it.
        return session.exec(
            select(Request)
            .where(
                Request.channel == "telegram",
                Request.requester_address == message.address,
                col(Request.status).not_in([str(s) for s in FINAL_STATES]),
            )
            .order_by(col(Request.id).desc())
        ).first()
    return None


def _from_requester(session: Session, case: Request, message: Message) -> bool:
    """The message comes from the person the case is about: the address the request came
    from, or a contact point on file for that person. Only they may add to their case."""
    if message.channel == case.channel and message.address == case.requester_address:
        return True
    subject = subject_of(session, case)
    kind = contact_kind_of(message.channel)
    return (
        subject is not None
        and kind is not None
        and any(
            c.kind == kind and c.value == message.address for c in contacts_of(session, subject)
        )
    )


def _attach_to_case(
    session: Session,
    services: Services,
    message: Message,
    case: Request,
    classification: Classification,
) -> Outcome:
    """A message in the thread of the sender's own case. What it adds, case by case:
    - nothing new: attached for staff to read;
    - a right that needs verification: its own case, with its own confirmation — a
      confirmation covers the kinds it named, and a From line is no proof, so nothing that
      discloses or changes data joins a case after its challenge went out;
    - a right that needs none (opting out, a complaint, a question): joins the open case,
      whose reply is drafted again;
    - unsure: attached, and staff see it."""

    def kinds_it_adds() -> list[RequestKind]:
        return [
            k
            for k in classification.kinds
            if k is not RequestKind.NONE and str(k) not in case.kinds
        ]

    new_kinds = kinds_it_adds()
    if new_kinds:
        # Whether it may join is decided on the case as it is once held: one approved
        # meanwhile takes no new kind (it would go unanswered), and two messages adding
        # kinds at once both count. (A case changed meanwhile: the message is read again.)
        claim_case(session, case)
        new_kinds = kinds_it_adds()
    needs_check = any(k in KINDS_NEEDING_VERIFICATION for k in new_kinds)
    can_merge = is_open(case.status) and case.status != S.APPROVED and not needs_check
    if (
        new_kinds
        and not can_merge
        and classification.confidence >= services.settings.classifier.triage_threshold
    ):
        # A new request in the thread of a case that can no longer take it: its own case.
        return _open_from(session, services, message, classification)
    message.request_id = case.id
    if new_kinds and can_merge:
        case.kinds = sorted(
            {*case.kinds, *map(str, new_kinds)},
            key=lambda k: list(RequestKind).index(RequestKind(k)),
        )
        session.add(case)
        audit.record(
            session,
            at=services.clock(),
            actor=SYSTEM,
            action="kinds_added",
            request=case,
            detail=", ".join(map(str, new_kinds)) + f" (message {message.id})",
        )
        redraft_reply(session, services, case)
        if {RequestKind.MARKETING_OPTOUT, RequestKind.CONSENT_WITHDRAWAL} & set(new_kinds):
            stop_marketing_at_once(
                session,
                services,
                case,
                actor=SYSTEM,
                channel=message.channel,
                address=message.address,
            )
    if is_open(case.status):
        added = f"; it adds {', '.join(map(str, new_kinds))}" if new_kinds and can_merge else ""
        alert_staff(
            session,
            case,
            "new_message",
            f"{case.reference}: a new message from the requester{added}",
            now=services.clock(),
            message_id=message.id,
        )
    return _finish(message, MessageState.THREAD, f"attached to {case.reference}", session)


# --- staff triage --------------------------------------------------------------------------


def _stated(
    session: Session,
    message: Message,
    guess: Classification,
    kinds: list[RequestKind],
    actor: str,
    now: datetime,
) -> Classification:
    """Staff heard or read what the person asked: their kinds decide, the guess stays on
    the message for comparison."""
    chosen = tuple(k for k in kinds if k is not RequestKind.NONE) or (RequestKind.NONE,)
    message.label_kinds = [str(k) for k in chosen]
    message.labelled_by = actor
    audit.record(
        session,
        at=now,
        actor=actor,
        action="kinds_stated",
        detail=f"message {message.id}: {', '.join(message.label_kinds)}",
    )
    return Classification(
        kinds=chosen, language=guess.language, confidence=1.0, evidence=(f"stated by {actor}",)
    )


def decide_triage(
    session: Session,
    services: Services,
    message_id: int,
    kinds: list[RequestKind] | None,
    *,
    actor: str,
) -> Outcome:
    """Staff's choice for a message the classifier was unsure about; kept as a label."""
    from bot.errors import CaseError, ChangedMeanwhile

    message = session.get(Message, message_id)
    if message is None or message.state != MessageState.TRIAGE:
        raise CaseError(f"message {message_id} is not waiting for triage")
    # Held before anything is decided: a second decision at once (a double click) waits,
    # then finds it decided - not two cases opened for one message.
    held = {"state": MessageState.TRIAGE}
    audit.hold_chain(session)  # (the chain first, then rows: see hold_chain)
    if not update_now_if(session, message, held, state=MessageState.TRIAGE):
        raise ChangedMeanwhile(f"message {message_id} was decided meanwhile")
    message.label_kinds = [str(k) for k in kinds] if kinds else [RequestKind.NONE]
    message.labelled_by = actor
    for alert in list(
        session.exec(
            select(StaffAlert).where(
                StaffAlert.message_id == message.id,
                StaffAlert.kind == "triage",
                col(StaffAlert.resolved_at).is_(None),
            )
        )
    ):
        resolve_by(
            session, alert, f"message {message.id} triaged", actor=actor, now=services.clock()
        )
    audit.record(
        session,
        at=services.clock(),
        actor=actor,
        action="triaged",
        detail=f"message {message.id}: {', '.join(message.label_kinds)}",
    )
    if not kinds:
        return _finish(
            message, MessageState.NOT_A_REQUEST, f"staff ({actor}): not a request", session
        )
    language = (message.classification or {}).get("language") or detect_language(message.text)
    opened = open_case(session, services, message, kinds, language, actor=actor)
    return _opened(session, message, opened)
