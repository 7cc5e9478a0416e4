"""Finding people and cases as staff type names: Swedish letters in any case, with or
without their accents, on both databases."""

from __future__ import annotations

import re

from bot.store.register import _Row, import_rows
from bot.workflow.views import find_people
from tests.web_kit import console_client
from tests.workflow_kit import ANNA_EMAIL, ERIK_EMAIL


def _on_file(world, *rows: dict[str, str]) -> None:
    with world.database.session() as session:
        import_rows(session, [_Row(n + 2, row) for n, row in enumerate(rows)], now=world.clock())


def _found(world, text: str) -> list[str]:
    with world.session() as session:
        return [person.name for person in find_people(session, text)]


def test_a_name_with_swedish_letters_is_found_however_it_is_typed(any_world):
    """Before, SQLite's lower() folded only A–Z: "öhrn", "Åkesson" and "ÅKESSON" found
    nobody, though Lena Öhrn and Göran Åkesson were on file."""
    _on_file(
        any_world,
        {"name": "Lena Öhrn", "email": "lena.ohrn@example.se"},
        {"name": "Göran Åkesson", "email": "goran@example.se", "company": "Ängström & Öhman AB"},
    )
    for typed in ("Öhrn", "öhrn", "ÖHRN", "Ohrn", "lena öhrn"):
        assert _found(any_world, typed) == ["Lena Öhrn"], typed
    for typed in ("Åkesson", "åkesson", "AKESSON", "göran", "GORAN"):
        assert _found(any_world, typed) == ["Göran Åkesson"], typed
    assert _found(any_world, "Öberg") == [] and _found(any_world, "50%") == []
    # Typed exactly as stored, any letters: found on both databases (before, PostgreSQL
    # folded the column less than the query, and "Kęsicki" found nobody there).
    _on_file(any_world, {"name": "Przemysław Kęsicki", "email": "pk@example.pl"})
    for typed in ("Przemysław Kęsicki", "Kęsicki", "kesicki", "PRZEMYSŁAW"):
        assert _found(any_world, typed) == ["Przemysław Kęsicki"], typed
    # A NUL typed into the search is dropped (PostgreSQL refused it: a server error).
    assert _found(any_world, "öhrn\x00") == ["Lena Öhrn"]


async def test_the_console_queue_finds_a_case_by_a_swedish_name_in_any_case(world):
    _on_file(world, {"name": "Björn Ängström", "email": "bjorn@example.se"})
    reference = world.email(
        "bjorn@example.se", "Hej, radera mina uppgifter. Hälsningar Björn Ängström"
    ).reference
    other = world.email("kalle@example.se", "Jag vill veta vad ni har om mig. /Kalle Änka")
    async with console_client(world) as (http, _):
        for typed in ("ängström", "Angstrom", "ÄNGSTRÖM"):
            page = (await http.get("/", params={"status": "", "q": typed})).text
            assert reference in page and other.reference not in page, typed
        page = (await http.get("/", params={"status": "", "q": "änka"})).text
        assert other.reference in page  # in the mail's text only, typed in lower case
        register = (await http.get("/register", params={"q": "ängström"})).text
        assert re.search(r"Björn Ängström", register)


async def test_searching_mail_text_finds_what_people_wrote_not_our_own_replies(world):
    """Every acknowledgment says "Tack för ditt meddelande": searching a word of ours
    listed every case that had one, and the case a person wrote it in was lost among them."""
    asked = world.email(
        ANNA_EMAIL, "Jag vill att ni raderar alla mina personuppgifter. Tack för ditt svar!"
    )
    other = world.email(ERIK_EMAIL, "Jag vill ha en kopia av alla personuppgifter ni har om mig.")
    for case in (asked, other):  # both acknowledgments go, and are kept on their cases
        world.approve(world.drafts(case.reference, "acknowledgment")[0].id)
    await world.deliver()
    assert world.sent_to(ERIK_EMAIL)
    async with console_client(world) as (http, _):
        page = (await http.get("/", params={"status": "", "q": "tack för ditt"})).text
    assert asked.reference in page and other.reference not in page


async def test_the_queue_finds_a_persons_cases_by_their_number_however_it_is_typed(world):
    """Erik's number on file is +46739876543: "0739876543" and "073-987 65 43" found none of
    his cases, though `subjects search` found him (DPO review)."""
    reference = world.email(
        ERIK_EMAIL, "Jag vill ha en kopia av alla personuppgifter ni har om mig."
    ).reference
    async with console_client(world) as (http, _):
        for typed in ("0739876543", "073-987 65 43", "+46 73 987 65 43"):
            page = (await http.get("/", params={"status": "", "q": typed})).text
            assert reference in page, typed


async def test_the_console_register_page_writes_phone_numbers_with_spaces(world):
    """The register page showed "phone +46701234567" (as stored); staff read it spaced."""
    async with console_client(world) as (http, _):
        register = (await http.get("/register", params={"q": "Anna Lindqvist"})).text
    assert "phone +46 70 123 45 67" in register
    assert "+46701234567" not in register
