"""`noxbot triage|alerts|outbox|audit`: what needs a person, what waits to be sent, and the
integrity of the audit trail."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session, col, select

from bot.cli.app import (
    KINDS_HELP,
    ConfigOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    err_console,
    parse_kinds,
    print_json,
    services_for,
    settings_and_database,
    staff_actor,
    write_text_file,
)
from bot.cli.helptext import NoxTyper
from bot.cli.output import Column, iso_as_local, print_table
from bot.errors import NoxbotError
from bot.runtime.senders import send_due_once
from bot.store.audit import GENESIS, chain_head, contains_hash, verify_chain
from bot.store.records import resolution_notes
from bot.store.tables import Message, MessageState, Outbox, Request, StaffAlert
from bot.workflow.cases import call_still_owed, resolve_alert
from bot.workflow.outbox import requeue
from bot.workflow.pipeline import decide_triage
from bot.workflow.words import message_state_words, name_words

triage_app = NoxTyper(help="Messages the classifier was unsure about.", no_args_is_help=True)
alerts_app = NoxTyper(help="What staff must look at.", no_args_is_help=True)
outbox_app = NoxTyper(help="Messages waiting to be sent.", no_args_is_help=True)
audit_app = NoxTyper(help="The audit trail.", no_args_is_help=True)
app.add_typer(triage_app, name="triage")
app.add_typer(alerts_app, name="alerts")
app.add_typer(outbox_app, name="outbox")
app.add_typer(audit_app, name="audit")


@triage_app.command("list")
def triage_list(
    config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """Messages waiting for staff to say what they ask for."""
    _, database = settings_and_database(config)
    with database.session() as session:
        rows = [
            {
                "message": m.id,
                "channel": m.channel,
                "from": m.address,
                "subject": m.subject,
                "text": m.text[:300],
                "classification": m.classification,
            }
            for m in session.exec(
                select(Message)
                .where(Message.state == MessageState.TRIAGE)
                .order_by(col(Message.id))
            )
        ]
    if output_format is OutputFormat.JSON:
        print_json(rows)
        return
    if not rows:
        console.print("Nothing waits for triage.")
        return
    columns = (
        Column("message", key=True),
        Column("from", key=True),
        Column("guess"),
        Column("text"),
    )
    cells = []
    for r in rows:
        guess = r["classification"] or {}
        cells.append(
            (
                str(r["message"]),
                f"{r['channel']} {r['from']}",
                f"{', '.join(name_words(k) for k in guess.get('kinds', []))} "
                f"({guess.get('confidence', 0):.2f})",
                r["text"][:120],
            )
        )
    print_table(console, columns, cells)


@triage_app.command("decide")
def triage_decide(
    message_id: int,
    kinds: Annotated[str | None, typer.Option(help=f"What it asks for. {KINDS_HELP}")] = None,
    not_a_request: Annotated[
        bool,
        typer.Option(
            "--not-a-request",
            help="It asks for none of these (a newsletter, a sales mail): no case is opened.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Say what a message asks for (opens a case) or that it is not a request."""
    if (kinds is None) == (not not_a_request):
        raise typer.BadParameter("give --kinds or --not-a-request")
    chosen = parse_kinds(kinds) if kinds else None
    _, database, services = services_for(config)
    with database.session() as session:
        outcome = decide_triage(session, services, message_id, chosen, actor=staff_actor())
    console.print(
        f"message {message_id}: {message_state_words(outcome.state)}"
        + (f" → {outcome.reference}" if outcome.reference else "")
    )


#: The corpus knows two channels, as the classifier does. Phone and post messages are
#: staff's transcripts, classified like mail (bot.workflow.pipeline), so they are exported as
#: "email"; "intake" keeps the channel they really came by.
CORPUS_CHANNEL = {"telegram": "chat", "email": "email", "phone": "email", "post": "email"}


