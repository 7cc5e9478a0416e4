"""`noxbot demo`: the whole flow on embedded defaults — no accounts, no network.

A temporary SQLite database, the sample register in examples/, requests in Swedish and
English arriving by email and Telegram (in-memory channels), the requesters answering their
verification challenges, and at the end the staff queue, one approval, and what went out.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.text import Text
from sqlmodel import col, select

from bot.channels.memory import MemoryChannel
from bot.channels.messages import InboundMessage, OutboundMessage
from bot.cli.app import app, console
from bot.cli.output import Column, print_table, recipient
from bot.config import DatabaseSettings, DocumentsSource, MaildirSource, Settings
from bot.errors import NoxbotError
from bot.reading.identity_numbers import mask_identity_numbers
from bot.rules.channels import ChannelName
from bot.rules.deadlines import stockholm_date
from bot.store import audit
from bot.store.database import Database
from bot.store.disclosures import import_disclosures
from bot.store.records import get_case
from bot.store.register import import_file
from bot.store.tables import Draft, Request, StaffAlert, Subject, Verification
from bot.workflow.approval import approve_draft
from bot.workflow.confirming import verify_by_phone
from bot.workflow.drafts import open_drafts
from bot.workflow.pipeline import Outcome, process_inbound
from bot.workflow.sending import deliver_due
from bot.workflow.services import Services
from bot.workflow.views import case_json, case_waits_on, draft_json
from bot.workflow.words import kinds_words, name_words, outcome_words, status_words

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STAFF = "staff:demo"

#: Example messages, as people would write them (email and Telegram, sv and en).
DEMO_MESSAGES: tuple[InboundMessage, ...] = (
    InboundMessage(
        ChannelName.EMAIL,
        "anna.lindqvist@example.se",
        sender_name="Anna Lindqvist",
        subject="Radera mina uppgifter",
        text="Hej!\n\nJag vill att ni raderar alla mina personuppgifter hos er och slutar "
        "skicka nyhetsbrev till mig.\n\nMvh Anna",
        message_id="<demo-1@example.se>",
    ),
    InboundMessage(
        ChannelName.TELEGRAM,
        "5550002",
        sender_name="John Carter",
        text="Hi, what personal data do you hold about me? Please send me a copy, and tell "
        "me who has received my data.",
        telegram_chat_id=5550002,
        telegram_message_id=11,
    ),
    InboundMessage(
        ChannelName.EMAIL,
        "erik.svensson@example.se",
        sender_name="Erik Svensson",
        subject="Nytt telefonnummer",
        text="Hej, kan ni rätta mitt telefonnummer i ert register till 076-555 12 34? "
        "Det gamla säger jag upp vid månadsskiftet, till dess går det att nå mig på "
        "båda.\n\nErik",
        message_id="<demo-3@example.se>",
    ),
    InboundMessage(
        ChannelName.EMAIL,
        "stranger@example.org",
        subject="Delete my data",
        text="Please delete all personal data you have about me.",
        message_id="<demo-4@example.org>",
    ),
    InboundMessage(
        ChannelName.EMAIL,
        "maria.berg@example.se",
        subject="Begäran om registerutdrag",
        text="Hej, jag vill få ut en kopia på alla uppgifter ni har om mig.",
        message_id="<demo-5@example.se>",
    ),
    InboundMessage(
        ChannelName.TELEGRAM,
        "5550009",
        text="sluta skicka reklam och utskick till mig tack",
        telegram_chat_id=5550009,
        telegram_message_id=21,
    ),
    InboundMessage(
        ChannelName.EMAIL,
        "kund@example.com",
        subject="Uppdrag 2027-Q1",
        text="Hej! Vi söker en Python-utvecklare på heltid från februari. Har ni någon "
        "ledig konsult? Hälsningar, Kund AB",
        message_id="<demo-7@example.com>",
    ),
    InboundMessage(
        ChannelName.EMAIL,
        "ola@example.se",
        subject="Automatiskt svar: Frånvaro",
        text="Jag är tjänstledig till den 5 januari.",
        message_id="<demo-8@example.se>",
        headers={"auto-submitted": "auto-replied", "from": "ola@example.se"},
    ),
    InboundMessage(
        ChannelName.EMAIL,
        "john.carter@example.com",
        subject="Complaint",
        text="I am very unhappy with how you have handled my personal data and I intend to "
        "file a complaint with IMY.",
        message_id="<demo-9@example.com>",
    ),
)


@dataclass
class DemoResult:
    outcomes: list[tuple[InboundMessage, Outcome]] = field(default_factory=list)
    approved_draft_id: int | None = None
    sent: list[OutboundMessage] = field(default_factory=list)


def _channels() -> dict[ChannelName, MemoryChannel]:
    return {name: MemoryChannel(name) for name in ChannelName}


#: Who received whose data (noxbot disclosures import): one with an address each.
DEMO_DISCLOSURES = (
    "person,recipient,recipient_email,date,what\n"
    "john.carter@example.com,Fintech Ltd,hr@fintech.example,2026-09-15,CV\n"
    "anna.lindqvist@example.se,Exempelbanken AB,rekrytering@exempelbanken.example,"
    "2026-10-01,CV och konsultprofil\n"
)


def _demo_mail(sender: str, to: str, subject: str, date: str, body: str) -> bytes:
    return (f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: {date}\n\n{body}\n").encode()


def _demo_sources(directory: Path) -> list[DocumentsSource | MaildirSource]:
    """A CV folder (DOCX) and a mail archive (Maildir) in the demo folder. Replies in both
    languages name a source by its one `name`, so the names are ones that read the same in
    Swedish and English: "CV" and the archived mailbox's address (never "CV folder" in a
    Swedish reply)."""
    import mailbox

    import docx

    cv = directory / "cv"
    cv.mkdir(exist_ok=True)
    for filename, lines in (
        ("cv-anna-lindqvist.docx", ["Anna Lindqvist", "Systemutvecklare", "070-123 45 67"]),
        ("cv-john-carter.docx", ["John Carter", "Project manager", "john.carter@example.com"]),
        ("cv-erik-svensson.docx", ["Erik Svensson", "Nätverkstekniker"]),
    ):
        document = docx.Document()
        for line in lines:
            document.add_paragraph(line)
        document.save(str(cv / filename))
    archive = mailbox.Maildir(directory / "mail", create=True)
    for message in (
        _demo_mail(
            "john.carter@example.com",
            "info@noxconsulting.se",
            "Availability in December",
            "Mon, 02 Nov 2026 09:12:00 +0100",
            "I am free from December.",
        ),
        _demo_mail(
            "info@noxconsulting.se",
            "john.carter@example.com",
            "Assignment in London",
            "Tue, 10 Nov 2026 14:30:00 +0100",
            "Hi John, would this suit you?",
        ),
        _demo_mail(
            "anna.lindqvist@example.se",
            "info@noxconsulting.se",
            "Mitt CV",
            "Wed, 04 Nov 2026 08:00:00 +0100",
            "Här är mitt uppdaterade CV.",
        ),
        _demo_mail(
            "kund@example.com",
            "info@noxconsulting.se",
            "Uppdrag",
            "Thu, 05 Nov 2026 10:00:00 +0100",
            "Har ni en Java-konsult?",
        ),
    ):
        archive.add(message)
    return demo_source_settings(directory)


def demo_source_settings(directory: Path) -> list[DocumentsSource | MaildirSource]:
    """The demo's sources in `directory`, as configured (the files are made elsewhere)."""
    return [
        DocumentsSource(
            type="documents",
            name="CV",
            folder=str(directory / "cv"),
            holding_folder=str(directory / "cv-erased"),
        ),
        MaildirSource(
            type="maildir",
            name="info@noxconsulting.se",
            path=str(directory / "mail"),
            erase_folder=str(directory / "mail-erased"),
        ),
    ]


