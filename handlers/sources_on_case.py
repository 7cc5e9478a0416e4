"""The sources as a case sees them: search them for the case's person and keep what was
found on the case (source_finding), put what noxbot cannot reach on the case's checklist,
and erase what an approved erasure covers, recording each outcome.

Nothing is half-done silently: a source that is down when searched becomes a checklist item
staff tick off (with a note) before any reply is approved; a failure while erasing is kept
on the case with what was and was not done, and approval stops until staff decide.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.channels.messages import Attachment
from bot.config import ManualSource, Settings
from bot.sources import Person, Source, SourceError
from bot.store.database import mark_changed_outside
from bot.store.register import contacts_of
from bot.store.tables import ChecklistItem, FindingState, Request, SourceFinding, Subject


def person_of(session: Session, subject: Subject) -> Person:
    contacts = contacts_of(session, subject)
    return Person(
        name=subject.name,
        emails=tuple(c.value for c in contacts if c.kind == "email"),
        phones=tuple(c.value for c in contacts if c.kind == "phone"),
    )


def add_checklist_item(
    session: Session, case: Request, source: str, task: str, now: datetime
) -> None:
    """A checklist item, once per case and wording (a redraft does not repeat it)."""
    exists = session.exec(
        select(ChecklistItem).where(
            ChecklistItem.request_id == case.id,
            ChecklistItem.source == source,
            ChecklistItem.task == task,
        )
    ).first()
    if exists is None:
        session.add(
            ChecklistItem(request_id=case.id or 0, source=source, task=task, created_at=now)
        )


def search_sources(
    session: Session,
    settings: Settings,
    sources: list[Source],
    case: Request,
    subject: Subject,
    now: datetime,
) -> list[SourceFinding]:
    """Search every source for the person and keep the results on the case (replacing an
    earlier search's findings that were not acted on)."""
    for old in session.exec(
        select(SourceFinding).where(
            SourceFinding.request_id == case.id, SourceFinding.state == FindingState.FOUND
        )
    ):
        session.delete(old)
    person = person_of(session, subject)
    findings = []
    for source in sources:
        try:
            found = source.find(person)
        except SourceError as exc:
            add_checklist_item(
                session,
                case,
                source.name,
                f"could not be searched ({exc}); search it by hand and note what was found",
                now,
            )
            continue
        for item in found:
            finding = SourceFinding(
                request_id=case.id or 0,
                source=source.name,
                ref=item.ref,
                category=item.category,
                summary=item.summary,
                details=[list(pair) for pair in item.details],
                erasable=item.erasable,
                found_at=now,
            )
            session.add(finding)
            findings.append(finding)
    for config in settings.sources:
        if isinstance(config, ManualSource):
            add_checklist_item(session, case, config.name, config.task, now)
    session.flush()
    return findings


def findings_of(session: Session, case: Request, state: str | None = None) -> list[SourceFinding]:
    query = select(SourceFinding).where(SourceFinding.request_id == case.id)
    if state is not None:
        query = query.where(SourceFinding.state == state)
    return list(session.exec(query.order_by(col(SourceFinding.id))))


def open_checklist(session: Session, case: Request) -> list[ChecklistItem]:
    return list(
        session.exec(
            select(ChecklistItem)
            .where(ChecklistItem.request_id == case.id, col(ChecklistItem.done_at).is_(None))
            .order_by(col(ChecklistItem.id))
        )
    )


def only_mentions(finding: SourceFinding) -> bool:
    """A mail or document that is not the person's but names them: it holds other people's
    data too, so it is listed (for staff to quote what concerns the person), never attached
    whole nor erased."""
    details = dict((k, v) for k, v in finding.details)
    return details.get("direction") == "mentions" or details.get("match") == "mentions"


def attachments_for(
    session: Session,
    sources: list[Source],
    case: Request,
    findings: list[SourceFinding],
    now: datetime,
) -> list[Attachment]:
    """Copies of the files and mails found that are the person's, for an access reply (what
    only mentions them is not attached: see `only_mentions`); a copy that cannot be made
    becomes a checklist item (send it by hand)."""
    by_name = {s.name: s for s in sources}
    copies = []
    for finding in findings:
        source = by_name.get(finding.source)
        if source is None or only_mentions(finding):
            continue
        try:
            copy = source.attachment(finding.ref)
        except SourceError as exc:
            add_checklist_item(
                session,
                case,
                finding.source,
                f"a copy of '{finding.summary}' could not be made ({exc}); send it by hand",
                now,
            )
            continue
        if copy is not None:
            copies.append(copy)
    return copies


def listed_summaries(rest: str, candidates: set[str]) -> list[str]:
    """The summaries one listed line names, in order: `rest` split where the reply joined
    them ("; "), a summary that itself holds "; " kept whole; [] when the line was edited
    so that it no longer is a list of whole summaries (then it names nothing)."""
    ordered = sorted(candidates, key=len, reverse=True)

    dead: set[int] = set()  # positions from which no split exists: bounded work

    def split(at: int) -> list[str] | None:
        if at == len(rest):
            return []
        if at in dead:
            return None
        for summary in ordered:
            end = at + len(summary)
            if rest.startswith(summary, at) and (end == len(rest) or rest.startswith("; ", end)):
                after = split(end + 2 if end < len(rest) else end)
                if after is not None:
                    return [summary, *after]
        dead.add(at)
        return None

    return split(0) or []


def listed_in(text: str, findings: list[SourceFinding]) -> set[int]:
    """The ids of the findings an approved erasure text still lists, each as a whole item of
    a "- source: a; b" line (never a substring: 'CV.pdf' is not 'Anna_CV.pdf'). Where a
    source holds several findings of one summary and the text lists fewer of them, none of
    them is taken: staff cut one, and which one cannot be told, so all stay."""
    by_source: dict[str, dict[str, list[SourceFinding]]] = {}
    for f in findings:
        by_source.setdefault(f.source, {}).setdefault(f.summary, []).append(f)
    counts: dict[tuple[str, str], int] = {}
    for line in text.splitlines():
        line = line.strip()
        for source, summaries in by_source.items():
            prefix = f"- {source}: "
            if line.startswith(prefix):
                for item in listed_summaries(line[len(prefix) :].strip(), set(summaries)):
                    counts[(source, item)] = counts.get((source, item), 0) + 1
    return {
        f.id or 0
        for source, summaries in by_source.items()
        for summary, same in summaries.items()
        if counts.get((source, summary), 0) >= len(same)
        for f in same
    }


def to_erase(session: Session, case: Request, approved_text: str | None) -> list[SourceFinding]:
    """What an approved erasure erases in the sources: what was found and may be erased,
    and — when there is an approved text — what that text still lists, item by item (staff
    who cut a line or an item from the reply have decided that thing stays)."""
    erasable = [
        f
        for f in findings_of(session, case, FindingState.FOUND)
        if f.erasable and not only_mentions(f)
    ]
    if approved_text is None:
        return erasable
    listed = listed_in(approved_text, erasable)
    return [f for f in erasable if f.id in listed]


def erase_findings(
    session: Session,
    sources: list[Source],
    case: Request,
    now: datetime,
    approved_text: str | None = None,
) -> tuple[list[str], list[str]]:
    """Erase what `to_erase` names; each outcome recorded on its finding. Returns (done,
    not done), in words staff read."""
    by_name = {s.name: s for s in sources}
    done: list[str] = []
    failed: list[str] = []
    for finding in to_erase(session, case, approved_text):
        source = by_name.get(finding.source)
        try:
            if source is None:
                raise SourceError(f"{finding.source}: no longer configured")
            mark_changed_outside(session)
            finding.outcome = source.erase(finding.ref)
            finding.state = FindingState.ERASED
            done.append(f"{finding.source}: {finding.outcome}")
        except SourceError as exc:
            finding.outcome = str(exc)
            finding.state = FindingState.FAILED
            failed.append(f"{finding.source}: '{finding.summary}' ({exc})")
            add_checklist_item(
                session,
                case,
                finding.source,
                f"'{finding.summary}' could not be erased ({exc}); erase it by hand",
                now,
            )
        finding.done_at = now
        session.add(finding)
    session.flush()
    return done, failed
