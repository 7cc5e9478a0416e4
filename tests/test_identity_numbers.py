"""Personal identity numbers are found and masked; phone and org numbers are not."""

from __future__ import annotations

import pytest

from bot.identity_numbers import find_identity_numbers, luhn_ok, mask_identity_numbers


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
