"""Case work the console offers, for scripts too: `requests kinds|note|link|no-data` and
`subjects show|search`."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import col, select

from bot.cli.app import (
    KINDS_HELP,
    ConfigOption,
    FormatOption,
    OutputFormat,
    console,
    parse_kinds,
    print_json,
    services_for,
    staff_actor,
    today,
)
from bot.cli.output import Column, fact_words, iso_as_local, print_table
from bot.cli.requests import requests_app
from bot.cli.subjects import subjects_app
from bot.errors import CaseError, NoxbotError
from bot.rules.verification import Method
from bot.store.tables import Request, Subject
from bot.workflow.cases import add_note
from bot.workflow.corrections import correct_kinds
from bot.workflow.linking import draft_no_data, link_to_subject, send_new_challenge
from bot.workflow.views import case_json, find_people, subject_json
from bot.workflow.words import (
    challenge_started_words,
    history_words,
    kinds_words,
    status_words,
)


@requests_app.command("kinds")
def requests_kinds(
    reference: str,
    kinds: Annotated[
        str,
        typer.Option(
            "--kinds",
            help=f"What the case covers, e.g. access,erasure. {KINDS_HELP}",
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Correct the kinds a case covers; the waiting reply is drafted again for them."""
    _, database, services = services_for(config)
    wanted = [str(k) for k in parse_kinds(kinds)]
    with database.session() as session:
        case = correct_kinds(session, services, reference, wanted, actor=staff_actor())
        console.print(f"{case.reference} now covers {kinds_words(case.kinds)}")


@requests_app.command("note")
def requests_note(
    reference: str,
    text: Annotated[str, typer.Option("--text", help="The note (kept in the audit trail).")],
    config: ConfigOption = None,
) -> None:
    """An internal note on a case: kept in its history, never sent to anyone."""
    if not text.strip():
        raise CaseError("--text: an empty note says nothing")
    _, database, services = services_for(config)
    with database.session() as session:
        case = add_note(session, services, reference, text, actor=staff_actor())
    console.print(f"note added to {case.reference}")


@requests_app.command("link")
def requests_link(
    reference: str,
    subject: Annotated[int, typer.Option("--subject", help="The person's id (subjects search).")],
    to: Annotated[
        str | None,
        typer.Option("--to", help="A contact point on file for them (default: the strongest one)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Link a case from an address not on file to a person in the register; the verification
    challenge goes to a channel the register holds for them (the one --to names)."""
    _, database, services = services_for(config)
    with database.session() as session:
        verification = link_to_subject(
            session, services, reference, subject, actor=staff_actor(), address=to
        )
        if verification is None:
            console.print(
                f"{reference.upper()} linked; no channel on file may be used to verify: "
                "confirm by phone (noxbot requests verify)"
            )
        else:
            told = challenge_started_told(
                reference.upper(), verification.method, verification.address
            )
            console.print(f"{reference.upper()} linked; {told}")


def challenge_started_told(reference: str, method: str, address: str) -> str:
    """What staff are told of a challenge just made: queued for `noxbot run` to send, or a
    call for them to make and record."""
    said = history_words(challenge_started_words(method, address))
    if method == Method.PHONE_CALL:
        return (
            f"{said} and record the answer (noxbot requests verify {reference} --by phone "
            '--note "…")'
        )
    return f"{said} (noxbot run sends it)"


@requests_app.command("challenge")
def requests_challenge(
    reference: str,
    to: Annotated[
        str | None,
        typer.Option("--to", help="A contact point on file (default: the strongest one)."),
    ] = None,
    despite_denial: Annotated[
        bool,
        typer.Option(
            "--despite-denial",
            help="Send it although the person said the request was not theirs (they have "
            "told you since that it is).",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """An unverified case of a person on file: send a new verification challenge."""
    _, database, services = services_for(config)
    with database.session() as session:
        verification = send_new_challenge(
            session,
            services,
            reference,
            actor=staff_actor(),
            address=to,
            despite_denial=despite_denial,
        )
        console.print(
            f"{reference.upper()}: "
            + challenge_started_told(reference.upper(), verification.method, verification.address)
        )


@requests_app.command("no-data")
def requests_no_data(reference: str, config: ConfigOption = None) -> None:
    """Draft the answer "we hold no personal data linked to this address", to the address
    that asked (only while nobody on file has it); approving it closes the case."""
    _, database, services = services_for(config)
    with database.session() as session:
        draft = draft_no_data(session, services, reference, actor=staff_actor())
        console.print(
            f"draft {draft.id} written to {draft.to_address}; review it with "
            f"noxbot drafts show {draft.id}, then approve it"
        )


def _person(session, subject_id: int) -> Subject:  # type: ignore[no-untyped-def]
    person = session.get(Subject, subject_id)
    if person is None:
        raise NoxbotError(f"no person with id {subject_id} in the register")
    return person


@subjects_app.command("show")
def subjects_show(
    subject_id: int, config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """One person on file: what is held, and their cases."""
    settings, database, services = services_for(config)
    with database.session() as session:
        person = _person(session, subject_id)
        cases = session.exec(
            select(Request).where(Request.subject_id == person.id).order_by(col(Request.id))
        )
        shown = {
            **subject_json(session, person),
            "cases": [
                case_json(session, services, c, today(settings, services.clock)) for c in cases
            ],
        }
    if output_format is OutputFormat.JSON:
        print_json(shown)
        return
    for key, value in shown.items():
        if key != "cases" and value not in (None, "", [], {}):
            if key in ("created_at", "updated_at"):  # as a clock here reads it, named
                value = iso_as_local(str(value), settings.organisation.timezone)
            console.print(f"{key.replace('_', ' ')}: {fact_words(value)}")
    console.print("cases:")
    for case in shown["cases"]:
        console.print(
            f"  {case['reference']} {kinds_words(case['kinds'])}: {status_words(case['status'])}"
        )


@subjects_app.command("search")
def subjects_search(
    text: str, config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """People on file whose name, email, phone or Telegram id contains TEXT."""
    _, database, _ = services_for(config)
    with database.session() as session:
        found = [subject_json(session, p) for p in find_people(session, text.strip())]
    if output_format is OutputFormat.JSON:
        print_json(found)
        return
    if not found:
        console.print("No one found.")
        return
    print_table(
        console,
        (Column("id", key=True), Column("name"), Column("email", key=True)),
        [(str(p["id"]), p["name"], "\n".join(p["email"])) for p in found],
    )