@triage_app.command("export")
def triage_export(
    output: Annotated[Path, typer.Argument(help="JSON-lines file, in the corpus format.")],
    config: ConfigOption = None,
) -> None:
    """Write the messages staff labelled (triage choices and --kinds of manual intake) as a
    corpus for the classifier bench: id, channel (email|chat), language, subject, text,
    kinds; phone and post messages go as "email" with their own channel in "intake"."""
    _, database = settings_and_database(config)
    rows = []
    with database.session() as session:
        for message in session.exec(
            select(Message)
            .where(col(Message.labelled_by).is_not(None))  # label_kinds may be JSON null
            .order_by(col(Message.id))
        ):
            if not message.label_kinds or not message.text:
                continue
            rows.append(
                {
                    "id": f"triage-{message.id}",
                    "channel": CORPUS_CHANNEL.get(message.channel, "email"),
                    "intake": message.channel,
                    "language": (message.classification or {}).get("language", "sv"),
                    "subject": message.subject,
                    "text": message.text,
                    "kinds": list(message.label_kinds),
                }
            )
    write_text_file(output, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    transcripts = sum(row["intake"] in ("phone", "post") for row in rows)
    console.print(
        f"{len(rows)} labelled message{'' if len(rows) == 1 else 's'} written to {output}"
        + (f" ({transcripts} phone/post transcripts as channel email)" if transcripts else "")
        + f"; measure them with bench/classifier_bench.py --corpus {output}"
    )


def _references(session: Session) -> dict[int | None, str]:
    """Case references by case id, so a row can name its case."""
    return {r.id: r.reference for r in session.exec(select(Request))}


@alerts_app.command("list")
def alerts_list(
    config: ConfigOption = None,
    output_format: FormatOption = OutputFormat.TEXT,
    all_alerts: Annotated[bool, typer.Option("--all", help="Include resolved ones.")] = False,
) -> None:
    """Alerts: possible impersonation, calls to make, complaints, failed sends, triage."""
    settings, database = settings_and_database(config)
    zone = settings.organisation.timezone
    with database.session() as session:
        query = select(StaffAlert).order_by(col(StaffAlert.id))
        if not all_alerts:
            query = query.where(col(StaffAlert.resolved_at).is_(None))
        references = _references(session)
        alerts = list(session.exec(query))
        how = resolution_notes(session, {a.id for a in alerts if a.resolved_at is not None})
        rows = [
            {
                "id": a.id,
                "kind": a.kind,
                "reference": references.get(a.request_id),
                "text": a.text,
                "created_at": a.created_at.isoformat(),
                "resolved": a.resolved_at is not None,
                "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
                # who: a staff member, or "noxbot" for what it did by itself
                "resolved_by": a.resolved_by if a.resolved_at else None,
                # what staff wrote when they resolved it, or the action that resolved it
                # ("reply withdrawn: …"); None when neither was said
                "resolution": how.get(a.id) if a.id is not None else None,
            }
            for a in alerts
        ]
    if output_format is OutputFormat.JSON:
        print_json(rows)
        return
    if not rows:
        console.print("No alerts." if all_alerts else "No open alerts.")
        return
    columns = [Column("id", key=True), Column("kind"), Column("what")]
    cells = [[str(r["id"]), name_words(r["kind"]), r["text"]] for r in rows]
    if all_alerts:  # which of them are dealt with, when, by whom and how
        columns.insert(2, Column("resolved"))
        for row, cell in zip(rows, cells, strict=True):
            cell.insert(2, _resolved_words(row, zone))
    print_table(console, columns, cells)


def _resolved_words(row: dict[str, Any], zone: str) -> str:
    """When an alert was resolved (a clock in `zone`), by whom, and how: "2026-11-24
    10:05 CET by staff:eva: called him"; empty while it is open."""
    if not row["resolved_at"]:
        return ""
    words = f"{iso_as_local(row['resolved_at'], zone)} by {row['resolved_by'] or '?'}"
    return words + (f": {row['resolution']}" if row["resolution"] else "")


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: int,
    note: Annotated[
        str | None, typer.Option(help="What was done about it (kept in the audit trail).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Mark an alert as dealt with (kept in the audit trail, with --note if given)."""
    _, database, services = services_for(config)
    with database.session() as session:
        alert = resolve_alert(session, services, alert_id, note or "", actor=staff_actor())
        owed = call_still_owed(session, alert)
    console.print(f"alert {alert_id} resolved")
    if owed is not None:
        console.print(f"The call itself is not recorded by this; the case waits for it: {owed}")


@outbox_app.command("list")
def outbox_list(
    config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """Outgoing messages and where each one is."""
    _, database = settings_and_database(config)
    with database.session() as session:
        references = _references(session)
        rows = [
            {
                "id": o.id,
                "reference": references.get(o.request_id),
                "purpose": o.purpose,
                "channel": o.channel,
                "to": o.address,
                "subject": o.subject,
                "status": o.status,
                "attempts": o.attempts,
                "last_error": o.last_error if o.status != "sent" else None,
                "created_at": o.created_at.isoformat(),
                "sent_at": o.sent_at.isoformat() if o.sent_at else None,
            }
            for o in session.exec(select(Outbox).order_by(col(Outbox.id)))
        ]
    if output_format is OutputFormat.JSON:
        print_json(rows)
        return
    if not rows:
        console.print("The outbox is empty.")
        return
    columns = (
        Column("id", key=True),
        Column("purpose"),
        Column("to", key=True),
        Column("status"),
        Column("attempts", drop_order=1),
        Column("last error"),
    )
    cells = [
        (
            str(r["id"]),
            name_words(r["purpose"]),
            f"{r['channel']} {r['to']}",
            r["status"],
            str(r["attempts"]),
            r["last_error"] or "",
        )
        for r in rows
    ]
    print_table(console, columns, cells)


@outbox_app.command("send")
def outbox_send(config: ConfigOption = None) -> None:
    """Send what is due through the configured SMTP server and Telegram bot (once)."""
    settings, database, services = services_for(config)
    report, missing = asyncio.run(send_due_once(settings, database, services))
    console.print(
        f"sent {len(report.sent)}, retrying later {len(report.retrying)}, "
        f"failed {len(report.failed)}"
    )
    for name in missing:
        console.print(f"{name}: not configured; its messages wait in the outbox")
    if report.failed:
        raise typer.Exit(1)


@outbox_app.command("retry")
def outbox_retry(outbox_id: int, config: ConfigOption = None) -> None:
    """Queue a message that failed for good once more (after the cause was fixed)."""
    _, database, services = services_for(config)
    with database.session() as session:
        row = requeue(session, services, outbox_id, actor=staff_actor())
        console.print(
            f"outbox {row.id} ({row.purpose}) to {row.channel}: queued again", markup=False
        )


@audit_app.command("verify")
def audit_verify(
    config: ConfigOption = None,
    head: Annotated[
        str | None,
        typer.Option(
            help="A head hash printed by an earlier run: it must still be in the chain, so that "
            "deleting the newest events is detected too."
        ),
    ] = None,
) -> None:
    """Check the audit chain; exit status 1 when an event was changed, removed or inserted."""
    if head is not None:
        head = head.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", head):
            # (not a head at all: a copy cut short, say - not a sign of tampering)
            raise NoxbotError(
                "--head: not a head this command printed (64 hexadecimal characters); copy "
                "the whole of it"
            )
    _, database = settings_and_database(config)
    with database.session() as session:
        count, problems = verify_chain(session)
        current_head = chain_head(session)
        head_missing = head is not None and head != GENESIS and not contains_hash(session, head)
    if head_missing:
        err_console.print(f"head {head[:16]}… is no longer in the chain: events were removed")
    for problem in problems:
        err_console.print(f"event {problem.event_id}: {problem.problem}")
    if not problems and not head_missing:
        console.print(
            f"Audit trail intact: {count} events, chain verified. Head: "
            f"{current_head} (keep it elsewhere; pass it with --head next time)."
        )
        return
    err_console.print(
        f"Audit trail TAMPERED: {len(problems) + head_missing} problem(s) in {count} events."
    )
    raise typer.Exit(1)
