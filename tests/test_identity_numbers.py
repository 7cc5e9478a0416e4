"""Personal identity numbers are found and masked; phone and org numbers are not."""

from __future__ import annotations

import pytest

from bot.reading.identity_numbers import (
    DEFAULT_MASK,
    find_identity_numbers,
    luhn_ok,
    mask_identity_numbers,
)


def with_check_digit(nine: str) -> str:
    return next(nine + d for d in "0123456789" if luhn_ok(nine + d))


PNR = with_check_digit("811218987")  # 8112189876
SAMORDNING = with_check_digit("811278987")  # day 18 + 60


@pytest.mark.parametrize(
    "written",
    [f"{PNR[:6]}-{PNR[6:]}", PNR, f"19{PNR[:6]}-{PNR[6:]}", f"19{PNR}", f"{PNR[:6]}+{PNR[6:]}"],
    ids=["short-dash", "short-plain", "century-dash", "century-plain", "plus-over-100"],
)
def test_personnummer_in_every_written_form_is_masked(written):
    assert mask_identity_numbers(f"Mitt pnr är {written}, tack") == (
        "Mitt pnr är [personnummer borttaget], tack"
    )


@pytest.mark.parametrize(
    "written",
    [
        f"{PNR[:6]}\u2013{PNR[6:]}",  # en dash, as Word makes of "-"
        f"{PNR[:6]}\u2014{PNR[6:]}",  # em dash
        f"{PNR[:6]}\u2212{PNR[6:]}",  # minus sign
        f"{PNR[:6]}\u2011{PNR[6:]}",  # non-breaking hyphen (Outlook)
        f"{PNR[:6]}\u2010{PNR[6:]}",  # hyphen
        f"{PNR[:6]} {PNR[6:]}",
        f"{PNR[:6]}\u00a0{PNR[6:]}",  # non-breaking space
        f"{PNR[:6]}\u202f{PNR[6:]}",  # narrow non-breaking space
        f"{PNR[:6]} - {PNR[6:]}",
        f"{PNR[:6]}.{PNR[6:]}",
        f"19{PNR[:6]}/{PNR[6:]}",
        f"19{PNR[:6]} {PNR[6:]}",
        f"19{PNR[:2]} {PNR[2:4]} {PNR[4:6]}-{PNR[6:]}",
        f"19{PNR[:2]}-{PNR[2:4]}-{PNR[4:6]}-{PNR[6:]}",
        f"{PNR[:2]}.{PNR[2:4]}.{PNR[4:6]}-{PNR[6:]}",
        f"{PNR[:2]} {PNR[2:4]} {PNR[4:6]}-{PNR[6:8]} {PNR[8:]}",
        f"{PNR[:6]}-{PNR[6:8]} {PNR[8:]}",
    ],
)
def test_personnummer_as_word_and_outlook_write_it_is_masked(written):
    assert mask_identity_numbers(f"Mitt pnr: {written}.") == "Mitt pnr: [personnummer borttaget]."


@pytest.mark.parametrize(
    "mark",
    ["_", "|", "'", "\u3002", "\u2019", "\uff3f", "\uff5c", "\uff0e", "\uff0d", "*", "#", "~"],
    ids=[
        "underscore",
        "bar",
        "apostrophe",
        "ideographic-full-stop",
        "right-quote",
        "fullwidth-underscore",
        "fullwidth-bar",
        "fullwidth-full-stop",
        "fullwidth-hyphen",
        "star",
        "hash",
        "tilde",
    ],
)
def test_personnummer_with_any_mark_between_the_groups_is_masked(mark):
    """ "811218_9876", "811218|9876", "811218'9876" and "811218\u30029876" were stored as
    written (attacker review): any mark that is no letter, digit or space joins the groups."""
    for written in (f"{PNR[:6]}{mark}{PNR[6:]}", f"19{PNR[:6]}{mark}{PNR[6:]}"):
        assert mask_identity_numbers(f"Mitt pnr är {written}, tack") == (
            f"Mitt pnr är {DEFAULT_MASK}, tack"
        ), written
    assert mask_identity_numbers(f"Mitt pnr är {PNR[:6]} {mark} {PNR[6:]}.") == (
        f"Mitt pnr är {DEFAULT_MASK}."
    )


