"""What staff see from the classifier: the right kinds, the language, and the evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.reading.classifier import Classification, classify
from bot.rules.kinds import RequestKind
from tests.cpu_time import cpu_seconds

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
        "vi vill radera den gamla annonsen",  # a known miss until train6c/d were added
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


def test_an_absence_notice_that_also_asks_for_a_right_is_read_as_that_right():
    """Going on leave is a time people tidy up: the notice does not make the request
    `none` when the model is sure one is asked for (no rule finds this wording)."""
    text = (
        "Hej!\n\nJag är tjänstledig till 5 januari och har begränsad tillgång till mejl.\n\n"
        "Innan jag går vill jag be er att plocka bort mig ur konsultregistret och inte spara"
        " mitt cv längre.\n\nMvh Per"
    )
    result = classify(text, subject="Re: Offert")
    assert result.kinds == (RequestKind.ERASURE,) and result.confidence >= 0.6


def test_a_complaint_that_quotes_a_newsletter_goes_to_staff_not_away_as_bulk():
    text = (
        "Jag har avregistrerat mig tre gånger och får ändå detta. Radera min adress nu, annars"
        " anmäler jag er till IMY.\n\n---------- Vidarebefordrat ----------\nVeckans nyheter"
        " från NOX\nDu får detta nyhetsbrev eftersom du är registrerad.\nKlicka här för att"
        " avregistrera dig."
    )
    result = classify(text, subject="Fwd: Nyhetsbrev vecka 12")
    assert RequestKind.COMPLAINT in result.kinds and RequestKind.ERASURE in result.kinds
    assert result.confidence < 0.6  # staff decide: it is a newsletter too
    newsletter = text.split("---------- Vidarebefordrat ----------\n")[1]
    assert classify(newsletter, subject="Nyhetsbrev vecka 12").kinds == (RequestKind.NONE,)


def test_none_goes_to_staff_when_one_sentence_reads_as_asking_for_a_right():
    """The safety net: no kind reaches its threshold anywhere, but the model reads a right
    asked for in one sentence - staff look (confidence under the triage threshold)."""
    from dataclasses import replace

    from bot.reading.classifier import ASKED_IN_PART, _model, _read, decide, estimates
    from bot.reading.learned_model import RIGHTS, Estimate

    model = _model()
    reading = _read("Tack för mötet i går. Vi hörs nästa vecka om offerten.", "", "email")
    found = estimates(reading, model)
    assert decide(reading, model, found).confidence >= 0.6
    unclear = {kind: 0.1 for kind in RIGHTS}
    for request, triaged in ((ASKED_IN_PART, True), (ASKED_IN_PART - 0.1, False)):
        asking = replace(found, sentences=(Estimate(unclear, request),))
        answer = decide(reading, model, asking)
        assert answer.kinds == (RequestKind.NONE,)
        assert (answer.confidence < 0.6) is triaged


def test_two_rights_in_one_mail_are_both_found():
    assert kinds("Radera mina uppgifter och sluta skicka nyhetsbrev.") == [
        "erasure",
        "marketing_optout",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Jag vill ha ut mina personuppgifter.",
        "Hej! Jag begär ut mina personuppgifter. Mvh Karin",
        "Jag vill ha ut mina uppgifter.",
    ],
)
def test_asking_to_have_ones_data_handed_out_is_access_without_triage(text):
    """ "Ha ut" / "begära ut" is how Swedish asks to be given a copy (of records, of data):
    before, these went to staff triage as unsure (0.07-0.38)."""
    result = classify(text)
    assert [k.value for k in result.kinds] == ["access"]
    assert result.confidence >= 0.6


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


@pytest.mark.parametrize(
    "text",
    [
        "Ringde och bad oss sluta skicka nyhetsbrev till honom.",
        "Please stop sending me your newsletter, I never read it.",
        "sluta skicka reklam till mig tack",
        "I object to your direct marketing. Stop sending me promotional emails.",
        "Please stop sending me your newsletter. I never signed up for it and I don't want "
        "to be on your lists.",
    ],
)
def test_stop_sending_the_newsletter_is_a_marketing_optout_and_not_an_objection(text):
    assert kinds(text, channel="chat") == ["marketing_optout"]


@pytest.mark.parametrize(
    "text",
    [
        "Sluta skicka nyhetsbrev och uppdragsförfrågningar till mig.",
        "stop sending me newsletters and assignment offers",
        "Please unsubscribe me from your newsletter. Also, stop sending me assignment offers.",
        "Avregistrera mig från nyhetsbrevet. Sluta skicka uppdragsförfrågningar också.",
    ],
)
def test_a_stop_to_assignment_offers_beside_the_newsletter_is_an_objection_too(text):
    # The guide: a stop to assignment offers is about the brokering itself (objection).
    assert kinds(text) == ["objection", "marketing_optout"]


def test_a_stop_to_calls_about_roles_keeps_its_objection():
    found = kinds(
        "Stop calling me about contract roles, I'm not looking and don't want to be on your bench."
    )
    assert "objection" in found


def test_a_stop_to_the_newsletter_and_a_separate_stop_to_the_brokering_are_both_found():
    # The objection has a sentence of its own, without the opt-out's phrase: it stays.
    found = kinds("Sluta skicka nyhetsbrev till mig. Och sluta presentera min profil för kunder.")
    assert found == ["objection", "marketing_optout"]


def test_vague_data_talk_is_less_certain_than_ordinary_mail_or_a_plain_request():
    vague = classify("Angående GDPR och personuppgifter hos er.")
    ordinary = classify("Tack för mötet igår, vi hörs på fredag!")
    plain = classify("Hej, jag vill att ni raderar alla mina personuppgifter. Mvh Per")
    assert vague.confidence < ordinary.confidence and vague.confidence < plain.confidence
    assert ordinary.kinds == (RequestKind.NONE,) and not ordinary.needs_triage
    assert plain.kinds == (RequestKind.ERASURE,) and not plain.needs_triage


def test_confidence_is_never_certainty():
    assert classify("Radera mina uppgifter, tack.").confidence <= 0.99


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


def test_the_training_corpus_stays_learned():
    assert _macro_f1("train.jsonl") >= 0.95


def test_held_out_macro_f1_reaches_the_target():
    assert _macro_f1("heldout.jsonl") >= 0.90


def test_the_shipped_model_was_trained_on_the_corpus_as_it_is_now():
    """A corpus or feature change without retraining would ship stale weights silently."""
    from bench.train_classifier import corpus_digest, training_files
    from bot.reading.learned_model import FEATURES_VERSION, shipped_model

    model = shipped_model()
    assert model.features_version == FEATURES_VERSION
    assert model.corpus_digest == corpus_digest(training_files()), (
        "retrain: .venv/bin/python bench/train_classifier.py"
    )


def test_a_held_out_file_is_never_trained_on():
    from bench.train_classifier import training_files

    names = [p.name for p in training_files()]
    assert names and not [n for n in names if n.startswith("heldout")]


def test_the_corpus_is_ours_and_large_enough():
    rows = [
        json.loads(line)
        for path in sorted(CORPUS.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) >= 2000
    assert {r["language"] for r in rows} == {"sv", "en"}
    assert {r["channel"] for r in rows} == {"email", "chat"}
    labelled = {k for r in rows for k in r["kinds"]}
    assert labelled == {str(k) for k in RequestKind}
    assert all(r["kinds"] == ["none"] or "none" not in r["kinds"] for r in rows)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))


def test_the_bench_counts_a_request_read_as_sure_ordinary_mail_as_a_silent_miss():
    from bench.classifier_bench import staff_view

    answers = {
        "radera mig": Classification((RequestKind.NONE,), "sv", 0.9, ()),  # silent miss
        "ta bort mitt cv": Classification((RequestKind.NONE,), "sv", 0.55, ()),  # triaged
        "rätta och radera": Classification(
            (RequestKind.RECTIFICATION, RequestKind.ERASURE), "sv", 0.8, ()
        ),
        "skicka mina data och radera": Classification((RequestKind.ACCESS,), "sv", 0.8, ()),
        "tack för mötet": Classification((RequestKind.NONE,), "sv", 0.95, ()),
    }
    gold = {
        "radera mig": ["erasure"],
        "ta bort mitt cv": ["erasure"],
        "rätta och radera": ["rectification", "erasure"],
        "skicka mina data och radera": ["access", "erasure"],
        "tack för mötet": ["none"],
    }
    rows = [{"text": t, "channel": "chat", "kinds": k} for t, k in gold.items()]
    view = staff_view(rows, lambda text, **_: answers[text])
    assert (view.silent, view.requests) == (1, 4)
    assert (view.multi_exact, view.multi) == (1, 2)
    assert (view.triaged, view.total) == (1, 5)


LONG_BUSINESS_MAIL = """Hej Anna,

