"""`noxbot requests checklist|tick|outcome`: what the sources found for a case, the checklist
staff tick off before its reply can be approved, and a complaint's outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.app import (
    ConfigOption,
    FormatOption,
    OutputFormat,
    console,
    print_json,
    read_text_file,
    services_for,
    staff_actor,
)
from bot.cli.requests import requests_app
from bot.store.records import get_case
from bot.workflow.checklist import sources_json, tick
from bot.workflow.complaints import record_outcome


@requests_app.command("checklist")
def requests_checklist(
    reference: str, config: ConfigOption = None, format: FormatOption = OutputFormat.TEXT
) -> None:
    """What each source found for the case (and what was erased), and the checklist."""
    _, database, _services = services_for(config)
    with database.session() as session:
        result = sources_json(session, get_case(session, reference))
    if format == OutputFormat.JSON:
        print_json(result)
        return
    for f in result["findings"]:
        console.print(
            f"found {f['id']}: {f['source']}: {f['summary']} [{f['state']}]", markup=False
        )
        if f["outcome"]:
            console.print(f"    {f['outcome']}", markup=False)
    for i in result["checklist"]:
        mark = "x" if i["done"] else " "
        console.print(f"[{mark}] {i['id']}: {i['source']}: {i['task']}", markup=False)
        if i["done"]:
            console.print(f"    {i['done_by']}: {i['note']}", markup=False)
    if not result["findings"] and not result["checklist"]:
        console.print(f"{result['reference']}: no source findings and no checklist")


@requests_app.command("tick")
def requests_tick(
    reference: str,
    item: Annotated[int, typer.Argument(help="The checklist item's number.")],
    note: Annotated[str, typer.Option(help="What was done (stays on the case).")],
    config: ConfigOption = None,
) -> None:
    """Tick a checklist item off, saying what was done."""
    _, database, services = services_for(config)
    with database.session() as session:
        done = tick(session, reference, item, note, actor=staff_actor(), now=services.clock())
        console.print(f"{reference.upper()}: checklist item {done.id} ticked off", markup=False)


@requests_app.command("outcome")
def requests_outcome(
    reference: str,
    text_file: Annotated[
        Path, typer.Option("--text-file", help="What was found and what NOX will do.")
    ],
    config: ConfigOption = None,
) -> None:
    """Record a complaint's outcome; its reply is drafted again with it, for approval."""
    outcome = read_text_file(text_file)
    _, database, services = services_for(config)
    with database.session() as session:
        draft = record_outcome(session, services, reference, outcome, actor=staff_actor())
        console.print(
            f"{reference.upper()}: outcome recorded; the reply is draft {draft.id}, awaiting "
            "approval",
            markup=False,
        )
