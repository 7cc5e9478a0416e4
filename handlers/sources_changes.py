"""Rectification and restriction in the sources that can carry them out (an SQL table with
`update` or `restrict` statements): what the reply names, and what approval then does.

Done as an erasure is: the rows are searched for the person as the register holds them
now (before the register changes), each row's outcome is kept on the case as a finding,
and a failure part-way is recorded with what was and was not done, becomes a checklist item
and stops approval until staff decide. What was done is not done again on a later approval.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, select

from bot.config import SqlSource
from bot.errors import CaseError
from bot.sources import Found, Source, SourceError
from bot.store.database import mark_changed_outside
from bot.store.records import alert_staff
from bot.store.tables import ChecklistItem, FindingState, Request, SourceFinding
from handlers.base import CaseView
from handlers.sources_on_case import add_checklist_item, findings_of, listed_summaries, person_of

Action = Literal["rectify", "restrict"]

_VERB = {"rectify": "updated", "restrict": "restricted"}
_STATE = {"rectify": FindingState.RECTIFIED, "restrict": FindingState.RESTRICTED}
_SEARCH_TASK = "could not be searched to carry out the {action}"
_NOUN = {"rectify": "rectification", "restrict": "restriction"}


def _listed(text: str, tables: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (source, table label) pairs the approved text still lists, each as a whole item
    of a "- source: label; label" line (never a substring, as an erasure reads its text)."""
    listed = set()
    for line in text.splitlines():
        line = line.strip()
        for source in {s for s, _ in tables}:
            prefix = f"- {source}: "
            if line.startswith(prefix):
                labels = {label for s, label in tables if s == source}
                listed.update(
                    (source, item) for item in listed_summaries(line[len(prefix) :], labels)
                )
    return listed


def configured(view: CaseView, action: Action) -> list[str]:
    """The tables ("CRM: Konsult i CRM") whose statements approval would run, from the
    config alone (no search: the plan is read often), limited as approval limits them to
    what the approved text names."""
    fields = _fields(view, action)
    text = (view.scope or {}).get("text")
    tables = [
        (source.name, table.label)
        for source in view.services.settings.sources
        if isinstance(source, SqlSource)
        for table in source.tables
        if (table.restrict is not None if action == "restrict" else fields & set(table.update))
    ]
    if text is not None:
        listed = _listed(text, set(tables))
        tables = [t for t in tables if t in listed]
    return [f"{source}: {label}" for source, label in tables]


def _applies(source: Source, item: Found, action: Action, fields: set[str]) -> bool:
    """Whether the row's table has a statement for this action (and these fields)."""
    table = getattr(source, "table_of", None)
    if table is None or not hasattr(source, action):
        return False
    config = table(item.ref)
    if action == "restrict":
        return config.restrict is not None
    return bool(fields & set(config.update))


def _fields(view: CaseView, action: Action) -> set[str]:
    return {c["field"] for c in view.changes} if action == "rectify" else set()


def _searched_by_hand(session: Session, case: Request, source: str, action: Action) -> bool:
    """Staff ticked off doing it by hand after this source could not be searched."""
    task = _SEARCH_TASK.format(action=_NOUN[action])
    items = session.exec(
        select(ChecklistItem).where(
            ChecklistItem.request_id == case.id, ChecklistItem.source == source
        )
    )
    return any(i.task.startswith(task) and i.done_at is not None for i in items)


def to_change(view: CaseView, action: Action, now: datetime) -> list[tuple[Source, Found]]:
    """The rows in the sources that the action changes for this person, searched now. A
    source that cannot be searched becomes a checklist item (which holds up approval)."""
    if view.subject is None or (action == "rectify" and not view.changes):
        return []
    person = person_of(view.session, view.subject)
    fields = _fields(view, action)
    rows = []
    for source in view.services.sources or []:
        if not hasattr(source, action):
            continue
        try:
            found = source.find(person)
        except SourceError as exc:
            if not _searched_by_hand(view.session, view.case, source.name, action):
                task = _SEARCH_TASK.format(action=_NOUN[action])
                add_checklist_item(
                    view.session, view.case, source.name, f"{task} ({exc}); do it by hand", now
                )
            continue
        rows.extend((source, item) for item in found if _applies(source, item, action, fields))
    return rows


