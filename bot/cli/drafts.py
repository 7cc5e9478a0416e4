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

from bot.case_records import CaseError
from bot.cli.app import (
    ConfigOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    print_json,
    read_text_file,
    services_for,
    settings_and_database,
    staff_actor,
)
from bot.cli.output import Column, print_table, recipient
from bot.drafts import approve_draft, edit_draft, get_draft, open_drafts, reject_draft
from bot.safe_text import stored_note
from bot.verifying import expire_verifications
from bot.views import draft_json

drafts_app = typer.Typer(help="Replies waiting for staff approval.", no_args_is_help=True)
app.add_typer(drafts_app, name="drafts")


DRAFT_COLUMNS = (
    Column("id", key=True),
    Column("reference", key=True),
    Column("v", key=True),
    Column("purpose"),
    Column("status"),
    Column("lang", drop_order=3),
    Column("to", key=True),
    Column("subject", drop_order=2),
    Column("data?", drop_order=1),
)


def print_drafts(drafts: list[dict]) -> None:
    rows = [
        (
            str(d["id"]),
            d["reference"],
            str(d["version"]),
            d["purpose"],
            d["status"],
            d["language"],
            recipient(d["to"]),
            d["subject"],
            "yes" if d["carries_personal_data"] else "",
        )
        for d in drafts
    ]
    print_table(console, DRAFT_COLUMNS, rows)


def print_draft(d: dict) -> None:
    """The facts staff check before approving, each on its own line, then the text."""
    console.print(f"draft {d['id']} · {d['reference']} · version {d['version']} · {d['status']}")
    console.print(f"to: {recipient(d['to'])}")
    console.print(f"subject: {d['subject']}")
    if d["attachments"]:
        console.print(f"attachments: {', '.join(d['attachments'])}")
    console.print(Panel(Text(d["text"]), expand=False), soft_wrap=False)


@drafts_app.command("list")
def drafts_list(
    config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """Drafts waiting for approval (and rejected ones waiting for an edit)."""
    _, database, services = services_for(config)
    with database.session() as session:
        expire_verifications(session, services)
        drafts = [draft_json(session, d) for d in open_drafts(session)]
    if output_format is OutputFormat.JSON:
        print_json(drafts)
    else:
        print_drafts(drafts)


@drafts_app.command("show")
def drafts_show(
    draft_id: int, config: ConfigOption = None, output_format: FormatOption = OutputFormat.TEXT
) -> None:
    """One draft, in full."""
    _, database = settings_and_database(config)
    with database.session() as session:
        draft = draft_json(session, get_draft(session, draft_id))
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
        outbox = approve_draft(
            session, services, draft_id, actor=staff_actor(), expected_version=version
        )
        console.print(
            f"draft {draft_id} approved; queued as outbox {outbox.id} to "
            f"{outbox.channel}: {outbox.address}"
        )


@drafts_app.command("reject")
def drafts_reject(
    draft_id: int,
    reason: Annotated[str, typer.Option(help="Why; kept in the audit trail.")],
    config: ConfigOption = None,
) -> None:
    """Reject a draft; edit it to make a new version."""
    _, database, services = services_for(config)
    with database.session() as session:
        reject_draft(session, services, draft_id, stored_note(reason), actor=staff_actor())
        console.print(f"draft {draft_id} rejected")


@drafts_app.command("edit")
def drafts_edit(
    draft_id: int,
    text_file: Annotated[
        Path | None, typer.Option(help="The new text (else $EDITOR opens).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Edit a draft's text: the result is a new version awaiting approval."""
    _, database, services = services_for(config)
    with database.session() as session:
        current = get_draft(session, draft_id)
        text = read_text_file(text_file) if text_file is not None else _edit_in_editor(current.text)
        new = edit_draft(session, services, draft_id, text, actor=staff_actor())
        console.print(
            f"draft {draft_id} → new version {new.version} is draft {new.id}, awaiting approval"
        )


def _edit_in_editor(text: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise CaseError("no $EDITOR set; give the new text with --text-file")
    with tempfile.NamedTemporaryFile("w+", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write(text)
        path = Path(f.name)
    try:
        result = subprocess.run([*shlex.split(editor), str(path)], check=False)
        if result.returncode != 0:
            raise CaseError(f"the editor exited with status {result.returncode}; nothing changed")
        return read_text_file(path)
    finally:
        path.unlink(missing_ok=True)
