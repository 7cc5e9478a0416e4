"""Answers drawn from the privacy policy, in the language asked."""

from __future__ import annotations

import pytest

from bot.rules.kinds import RIGHTS_KINDS
from bot.rules.policy import KIND_LABELS, art15_info, info_answers


@pytest.mark.parametrize(
    ("question", "language", "topics"),
    [
        ("Hur länge sparar ni mitt CV?", "sv", ["retention"]),
        (
            "How long do you keep my data, and is it stored outside Sweden?",
            "en",
            ["transfers", "retention"],
        ),
        ("Delar ni mina uppgifter med tredje part?", "sv", ["recipients"]),
        ("What is your legal basis?", "en", ["legal_basis"]),
        ("Vilka cookies använder ni?", "sv", ["cookies"]),
        ("Vem är personuppgiftsansvarig?", "sv", ["controller"]),
        ("Hej!", "sv", ["purposes", "categories", "rights"]),
    ],
)
def test_questions_get_the_policy_answers_they_ask_for(question, language, topics):
    assert [a.topic for a in info_answers(question, language)] == topics


def test_answers_come_in_the_language_asked():
    assert "Sweden" in info_answers("servers outside the EU?", "en")[0].answer
    assert "Sverige" in info_answers("servrar utanför EU?", "sv")[0].answer


@pytest.mark.parametrize("language", ["sv", "en"])
def test_art15_information_is_complete_and_names_imy(language):
    info = art15_info(language)
    assert info.purposes and info.legal_bases and info.categories and info.recipients
    assert info.transfers and info.retention and info.source and info.rights
    assert "IMY" in info.complaint and "Datainspektionen" not in info.complaint


def test_every_rights_kind_has_a_label_in_both_languages():
    for language in ("sv", "en"):
        assert set(KIND_LABELS[language]) == {str(k) for k in RIGHTS_KINDS}