def named(view: CaseView, action: Action, now: datetime) -> list[tuple[str, str]]:
    """(source, what) for the reply: where the action is carried out besides the register."""
    systems: dict[str, list[str]] = {}
    for source, item in to_change(view, action, now):
        labels = systems.setdefault(source.name, [])
        if item.summary not in labels:
            labels.append(item.summary)
    return [(name, "; ".join(labels)) for name, labels in systems.items()]


def change_in_sources(
    view: CaseView, action: Action, now: datetime, approved_text: str | None = None
) -> tuple[list[str], list[str]]:
    """Carry out the action on each row `to_change` finds that the approved text still names
    (staff who cut a system from the reply decided it stays as it is). Returns (done, not
    done) in words staff read; each outcome is kept on the case."""
    done: list[str] = []
    failed: list[str] = []
    before = {
        (f.source, f.ref)
        for f in findings_of(view.session, view.case)
        if f.state in (_STATE[action], FindingState.FAILED)
    }
    changes = [(c["field"], c["old"] or "", c["new"]) for c in view.changes]
    # A source that could not be searched now is "not done" until staff tick it off.
    open_before = {i.id for i in _open_items(view.session, view.case)}
    rows = to_change(view, action, now)
    for item in _open_items(view.session, view.case):
        if item.id not in open_before:
            failed.append(f"{item.source}: {item.task}")
    listed = (
        _listed(approved_text, {(source.name, item.summary) for source, item in rows})
        if approved_text is not None
        else None
    )
    for source, item in rows:
        if (source.name, item.ref) in before:
            continue  # done (or handed to staff) on an earlier approval
        if listed is not None and (source.name, item.summary) not in listed:
            continue
        finding = SourceFinding(
            request_id=view.case.id or 0,
            source=source.name,
            ref=item.ref,
            category=item.category,
            summary=item.summary,
            details=[],  # the values are in the register and the source, not kept here
            erasable=item.erasable,
            found_at=now,
        )
        try:
            run: Any = getattr(source, action)
            mark_changed_outside(view.session)
            finding.outcome = run(item.ref, changes) if action == "rectify" else run(item.ref)
            finding.state = _STATE[action]
            done.append(f"{source.name}: {finding.outcome}")
        except SourceError as exc:
            finding.outcome = str(exc)
            finding.state = FindingState.FAILED
            failed.append(f"{source.name}: '{item.summary}' ({exc})")
            add_checklist_item(
                view.session,
                view.case,
                source.name,
                f"'{item.summary}' could not be {_VERB[action]} ({exc}); do it by hand",
                now,
            )
        finding.done_at = now
        view.session.add(finding)
    view.session.flush()
    return done, failed


def _open_items(session: Session, case: Request) -> list[ChecklistItem]:
    session.flush()
    return [
        i
        for i in session.exec(select(ChecklistItem).where(ChecklistItem.request_id == case.id))
        if i.done_at is None
    ]


def done_in_sources(view: CaseView, action: Action) -> list[str]:
    """What approval did in the sources, for the audit line."""
    return [
        f"{f.source}: {f.outcome}" for f in findings_of(view.session, view.case, _STATE[action])
    ]


#: What staff do by hand with what a source could not change.
BY_HAND = {"rectify": "correct", "restrict": "restrict"}


def carry_out_in_sources(view: CaseView, action: Action, noun: str, now: datetime) -> None:
    """Rectify or restrict in the sources the approved text still lists; a failure part-way
    is kept on the case (done and not done), alerts staff once and stops approval."""
    text = (view.scope or {}).get("text")
    done, failed = change_in_sources(view, action, now, approved_text=text)
    if not failed:
        return
    message = (
        f"{view.case.reference}: {noun} stopped. "
        f"Done: {'; '.join(done) or 'nothing'}. Not done: {'; '.join(failed)}. "
        f"Each is a checklist item: {BY_HAND[action]} it by hand, tick it off (noxbot requests "
        f"checklist {view.case.reference}), then approve again."
    )
    alert_staff(view.session, view.case, f"{noun}_failed", message, now=now)
    view.session.commit()
    raise CaseError(message)
