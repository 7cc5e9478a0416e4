"""`noxbot requests …`: cases — list, show, manual intake, phone verification, extension,
refusal, closing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text
from sqlmodel import col, or_, select

from bot.channels.mail import inbound_from_email
from bot.channels.messages import InboundMessage
from bot.cli.app import (
    KIND_WORDS,
    STATUS_HELP,
    ConfigOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    parse_kinds,
    parse_settings,
    parse_status,
    print_json,
    read_text_file,
    services_for,
    staff_actor,
    today,
)
from bot.cli.helptext import NoxTyper
from bot.cli.output import Column, fact_words, iso_as_local, print_table
from bot.files import read_named_file
from bot.rules.channels import ChannelName
from bot.rules.deadlines import STOCKHOLM
from bot.store.records import get_case
from bot.store.register import InvalidContact, as_written, normalise
from bot.store.tables import FINAL_STATES, ContactKind, MessageState, Request
from bot.workflow.cases import (
    close_case,
    extend_case,
    redraft_on_request,
    refuse_case,
    reopen_case,
    set_requested_changes,
)
from bot.workflow.confirming import expire_verifications, verify_by_phone
from bot.workflow.corrections import add_changes
from bot.workflow.housekeeping import purge_closed, purge_unrelated_messages, reminders
from bot.workflow.pipeline import Outcome, process_inbound
from bot.workflow.views import case_document_json, case_json, case_waits_on, waiting_notices
from bot.workflow.words import (
    PRESSED_WORDS,
    action_words,
    address_words,
    challenge_words,
    delivery_words,
    history_words,
    kinds_words,
    method_words,
    name_words,
    outcome_words,
    status_words,
)

requests_app = NoxTyper(help="Cases: one rights request each.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")


CASE_COLUMNS = (
    Column("reference", key=True),
    # Whom the case is for stays at 80 columns: an address breaks before its "@" instead
    # (left out only beside an address too long for even that).
    Column("requester", break_before="@", drop_last=True),
    Column("kinds", whole_lines=True),
    Column("status"),
    Column("lang", drop_order=5),
    Column("channel", drop_order=3),
    Column("received", key=True, drop_order=4),
    Column("due", key=True),
    Column("working days left"),
    Column("verification", drop_order=2),
)


def print_cases(cases: list[dict], zone: str = STOCKHOLM) -> None:
    """The cases as a table; the date received as a calendar in `zone` reads it (the date the
    deadline counts from), not UTC's, which is the day before just after midnight."""
    rows = []
    for c in cases:
        verification = c["verification"]
        left = c["working_days_left"]
        ended = c["status"] in ("done", "closed", "withdrawn")
        style = "" if left is None else ("red" if left < 0 else ("yellow" if left <= 5 else ""))
        rows.append(
            (
                c["reference"],
                "\n".join(
                    x for x in (c["requester_name"], address_words(c["channel"], c["from"])) if x
                ),
                "\n".join(name_words(k) for k in c["kinds"]),
                # An answered case is listed among the open ones only while its Art. 19
                # notice waits: say so where the status stands, at any width.
                # A draft approval would refuse is not "to approve": what holds it, briefly.
                (
                    f"draft blocked:\n{'; '.join(c['blocked'])}"
                    if c["blocked"]
                    else c["status_words"]
                )
                + (
                    "\n(Art. 19 notice to approve)" if ended and c["waiting_on"] != "nobody" else ""
                ),
                c["language"],
                c["channel"],
                iso_as_local(c["received_at"], zone)[:10],
                c["due_date"] + ("\n(ext.)" if c["extended_due_date"] else ""),
                Text("—") if ended else Text(str(left), style=style),
                f"{method_words(verification['method'])}: {verification['status']}"
                if verification
                else "—",
            )
        )
    print_table(console, CASE_COLUMNS, rows)