def sources_toml(sources: list[DocumentsSource | MaildirSource]) -> str:
    """[[sources]] tables for a config file: JSON strings are TOML basic strings, as long as
    characters beyond ASCII are written as they are (JSON escapes an emoji as a surrogate
    pair, which TOML refuses)."""
    lines = []
    for source in sources:
        lines.append("\n[[sources]]")
        for key, value in source.model_dump(exclude_none=True).items():
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


async def run_demo(directory: Path, console: Console) -> DemoResult:
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{directory / 'demo.db'}"),
        sources=_demo_sources(directory),
    )
    database = Database(settings.database.url)
    services = Services.from_settings(settings)
    channels = _channels()
    result = DemoResult()

    with database.session() as session:
        report = import_file(
            session, EXAMPLES / "register.csv", now=services.clock(), masked=mask_identity_numbers
        )
        audit.record(
            session,
            at=services.clock(),
            actor=STAFF,
            action="subjects_imported",
            detail=f"register.csv: {report.created} new",
        )
        disclosed = import_disclosures(session, DEMO_DISCLOSURES.encode(), now=services.clock())
    _step(
        console,
        1,
        f"Register imported: {report.created} people on file; {disclosed.added} disclosures\n"
        "   (who received whose CV). Sources: a CV folder (CV) and an archive of the\n"
        "   info@noxconsulting.se mailbox.",
    )

    _step(console, 2, "Messages arrive:")
    arrived = []
    for inbound in DEMO_MESSAGES:
        with database.session() as session:
            outcome = process_inbound(session, services, inbound)
            if outcome.reference:
                case = get_case(session, outcome.reference)
                became = f"{kinds_words(case.kinds)}: {status_words(case.status)}"
            else:
                became = outcome_words(outcome.state, outcome.detail)
        result.outcomes.append((inbound, outcome))
        arrived.append((f"{inbound.channel} {inbound.sender}", outcome.reference or "—", became))
    print_table(
        console,
        (Column("from", key=True), Column("case", key=True), Column("what became of it")),
        arrived,
    )
    await deliver_due(database, services, channels)

    _step(console, 3, "Requesters answer their verification challenges:")
    await _answer_challenges(database, services, channels, console)
    with database.session() as session:
        erik = get_case(session, _reference_of(result, "erik.svensson@example.se"))
        verify_by_phone(
            session,
            services,
            erik.reference,
            "called 073-987 65 43 (his until the month's end), Erik confirmed the new number",
            actor=STAFF,
        )
    console.print(
        Text(
            "   Erik has no Telegram: staff call him on the number on file (his until the\n"
            "   month's end, he wrote) and record it with\n"
            f"     noxbot requests verify {erik.reference} --by phone --note …"
        )
    )
    await deliver_due(database, services, channels)

    _step(console, 4, "The staff queue:")
    with database.session() as session:
        today = stockholm_date(services.clock(), settings.organisation.timezone)
        cases = [
            case_json(session, services, c, today)
            for c in session.exec(select(Request).order_by(col(Request.id)))
        ]
        drafts = [draft_json(session, d) for d in open_drafts(session)]
        alerts = list(
            session.exec(
                select(StaffAlert)
                .where(col(StaffAlert.resolved_at).is_(None))  # (the call made in step 3)
                .order_by(col(StaffAlert.id))
            )
        )
        _print_cases(cases, console)
        _print_drafts(drafts, console)
        print_table(
            console,
            (Column("alert"), Column("what")),
            [(name_words(alert.kind), alert.text) for alert in alerts],
            title="Alerts for staff",
        )

    anna_reference = _reference_of(result, "anna.lindqvist@example.se")
    with database.session() as session:
        case = get_case(session, anna_reference)
        draft = session.exec(
            select(Draft).where(
                Draft.request_id == case.id,
                Draft.purpose == "reply",
                Draft.status == "awaiting_approval",
            )
        ).one()
        approve_draft(session, services, draft.id or 0, actor=STAFF)
        result.approved_draft_id = draft.id
    _step(
        console,
        5,
        f"Staff approve draft {result.approved_draft_id} ({anna_reference}): "
        f"noxbot drafts approve {result.approved_draft_id}",
    )
    before = len(channels[ChannelName.EMAIL].sent)
    await deliver_due(database, services, channels)
    outgoing = channels[ChannelName.EMAIL].sent[before:]
    result.sent = [m for ch in channels.values() for m in ch.sent]
    for message in outgoing:
        console.print(Text(f"To: {message.address}\nSubject: {message.subject}"))
        console.print(Panel(Text(message.text), expand=False), soft_wrap=False)
    moved = sorted(p.name for p in (directory / "cv-erased").glob("*"))
    mails = sum(1 for _ in (directory / "mail-erased" / "cur").glob("*")) + sum(
        1 for _ in (directory / "mail-erased" / "new").glob("*")
    )
    console.print(
        Text(
            f"   Moved aside: {', '.join(moved)} (CV)\n"
            f"   and {mails} mail (info@noxconsulting.se archive)."
        )
    )
    with database.session() as session:
        case = get_case(session, anna_reference)
        notice = session.exec(
            select(Draft).where(Draft.request_id == case.id, Draft.purpose == "art19_notice")
        ).one()
        console.print(
            Text(
                f"   Art. 19 notice drafted for staff to approve: draft {notice.id}\n"
                f"   to {notice.to_address}"
            )
        )
        console.print(Panel(Text(notice.text), expand=False), soft_wrap=False)

    john_reference = _reference_of(result, "5550002")
    with database.session() as session:
        case = get_case(session, john_reference)
        draft = session.exec(
            select(Draft).where(
                Draft.request_id == case.id,
                Draft.purpose == "reply",
                Draft.status == "awaiting_approval",
            )
        ).one()
        approve_draft(session, services, draft.id or 0, actor=STAFF)
    _step(
        console,
        6,
        f"Staff approve John's access reply (draft {draft.id}, {john_reference}):\n"
        "   what each source holds about him, who received it, copies attached:",
    )
    before = len(channels[ChannelName.TELEGRAM].sent)
    await deliver_due(database, services, channels)
    for message in channels[ChannelName.TELEGRAM].sent[before:]:
        if message.address != "5550002":
            continue
        files = "".join(f"\n  {a.filename}" for a in message.attachments)
        console.print(Text(f"To: Telegram {message.address}\nAttached:{files}"))
        console.print(Panel(Text(message.text), expand=False), soft_wrap=False)
        # A chat message holds the reply's opening only; the whole of it is the .txt
        # attached first (DSR-….txt): shown here, since that is where his data is.
        full = next((a for a in message.attachments if a.filename.endswith(".txt")), None)
        if full is not None:
            console.print(Text(f"{full.filename}, the full answer:"))
            console.print(Panel(Text(full.data().decode("utf-8")), expand=False), soft_wrap=False)
    result.sent = [m for ch in channels.values() for m in ch.sent]
    with database.session() as session:
        case = get_case(session, anna_reference)
        count, problems = audit.verify_chain(session)
        # Answered, yet not finished while the notice to whom her data went waits.
        waiting = case_waits_on(session, services, case)
        said = (
            f"{anna_reference} is now {case.status} ({status_words(case.status)})"
            + (
                f"; one step is left: {waiting.removeprefix('staff: ')}"
                if waiting != "nobody"
                else ""
            )
            + ". Anna is no longer in the register."
        )
        console.print(
            Text(
                textwrap.fill(said, width=80, break_long_words=False, break_on_hyphens=False)
                + f"\nAudit trail: {count} events, {'intact' if not problems else 'BROKEN'}."
            )
        )
    database.dispose()
    return result