@pytest.mark.parametrize(
    "written",
    [
        f"19{PNR[:2]}/{PNR[2:4]}/{PNR[4:6]}-{PNR[6:]}",
        f"{PNR[:2]}.{PNR[2:4]}.{PNR[4:6]}.{PNR[6:]}",
        f"{PNR[:2]}/{PNR[2:4]}/{PNR[4:6]}-{PNR[6:]}",
        f"{PNR[:2]}/{PNR[2:4]}/{PNR[4:6]}/{PNR[6:]}",
        f"19{PNR[:2]}.{PNR[2:4]}.{PNR[4:6]}.{PNR[6:]}",
        f"{PNR[:2]}_{PNR[2:4]}_{PNR[4:6]}_{PNR[6:]}",
        f"{PNR[:2]}\u3002{PNR[2:4]}\u3002{PNR[4:6]}\u3002{PNR[6:]}",
        f"{PNR[:2]} {PNR[2:4]} {PNR[4:6]} / {PNR[6:]}",
    ],
)
def test_personnummer_with_slashes_or_dots_between_the_date_parts_is_masked(written):
    """ "1981/12/18-9876", "81.12.18.9876" and "81/12/18-9876" were stored as written
    (attacker review): the date's parts may be joined by any one mark, as the groups are."""
    assert mask_identity_numbers(f"Mitt pnr är {written}, tack") == (
        f"Mitt pnr är {DEFAULT_MASK}, tack"
    )


def test_a_mistyped_personnummer_named_as_one_with_a_dotted_date_is_masked():
    assert mask_identity_numbers("Personnummer: 81.12.18.9875") == f"Personnummer: {DEFAULT_MASK}"


@pytest.mark.parametrize(
    "text",
    [
        f"Fakturor {PNR[:6]}, {PNR[6:]} och 1234",  # a list of numbers
        f"Order {PNR[:6]}; {PNR[6:]}",
        f"Order {PNR[:6]} ({PNR[6:]} kr)",
        f"Kund {PNR[:6]}: {PNR[6:]} kr",
    ],
)
def test_numbers_listed_or_bracketed_one_after_the_other_stay(text):
    assert mask_identity_numbers(text) == text


@pytest.mark.parametrize("mark", ["_", "|", "'", "\u3002", ".", "/"])
def test_a_mistyped_personnummer_named_as_one_with_any_mark_between_the_groups_is_masked(mark):
    assert mask_identity_numbers(f"Personnummer: 811218{mark}9875") == (
        f"Personnummer: {DEFAULT_MASK}"
    )
    further = "Mitt personnummer, som ni redan har sedan förra året, är "
    assert mask_identity_numbers(f"{further}811218{mark}9875") == f"{further}{DEFAULT_MASK}"


#: A grouped date followed by a time whose digits happen to pass the Luhn check.
DATE_AND_TIME = with_check_digit("261124143")


@pytest.mark.parametrize(
    "text",
    [
        "070-123 45 67",
        "070 123 45 67",
        "07 01 23 45 67",
        "08 12 18 98 76",
        "+46 70 123 45 67",
        "556036-0793",  # organisation numbers: the "month" is 20 or more
        "556677\u20138899",
        "969700 1234",
        f"2026-11-24 {DATE_AND_TIME[6:]}",
        f"2026.11.24 {DATE_AND_TIME[6:]}",
        "2026-11-24",
        "24.11.2026",
        "Faktura 2026-1234",
        f"Faktura {PNR[:6]} {PNR[6:]}1",
        f"OCR {PNR}123",
        f"konto 12-{PNR[:6]} {PNR[6:]}",
    ],
)
def test_phone_org_and_invoice_numbers_and_dates_stay_whatever_the_separators(text):
    assert mask_identity_numbers(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "2026/12/18",
        "18.12.2026",
        f"2026/11/24 {DATE_AND_TIME[6:]}",  # a date and a time whose digits pass the check
        f"26/11/24 {DATE_AND_TIME[6:]}",
        f"26.11.24 {DATE_AND_TIME[6:]}",
        f"2026/11/24 kl {DATE_AND_TIME[6:]}",
        f"2026/11/24, {DATE_AND_TIME[6:]}",
        "18/12/2026",
        "2026-12-18 kl. 14:30",
        "kl 14.30",
        "Belopp: 811 218,98 kr",
        "Belopp: 811218,98 kr",
        "Faktura INV-2026-1234, order #811218",
        "Faktura 811218_9875",  # no valid check digit, not named
        "+46 70 123 45 67",
        "070-123 45 67",
        "070/123 45 67",
        "556677-8899",  # organisation numbers: the "month" is 20 or more
        "556677_8899",
        "556677|8899",
        "192.168.12.18",
        "81.12.18.98",
        "version 1.12.18",
        "v2.81.12.18",
        "Bankgiro 5050-1055",
        "Plusgiro 12 34 56-7",
    ],
)
def test_dates_times_amounts_and_numbers_staff_need_stay(text):
    assert mask_identity_numbers(text) == text