Tack för ett bra samarbete under hösten. Uppdraget hos Bergström Logistik avslutas som
planerat den 30 november och jag har lämnat över dokumentationen till deras IT-chef.
Den sista tidrapporten för november skickar jag på måndag, och fakturan från mitt bolag
kommer i vanlig ordning med 30 dagars betalningsvillkor. Nyckelkortet lämnade jag i
receptionen i fredags och datorn har returnerats till deras support.
Jag flyttar till Göteborg efter nyår och tar en fast tjänst där, så jag kommer inte att
söka fler uppdrag via er framöver. Det har varit roligt att jobba med er och jag
rekommenderar gärna NOX till kollegor.

En sak till: när allt är slutreglerat vill jag att ni raderar mina uppgifter och mitt CV
ur er konsultdatabas.

Vänliga hälsningar
Johan"""


def test_a_request_in_the_last_lines_of_a_long_business_mail_is_found():
    result = classify(LONG_BUSINESS_MAIL, subject="Avslut uppdrag och sista faktura")
    assert RequestKind.ERASURE in result.kinds


def test_the_same_long_business_mail_without_the_request_opens_no_case():
    """At most staff see it ("no more assignments via you" is near an objection)."""
    ordinary = LONG_BUSINESS_MAIL.split("En sak till")[0] + "Vänliga hälsningar\nJohan"
    result = classify(ordinary, subject="Avslut uppdrag och sista faktura")
    assert not result.is_request or result.needs_triage


def test_unclear_talk_of_ones_own_data_with_a_question_goes_to_staff_not_to_ordinary_mail():
    result = classify("Hej, det gäller mina uppgifter hos er. Kan ni hjälpa mig med det?")
    assert result.is_request or result.needs_triage


def test_the_safety_net_sends_none_about_ones_own_data_with_a_request_to_triage():
    """Whatever the model makes of it: `none` for a message that speaks of the writer's
    own data and asks for something goes to staff, not to ordinary mail."""
    from bot.reading.classifier import Estimates, _model, _read, decide, estimates
    from bot.reading.learned_model import RIGHTS, Estimate

    text = "Jag har en fråga om mina uppgifter, kan ni ringa mig?"
    reading = _read(text, "", "chat")
    assert estimates(reading, _model()).own_data_ask
    unlikely = Estimate(dict.fromkeys(RIGHTS, 0.01), 0.01)
    asked = decide(reading, _model(), Estimates(unlikely, (), own_data_ask=True))
    plain = decide(reading, _model(), Estimates(unlikely, (), own_data_ask=False))
    assert asked.kinds == plain.kinds == (RequestKind.NONE,)
    assert asked.needs_triage and not plain.needs_triage
    ordinary = _read("Kan ni skicka fakturan igen?", "", "chat")
    assert not estimates(ordinary, _model()).own_data_ask


@pytest.mark.parametrize(
    "text",
    [
        "Hej, här kommer fakturan för november. Mitt personnummer är 19811218-9876. Mvh Erik",
        "Kan ni radera mig ur registret? Personnummer 811218-9876.",
        "Please send me everything you hold about me. My ID number is 19811218-9876.",
        "19811218-9876",
    ],
)
def test_a_personal_identity_number_reads_the_same_masked_on_arrival_or_not(text):
    """Mail is masked before it is read ("[personnummer borttaget]"): the mask's words
    must not read as erasure or anything else the number itself does not."""
    from bot.reading.identity_numbers import mask_identity_numbers

    masked = mask_identity_numbers(text)
    assert masked != text
    plain, hidden = classify(text, subject="Hej"), classify(masked, subject="Hej")
    assert hidden.kinds == plain.kinds
    assert abs(hidden.confidence - plain.confidence) <= 0.05  # the text's length differs


def test_the_model_reads_a_message_and_its_passages_as_it_was_trained_on_them():
    """`estimates` sums each sentence once and combines them; the figures must be those of
    the features training learns from (the whole message's, and each passage's)."""
    from dataclasses import replace

    from bot.reading.classifier import (
        _model,
        _read,
        estimates,
        passage_features,
        training_features,
    )
    from bot.reading.learned_model import RIGHTS

    model = replace(_model(), passage_threshold=0.5)
    text = LONG_BUSINESS_MAIL + "\nInte radera, bara rätta mitt namn? Tack."
    reading = _read(text, "Avslut uppdrag", "email")
    found = estimates(reading, model)
    whole = model.from_sums([model.sums(training_features(text, subject="Avslut uppdrag"))])
    passages = [model.from_sums([model.sums(p)]) for p in passage_features(reading)]
    assert len(passages) > 5 and len(found.passages) == 1
    for kind in RIGHTS:
        assert abs(found.whole.kinds[kind] - whole.kinds[kind]) < 1e-9
        strongest = max(p.kinds[kind] for p in passages)
        assert abs(found.passages[0].kinds[kind] - strongest) < 1e-9
    assert abs(found.passages[0].request - max(p.request for p in passages)) < 1e-9


def test_the_model_reads_each_sentence_alone_as_it_was_trained_on_sentences():
    """A message of two sentences or more is also read sentence by sentence; each
    sentence's figures must be those of the features training learns from for it."""
    from dataclasses import replace

    from bot.reading.classifier import _model, _read, estimates, passage_features
    from bot.reading.learned_model import RIGHTS

    model = replace(_model(), sentence_threshold=0.5, passage_threshold=1.01)
    text = "Jag ger inte längre samtycke till nyhetsbrevet. Radera mig också ur ert CRM!"
    reading = _read(text, "", "chat")
    found = estimates(reading, model)
    sentences = [model.from_sums([model.sums(p)]) for p in passage_features(reading, 1)]
    assert len(sentences) == 2 and len(found.sentences) == 1 and not found.passages
    for kind in RIGHTS:
        strongest = max(p.kinds[kind] for p in sentences)
        assert abs(found.sentences[0].kinds[kind] - strongest) < 1e-9


