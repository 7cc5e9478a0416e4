"""Access (GDPR Art. 15): what is held about *this* person, category by category, with the
Art. 15(1)-(2) facts for each (purposes and legal basis, retention, recipients) and the
organisation-wide ones (transfers, source, automated decisions) — all taken from the
records-of-processing file the DPO edits. Only categories actually held are listed; a
person on no record gets a plain "we hold nothing". Needs verification: it discloses data."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.rules.kinds import RequestKind
from bot.rules.plan_words import plan_words
from bot.rules.policy import art15_info
from bot.rules.processing import Category, Records
from bot.store.register import RecordItem, as_written, subject_record
from bot.store.tables import FindingState, SourceFinding
from handlers.base import CaseView, Handler, Section
from handlers.disclosures_on_case import asked_for_recipients, named_recipients
from handlers.sources_on_case import (
    attachments_for,
    findings_of,
    only_mentions,
    search_sources,
)

#: The name of the register as a source, in the reply's language.
REGISTER_SOURCE = {"sv": "Vårt konsultregister", "en": "Our consultant register"}
#: Held data whose field the records file does not place in a category.
OTHER = {"sv": "Övriga uppgifter", "en": "Other data"}
#: How a source's finding is labelled, by what it is.
FOUND_LABELS = {
    "sv": {
        "document": "Dokument",
        "from": "E-post från dig",
        "to": "E-post till dig",
        "mentions": "E-post som nämner dig",
        "document_mentions": "Dokument som nämner dig",
    },
    "en": {
        "document": "Document",
        "from": "Email from you",
        "to": "Email to you",
        "mentions": "Email that mentions you",
        "document_mentions": "Document that mentions you",
    },
}


@dataclass
class HeldCategory:
    """One category held about the person, with what the records say of it."""

    label: str
    items: list[tuple[str, str]] = field(default_factory=list)
    purposes: list[tuple[str, str]] = field(default_factory=list)
    retention: str = ""
    recipients: list[str] = field(default_factory=list)


def item_label(records: Records, item: RecordItem, language: str) -> str:
    """A human label: the register's own, the records file's, never a raw field name."""
    if item.label != item.key:
        return item.label
    if item.key in records.field_labels:
        return records.field_labels[item.key](language)
    return item.key.replace("_", " ").replace("-", " ").strip().capitalize()


def held_categories(records: Records, items: list[RecordItem], language: str) -> list[HeldCategory]:
    """The items grouped by category, in the records file's order; nothing empty."""
    groups: dict[str, HeldCategory] = {}
    order = [c.key for c in records.categories]

    def category_for(key: str) -> Category | None:
        return records.category_of_field(key) or records.category_of_field("*")

    for item in items:
        category = category_for(item.key)
        key = category.key if category else ""
        if key not in groups:
            groups[key] = _describe(records, category, language)
        # A phone number as people read it ("070-123 45 67", "+44 7700 900123"), not as stored.
        value = as_written(item.value, item.key, language)
        groups[key].items.append((item_label(records, item, language), value))
    ranked = sorted(groups, key=lambda k: order.index(k) if k in order else len(order))
    return [groups[k] for k in ranked]


def _describe(records: Records, category: Category | None, language: str) -> HeldCategory:
    if category is None:
        return HeldCategory(OTHER.get(language, OTHER["en"]))
    return HeldCategory(
        label=category.label(language),
        purposes=[(p.text(language), p.legal_basis(language)) for p in category.purposes],
        retention=category.retention(language),
        recipients=[records.recipients[r](language) for r in category.recipients],
    )


def column_label(records: Records, column: str, language: str) -> str:
    """A database column as people read it: the records file's [field_labels], else the
    column's name as words."""
    if column in records.field_labels:
        return records.field_labels[column](language)
    return column.replace("_", " ").strip().capitalize()


def finding_items(records: Records, finding: SourceFinding, language: str) -> list[tuple[str, str]]:
    """What the reply shows of one finding: a document's name, a mail's date and subject
    with its direction, a database row's columns."""
    labels = FOUND_LABELS.get(language, FOUND_LABELS["en"])
    details = dict((k, v) for k, v in finding.details)
    if "direction" in details:
        return [(labels[details["direction"]], finding.summary)]
    if details.get("match") == "mentions":
        return [(labels["document_mentions"], finding.summary)]
    if finding.details:
        return [
            (f"{column_label(records, k, language)} ({finding.summary})", v)
            for k, v in finding.details
        ]
    return [(labels["document"], finding.summary)]


def source_sections(
    records: Records, findings: list[SourceFinding], language: str
) -> list[dict[str, object]]:
    """One section per source, its findings grouped by category."""
    sections: dict[str, dict[str, HeldCategory]] = {}
    for finding in findings:
        groups = sections.setdefault(finding.source, {})
        if finding.category not in groups:
            groups[finding.category] = _describe(
                records, records.category(finding.category), language
            )
        groups[finding.category].items.extend(finding_items(records, finding, language))
    return [
        {"name": name, "categories": list(groups.values())} for name, groups in sections.items()
    ]


class AccessHandler(Handler):
    kind = RequestKind.ACCESS
    needs_verification = True

    def draft(self, view: CaseView) -> Section:
        records = view.services.records
        assert records is not None  # Services loads them
        items = []
        if view.subject is not None:
            items = subject_record(view.session, view.subject, view.language)
        sources: list[dict[str, object]] = []
        if items:
            sources.append(
                {
                    "name": REGISTER_SOURCE.get(view.language, REGISTER_SOURCE["en"]),
                    "categories": held_categories(records, items, view.language),
                }
            )
        findings: list[SourceFinding] = []
        copies = []
        if view.subject is not None and view.case.verified_at is not None:
            now = view.services.clock()
            configured = view.services.sources or []
            findings = search_sources(
                view.session, view.services.settings, configured, view.case, view.subject, now
            )
            sources.extend(source_sections(records, findings, view.language))
            copies = attachments_for(view.session, configured, view.case, findings, now)
        info = art15_info(view.language)
        return Section(
            "kinds/access.txt.j2",
            {
                "sources": sources,
                "transfers": records.transfers(view.language),
                "source": records.source(view.language),
                "automated_decisions": records.automated_decisions(view.language),
                "asked_recipients": asked_for_recipients(view.request_text),
                "recipients_named": named_recipients(view) if view.case.verified_at else [],
                "rights": info.rights,
                "complaint": info.complaint,
            },
            attachments=tuple(copies),
            carries_personal_data=bool(items or findings),
            fields=tuple(i.key for i in items),
        )

    def describe(self, view: CaseView, language: str = "en") -> str | None:
        if view.subject is None:
            return plan_words(language, "access_nobody")
        mentioned = [
            f"{f.source}: {f.summary}"
            for f in findings_of(view.session, view.case, FindingState.FOUND)
            if only_mentions(f)
        ]
        review = (
            plan_words(language, "access_mentions", items="; ".join(mentioned)) if mentioned else ""
        )
        return plan_words(language, "access", who=view.who) + review

    def on_approve(self, view: CaseView, actor: str) -> str:
        return "register extract queued to go with the approved reply"


HANDLER = AccessHandler()
