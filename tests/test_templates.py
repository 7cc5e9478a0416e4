"""Every template renders in both languages, names IMY, and reveals nothing it must not."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bot.config import OrganisationSettings
from bot.rules.policy import art15_info, info_answers
from bot.workflow.rendering import BUILTIN_TEMPLATES, Drafter, TemplateProblem
from handlers.rectification import Change

COMMON = {"reference": "DSR-2026-0042", "name": "Anna", "due_date": date(2026, 12, 24)}
EXTRA = {
    "acknowledgment.txt.j2": {"needs_verification": True},
    "verification_challenge_email.txt.j2": {
        "code": "482913",
        "ttl_hours": 72,
        "request_channel": "telegram",
        "max_attempts": 5,
        "asked_for": ["radering av dina personuppgifter"],
        "asked_from": None,
    },
    "verification_challenge_telegram.txt.j2": {
        "request_channel": "email",
        "ttl_hours": 72,
        "asked_for": ["tillgång till dina personuppgifter"],
        "asked_from": "ny.adress@example.org",
    },
    "verification_result.txt.j2": {"outcome": "wrong_code", "attempts_left": 3},
    "clarification.txt.j2": {"reason": "unknown_sender", "kinds": ["radering"]},
    "reply.txt.j2": {"sections": ["SECTION"], "kinds": ["radering"]},
    "extension.txt.j2": {"reason": "ärendet är omfattande", "extended_due_date": date(2027, 2, 24)},
    "refusal.txt.j2": {"reasons": "begäran är uppenbart ogrundad", "kinds": ["radering"]},
    "no_data.txt.j2": {"address": "okand@example.org", "named": ["gammal@example.se"]},
    "kinds/access.txt.j2": {
        "sources": [
            {
                "name": "Register",
                "categories": [
                    {
                        "label": "Namn",
                        "items": [("Namn", "Anna"), ("CV", "rad 1\nrad 2")],
                        "purposes": [("Förmedling", "Avtal")],
                        "retention": "Två år",
                        "recipients": ["Kunder"],
                    }
                ],
            }
        ],
        "transfers": "Inga",
        "source": "Från dig",
        "automated_decisions": "Inga",
        "asked_recipients": True,
        "recipients_named": ["Kund AB, 2026-10-01: CV"],
    },
    "kinds/portability.txt.j2": {"attachments": ["a.json", "a.csv"]},
    "kinds/rectification.txt.j2": {
        "changes": [Change("phone", "Telefon", "+4670", "+4676")],
        "told": ["Kund AB"],
        "updated": [("CRM", "Konsult i CRM")],
    },
    "kinds/restriction.txt.j2": {"told": [], "restricted": [("CRM", "Konsult i CRM")]},
    "kinds/erasure.txt.j2": {
        "kept": ["Bokföring"],
        "service_ends": True,
        "removed": [("CV-arkiv", "cv.pdf")],
        "checked": ["Fortnox"],
        "told": ["Kund AB", "Bank AB"],
    },
    "kinds/info.txt.j2": {},
    "complaint_acknowledgment.txt.j2": {},
    "kinds/complaint.txt.j2": {"outcome": "Vi raderade ditt CV ur kundutskicket."},
    "art19_notice.txt.j2": {
        "recipient": "Kund AB",
        "person": "Anna Lindqvist",
        "received": ["2026-10-01: CV"],
        "action": "raderat",
        "kind": "erasure",
    },
}
NAMES = sorted(
    str(p.relative_to(BUILTIN_TEMPLATES / "sv")) for p in (BUILTIN_TEMPLATES / "sv").rglob("*.j2")
)


def context(name: str, language: str) -> dict:
    extra = dict(EXTRA.get(name, {}))
    if name == "kinds/access.txt.j2":
        info = art15_info(language)
        extra.update(rights=info.rights, complaint=info.complaint)
    if name == "kinds/info.txt.j2":
        extra["answers"] = list(info_answers("hur länge sparar ni?", language))
    return {**COMMON, **extra}


def test_both_languages_have_the_same_templates():
    en = sorted(
        str(p.relative_to(BUILTIN_TEMPLATES / "en"))
        for p in (BUILTIN_TEMPLATES / "en").rglob("*.j2")
    )
    assert en == NAMES and len(NAMES) == 22


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_every_template_renders_with_a_subject_and_no_old_authority_name(name, language):
    rendered = Drafter(OrganisationSettings()).render(name, language, **context(name, language))
    assert rendered.subject and rendered.text.strip()
    assert "Datainspektionen" not in rendered.text
    if not name.startswith("kinds/") and name != "help.txt.j2":
        assert "DSR-2026-0042" in rendered.subject + rendered.text
    if name in ("reply.txt.j2", "extension.txt.j2", "refusal.txt.j2", "kinds/complaint.txt.j2"):
        assert "IMY" in rendered.text


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_no_template_suggests_phoning_unless_a_number_is_configured(name, language):
    rendered = Drafter(OrganisationSettings()).render(name, language, **context(name, language))
    assert not re.search(r"ringa oss|call us", rendered.text, re.IGNORECASE)
    with_phone = OrganisationSettings(phone="08-123 456 78")
    rendered = Drafter(with_phone).render(name, language, **context(name, language))
    if name in ("acknowledgment.txt.j2", "clarification.txt.j2"):
        assert re.search(r"(ringa oss på|call us on) 08-123 456 78\.\n\n", rendered.text)


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("name", ["reply.txt.j2", "no_data.txt.j2"])
def test_letters_are_signed_by_the_configured_signatory_with_address_and_phone(name, language):
    """Every letter, the no-data answer too (before, it was signed by the company name
    alone; README: signatory, phone and postal address sign every message)."""
    organisation = OrganisationSettings(
        signatory="Eva Ek, dataskyddsombud",
        phone="08-123 456 78",
        postal_address="Box 1, 111 22 Stockholm",
    )
    text = Drafter(organisation).render(name, language, **context(name, language)).text
    assert text.rstrip().splitlines()[-4:] == [
        "Eva Ek, dataskyddsombud",
        "NOX Consulting AB",
        "Box 1, 111 22 Stockholm",
        ("Telefon" if language == "sv" else "Phone") + ": 08-123 456 78",
    ]


@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_missing_variable_is_an_error_not_a_hole(language):
    with pytest.raises(TemplateProblem, match=r"reply\.txt\.j2"):
        Drafter(OrganisationSettings()).render("reply.txt.j2", language, **COMMON)


@pytest.mark.parametrize("language", ["sv", "en"])
def test_clarification_does_not_reveal_whether_we_hold_data(language):
    drafter = Drafter(OrganisationSettings())
    base = context("clarification.txt.j2", language)
    unknown = drafter.render("clarification.txt.j2", language, **base)
    for reason in ("no_alternate_channel", "denied", "verification_failed"):
        other = drafter.render("clarification.txt.j2", language, **{**base, "reason": reason})
        assert other == unknown
    for phrase in (
        "inga uppgifter",
        "we hold no",
        "no data",
        "not in our register",
        "no record",
        "finns inte i",
    ):
        assert phrase not in unknown.text.lower()


@pytest.mark.parametrize("language", ["sv", "en"])
def test_the_code_appears_once_and_is_the_only_six_digit_number(language):
    rendered = Drafter(OrganisationSettings()).render(
        "verification_challenge_email.txt.j2",
        language,
        **context("verification_challenge_email.txt.j2", language),
    )
    assert re.findall(r"\b\d{6}\b", rendered.text) == ["482913"]
    assert "[DSR-2026-0042]" in rendered.subject


@pytest.mark.parametrize(("language", "chat"), [("sv", "chatt"), ("en", "chat")])
@pytest.mark.parametrize("channel", ["email", "phone", "telegram"])
def test_a_mailed_code_is_sent_back_in_a_chat_only_when_the_request_came_by_chat(
    language, chat, channel
):
    """The person asked by email (a case linked to them), by phone or by letter has no chat
    to send the code in: they are told to reply to the mail."""
    values = {
        **context("verification_challenge_email.txt.j2", language),
        "request_channel": channel,
    }
    text = (
        Drafter(OrganisationSettings())
        .render("verification_challenge_email.txt.j2", language, **values)
        .text
    )
    assert (chat in text) == (channel == "telegram")


def test_a_staff_template_folder_overrides_one_file(tmp_path: Path):
    (tmp_path / "sv").mkdir()
    (tmp_path / "sv" / "acknowledgment.txt.j2").write_text(
        "Subject: Mottaget {{ reference }}\n\nEget svar.\n"
    )
    drafter = Drafter(OrganisationSettings(), tmp_path)
    assert (
        drafter.render(
            "acknowledgment.txt.j2", "sv", **COMMON, needs_verification=False
        ).text.strip()
        == "Eget svar."
    )
    assert (
        "DSR-2026-0042"
        in drafter.render("reply.txt.j2", "sv", **COMMON, sections=[], kinds=[]).subject
    )


@pytest.mark.parametrize(
    ("language", "stored", "written"),
    [
        ("sv", "+46765551234", "076-555 12 34"),
        ("en", "+46765551234", "+46 76 555 12 34"),
        ("sv", "+442071234567", "+44 20 7123 4567"),
        ("sv", "not a number", "not a number"),
    ],
)
def test_a_reply_writes_a_phone_number_the_way_its_reader_writes_one(language, stored, written):
    from bot.workflow.rendering import as_written

    assert as_written(stored, "phone", language) == written
    assert as_written("Anna Lindqvist", "name", language) == "Anna Lindqvist"


@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_reason_staff_type_reads_as_sentences_of_its_own_however_typed(language):
    """Staff type their reason as a sentence; the letter put a second full stop after it
    ("…i Örebro..") and kept its capital mid-sentence ("because The request …")."""
    drafter = Drafter(OrganisationSettings())

    def letter(template: str, reason: str) -> str:
        key = "reason" if template == "extension.txt.j2" else "reasons"
        variables = EXTRA[template] | {key: reason}
        return drafter.render(template, language, **COMMON, **variables).text

    extension = letter("extension.txt.j2", "vi måste hämta uppgifter ur vårt arkiv i Örebro. ")
    assert ". Vi måste hämta uppgifter ur vårt arkiv i Örebro.\n" in extension
    assert "Örebro.." not in extension
    refusal = letter("refusal.txt.j2", "begäran är uppenbart ogrundad.")
    assert ". Begäran är uppenbart ogrundad.\n" in refusal
    assert "ogrundad.." not in refusal
    capital = letter("refusal.txt.j2", "Begäran är uppenbart ogrundad")
    assert ". Begäran är uppenbart ogrundad.\n" in capital  # no "because Begäran"
