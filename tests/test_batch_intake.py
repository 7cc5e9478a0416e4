"""Several messages per transaction (intake.handle_batch), on SQLite and PostgreSQL: one bad
message never stops the rest, each is processed once, and the cursor commits with the
effects — all of them, or none when the database goes away mid-batch."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlmodel import select

from bot.channels.messages import InboundMessage
from bot.rules.channels import ChannelName
from bot.runtime.intake import Pending, handle_batch
from bot.store import audit
from bot.store.tables import ChannelCursor, Draft, Message, Request
from bot.workflow import pipeline
from tests.workflow_kit import make_world, world_refused_inserts_into


def _mail(n: int, text: str, sender: str = "kund@example.com") -> Pending:
    inbound = InboundMessage(
        ChannelName.EMAIL, sender, text=text, message_id=f"<b{n}@example.com>", raw=b"raw"
    )
    return Pending(inbound, f"1:{n}")


def _classifier_fails_on(monkeypatch, marker: str, error) -> None:
    """The pipeline's classifier raises `error(text)` on a message holding `marker`: a bug
    met by that message alone."""
    real = pipeline.classify

    def failing(message_text, **kwargs):
        if marker in message_text:
            raise error(message_text)
        return real(message_text, **kwargs)

    monkeypatch.setattr(pipeline, "classify", failing)


def _cursor(world) -> str | None:
    with world.session() as session:
        row = session.get(ChannelCursor, "imap:INBOX")
        return row.value if row else None


def _states(world) -> dict[str, str]:
    with world.session() as session:
        return {m.message_id: m.state for m in session.exec(select(Message))}


def test_a_message_whose_statement_fails_is_quarantined_and_the_rest_of_the_batch_goes_on(
    any_world, monkeypatch
):
    real = pipeline.classify

    def failing(message_text, **kwargs):
        if "BOOM" in message_text:
            # A statement the database refuses: on PostgreSQL it aborts the transaction,
            # which only the message's own savepoint saves.
            session = failing.session
            session.execute(text("SELECT * FROM no_such_table"))
        return real(message_text, **kwargs)

    monkeypatch.setattr(pipeline, "classify", failing)
    batch = [
        _mail(1, "Har ni en Java-konsult i mars?"),
        _mail(2, "BOOM"),
        _mail(3, "Jag vill att ni raderar alla mina personuppgifter.", "anna@example.se"),
        _mail(3, "Jag vill att ni raderar alla mina personuppgifter.", "anna@example.se"),
    ]
    original = pipeline.process_inbound

    def keeping_session(session, *args, **kwargs):
        failing.session = session
        return original(session, *args, **kwargs)

    monkeypatch.setattr("bot.runtime.intake.process_inbound", keeping_session)
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 4
    assert _states(any_world) == {
        "<b1@example.com>": "not_a_request",
        "<b2@example.com>": "malformed",
        "<b3@example.com>": "request",  # the same mail twice in a batch: processed once
    }
    assert _cursor(any_world) == "1:3"
    assert [a.kind for a in any_world.alerts()].count("malformed") == 1


def test_a_stop_ends_the_batch_after_the_message_in_hand(any_world):
    batch = [_mail(n, "Har ni en konsult?") for n in range(1, 6)]
    asked = []

    def stopped() -> bool:
        asked.append(1)
        return len(asked) >= 2

    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX", stopped) == 2
    assert sorted(_states(any_world)) == ["<b1@example.com>", "<b2@example.com>"]
    assert _cursor(any_world) == "1:2"


def test_a_database_that_goes_away_mid_batch_keeps_nothing_of_it_and_the_cursor_stays(
    any_world, monkeypatch
):
    handle_batch(any_world.database, any_world.services, [_mail(1, "Hej")], "imap:INBOX")
    original = pipeline.process_inbound

    def locked_at_the_third(session, services, inbound, **kwargs):
        if inbound.message_id == "<b4@example.com>":
            raise sa_exc.OperationalError(
                "INSERT", {}, sqlite3.OperationalError("database is locked")
            )
        return original(session, services, inbound, **kwargs)

    monkeypatch.setattr("bot.runtime.intake.process_inbound", locked_at_the_third)
    batch = [_mail(n, "Har ni en konsult?") for n in (2, 3, 4, 5)]
    with pytest.raises(sa_exc.OperationalError):
        handle_batch(any_world.database, any_world.services, batch, "imap:INBOX")
    assert list(_states(any_world)) == ["<b1@example.com>"]  # read again later, whole
    assert _cursor(any_world) == "1:1"


def test_a_message_stored_before_the_batch_is_not_processed_again_within_it(any_world):
    handle_batch(any_world.database, any_world.services, [_mail(1, "Hej")], "imap:INBOX")
    erasure = "Jag vill att ni raderar alla mina personuppgifter."
    batch = [_mail(1, erasure), _mail(2, erasure, "anna@example.se"), _mail(1, erasure)]
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 3
    assert _states(any_world) == {
        "<b1@example.com>": "not_a_request",
        "<b2@example.com>": "request",
    }
    assert len(any_world.cases()) == 1
    assert _cursor(any_world) == "1:1"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


def test_what_one_message_of_a_batch_did_is_seen_by_the_next_in_the_same_batch(
    tmp_path, any_url, monkeypatch
):
    # The batch shares one transaction and the audit chain's head is kept in it: a second
    # request from the same new person in the same batch must see the first one's
    # acknowledgement (one a day goes out at once), and a message that fails between them
    # must leave no hole in the chain.
    from bot.config import VerificationSettings
    from bot.store import audit
    from bot.store.tables import Outbox

    world = make_world(
        tmp_path, any_url, verification=VerificationSettings(acknowledge_at_once=True)
    )
    erasure = "Jag vill att ni raderar alla mina personuppgifter."
    stranger = "ny.person@example.se"
    batch = [
        _mail(1, erasure, stranger),
        _mail(2, erasure + " BOOM", "annan@example.se"),  # its case's events are undone
        _mail(3, erasure, stranger),
    ]
    original = pipeline.process_inbound

    def failing_second(session, services, inbound, **kwargs):
        outcome = original(session, services, inbound, **kwargs)
        if "BOOM" in inbound.text:
            raise RuntimeError("a bug in the middle of the batch")
        return outcome

    monkeypatch.setattr("bot.runtime.intake.process_inbound", failing_second)
    assert handle_batch(world.database, world.services, batch, "imap:INBOX") == 3
    assert _states(world) == {
        "<b1@example.com>": "request",
        "<b2@example.com>": "malformed",
        "<b3@example.com>": "request",
    }
    with world.session() as session:
        queued = session.exec(select(Outbox).where(Outbox.purpose == "acknowledgment")).all()
        assert [o.address for o in queued] == [stranger]  # the second waits for staff
        count, problems = audit.verify_chain(session)
    assert problems == [] and count > 6
    assert [c.requester_address for c in world.cases()] == [stranger, stranger]
    world.database.dispose()


def test_ordinary_mail_is_stored_whole_with_what_the_classifier_made_of_it(any_world):
    # Ordinary mail is written by a plain INSERT, not the unit of work: every field as the
    # pipeline read it, personal identity numbers masked.
    inbound = InboundMessage(
        ChannelName.EMAIL,
        "Kund@Example.COM",
        sender_name="Kim Kund",
        subject="Offert 12",
        text="Hej! Har ni en Java-konsult i mars? Referens 811218-9876.",
        message_id="<o1@example.com>",
        in_reply_to="<earlier@example.com>",
        references=("<first@example.com>", "<earlier@example.com>"),
        imap_uidvalidity=7,
        imap_uid=42,
        received_at=any_world.clock(),
    )
    handle_batch(any_world.database, any_world.services, [Pending(inbound, "7:42")], "imap:X")
    with any_world.session() as session:
        (message,) = session.exec(select(Message)).all()
    assert (message.address, message.display_name, message.subject) == (
        "kund@example.com",
        "Kim Kund",
        "Offert 12",
    )
    assert "811218-9876" not in message.text and "Java-konsult" in message.text
    assert (message.message_id, message.in_reply_to, message.references) == (
        "<o1@example.com>",
        "<earlier@example.com>",
        ["<first@example.com>", "<earlier@example.com>"],
    )
    assert (message.imap_uidvalidity, message.imap_uid) == (7, 42)
    assert (message.direction, message.channel, message.request_id) == ("in", "email", None)
    assert (message.state, message.state_reason) == ("not_a_request", "not a rights request")
    assert message.received_at == any_world.clock()
    assert message.classification["kinds"] == ["none"]
    assert message.raw is None


def test_a_request_that_fails_after_its_case_was_written_leaves_no_case_and_the_next_opens(
    any_world, monkeypatch
):
    # A case, its message and its events are written at once by plain INSERTs
    # (bot.store.rows): rolled back with the message's savepoint, they must leave the
    # session too, or the next case (given the same id on SQLite) could not be written.
    from bot.workflow import cases

    real = cases.acknowledge

    def failing(session, services, case, *args):
        if case.requester_address == "bad@example.se":
            session.execute(text("SELECT * FROM no_such_table"))
        return real(session, services, case, *args)

    monkeypatch.setattr(cases, "acknowledge", failing)
    erasure = "Jag vill att ni raderar alla mina personuppgifter."
    batch = [_mail(1, erasure, "bad@example.se"), _mail(2, erasure, "anna@example.se")]
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 2
    assert _states(any_world) == {"<b1@example.com>": "malformed", "<b2@example.com>": "request"}
    (case,) = any_world.cases()
    assert case.requester_address == "anna@example.se"
    assert case.reference.endswith("-0001")  # the failed one's number was rolled back too
    with any_world.session() as session:
        assert audit.verify_chain(session)[1] == []
        (draft,) = session.exec(select(Draft)).all()
        assert draft.request_id == case.id


async def test_an_acknowledgement_sent_at_once_answers_in_the_requests_thread(tmp_path):
    # Mail: In-Reply-To and References name the request; chat: a reply to its message.
    from bot.config import VerificationSettings

    world = make_world(tmp_path, verification=VerificationSettings(acknowledge_at_once=True))
    world.email(
        "ny.person@example.se",
        "Jag vill att ni raderar alla mina personuppgifter.",
        message_id="<ask@example.se>",
        references=["<earlier@example.se>"],
    )
    world.chat("5550999", "Please delete all personal data you have about me.")
    sent = await world.deliver()
    mail = [m for m in sent if m.address == "ny.person@example.se"]
    chat = [m for m in sent if m.address == "5550999"]
    assert len(mail) == 1 and len(chat) == 1
    assert mail[0].in_reply_to == "<ask@example.se>"
    assert mail[0].references == ("<earlier@example.se>", "<ask@example.se>")
    assert chat[0].reply_to_message_id == world._ids
    world.database.dispose()


def test_a_failure_late_in_a_batch_leaves_each_earlier_request_once_with_one_answer(
    tmp_path, any_url, monkeypatch
):
    # The batch is first written without a savepoint per message; a failure then rolls back
    # everything written before it, and the batch is written again message by message.
    # What the first attempt wrote must not be there twice, nor its acknowledgement.
    from bot.config import VerificationSettings
    from bot.store.tables import Outbox

    world = make_world(
        tmp_path, any_url, verification=VerificationSettings(acknowledge_at_once=True)
    )
    _classifier_fails_on(monkeypatch, "BOOM", lambda text: RuntimeError("a bug met by it alone"))
    erasure = "Jag vill att ni raderar alla mina personuppgifter."
    batch = [
        _mail(1, erasure, "anna@example.se"),
        _mail(2, "Har ni en Java-konsult i mars?"),
        _mail(3, "BOOM"),
        _mail(4, erasure, "erik@example.se"),
    ]
    assert handle_batch(world.database, world.services, batch, "imap:INBOX") == 4
    assert _states(world) == {
        "<b1@example.com>": "request",
        "<b2@example.com>": "not_a_request",
        "<b3@example.com>": "malformed",
        "<b4@example.com>": "request",
    }
    assert _cursor(world) == "1:4"
    cases = world.cases()
    assert sorted(c.requester_address for c in cases) == ["anna@example.se", "erik@example.se"]
    assert sorted(c.reference[-4:] for c in cases) == ["0001", "0002"]
    with world.session() as session:
        queued = session.exec(select(Outbox)).all()
        assert sorted(m.address for m in queued) == ["anna@example.se", "erik@example.se"]
        assert audit.verify_chain(session)[1] == []
    world.database.dispose()


def test_a_batch_written_again_after_a_failure_says_so_by_the_failures_kind_alone(
    any_world, monkeypatch, caplog
):
    # The error carries the mail's words: the log must not.
    _classifier_fails_on(monkeypatch, "Hemligt", lambda text: ValueError(f"could not read {text}"))
    batch = [_mail(1, "Har ni en konsult?"), _mail(2, "Hemligt: 19800101-1234", "x@ex.se")]
    with caplog.at_level("INFO", logger="noxbot"):
        assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 2
    said = "\n".join(record.getMessage() for record in caplog.records)
    assert "writing it again message by message" in said and "ValueError" in said
    assert "Hemligt" not in said and "19800101" not in said and "x@ex.se" not in said


def test_a_transaction_that_wrote_a_large_mail_closes_its_connection_and_the_next_one_works(
    any_world,
):
    """The driver keeps a buffer the size of the largest statement it sent for as long as
    the connection lives (~5 MB more after one mail of 5 MB of text, per pooled
    connection): after a large mail the connection is closed, not pooled."""
    from sqlalchemy import event

    from bot.runtime import intake

    closed: list[object] = []
    engine = any_world.database.engine
    event.listen(engine, "close", lambda dbapi, record: closed.append(dbapi))
    event.listen(engine, "close_detached", closed.append)
    handle_batch(any_world.database, any_world.services, [_mail(1, "Hej!")], "imap:INBOX")
    assert closed == []  # ordinary mail: the connection goes back to the pool
    long_text = "Hej hopp. " * (intake.CLOSE_AFTER_BYTES // 10 + 1)
    done = handle_batch(any_world.database, any_world.services, [_mail(2, long_text)], "imap:INBOX")
    assert done == 1 and len(closed) == 1
    handle_batch(any_world.database, any_world.services, [_mail(3, "Hej igen!")], "imap:INBOX")
    assert len(closed) == 1
    states = _states(any_world)
    assert set(states) == {"<b1@example.com>", "<b2@example.com>", "<b3@example.com>"}
    assert _cursor(any_world) == "1:3"
    with any_world.session() as session:
        stored = session.exec(select(Message).where(Message.message_id == "<b2@example.com>"))
        assert stored.one().text == long_text


def test_a_mail_of_several_mb_of_text_is_stored_whole_and_no_pg_statement_carries_all_of_it(
    any_world, monkeypatch
):
    """On PostgreSQL written in parts (an INSERT, then UPDATEs appending the rest): the
    driver copies each statement's parameters twice while it sends it, and one INSERT of
    5 MB of text held ~10 MB more meanwhile. Letters beyond Latin-1 in a text of several parts
    come back exactly; the mail after it is read as usual."""
    from sqlalchemy import event

    from bot.store import later, rows
    from bot.store.rows import LONG_TEXT

    long_text = "".join(f"Rad {n}: åäö ŝ 🙂 hej hopp.\n" for n in range(150_000))
    assert len(long_text) > 3 * LONG_TEXT
    largest: list[int] = []

    def note(values) -> None:  # type: ignore[no-untyped-def]
        largest.append(max((len(v) for v in values if isinstance(v, str | bytes)), default=0))

    def noted_statement(conn, cursor, statement, parameters, *rest):  # type: ignore[no-untyped-def]
        note(parameters.values() if isinstance(parameters, dict) else parameters or ())

    execute_compiled = rows.execute_compiled

    def noted_compiled(connection, compiled, params, **options):  # type: ignore[no-untyped-def]
        note(params.values())  # (the rows written straight to the driver: bot.store.rows)
        return execute_compiled(connection, compiled, params, **options)

    monkeypatch.setattr(rows, "execute_compiled", noted_compiled)
    monkeypatch.setattr(later, "execute_compiled", noted_compiled)
    engine = any_world.database.engine
    event.listen(engine, "before_cursor_execute", noted_statement)
    batch = [_mail(1, long_text), _mail(2, "Radera mina uppgifter, tack.")]
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 2
    event.remove(engine, "before_cursor_execute", noted_statement)
    with any_world.session() as session:
        stored = session.exec(select(Message).where(Message.message_id == "<b1@example.com>"))
        assert stored.one().text == long_text
    if engine.dialect.name == "postgresql":  # (SQLite appends in this process: one INSERT)
        assert max(largest) <= LONG_TEXT, max(largest)
    assert set(_states(any_world)) == {"<b1@example.com>", "<b2@example.com>"}
    assert _cursor(any_world) == "1:2"


def _long_text_in_small_parts(monkeypatch) -> None:
    """Any text over 64 letters is written in parts (on PostgreSQL): cheap texts stand in
    for mails of many MB."""
    from bot.store import rows

    monkeypatch.setattr(rows, "LONG_TEXT", 64)


def _stored_rows(world):
    with world.session() as session:
        return [(m.id, m.message_id, m.state, m.text, m.raw, m.request_id)
                for m in session.exec(select(Message).order_by(Message.id))]  # fmt: skip


def test_long_mail_written_in_parts_keeps_its_place_in_the_batch_and_its_text_whole(
    any_world, monkeypatch
):
    _long_text_in_small_parts(monkeypatch)
    long = "Har ni en Java-konsult i mars? åäö 🙂 " * 20
    batch = [_mail(1, "Hej"), _mail(2, long), _mail(3, "Hej igen"), _mail(4, long + "x")]
    batch.append(_mail(4, long + "x"))  # the same mail twice: stored once
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 5
    got = _stored_rows(any_world)
    assert [m[1] for m in got] == [f"<b{n}@example.com>" for n in (1, 2, 3, 4)], got
    assert got[1][3] == long and got[3][3] == long + "x"
    assert got[1][2] == got[0][2]


def test_a_long_request_before_a_failing_mail_is_opened_once_when_the_batch_is_written_again(
    any_world, monkeypatch
):
    _long_text_in_small_parts(monkeypatch)
    _classifier_fails_on(monkeypatch, "BOOM", RuntimeError)
    long = "Jag vill att ni raderar alla mina personuppgifter. " * 10
    batch = [_mail(1, long, "anna@example.se"), _mail(2, "BOOM"), _mail(3, "Hej")]
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 3
    got = _stored_rows(any_world)
    assert [m[1] for m in got] == [f"<b{n}@example.com>" for n in (1, 2, 3)], got
    assert got[0][2] == "request" and got[0][3] == long and got[0][5] is not None
    assert got[1][2] == "malformed"
    assert [a.kind for a in any_world.alerts()].count("malformed") == 1


def test_a_long_mail_whose_statement_the_database_refuses_is_quarantined_once_whole(
    any_world, monkeypatch
):
    _long_text_in_small_parts(monkeypatch)
    real = pipeline.classify

    def failing(message_text, **kwargs):  # type: ignore[no-untyped-def]
        if "BOOM" in message_text:  # (on PostgreSQL this aborts the transaction)
            failing.session.execute(text("SELECT * FROM no_such_table"))
        return real(message_text, **kwargs)

    monkeypatch.setattr(pipeline, "classify", failing)
    process_inbound = pipeline.process_inbound

    def keeping_session(session, *args, **kwargs):  # type: ignore[no-untyped-def]
        failing.session = session
        return process_inbound(session, *args, **kwargs)

    monkeypatch.setattr("bot.runtime.intake.process_inbound", keeping_session)
    long = "BOOM och en lång text här, åäö. " * 30
    batch = [_mail(1, "Hej"), _mail(2, long), _mail(3, "Hej igen")]
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 3
    got = _stored_rows(any_world)
    assert [m[1] for m in got] == [f"<b{n}@example.com>" for n in (1, 2, 3)], got
    assert got[1][2] == "malformed" and got[1][3] == long and got[1][4] == b"raw"
    assert [a.kind for a in any_world.alerts()].count("malformed") == 1
    assert _cursor(any_world) == "1:3"


# Each decodes to a lone surrogate (U+D800), which no database stores: utf-7's "+2AA-" in an
# encoded word or a body, unicode_escape's "\\ud800", an RFC 2231 file name in utf-7.
SURROGATE_MAILS = {
    "From": b"From: =?utf-7?Q?+2AA-a@b.se?=\r\nSubject: hej\r\n\r\nRadera mig.\r\n",
    "From name": b"From: =?utf-7?Q?+2AA-?= <anna@example.se>\r\nSubject: hej\r\n\r\nHej\r\n",
    "Subject": b"From: anna@example.se\r\nSubject: =?utf-7?B?KzJBQS0=?=\r\n\r\nHej\r\n",
    "utf-7 body": (
        b"From: anna@example.se\r\nSubject: hej\r\n"
        b"Content-Type: text/plain; charset=utf-7\r\n\r\nRadera mig +2AA- nu\r\n"
    ),
    "unicode_escape body": (
        b"From: anna@example.se\r\nSubject: hej\r\n"
        b"Content-Type: text/plain; charset=unicode_escape\r\n\r\nRadera \\ud800 mig\r\n"
    ),
    "file name": (
        b"From: anna@example.se\r\nSubject: hej\r\nContent-Type: multipart/mixed; boundary=B"
        b"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nHej\r\n--B\r\n"
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-7''%2B2AA-.pdf\r\n\r\nx\r\n--B--\r\n"
    ),
}


@pytest.mark.parametrize("where", SURROGATE_MAILS)
def test_a_mail_that_decodes_to_lone_surrogates_is_stored_and_the_next_one_too(any_world, where):
    """Before, such a mail could be neither written nor quarantined (not even the bare
    record): it stopped the mail watcher at every start. Now the reading replaces each lone
    surrogate with U+FFFD, and the mail is stored as any other."""
    from bot.reading.mail import parse_email
    from bot.runtime.mail_reader import Position, read_mail

    raw = SURROGATE_MAILS[where].replace(b"\r\n\r\n", b"\r\nMessage-ID: <s1@b.se>\r\n\r\n", 1)
    reading = read_mail(raw, Position(1, 1, None))
    inbound = reading.inbound
    # (a From that holds no address but the broken one: kept for staff, as any such mail)
    assert inbound.malformed == ("no From address" if where == "From" else None)
    values = [inbound.sender, inbound.sender_name, inbound.subject, inbound.text]
    values += [*inbound.headers.values(), *parse_email(raw).attachments]
    for value in values:
        (value or "").encode("utf-8")  # no lone surrogate left
    batch = [Pending(inbound, "1:1", reading.classification), _mail(2, "Har ni en konsult?")]
    assert handle_batch(any_world.database, any_world.services, batch, "imap:INBOX") == 2
    assert _cursor(any_world) == "1:2"
    states = _states(any_world)
    assert states["<b2@example.com>"] != "malformed"
    assert (states["<s1@b.se>"] == "malformed") is (where == "From")


def test_a_message_not_even_a_bare_record_can_be_kept_of_is_named_and_nothing_is_written(
    any_world, monkeypatch
):
    """The last resort failing too is a bug met by that message: the batch is rolled back
    whole and the error names where the message stands (the mail watcher then sets it
    aside: tests/test_recovery.py)."""
    from bot.runtime import intake

    _classifier_fails_on(monkeypatch, "BOOM", TypeError)

    def quarantine_fails(session, inbound, *args, **kwargs):
        raise TypeError("no record of this one")

    monkeypatch.setattr(intake, "quarantine", quarantine_fails)
    batch = [_mail(1, "Har ni en konsult?"), _mail(2, "BOOM"), _mail(3, "Och i maj?")]
    with pytest.raises(intake.UnstorableMessage) as raised:
        handle_batch(any_world.database, any_world.services, batch, "imap:INBOX")
    assert raised.value.position == "1:2" and isinstance(raised.value.error, TypeError)
    assert _cursor(any_world) is None and _states(any_world) == {}


def test_a_full_disk_is_waited_out_not_blamed_on_the_message_in_hand(any_world, monkeypatch):
    """An error the database reports for every message alike (a full disk, a read-only
    database) while a failing message is quarantined is raised as it is, for the watcher to
    wait out, never UnstorableMessage (which would set an ordinary request aside)."""
    from bot.runtime import intake

    _classifier_fails_on(monkeypatch, "BOOM", TypeError)

    def disk_full(session, inbound, *args, **kwargs):
        raise sa_exc.OperationalError(
            "INSERT", {}, sqlite3.OperationalError("database or disk is full")
        )

    monkeypatch.setattr(intake, "quarantine", disk_full)
    with pytest.raises(sa_exc.OperationalError):
        handle_batch(any_world.database, any_world.services, [_mail(1, "BOOM")], "imap:INBOX")
    assert _cursor(any_world) is None and _states(any_world) == {}


def test_a_value_the_driver_cannot_send_is_the_message_s_not_the_database_s(any_world, monkeypatch):
    """A ProgrammingError the driver raises before sending (a value it cannot adapt) is the
    message's: it is named (UnstorableMessage, then set aside), not waited out for ever."""
    from bot.runtime import intake

    _classifier_fails_on(monkeypatch, "BOOM", TypeError)

    def cannot_bind(session, inbound, *args, **kwargs):
        cause = sqlite3.ProgrammingError("Error binding parameter 1: type 'X' is not supported")
        raise sa_exc.ProgrammingError("INSERT", {}, cause)

    monkeypatch.setattr(intake, "quarantine", cannot_bind)
    with pytest.raises(intake.UnstorableMessage):
        handle_batch(any_world.database, any_world.services, [_mail(1, "BOOM")], "imap:INBOX")