def test_samordningsnummer_is_recognised_as_such():
    found = find_identity_numbers(f"nr {SAMORDNING[:6]}-{SAMORDNING[6:]}")
    assert [m.kind for m in found] == ["samordningsnummer"]


@pytest.mark.parametrize(
    "text",
    [
        "070-123 45 67",
        "0701234567",
        "+46701234567",
        "076-555 12 34",
        "556677-8899",
        "811218-9875",
        "Faktura 12345678901234",
        "2026-11-24",
        "08-123 456 78",
    ],
    ids=[
        "mobile",
        "mobile-plain",
        "e164",
        "mobile-2",
        "org-number",
        "bad-luhn",
        "long-number",
        "date",
        "landline",
    ],
)
def test_numbers_that_are_not_personal_identity_numbers_stay(text):
    assert mask_identity_numbers(text) == text


def test_ordinary_personnummer_is_reported_with_its_position():
    text = f"Hej, {PNR[:6]}-{PNR[6:]} här"
    (match,) = find_identity_numbers(text)
    assert match.kind == "personnummer"
    assert text[match.start : match.end] == f"{PNR[:6]}-{PNR[6:]}"


def test_example_from_the_brief_passes_luhn_and_a_wrong_digit_does_not():
    assert luhn_ok("8112189876")
    assert not luhn_ok("8112189875")


@pytest.mark.parametrize(
    "text",
    [
        with_check_digit("081123456"),  # Stockholm landline; also a date and Luhn-valid
        with_check_digit("070123456"),  # mobile number; also a date and Luhn-valid
        "070123 4567",
        "+46 70 123 45 67",
        "Konto 1234-5 8112189876123",
        "Order 9981121898760",
        f"19{PNR[:6]}-{PNR[6:]}1",
        "811232-9876",  # day 32
        "811318-9876",  # month 13
        "820229-1234",  # 1982 was not a leap year
    ],
)
def test_more_look_alikes_are_left_alone(text):
    assert find_identity_numbers(text) == []


def test_a_leap_day_in_a_leap_year_is_a_date():
    leap = with_check_digit("000229123")  # 29 Feb 2000
    assert [m.kind for m in find_identity_numbers(f"{leap[:6]}-{leap[6:]}")] == ["personnummer"]


def test_several_numbers_and_a_custom_mask():
    text = f"{PNR[:6]}-{PNR[6:]} och {SAMORDNING}, ring 070-123 45 67"
    assert mask_identity_numbers(text, mask="***") == "*** och ***, ring 070-123 45 67"


def test_a_number_at_the_end_of_a_line_and_in_parentheses_is_masked():
    text = f"Personnummer:\n({PNR[:6]}-{PNR[6:]})"
    assert mask_identity_numbers(text) == "Personnummer:\n([personnummer borttaget])"


def test_masking_text_without_numbers_changes_nothing():
    assert mask_identity_numbers("") == ""
    assert mask_identity_numbers("Radera mig, tack!") == "Radera mig, tack!"


def test_looking_only_where_digits_start_finds_what_searching_everywhere_finds():
    """The fast search (bot.reading.identity_numbers._first_candidate) against the pattern's
    own search, from every position of texts made of digits, dashes, pluses and spaces."""
    import random

    from bot.reading.identity_numbers import _CANDIDATE, _first_candidate

    chance = random.Random(12)
    alphabet = "0123456789" * 4 + "-+ ./\u2013\u00a0x٣_|'\u3002,("
    texts = [f"{PNR[:6]}-{PNR[6:]} och +{SAMORDNING}, 19{PNR}", "1" * 40]
    texts += ["".join(chance.choices(alphabet, k=chance.randint(5, 60))) for _ in range(400)]
    for text in texts:
        for position in range(len(text) + 1):
            expected = _CANDIDATE.search(text, position)
            found = _first_candidate(text, position)
            assert (found and found.span()) == (expected and expected.span()), (text, position)