def test_a_second_right_in_a_sentence_of_its_own_is_not_outweighed_by_the_first():
    """Read as a whole, the newsletter's words spoke against erasure and the request to be
    deleted was lost; the sentence alone asks for it plainly."""
    found = classify(
        "Hello, I give no more consent for your newsletter. And I also want to be deleted "
        "from your CRM.",
        channel="chat",
    )
    assert {RequestKind.ERASURE, RequestKind.MARKETING_OPTOUT} <= set(found.kinds)
    one = classify("Hello, I give no more consent for your newsletter.", channel="chat")
    assert RequestKind.ERASURE not in one.kinds


def test_a_second_right_only_hinted_at_is_named_when_the_model_reads_several_rights():
    """Beside a clear kind, the next likeliest is named when the "several rights" output
    reaches the model's multi threshold (and it is not negligible) — and only then."""
    from dataclasses import replace

    from bot.reading.classifier import Estimates, _model, _read, decide
    from bot.reading.learned_model import RIGHTS, Estimate

    model = replace(_model(), multi_threshold=0.6, second_threshold=0.5, threshold=0.4)
    reading = _read("Radera mitt konto. Och vad har ni sparat?", "", "chat")
    kinds = {**dict.fromkeys(RIGHTS, 0.01), RequestKind.ERASURE: 0.95, RequestKind.ACCESS: 0.3}

    def answer(multi: float) -> Classification:
        found = Estimates(Estimate(kinds, 0.99, multi), (), own_data_ask=False)
        return decide(reading, model, found, with_evidence=False)

    assert answer(0.9).kinds == (RequestKind.ACCESS, RequestKind.ERASURE)
    assert not answer(0.9).needs_triage
    assert answer(0.3).kinds == (RequestKind.ERASURE,)
    off = replace(model, multi_threshold=1.01)  # a model without that output
    found = Estimates(Estimate(kinds, 0.99, 0.99), (), own_data_ask=False)
    assert decide(reading, off, found, with_evidence=False).kinds == (RequestKind.ERASURE,)