def test_a_chat_message_with_a_lone_surrogate_is_read_not_quarantined(any_world):
    """JSON can spell a lone surrogate ("\\ud800"): the text is stored with U+FFFD in its
    place and read as any other."""
    from bot.runtime.intake import handle_inbound

    chat = InboundMessage(
        ChannelName.TELEGRAM, "5550001", text="Radera mina uppgifter \ud800 tack",
        telegram_chat_id=5550001, telegram_message_id=7,
    )  # fmt: skip
    handle_inbound(any_world.database, any_world.services, chat, "telegram:offset", "8")
    with any_world.session() as session:
        [stored] = session.exec(select(Message)).all()
    assert stored.state != "malformed"
    assert stored.text == "Radera mina uppgifter \ufffd tack"


def test_requests_a_table_permission_keeps_from_being_written_wait_and_are_not_set_aside(
    tmp_path, postgres_url, caplog
):
    """Every request, and no ordinary mail, fails while the role may not write a case: were
    each quarantined as a message's own fault, all requests would be set aside as
    unreadable while ordinary mail went on. The batch is held back whole instead (the
    watcher waits it out, logging the error's kind), and read as usual once the
    permission is back."""
    import logging

    caplog.set_level(logging.WARNING)
    world, given_back = world_refused_inserts_into(tmp_path, postgres_url, "request")
    batch = [
        _mail(1, "Har ni en konsult ledig i maj?"),
        _mail(2, "Hej! Jag vill att ni raderar alla mina personuppgifter.", "anna@example.se"),
        _mail(3, "Tack för mötet igår."),
    ]
    with pytest.raises(sa_exc.DBAPIError) as raised:
        handle_batch(world.database, world.services, batch, "imap:INBOX")
    assert raised.value.orig.sqlstate == "42501"
    assert _cursor(world) is None and _states(world) == {}
    assert "quarantined" not in caplog.text

    given_back()
    assert handle_batch(world.database, world.services, batch, "imap:INBOX") == 3
    assert _cursor(world) == "1:3"
    states = _states(world)
    assert "malformed" not in states.values() and len(states) == 3
    with world.session() as session:
        [case] = session.exec(select(Request)).all()
    assert case.requester_address == "anna@example.se"
    world.database.dispose()


