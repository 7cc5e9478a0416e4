"""`noxbot drafts …`: staff approval from a terminal."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text
from sqlmodel import Session, col, select

from bot.cli.app import (
    KIND_WORDS,
    ConfigOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    parse_kinds,
    parse_settings,
    print_json,
    read_text_file,
    services_for,
    staff_actor,
)
from bot.cli.helptext import NoxTyper
from bot.cli.output import Column, print_table, recipient
from bot.errors import CaseError
from bot.store.tables import Draft, DraftStatus
from bot.workflow.approval import approval_plan, approve_draft, blocked_for_now, edit_draft
from bot.workflow.confirming import expire_verifications
from bot.workflow.drafts import get_draft, open_drafts, reject_draft
from bot.workflow.views import draft_json
from bot.workflow.words import name_words

drafts_app = NoxTyper(help="Replies waiting for staff approval.", no_args_is_help=True)
app.add_typer(drafts_app, name="drafts")


DRAFT_COLUMNS = (
    Column("id", key=True),
    Column("reference", key=True),
    Column("v", key=True),
    Column("draft"),
    Column("lang", drop_order=3),
    Column("to", key=True),
    Column("subject", drop_order=2),
    Column("data?", drop_order=1),
)


def _to(to: dict[str, str]) -> str:
    """An email address speaks for itself; a number is named by its channel ("telegram
    5550002"). Short enough that the list fits 80 columns with a long address."""
    return to["address"] if to["channel"] == "email" else recipient(to)


def print_drafts(drafts: list[dict]) -> None:
    """One row a draft; its column "draft" says what it is and what it waits for, in
    words ("acknowledgment" over "to approve"), wrapping between words, never inside one."""
    rows = [
        (
            str(d["id"]),
            d["reference"],
            str(d["version"]),
            f"{name_words(d['purpose'])}\n{d['status_words']}"
            + (f"\nreplaces draft {d['replaces']}" if d.get("replaces") else ""),
            d["language"],
            _to(d["to"]),
            d["subject"],
            "yes" if d["carries_personal_data"] else "",
        )
        for d in drafts
    ]
    print_table(console, DRAFT_COLUMNS, rows)


def print_draft(d: dict) -> None:
    """The facts staff check before approving, each on its own line, then the text, then
    exactly what approving it will do (or what stands in the way)."""
    replaces = f" (replaces draft {d['replaces']})" if d.get("replaces") else ""
    console.print(
        f"draft {d['id']} · {d['reference']} · version {d['version']}{replaces} · "
        f"{name_words(d['purpose'])}, {d['status_words']}"
    )
    if d.get("replaced_by"):
        console.print(
            f"version {d['version'] + 1} (draft {d['replaced_by']}) replaced it: use "
            f"noxbot drafts show {d['replaced_by']}"
        )
    console.print(f"to: {recipient(d['to'])}")
    console.print(f"subject: {d['subject']}")
    if d["attachments"]:
        console.print(f"attachments: {', '.join(d['attachments'])}")
    console.print(Panel(Text(d["text"]), expand=False), soft_wrap=False)
    approval = d.get("approval")
    if approval is None:
        return
    for note in approval.get("heed", []):
        console.print(f"Before approving: {note}")
    if approval["blocked"]:
        console.print("Cannot be approved yet:")
        for reason in approval["blocked"]:
            console.print(f"  - {reason}")
    console.print("Approving will:" if not approval["blocked"] else "Once it can, approving will:")
    for step in approval["will"]:
        console.print(f"  - {step}")


@drafts_app.command("list")
def drafts_list(
    config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """Drafts waiting for approval (and rejected ones waiting for an edit)."""
    _, database, services = services_for(config)
    with database.session() as session:
        expire_verifications(session, services)
        drafts = []
        for found in open_drafts(session):
            listed = draft_json(session, found)
            # A draft approval would refuse is not "to approve": it says what holds it.
            listed["blocked"] = blocked_for_now(session, services, found)
            if listed["blocked"]:
                listed["status_words"] = "blocked: " + "; ".join(listed["blocked"])
            drafts.append(listed)
    if output_format is OutputFormat.JSON:
        print_json(drafts)
    elif not drafts:  # (a sentence, as the other lists say it, not a bare header)
        console.print("No drafts waiting for approval.")
    else:
        print_drafts(drafts)


@drafts_app.command("show")
def drafts_show(
    draft_id: int, config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """One draft, in full."""
    _, database, services = services_for(config)
    with database.session() as session:
        found = get_draft(session, draft_id)
        draft = draft_json(session, found)
        if found.status in ("awaiting_approval", "rejected"):
            plan = approval_plan(session, services, found)
            draft["approval"] = {
                "will": plan.will,
                "blocked": plan.blocked,
                "heed": plan.heed,
                "notices": plan.notices,
            }
            draft["blocked"] = plan.held
            if plan.held:  # (as drafts list says it)
                draft["status_words"] = "blocked: " + "; ".join(plan.held)
    if output_format is OutputFormat.JSON:
        print_json(draft)
    else:
        print_draft(draft)


@drafts_app.command("approve")
def drafts_approve(
    draft_id: int,
    version: Annotated[
        int | None, typer.Option(help="Refuse unless this is still the current version.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Approve a draft: carry out what it promises and queue it for sending."""
    _, database, services = services_for(config)
    with database.session() as session:
        case_id = get_draft(session, draft_id).request_id
        before = set(_waiting_notices(session, case_id))
        outbox = approve_draft(
            session, services, draft_id, actor=staff_actor(), expected_version=version
        )
        console.print(
            f"draft {draft_id} approved; queued as outbox {outbox.id} to "
            f"{outbox.channel}: {outbox.address}"
        )
        # The Art. 19 notices approving drafted wait for their own approval: say which.
        for notice_id, address in _waiting_notices(session, case_id).items():
            if notice_id not in before:
                console.print(
                    f"Art. 19 notice drafted to {address}, for staff to approve: draft "
                    f"{notice_id} (noxbot drafts show {notice_id})"
                )


def _waiting_notices(session: Session, case_id: int) -> dict[int, str]:
    """The case's Art. 19 notices waiting for approval: id → address."""
    return {
        d.id: d.to_address
        for d in session.exec(
            select(Draft)
            .where(
                Draft.request_id == case_id,
                Draft.purpose == "art19_notice",
                Draft.status == DraftStatus.AWAITING_APPROVAL,
            )
            .order_by(col(Draft.id))
        )
        if d.id is not None
    }


@drafts_app.command("reject")
def drafts_reject(
    draft_id: int,
    reason: Annotated[str, typer.Option(help="Why; kept in the audit trail.")],
    config: ConfigOption = None,
) -> None:
    """Reject a draft; edit it to make a new version."""
    _, database, services = services_for(config)
    with database.session() as session:
        reject_draft(session, services, draft_id, reason, actor=staff_actor())
        console.print(
            f"draft {draft_id} rejected; edit it into a new version: noxbot drafts edit {draft_id}"
        )


@drafts_app.command("edit")
def drafts_edit(
    draft_id: int,
    text_file: Annotated[
        Path | None, typer.Option(help="The new text (else $EDITOR opens).")
    ] = None,
    kinds: Annotated[
        str | None,
        typer.Option(
            help="What the reply answers, when the edit changes that: some of the case's kinds, "
            f"comma-separated, as lists show them or by name ({KIND_WORDS}). Approval carries "
            "out exactly these."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A rectification's change as the text now states it, FIELD=VALUE (name, "
            "company, org_number, phone, email); repeat for several.",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="Why you edit it: kept with the new version, as the console keeps it."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Edit a draft's text: the result is a new version awaiting approval. What approving
    it carries out stays as before unless --kinds or --set say otherwise; the text must say
    it either way."""
    _, database, services = services_for(config)
    stated = [str(k) for k in parse_kinds(kinds)] if kinds is not None else None
    changes = parse_settings(set_) if set_ else None
    with database.session() as session:
        current = get_draft(session, draft_id)
        text = read_text_file(text_file) if text_file is not None else _edit_in_editor(current.text)
        new = edit_draft(
            session,
            services,
            draft_id,
            text,
            actor=staff_actor(),
            kinds=stated,
            changes=changes,
            why=reason or "",
        )
        plan = approval_plan(session, services, new)
        saved = (
            f"saved as draft {new.id} (version {new.version} of the {name_words(new.purpose)} "
            f"on {draft_json(session, new)['reference']}; draft {draft_id} is replaced)"
        )
        if plan.held:  # as drafts list says it: approving it now would be refused
            console.print(
                f"{saved}, blocked: {'; '.join(plan.held)}; noxbot drafts show {new.id} says "
                "what holds it"
            )
            console.print("Once it can, approving it will: " + "; ".join(plan.will))
            return
        console.print(f"{saved}, awaiting approval: approve it with noxbot drafts approve {new.id}")
        console.print("Approving it will: " + "; ".join(plan.will))


def _edit_in_editor(text: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise CaseError("no $EDITOR set; give the new text with --text-file")
    with tempfile.NamedTemporaryFile("w+", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write(text)
        path = Path(f.name)
    try:
        try:
            result = subprocess.run([*shlex.split(editor), str(path)], check=False)
        except OSError as exc:
            raise CaseError(
                f"the editor {editor!r} could not be started ({exc.strerror or exc}); set "
                "$EDITOR, or give the new text with --text-file"
            ) from None
        if result.returncode != 0:
            raise CaseError(f"the editor exited with status {result.returncode}; nothing changed")
        return read_text_file(path)
    finally:
        path.unlink(missing_ok=True)