def _step(console: Console, number: int, text: str) -> None:
    """A numbered step; the text is printed as written (no markup), on any console."""
    console.print(Text.assemble((f"{number}.", "bold"), f" {text}"))


def _reference_of(result: DemoResult, sender: str) -> str:
    return next(o.reference for m, o in result.outcomes if m.sender == sender and o.reference)


async def _answer_challenges(
    database: Database,
    services: Services,
    channels: dict[ChannelName, MemoryChannel],
    console: Console,
) -> None:
    """Play the people on file: Anna and Maria get Telegram buttons, John a code by email."""
    with database.session() as session:
        pending = list(session.exec(select(Verification).where(Verification.status == "pending")))
        # who each challenge went to, by first name (the register's), for the lines below
        names = {}
        for verification in pending:
            case = session.get(Request, verification.request_id)
            person = session.get(Subject, case.subject_id) if case and case.subject_id else None
            names[verification.id] = person.name.split()[0] if person and person.name else ""
    for verification in pending:
        answer: InboundMessage | None = None
        if verification.method == "telegram_confirm":
            # Maria did not write to us: someone used her address. She says so.
            yes = verification.address != "5550004"
            answer = InboundMessage(
                ChannelName.TELEGRAM,
                verification.address,
                callback_data=f"v:{verification.id}:{'y' if yes else 'n'}",
                callback_id=f"cb-{verification.id}",
                telegram_chat_id=int(verification.address),
            )
            said = "Yes, that was me" if yes else "No, it wasn't me"
            who = f"{names[verification.id]} (Telegram user {verification.address})".lstrip()
            console.print(Text(f"   {who} presses “{said}”"))
        elif verification.method == "email_code":
            mail = next(
                m
                for m in reversed(channels[ChannelName.EMAIL].sent)
                if m.address == verification.address
            )
            code = re.search(r"\b\d{6}\b", mail.text)
            assert code is not None
            with database.session() as session:
                case = session.get(Request, verification.request_id)
                assert case is not None
                answer = InboundMessage(
                    ChannelName(case.channel),
                    case.requester_address,
                    text=code.group(0),
                    telegram_chat_id=int(case.requester_address),
                    telegram_message_id=100 + (verification.id or 0),
                )
            console.print(
                Text(
                    f"   John reads the code in his mail and sends it in the chat ({code.group(0)})"
                )
            )
        if answer is not None:
            with database.session() as session:
                process_inbound(session, services, answer)
    await deliver_due(database, services, channels)