def test_text_told_to_hold_no_digit_holds_none():
    import re
    import sys

    from bot.reading.identity_numbers import _may_hold_digits

    latin = "".join(chr(c) for c in range(256))
    assert not re.search(r"\d", latin.translate({ord(d): None for d in "0123456789"}))
    assert not _may_hold_digits("Hej, radera mig! Åsa Öberg")
    assert _may_hold_digits("ring 070")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if re.fullmatch(r"\d", char):
            assert _may_hold_digits(f"Åsa {char}"), hex(code)


@pytest.mark.parametrize(
    "text",
    [
        "Mitt personnummer är 811218-9875, ta bort det.",
        "Personnr: 19811218-9875",
        "pnr 811218-9875",
        "My personal identity number is 811218-9875.",
        "Samordningsnummer: 811278-9875",
        "My Swedish ID number: 19811218 9875",
        "Mitt personnumret är 811218-9875.",
        "My personal number: 811218-9875",
    ],
)
def test_a_mistyped_number_the_writer_calls_their_personnummer_is_masked(text):
    """A wrong last digit (9875, not 9876) is a typo in one's own number, still theirs: it
    was stored as written."""
    masked = mask_identity_numbers(text)
    assert "9875" not in masked and DEFAULT_MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "Faktura 811218-9875, förfaller snart.",
        "Order 811218-9875 is on its way.",
        "personnummer saknas; fakturanummer 8112189875",  # named, but undashed and far
    ],
)
def test_a_number_with_a_wrong_check_digit_not_named_so_stays(text):
    assert mask_identity_numbers(text) == text


def test_the_name_covers_the_number_after_it_not_a_customer_number_further_on():
    """ "Personnummer: … / Kundnr 200105-1234": the customer number staff need to find the
    person's data was masked too (attacker review)."""
    text = f"Personnummer: {PNR[:6]}-{PNR[6:]} / Kundnr 200105-1234, order 811218-9875"
    assert mask_identity_numbers(text) == (
        f"Personnummer: {DEFAULT_MASK} / Kundnr 200105-1234, order 811218-9875"
    )


@pytest.mark.parametrize("written", ["0708151238", "070815 1238"])
def test_a_number_of_someone_born_2007_named_as_a_personnummer_is_masked(written):
    """Unnamed, "0708151238" reads as a mobile number; named, it is a minor's personnummer."""
    assert luhn_ok("0708151238")
    assert mask_identity_numbers(f"Mitt personnummer är {written}") == (
        f"Mitt personnummer är {DEFAULT_MASK}"
    )
    assert mask_identity_numbers(f"Ring mig på {written}") == f"Ring mig på {written}"


@pytest.mark.parametrize("invisible", ["\u200b", "\u00ad", "\u2060", "\ufeff", "\u034f"])
def test_a_number_with_an_invisible_character_inside_is_masked_whole(invisible):
    """Shown, "811218\u200b-9876" is the number: it was stored as written from Telegram
    (mail had its white space made plain before masking; a chat message does not)."""
    text = f"Personnummer {PNR[:6]}{invisible}-{PNR[6:]} och {PNR[:3]}{invisible}{PNR[3:]}."
    assert mask_identity_numbers(text) == f"Personnummer {DEFAULT_MASK} och {DEFAULT_MASK}."


@pytest.mark.parametrize(
    "written",
    [
        "８１１２１８－９８７６",  # full-width digits and hyphen-minus (a phone's keyboard)
        "811218\u20439876",  # hyphen bullet
        "811218\u30009876",  # ideographic space
        "811218\uff0d9876",  # full-width hyphen-minus
        "811218\u2015 9876",  # horizontal bar
        "811218\ufe639876",  # small hyphen-minus
        "811218\u20029876",  # en space
    ],
)
def test_a_number_written_with_any_dash_or_space_a_keyboard_makes_is_masked(written):
    assert mask_identity_numbers(f"Hej, {written} här.") == f"Hej, {DEFAULT_MASK} här."