def test_packed_weights_add_up_exactly_however_many_and_however_negative():
    """The model sums its weights as packed integers (one field per output): a sum must read
    back as the sum of each output's weights, whatever their signs, for short and long
    texts alike, and a row read back must be the weights as exported."""
    import json
    import random

    from bot.reading.learned_model import MODEL_PATH, pack, shipped_model

    model = shipped_model()
    outputs = len(model.intercepts)
    rng = random.Random(12)
    for count in (0, 1, 2, 50, 5_000):
        rows = [[rng.randint(-50_000, 50_000) for _ in range(outputs)] for _ in range(count)]
        expected = [sum(column) for column in zip(*rows, strict=True)] or [0] * outputs
        assert model.unpack(sum(pack(row) for row in rows)) == expected
    exported = json.loads(MODEL_PATH.read_text(encoding="utf-8"))["weights"]
    for feature in list(exported)[::997]:
        assert model.weights(feature) == tuple(exported[feature])
    assert model.weights("w:no-such-feature") is None


def test_sentences_are_cut_after_their_ends_and_blank_pieces_skipped_in_linear_time():
    """sentence_spans against a plain reading of its rule (a sentence runs up to and with a
    run of . ! ? or line ends; one that holds only blanks is no sentence), on random text,
    and a long run of blanks costs no more than its length."""
    import random
    import re

    from bot.reading.learned_model import sentence_spans

    def by_the_rule(text: str) -> list[tuple[int, int]]:
        spans, start = [], 0
        for match in re.finditer(r"[.!?\n]+", text):
            if match.start() > start and not text[start : match.start()].isspace():
                spans.append((start, match.end()))
            start = match.end()
        if start < len(text) and not text[start:].isspace():
            spans.append((start, len(text)))
        return spans

    rng = random.Random(5)
    for _ in range(20_000):
        text = "".join(rng.choice("ab .!?\n\t\r\u00a0\u2028") for _ in range(rng.randint(0, 14)))
        assert sentence_spans(text) == by_the_rule(text), repr(text)
    assert sentence_spans("Hej.  \n \nRadera mig! Tack") == [(0, 4), (9, 20), (20, 25)]
    seconds, _ = cpu_seconds(lambda: sentence_spans((" " * 200_000 + "\n") * 5))
    assert seconds < 0.5