def test_a_single_message_a_table_permission_keeps_from_being_written_waits_too(
    tmp_path, postgres_url
):
    """The same for one message written alone (a chat message, or mail read first during a
    backlog): handle_inbound raises, the cursor stays, nothing is quarantined."""
    from bot.runtime.intake import handle_inbound

    world, given_back = world_refused_inserts_into(tmp_path, postgres_url, "request")
    chat = InboundMessage(
        ChannelName.TELEGRAM, "5550001", text="Please delete all my personal data",
        telegram_chat_id=5550001, telegram_message_id=7,
    )  # fmt: skip
    with pytest.raises(sa_exc.DBAPIError):
        handle_inbound(world.database, world.services, chat, "telegram:offset", "8")
    with world.session() as session:
        assert session.exec(select(Message)).all() == []
        assert session.get(ChannelCursor, "telegram:offset") is None
    given_back()
    handle_inbound(world.database, world.services, chat, "telegram:offset", "8")
    with world.session() as session:
        [stored] = session.exec(select(Message)).all()
        assert stored.state != "malformed" and stored.request_id is not None
    world.database.dispose()


def test_a_batch_whose_transaction_sqlite_ended_itself_leaves_nothing_written(
    tmp_path, monkeypatch
):
    """On a full disk or an I/O error SQLite may roll back the whole transaction, savepoints
    and all (here done as SQLite does it, under the session). That was taken for the
    message's own failure: it was quarantined, and what was written next committed on its
    own - outside the batch, without its cursor, so that read again the message was found
    stored as malformed. Now the batch fails, nothing of it is kept, and it is read again."""
    world = make_world(tmp_path)
    real = pipeline.classify

    def failing(message_text, **kwargs):
        if "LOST" in message_text:
            failing.session.connection().connection.dbapi_connection.rollback()
            raise TypeError("the statement failed after SQLite rolled back")
        return real(message_text, **kwargs)

    original = pipeline.process_inbound

    def keeping_session(session, *args, **kwargs):
        failing.session = session
        return original(session, *args, **kwargs)

    monkeypatch.setattr(pipeline, "classify", failing)
    monkeypatch.setattr("bot.runtime.intake.process_inbound", keeping_session)
    batch = [_mail(1, "Har ni en konsult?"), _mail(2, "LOST"), _mail(3, "Tack!")]
    with pytest.raises((TypeError, sa_exc.OperationalError)):  # (whichever came first)
        handle_batch(world.database, world.services, batch, "imap:INBOX")
    assert _cursor(world) is None and _states(world) == {}
    world.database.dispose()