@requests_app.command("list")
def requests_list(
    config: ConfigOption = None,
    output_format: FormatOption = OutputFormat.TEXT,
    status: Annotated[str, typer.Option(help=STATUS_HELP)] = "open",
) -> None:
    """Cases, the nearest legal due date first: requester, status, due date and working days
    left."""
    status = parse_status(status)
    settings, database, services = services_for(config)
    with database.session() as session:
        expire_verifications(session, services)
        query = select(Request)
        if status == "open":  # (and answered cases whose Art. 19 notice waits for staff)
            query = query.where(
                or_(
                    col(Request.status).not_in([s.value for s in FINAL_STATES]),
                    col(Request.id).in_(waiting_notices()),
                )
            )
        elif status != "all":
            query = query.where(Request.status == status)
        cases = [
            case_json(session, services, c, today(settings, services.clock))
            for c in session.exec(query)
        ]
    cases.sort(key=lambda c: (c["due_date"], c["reference"]))
    if output_format is OutputFormat.JSON:
        print_json(cases)
    elif not cases:
        console.print(
            "No requests." if status in ("open", "all") else "No requests with that status."
        )
    else:
        print_cases(cases, settings.organisation.timezone)


@requests_app.command("show")
def requests_show(
    reference: str, config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """One case in full."""
    settings, database, services = services_for(config)
    with database.session() as session:
        expire_verifications(session, services)  # a challenge past its time is not "pending"
        case = case_document_json(
            session, services, get_case(session, reference), today(settings, services.clock)
        )
    if output_format is OutputFormat.JSON:
        print_json(case)
        return
    print_case_document(case, settings.organisation.timezone)


SECTIONS = ("thread", "drafts", "verifications", "outbox", "alerts", "history")


def verification_words(verification: dict) -> str:
    """The case's verification in staff words: "phone call: confirmed", with the attempts
    made when there were any."""
    attempts = verification.get("attempts") or 0
    return f"{method_words(verification['method'])}: {verification['status']}" + (
        f", {attempts} attempt(s)" if attempts else ""
    )


def print_case_document(case: dict, zone: str = STOCKHOLM) -> None:
    """The case as a document to read: its facts, then the thread, every draft version,
    challenges, outbox, alerts and history, each in order; times as a clock in `zone`
    reads them, named (the JSON keeps them in UTC)."""

    def clock(iso: str) -> str:
        return iso_as_local(iso, zone)

    for key, value in case.items():
        if key in SECTIONS or key in ("status_words", "blocked"):  # said in words below
            continue
        if key == "erased_with" and value is None:  # (said only of a case it concerns)
            continue
        if key == "from":  # a Telegram chat id alone says nothing: "Telegram user 5550009"
            value = address_words(case["channel"], value)
        elif key == "status":
            value = status_words(value)
        elif key == "kinds":
            value = kinds_words(value)
        elif key == "verification" and value:
            value = verification_words(value)
        elif key.endswith("_at") and isinstance(value, str):
            value = clock(value)
        console.print(Text.assemble((key.replace("_", " "), "bold"), f": {fact_words(value)}"))
    console.print(Text("\nThread", style="bold"))
    for m in case["thread"]:
        who = "from" if m["direction"] == "in" else "to"
        party = address_words(m["channel"], m["address"])
        console.print(Text(f"--- {clock(m['at'])} {who} {party} ({m['channel']})"))
        if m["subject"]:
            console.print(Text(f"Subject: {m['subject']}"))
        # A button press is kept without text: an empty line said nothing of it.
        console.print(Text(f"({PRESSED_WORDS[m['button']]})" if m["button"] else m["text"]))
    console.print(Text("\nDrafts", style="bold"))
    for d in case["drafts"]:
        decided = f" by {d['decided_by']}" if d["decided_by"] else ""
        reason = f": {d['decision_reason']}" if d["decision_reason"] else ""
        console.print(
            Text(
                f"--- draft {d['id']} v{d['version']} {name_words(d['purpose'])} to "
                f"{address_words(d['to']['channel'], d['to']['address'])}, "
                f"{d['status'].replace('_', ' ')}{decided}{reason} (written by {d['author']})"
            )
        )
        console.print(Text(f"Subject: {d['subject']}\n{d['text']}"))
        if d["attachments"]:
            console.print(Text("Attachments: " + ", ".join(d["attachments"])))
    console.print(Text("\nVerification", style="bold"))
    for v in case["verifications"]:
        console.print(
            Text(
                f"{clock(v['created_at'])} "
                f"{challenge_words(v['method'], v['channel'], v['address'])}"
                + (f" for the change of {v['confirms_contact']}" if v["confirms_contact"] else "")
                + f": {v['status']}{delivery_words(v['delivery'], v['sent_at'], clock)}"
            )
        )
    console.print(Text("\nOutbox", style="bold"))
    for o in case["outbox"]:
        console.print(
            Text(f"{o['id']} {name_words(o['purpose'])} to {o['address']}: {o['status']}")
        )
    console.print(Text("\nAlerts", style="bold"))
    for a in case["alerts"]:
        state = "resolved" if a["resolved"] else "open"
        console.print(Text(f"{a['id']} {name_words(a['kind'])} ({state}): {a['text']}"))
    console.print(Text("\nHistory", style="bold"))
    for e in case["history"]:
        move = (
            f" ({status_words(e['from_state'] or '')} -> {status_words(e['to_state'])})"
            if e["to_state"]
            else ""
        )
        detail = f": {history_words(e['detail'])}" if e["detail"] else ""
        action = action_words(e["action"])
        console.print(Text(f"{clock(e['at'])} {e['actor']} {action}{move}{detail}"))


@requests_app.command("new")
def requests_new(
    channel: Annotated[ChannelName, typer.Option(help="How the request reached NOX.")],
    sender: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Who asked: an email address, a phone number, a Telegram user id or a postal "
            "address, as --channel says. With PATH.eml it replaces the mail's own sender.",
        ),
    ] = None,
    eml: Annotated[Path | None, typer.Argument(help="A forwarded original (.eml).")] = None,
    text_file: Annotated[Path | None, typer.Option(help="What the person said or wrote.")] = None,
    name: Annotated[str | None, typer.Option(help="The person's name, as they gave it.")] = None,
    kinds: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated kinds the person asked for; they replace the classifier's "
            f"guess. As lists show them or by name: {KIND_WORDS}."
        ),
    ] = None,
    config: ConfigOption = None,
    output_format: FormatOption = OutputFormat.TEXT,
) -> None:
    """Manual intake: a request by phone, post or forwarded mail, through the same pipeline."""
    if (eml is None) == (text_file is None):
        raise typer.BadParameter("give exactly one of PATH.eml or --text-file")
    settings, database, services = services_for(config)
    if eml is not None:
        inbound = inbound_from_email(read_named_file(eml))
        if sender:
            inbound = replace(inbound, sender=sender)
        inbound = replace(inbound, channel=channel)
    else:
        if not sender:
            raise typer.BadParameter("--from is required with --text-file")
        inbound = InboundMessage(
            channel=channel,
            sender=sender,
            sender_name=name,
            text=read_text_file(text_file),
            received_at=services.clock(),  # taken in now: what staff heard is new each time
        )
    if name:
        inbound = replace(inbound, sender_name=name)
    if channel.value in {kind.value for kind in ContactKind}:
        try:  # (an answer to an address that is none would fail only when it is sent)
            normalise(channel.value, inbound.sender)
        except InvalidContact as exc:
            where = "--from" if sender else "the mail's sender; give --from"
            raise typer.BadParameter(f"{exc} (--channel {channel.value}: {where})") from None
    chosen = parse_kinds(kinds) if kinds else None
    with database.session() as session:
        # Staff's --kinds say what the person asked: they decide, whatever the classifier
        # makes of the words; verification and drafting follow as for any request.
        outcome = process_inbound(
            session, services, inbound, stated_kinds=chosen, actor=staff_actor()
        )
        if outcome.reference is None:  # the case object's stable keys, with no case
            result = {
                "reference": None,
                "kinds": [],
                "status": None,
                "language": None,
                "channel": ChannelName(inbound.channel).value,
                "received_at": inbound.received_at.isoformat() if inbound.received_at else None,
                "due_date": None,
                "verification": None,
                "state": outcome.state,
                "detail": outcome.detail,
            }
        else:
            result = case_json(
                session,
                services,
                get_case(session, outcome.reference),
                today(settings, services.clock),
            )
    # What became of this message: a new case, added to an open one, or seen before.
    result["duplicate"] = outcome.duplicate
    result["added_to_case"] = not outcome.duplicate and outcome.state == MessageState.THREAD
    if output_format is OutputFormat.JSON:
        print_json(result)
    else:
        console.print(_intake_line(outcome, result))