@pytest.mark.parametrize(
    "text",
    [
        "Mitt personnummer är 811218 9875",  # a space where the dash goes
        "Mitt personnummer är 8112189875",
        "Mitt personnummer (811218 9875) stämmer inte i ert system",
        "Mitt personnummer är 811318-9876",  # a typo in the month
        "My personal identity number: 811248-9876",  # a typo in the day
        "Mitt personnummer, som ni redan borde ha i ert system sedan förra året, är 811218-9875",
    ],
)
def test_a_personnummer_named_with_a_typo_or_a_space_or_named_further_back_is_masked(text):
    masked = mask_identity_numbers(text)
    assert "9875" not in masked and "9876" not in masked and DEFAULT_MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "Personnummer saknas i formuläret. Ordernummer till leveransen är 811218-9875",
        "Personnummer saknas i ert formulär, så mitt fakturanummer får räcka: 8112189875",
        "Mitt personnummer är 123456-7890",  # neither a month nor a day: not a date at all
    ],
)
def test_a_number_a_name_does_not_reach_stays_as_written(text):
    """A name in an earlier sentence, or far back and the number not written as one, or a
    number that is no date at all."""
    assert mask_identity_numbers(text) == text


def test_an_organisation_number_in_a_sentence_about_the_personnummer_stays():
    text = (
        "Ta bort mitt personnummer ur ert system, ni behöver det inte eftersom jag fakturerar"
        " via mitt bolag (Lindh Konsult AB, 559201-3344)."
    )
    assert mask_identity_numbers(text) == text


def test_a_number_wrapped_onto_the_next_line_is_masked_and_a_date_then_a_time_is_not():
    """A mail program wraps a long line where it can: "811218 9876" arrives as
    "811218\\n9876"; that was stored unmasked."""
    assert mask_identity_numbers(f"nummer {PNR[:6]}\n{PNR[6:]} tack") == (
        "nummer [personnummer borttaget] tack"
    )
    assert mask_identity_numbers(f"nummer {PNR[:6]}-\n{PNR[6:]}") == (
        "nummer [personnummer borttaget]"
    )
    for kept in ("Möte 2026-11-24\n1430 i Lund", f"{PNR[:6]}.\n{PNR[6:]}"):
        assert mask_identity_numbers(kept) == kept


@pytest.mark.parametrize(
    "text",
    [
        "Personnummer saknas. Order 811218-9875",
        "Personnummer: se bilaga. Telefon: 081234-5678",
        "Personnummer har ni redan!\nFaktura 231045-0012",
    ],
)
def test_a_number_in_the_next_short_sentence_after_the_name_stays_as_written(text):
    """A name in the sentence before named the order, phone or invoice number in a short
    next sentence: it was masked as a personnummer with a typo, and staff lost it."""
    assert mask_identity_numbers(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "p.nr. 811218-9875",
        "Pers.nr.: 811218-9875",
        "Personnummer:\n811218-9875",
        "Här är mitt personnummer. 811218-9875",
    ],
)
def test_a_full_stop_or_line_break_right_after_the_name_still_names_the_number(text):
    assert "9875" not in mask_identity_numbers(text)


@pytest.mark.parametrize(
    "invisible",
    ["\U000e0100", "\U000e0031", "\ufff9", "\U0001d173"],
    ids=["variation-selector-17", "tag-digit-one", "interlinear-anchor", "musical-begin-beam"],
)
def test_a_number_with_an_invisible_character_from_the_supplementary_planes_is_masked(
    invisible,
):
    """ "811218\\U000e0100-9876" shows as the number on the console (no escape either) and
    was stored as written: the characters that hide were those of the first plane only."""
    text = f"Personnummer {PNR[:6]}{invisible}-{PNR[6:]}."
    assert mask_identity_numbers(text) == f"Personnummer {DEFAULT_MASK}."


@pytest.mark.parametrize(
    "text",
    [
        "Ni har redan mitt personnummer, det gäller fakturan 231045-0012 som är obetald",
        "Mitt personnummer har ni, och mitt kundnummer är 191203-4411",
        "Personnummer finns hos er sedan länge, så jag skickar bara ordernumret 811218-9875",
        "Mitt personnummer, som ni redan borde ha i ert system sedan i våras, 811345-9875",
    ],
)
def test_a_number_after_another_numbers_name_or_a_date_typo_far_from_the_name_stays(text):
    """Attacker review: the invoice and customer numbers in the sentence after
    "personnummer" were masked (a day of 45 read as a typo)."""
    assert mask_identity_numbers(text) == text