def _print_cases(cases: list[dict], console: Console) -> None:
    columns = (
        Column("reference", key=True),
        Column("kinds", whole_lines=True),
        Column("status"),
        Column("due", key=True),
        Column("verification"),
    )
    rows = [
        (
            c["reference"],
            "\n".join(name_words(k) for k in c["kinds"]),
            c["status_words"],
            c["due_date"],
            f"{v['channel']}: {v['status']}" if (v := c["verification"]) else "—",
        )
        for c in cases
    ]
    print_table(console, columns, rows, title="Cases")


def _print_drafts(drafts: list[dict], console: Console) -> None:
    columns = (
        Column("id", key=True),
        Column("reference", key=True),
        Column("purpose"),
        Column("to", key=True),
        Column("personal data", drop_order=1),
    )
    rows = [
        (
            str(d["id"]),
            d["reference"],
            name_words(d["purpose"]),
            recipient(d["to"]),
            "yes" if d["carries_personal_data"] else "",
        )
        for d in drafts
    ]
    print_table(console, columns, rows, title="Drafts awaiting approval")


def demo(keep: Path | None, console: Console) -> DemoResult:
    """Run the demo in a temporary folder, or in `keep`, which then also gets a config.toml
    pointing at the kept database (so every command can explore it with -c)."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="noxbot-demo-") as directory:
            return asyncio.run(run_demo(Path(directory), console))
    # A second run into the same folder would meet its own earlier cases half-way through;
    # and a config.toml there may be someone's own.
    if keep.exists() and not keep.is_dir():
        raise NoxbotError(f"{keep} is a file; --keep takes a folder (new or empty)")
    for existing in (keep / "demo.db", keep / "config.toml"):
        if existing.exists():
            raise NoxbotError(f"{existing} already exists; keep the demo in a new or empty folder")
    keep.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run_demo(keep.resolve(), console))
    config = keep / "config.toml"
    database_url = f"sqlite:///{(keep / 'demo.db').resolve()}"
    config.write_text(
        "# Written by noxbot demo --keep: the kept demo database and the demo's sources\n"
        "# (its CV folder and mail archive), to explore with -c.\n"
        f"[database]\nurl = {json.dumps(database_url)}\n"
        + sources_toml(demo_source_settings(keep.resolve())),
        encoding="utf-8",
    )
    console.print(Text(f"\nThe demo database is kept in {keep / 'demo.db'}. Explore it with:"))
    for command in ("requests list", "drafts list", "alerts list", "audit verify"):
        console.print(Text(f"  noxbot {command} -c {config}"))
    console.print(
        Text(
            "Or in the browser, at http://127.0.0.1:8470/ (staff add prints a link\n"
            "where you choose your password):\n"
            f"  noxbot staff add YOUR-NAME -c {config}\n"
            f"  noxbot web -c {config}"
        )
    )
    return result


@app.command("demo", short_help="The whole flow on embedded defaults, shown.")
def demo_command(
    keep: Annotated[
        Path | None,
        typer.Option(
            metavar="FOLDER",
            help="A new or empty folder: the demo database is kept there, with a config.toml "
            "to explore it (noxbot requests list -c FOLDER/config.toml).",
        ),
    ] = None,
) -> None:
    """Run the whole flow on embedded defaults (SQLite, in-memory channels) and show it."""
    demo(keep, console)