def _intake_line(outcome: Outcome, result: dict) -> str:
    if result["reference"] is None:
        seen = "Already processed: " if outcome.duplicate else ""
        line = f"{seen}No case opened: {outcome_words(result['state'], result['detail'])}"
        if result["state"] == MessageState.TRIAGE:
            line += (
                f"; it is message {outcome.message_id}: choose its kinds with noxbot triage "
                f"decide {outcome.message_id} --kinds K,… (or --not-a-request)"
            )
        return line
    case = (
        f"{kinds_words(result['kinds'])} — {status_words(result['status'])}"
        f" (due {result['due_date']})"
    )
    if outcome.duplicate:
        return f"Already processed ({result['reference']}), nothing new: {case}"
    if outcome.state == MessageState.THREAD:
        return f"Added to {result['reference']}, the requester's open case: {case}"
    if outcome.state == MessageState.VERIFICATION_ANSWER:
        return f"A verification answer for {result['reference']} ({outcome.detail}): {case}"
    return f"{result['reference']}: {case}"


@requests_app.command("verify")
def requests_verify(
    reference: str,
    by: Annotated[str, typer.Option("--by", help="How identity was confirmed: phone.")],
    note: Annotated[str, typer.Option(help="Who was called, what they confirmed.")],
    config: ConfigOption = None,
) -> None:
    """Record a verification staff made by calling the number on file."""
    if by != "phone":
        raise typer.BadParameter("only --by phone can be recorded by staff")
    _, database, services = services_for(config)
    with database.session() as session:
        before = get_case(session, reference).status
        case = verify_by_phone(session, services, reference, note, actor=staff_actor())
        if before in ("awaiting_verification", "unverified"):
            console.print(
                f"{case.reference}: verified by phone; reply drafted; waiting on "
                f"{case_waits_on(session, services, case)}"
            )
        else:
            console.print(
                f"{case.reference}: the change is confirmed by phone; its reply can be approved "
                "(noxbot drafts list)"
            )