def test_a_corrected_personnummer_in_the_next_sentence_after_its_name_is_masked():
    """(Masked before this round's review: a rule that stopped the name at any sentence end
    near it left both numbers of this real correction in clear; bench/reading_golden.py.)"""
    text = (
        "hej, ni har fått fel personnummer på mig i ramavtalet. det ska vara 880605-2219 "
        "inte 880506-2219. rätta gärna i ert system"
    )
    assert mask_identity_numbers(text).count(DEFAULT_MASK) == 2
    text = "Här kommer mitt personnummer till avtalet som du bad om: 870415-1238."
    assert DEFAULT_MASK in mask_identity_numbers(text)


def test_a_phone_number_after_a_personnummer_stays():
    """A number found names the next ("… 880605-2219 inte 880506-2219"), but a Swedish
    mobile number after it is still a phone number."""
    phone = next(f"07012345{i:02d}" for i in range(100) if luhn_ok(f"07012345{i:02d}"))
    text = f"Personnummer {PNR[:6]}-{PNR[6:]} och {phone}"
    assert mask_identity_numbers(text) == f"Personnummer {DEFAULT_MASK} och {phone}"


@pytest.mark.parametrize(
    "written",
    [
        "811218\u00b79876",  # middle dot
        "811218\u20229876",  # bullet
        "811218\u16809876",  # ogham space mark
        "811218\u20289876",  # line separator
        "811218\u28009876",  # braille blank
        "".join(f"{d}\u0332" for d in "811218") + "-" + "".join(f"{d}\u0332" for d in "9876"),
    ],
)
def test_a_number_with_an_odd_separator_or_marks_drawn_over_its_digits_is_masked(written):
    """Attacker review: these left a valid personnummer in clear."""
    assert mask_identity_numbers(f"Hej {written} här") == f"Hej {DEFAULT_MASK} här"


def test_letters_written_with_combining_marks_stay_as_written():
    text = "A\u030asa O\u0308berg, 070-123 45 67"  # Åsa Öberg, decomposed
    assert mask_identity_numbers(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "Mitt personnummer, som står på fakturan, är 811318-9876",  # a typo in the month
        "Mitt personnummer, som ni har fel i kundregistret, är 811248-9876",  # in the day
        "My personal identity number, which is on the invoice, is 811318-9876",
        "Mitt personnummer, som står på fakturan, är 8112189875",
    ],
)
def test_a_mistyped_personnummer_after_a_clause_about_its_name_is_masked(text):
    """ "personnummer, som står på fakturan, är 811318-9876" was stored as written
    (attacker review): the invoice's name in the clause stopped the naming."""
    masked = mask_identity_numbers(text)
    assert masked.endswith(DEFAULT_MASK) and "987" not in masked, masked


@pytest.mark.parametrize(
    "text",
    [
        "Mitt personnummer, som ni har, och fakturanumret, är 231045-0012",
        "Personnummer, som ni bad om, finns på fakturan 231045-0012",
        "Mitt personnummer, som ni redan har. Fakturan, som är obetald, är 231045-0012",
        "Mitt personnummer, som ni frågade om, är inte det på fakturan 231045-0012",
    ],
)
def test_an_invoice_number_after_a_clause_that_does_not_end_at_it_stays(text):
    assert mask_identity_numbers(text) == text


@pytest.mark.parametrize("letter", ["\u30fc", "\uff70", "\u4e00", "\u3161", "\u1173"])
def test_a_personnummer_with_a_letter_drawn_as_a_dash_between_the_groups_is_masked(letter):
    """ "811218ー9876" (the katakana prolonged sound mark a Japanese keyboard offers for a
    dash) looks like the number and was stored as written."""
    assert mask_identity_numbers(f"Mitt pnr {PNR[:6]}{letter}{PNR[6:]}.") == (
        f"Mitt pnr {DEFAULT_MASK}."
    )
    assert mask_identity_numbers(
        f"Pnr {PNR[:2]}{letter}{PNR[2:4]}{letter}{PNR[4:6]}{letter}{PNR[6:]}"
    ) == (f"Pnr {DEFAULT_MASK}")
