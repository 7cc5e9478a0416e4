"""What staff see from the classifier: the right kinds, the language, and the evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.classifier import classify
from bot.kinds import RequestKind

CORPUS = Path(__file__).resolve().parent.parent / "bench" / "corpus"


def kinds(text: str, subject: str = "", channel: str = "email") -> list[str]:
    return [str(k) for k in classify(text, subject=subject, channel=channel).kinds]


def test_negated_erasure_with_rectification_is_rectification_only():
    text = "jag vill inte att ni raderar något, bara rätta mitt efternamn till Svensson"
    assert kinds(text) == ["rectification"]


def test_profile_not_deleted_just_paused_is_restriction():
    assert kinds("I don't want my profile deleted, just paused", channel="chat") == ["restriction"]


@pytest.mark.parametrize(
    "text",
    [
        "I deleted the old invoice",
        "kan ni ta bort mötet på fredag",
        "please update the assignment description",
        "can I get a copy of the contract",
        "vi vill radera den gamla annonsen",
        "Radera inte min profil, jag vill vara kvar!",
    ],
)
def test_decoys_using_the_same_words_are_not_requests(text):
    assert kinds(text) == ["none"]


@pytest.mark.parametrize(
    "text",
    [
        "I am out of the office until Monday.",
        "Jag är tjänstledig till 5 januari och läser inte mejl.",
        "Delivery Status Notification (Failure): the message could not be delivered.",
        "Veckans nyheter.\n\nKlicka här för att avregistrera dig från nyhetsbrevet.",
    ],
    ids=["out-of-office", "tjanstledig", "bounce", "newsletter-footer"],
)
def test_automated_mail_is_not_a_request(text):
    assert kinds(text) == ["none"]


def test_two_rights_in_one_mail_are_both_found():
    assert kinds("Radera mina uppgifter och sluta skicka nyhetsbrev.") == [
        "erasure",
        "marketing_optout",
    ]


def test_typo_without_diacritics_is_still_erasure():
    assert kinds("radera mina uppgifer", channel="chat") == ["erasure"]
    assert kinds("ta bort allt om mej", channel="chat") == ["erasure"]


def test_quoted_erasure_under_thank_you_is_not_a_request():
    text = (
        "Tack, det löste sig!\n\nDen tis 24 nov. 2026 kl 10:12 skrev Anna <a@example.se>:\n"
        "> Radera mina uppgifter"
    )
    assert kinds(text, subject="Re: Radera mina uppgifter") == ["none"]


def test_evidence_is_quoted_as_written():
    result = classify("Hej! Jag vill att ni RADERAR alla mina personuppgifter.")
    assert result.evidence == ("RADERAR alla mina personuppgifter",)
    assert result.language == "sv" and result.confidence >= 0.8


def test_a_how_to_question_is_information_not_an_erasure():
    assert kinds("hur raderar jag mitt konto själv?", channel="chat") == ["info"]


def test_objecting_to_marketing_is_a_marketing_optout():
    assert kinds("Jag invänder mot all direktmarknadsföring från er.") == ["marketing_optout"]


def test_uncertain_data_talk_goes_to_triage():
    result = classify("Angående GDPR och personuppgifter hos er.")
    assert result.kinds == (RequestKind.NONE,) and result.needs_triage


def test_json_shape_is_the_design_contract():
    assert set(classify("delete me", channel="chat").to_json()) == {
        "kinds",
        "language",
        "confidence",
        "evidence",
    }


def _macro_f1(name: str) -> float:
    from bench.classifier_bench import evaluate, load, ours

    return evaluate(load(CORPUS / name), ours)[1]


def test_the_tuning_corpus_stays_learned():
    assert _macro_f1("train.jsonl") >= 0.95


def test_held_out_macro_f1_reaches_the_target():
    assert _macro_f1("heldout.jsonl") >= 0.90


def test_the_corpus_is_ours_and_large_enough():
    rows = [
        json.loads(line)
        for name in ("train.jsonl", "dev.jsonl", "heldout.jsonl")
        for line in (CORPUS / name).read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) >= 200
    assert {r["language"] for r in rows} == {"sv", "en"}
    assert {r["channel"] for r in rows} == {"email", "chat"}
    labelled = {k for r in rows for k in r["kinds"]}
    assert labelled == {str(k) for k in RequestKind}
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