def test_threads_classifying_at_once_never_fail_when_the_word_cache_is_emptied(monkeypatch):
    """The main process classifies on several threads (the pipeline's worker thread, the
    chat, the console); the model's word cache is emptied whenever it grows too big, and a
    thread must never read it after another emptied it."""
    import random
    import sys
    import threading

    from bot.reading import learned_model
    from bot.reading.classifier import classify

    monkeypatch.setattr(learned_model, "WORD_CACHE", 300)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    errors: list[str] = []
    found: list[tuple] = []

    def classify_many(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(25):
            words = " ".join(f"w{rng.getrandbits(32):x}" for _ in range(120))
            try:
                found.append(classify(f"Jag vill att ni raderar mina uppgifter. {words}.").kinds)
            except Exception as exc:  # what the test is about
                errors.append(repr(exc))

    try:
        threads = [threading.Thread(target=classify_many, args=(s,)) for s in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == [] and len(found) == 100
    assert all(RequestKind.ERASURE in kinds for kinds in found)


def test_mail_of_words_never_seen_before_does_not_grow_the_classifiers_memory():
    """Every new word's weights are cached (most words recur); mail of random strings -
    130,000 words never seen - must not make the caches hold them all (they grew `noxbot
    run` by ~90 MiB; with bounded caches that still held each word's features, ~8)."""
    import random
    import tracemalloc

    classify("Hej, radera mina uppgifter.")  # the model loaded before measuring
    letters = "abcdefghijklmnopqrstuvwxyzåäö"
    rng = random.Random(7)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(60):
            words = (
                "".join(rng.choice(letters) for _ in range(rng.randint(5, 10))) for _ in range(2200)
            )
            found = classify("Hej, radera mina uppgifter. " + " ".join(words))
            assert RequestKind.ERASURE in found.kinds or found.needs_triage
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 5 * 2**20, f"the classifier holds {grown / 2**20:.0f} MiB more"


def test_a_long_text_of_one_line_sentences_is_read_within_a_few_megabytes():
    """The classifier reads at most a bounded text, but a bounded text of one-character
    lines is thousands of "sentences": the passages' sums were all held until the end (~10
    MB at once in the watcher, for one mail)."""
    import tracemalloc

    classify("Hej, radera mina uppgifter.")  # the model loaded before measuring
    text = "Radera mina uppgifter.\n" + "x\n" * 1_000_000
    tracemalloc.start()
    try:
        found = classify(text, visible=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert RequestKind.ERASURE in found.kinds or found.needs_triage
    assert peak < 6 * 2**20, f"reading it took {peak / 2**20:.1f} MiB at once"


BROKEN_ROWS = ("[.5,1,2]", "[+1,1,2]", "[1_0,1,2]", "[01,1,2]", "[1,2,NaN]")


def test_the_model_file_is_read_row_by_row_to_the_same_model_in_less_memory():
    """The shipped model is read one row of weights at a time; a model written with other
    separators, or with escaped names, reads the same as when parsed whole."""
    import tracemalloc

    from bot.reading.learned_model import MODEL_PATH, model_from_json, read_model_json

    text = MODEL_PATH.read_text(encoding="utf-8")
    tracemalloc.start()
    try:
        read = read_model_json(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    whole = json.loads(text)
    assert model_from_json(read) == model_from_json(whole)  # (model_from_json packs rows)
    # (~13 MiB when the whole file was parsed first: its lists of numbers all at once)
    assert peak < 11.5 * 2**20, f"reading the model took {peak / 2**20:.1f} MiB at once"

    whole["weights"] = {'c:"å\\x': [1, 0.5, -0.25], "w:x": [0, 1e-05, 2], "w:y": [3] * 3}
    for separators in ((",", ":"), (", ", ": ")):
        for ascii_only in (True, False):
            written = json.dumps(whole, separators=separators, ensure_ascii=ascii_only)
            read = read_model_json(written)
            assert read["weights"].keys() == {'c:"å\\x', "w:x", "w:y"}
            assert model_from_json(read) == model_from_json(json.loads(written))
    # What is not JSON is refused as the whole parse refuses it, and a large whole number is
    # read exactly, as the whole parse reads it.
    written = json.dumps(whole, separators=(",", ":"))
    broken = [written.replace('"w:y":[3,3,3]', f'"w:y":{row}') for row in BROKEN_ROWS]
    broken += [written.replace('"w:x"', '"w:\tx"'), written.rstrip() + "\u2028"]
    for text in broken:
        with pytest.raises(ValueError):
            read_model_json(text)
    exact = written.replace('"w:y":[3,3,3]', '"w:y":[900719925474099,0,-0]')
    assert model_from_json(read_model_json(exact)) == model_from_json(json.loads(exact))
