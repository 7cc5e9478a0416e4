"""The access reply is about the person: what is held, category by category, with the facts
the records-of-processing file gives — and nothing that is not held."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ProcessingSettings, Settings
from bot.errors import NoxbotError
from bot.rules.processing import DEFAULT_RECORDS, RecordsError, parse_records
from bot.runtime.reach import check_records
from bot.workflow.drafts import draft_reply
from bot.workflow.services import load_records
from tests.workflow_kit import ANNA_EMAIL, ERIK_EMAIL, JOHN_EMAIL, World


async def answered_access(world: World, sender: str, text: str, subject: str = "") -> str:
    outcome = world.email(sender, text, subject)
    sent = await world.deliver()
    challenge = [m for m in sent if m.buttons]
    if challenge:
        world.press(challenge[0].address, world.verification(outcome.reference).id, yes=True)
    else:
        world.call_confirms(outcome.reference)
    return world.reply_draft(outcome.reference).text


async def test_swedish_access_reply_lists_held_categories_with_human_labels(world):
    text = await answered_access(
        world, ANNA_EMAIL, "Hej, jag vill ha ett registerutdrag enligt artikel 15.", "Utdrag"
    )
    assert "Namn och kontaktuppgifter" in text
    assert "- LinkedIn-profil: https://www.linkedin.com/in/anna-lindqvist-example" in text
    assert "linkedin:" not in text.lower()
    # purposes with legal basis, retention per category, EU/EEA transfers and safeguards
    assert "Rättslig grund: Intresseavvägning" in text
    assert "Hur länge vi sparar dem: Fakturor och bokföringsunderlag i sju år" in text
    assert "utanför EU/EES" in text and "standardavtalsklausuler" in text
    assert "Automatiserade beslut" in text and "artikel 22" in text
    # the privacy policy's catalogue is not pasted: nothing about cookies or social networks
    assert "cookie" not in text.lower() and "sociala nätverk" not in text
    assert "kan behandla" not in text


async def test_english_reply_for_a_person_without_invoicing_data_omits_that_category(world):
    # Erik has no CV and no LinkedIn on file, but a company: each held category once.
    text = await answered_access(
        world, ERIK_EMAIL, "Please send me a copy of all personal data you hold about me."
    )
    assert "Name and contact details" in text
    assert "The company you invoice through" in text
    assert "CV:" not in text and "LinkedIn" not in text
    assert text.count("How long we keep it:") == 3  # contact, profile (roles), company


async def test_a_person_on_no_record_is_told_plainly_that_nothing_is_held(world):
    outcome = world.email(
        "nobody@example.org", "Please send me a copy of all personal data you hold about me."
    )
    assert world.case(outcome.reference).status == "unverified"
    with world.session() as session:
        case = session.merge(world.case(outcome.reference))
        text = draft_reply(session, world.services, case, actor="test").text
    assert "We hold no personal data about you" in text
    assert "How long we keep it" not in text and "Legal basis" not in text


def test_the_shipped_records_file_is_complete():
    records = parse_records(DEFAULT_RECORDS.read_text(encoding="utf-8"))
    assert {c.key for c in records.categories} >= {"identity", "profile", "company"}
    for category in records.categories:
        assert category.retention("sv") and category.retention("en")


def test_a_records_file_with_an_unknown_purpose_names_it(tmp_path: Path):
    text = DEFAULT_RECORDS.read_text(encoding="utf-8").replace(
        'purposes = ["brokering", "invoicing"]', 'purposes = ["brokering", "selling"]'
    )
    with pytest.raises(RecordsError, match="'selling' is not declared"):
        parse_records(text, "x.toml")


def test_the_configured_records_file_is_the_one_used(tmp_path: Path):
    own = tmp_path / "records.toml"
    shipped = DEFAULT_RECORDS.read_text(encoding="utf-8")
    own.write_text(shipped.replace("LinkedIn-profil", "Profil på LinkedIn"), encoding="utf-8")
    settings = Settings(processing=ProcessingSettings(records=str(own)))
    assert load_records(settings).field_labels["linkedin"]("sv") == "Profil på LinkedIn"
    missing = Settings(processing=ProcessingSettings(records=str(tmp_path / "none.toml")))
    with pytest.raises(NoxbotError, match="no such file"):
        load_records(missing)


def test_check_names_a_broken_records_file(tmp_path: Path):
    broken = tmp_path / "records.toml"
    shipped = DEFAULT_RECORDS.read_text(encoding="utf-8")
    broken.write_text(shipped.replace('en = "Invoicing', 'x = "'), encoding="utf-8")
    probe = check_records(Settings(processing=ProcessingSettings(records=str(broken))))
    assert not probe.ok and "[purposes.invoicing].en is missing" in probe.detail


async def test_access_reply_writes_phone_numbers_as_people_read_them(world):
    # Stored as E.164 (+46701234567, +447700900123); the letter writes them the usual way.
    swedish = await answered_access(
        world, ANNA_EMAIL, "Hej, jag vill ha ett registerutdrag enligt artikel 15.", "Utdrag"
    )
    assert "- Telefon: 070-123 45 67" in swedish
    assert "+46701234567" not in swedish
    english = await answered_access(
        world, JOHN_EMAIL, "Please send me a copy of all personal data you hold about me."
    )
    assert "- Phone: +44 7700 900123" in english
    assert "+447700900123" not in english


async def test_a_question_asked_with_an_access_request_gets_the_access_replys_answer(world):
    """How long data is kept and whether it leaves the EU/EEA: the answer to the question
    is what the records of processing say, as in the access section of the same letter.
    Before, the letter said "erased at the latest two years after our last contact" in one
    part and "only as long as the purposes require" in the next, and "outside the EU/EEA
    ... standard contractual clauses" beside "stored on servers outside Sweden"."""
    text = await answered_access(
        world,
        JOHN_EMAIL,
        "Please send me a copy of all my personal data. Also, how long do you keep my data, "
        "and is it transferred outside the EU?",
    )
    answers = text[text.index("ANSWERS TO YOUR QUESTIONS") :]
    records = world.services.records
    assert records.transfers("en") in answers
    assert "outside Sweden" not in answers
    assert "Only as long as the purposes require" not in answers
    for category in records.categories:
        assert f"- {category.label('en')}: {category.retention('en')}" in answers