@requests_app.command("extend")
def requests_extend(
    reference: str,
    reason: Annotated[
        str,
        typer.Option(
            help="Why more time is needed: one or more sentences in the person's language, "
            "put in the letter as written."
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Extend the deadline by two months (Art. 12(3)) and draft the notice."""
    _, database, services = services_for(config)
    with database.session() as session:
        draft = extend_case(session, services, reference, reason, actor=staff_actor())
        new_due = (draft.covers or {})["extension"]["due"]
        console.print(
            f"{reference.upper()}: the notice is draft {draft.id}, awaiting approval; the due "
            f"date moves to {new_due} once the notice has gone out (Art. 12(3))"
        )


@requests_app.command("redraft")
def requests_redraft(reference: str, config: ConfigOption = None) -> None:
    """Draft the reply again from what is on file now (after a re-import or a correction
    changed the data a waiting reply shows); the waiting one is superseded."""
    _, database, services = services_for(config)
    with database.session() as session:
        draft = redraft_on_request(
            session, services, reference, actor=staff_actor(), where="command line"
        )
    console.print(f"{reference.upper()}: the reply is drafted again as draft {draft.id}")


@requests_app.command("refuse")
def requests_refuse(
    reference: str,
    reason: Annotated[
        str,
        typer.Option(
            help="The reasons (Art. 12(4)): sentences in the person's language, put in the "
            "letter as written."
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Draft a refusal with reasons; approving it sends it and closes the case."""
    _, database, services = services_for(config)
    with database.session() as session:
        draft = refuse_case(session, services, reference, reason, actor=staff_actor())
        console.print(f"{reference.upper()}: refusal is draft {draft.id}, awaiting approval")


@requests_app.command("close")
def requests_close(
    reference: str,
    reason: Annotated[str, typer.Option(help="Why the case ends here.")],
    withdrawn: Annotated[bool, typer.Option(help="The person took the request back.")] = False,
    config: ConfigOption = None,
) -> None:
    """Close a case (or mark it withdrawn) without a reply."""
    _, database, services = services_for(config)
    with database.session() as session:
        case = close_case(
            session,
            services,
            reference,
            reason,
            actor=staff_actor(),
            withdrawn=withdrawn,
        )
        console.print(f"{case.reference}: {status_words(case.status)}")


@requests_app.command("reopen")
def requests_reopen(
    reference: str,
    reason: Annotated[
        str, typer.Option(help="Why the end was a mistake (kept in the audit trail).")
    ],
    config: ConfigOption = None,
) -> None:
    """Reopen a case closed, refused, answered or withdrawn by mistake; its legal deadline
    stays the original one."""
    _, database, services = services_for(config)
    with database.session() as session:
        case = reopen_case(session, services, reference, reason, actor=staff_actor())
        then = (
            "a fresh reply draft waits for approval"
            if case.status == "awaiting_approval"
            else "identity is not confirmed: verify, challenge or link it"
        )
        due = case.extended_due_date or case.due_date
        console.print(
            f"{case.reference} reopened: {status_words(case.status)}; {then}; still due "
            f"{due} (the original legal deadline)"
        )


@requests_app.command("due")
def requests_due(
    config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """Cases to look at now: overdue, due within \\[deadlines] remind_days_before working days,
    or past the internal target."""
    settings, database, services = services_for(config)
    with database.session() as session:
        expire_verifications(session, services)
        due = reminders(
            session, today(settings, services.clock), settings.deadlines.remind_days_before
        )
    if output_format is OutputFormat.JSON:
        # due/target as ever, and the names the case objects use, for scripts joining the two.
        print_json([{**r.__dict__, "due_date": r.due, "target_date": r.target} for r in due])
        return
    if not due:
        console.print("Nothing is due: every open case is within its internal target.")
        return
    columns = (
        Column("reference", key=True),
        Column("status"),
        Column("due", key=True),
        Column("target", key=True, drop_order=1),
        Column("days left"),
        Column("why"),
    )
    rows = [
        (
            r.reference,
            status_words(r.status),
            str(r.due),
            str(r.target),
            str(r.working_days_left),
            r.why,
        )
        for r in due
    ]
    print_table(console, columns, rows)


@requests_app.command("purge")
def requests_purge(config: ConfigOption = None) -> None:
    """Retention now (noxbot run does it daily): delete messages, drafts and alerts of cases
    that ended more than \\[retention] closed_request_days ago (the case record and audit
    trail stay), and clear the content of mail that opened no case after \\[retention]
    unrelated_message_days."""
    settings, database, services = services_for(config)
    with database.session() as session:
        purged = purge_closed(session, services, today(settings, services.clock))
        cleared = purge_unrelated_messages(session, services, today(settings, services.clock))
    console.print(f"{len(purged)} case(s) purged" + (f": {', '.join(purged)}" if purged else ""))
    console.print(f"{cleared} message(s) that opened no case cleared")


@requests_app.command("changes")
def requests_changes(
    reference: str,
    settings_: Annotated[
        list[str], typer.Option("--set", help="FIELD=VALUE, e.g. phone=070-555 12 34 (repeatable).")
    ],
    config: ConfigOption = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="State the whole set: earlier changes not named again are dropped."
        ),
    ] = False,
) -> None:
    """State what a rectification changes, added to the changes stated before (a field named
    again takes the new value); the reply is redrafted to match. Prints every change."""
    pairs = parse_settings(settings_)
    _, database, services = services_for(config)
    with database.session() as session:
        if replace:
            case = set_requested_changes(session, services, reference, pairs, actor=staff_actor())
        else:
            case = add_changes(session, services, reference, pairs, actor=staff_actor())
        for change in case.requested_changes:  # numbers as the letter writes them
            old, new = (
                as_written(change[k], change["field"], case.language) for k in ("old", "new")
            )
            console.print(f"{change['label']}: {old or '—'} → {new}")
