"""The classifier's speed-ups change no reading: a pattern skipped for want of its words
could never have matched, and the fast folding and mending give the same text."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from bot.reading import classifier
from bot.reading.prefilter import Words, prefilter

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "bench" / "corpus"

FLAG_PATTERNS = [
    classifier._NEWSLETTER,
    classifier._AUTOMATED,
    classifier._ABSENCE,
    classifier._DATA_WORDS,
    classifier._HOWTO,
    classifier._NEGATION,
]
# Texts made to sit on the edges: words glued to digits, hyphens and apostrophes, a typo
# that mending repairs, a word inside a longer one, letters the folding turns to ASCII.
CRAFTED = [
    "STOPP",
    "  stop!  ",
    "Unsubscribe",
    "Radera mig!!! Nu.",
    "raderra mina personuppgifter, tack",
    "registerutdraget, tack",
    "Jag vill ha ett Registerutdrag enl. artikel 15",
    "please delete my data;remove me from your mailing-list",
    "I don't want you to keep my details in your database",
    "Återkallar mitt samtycke. Invänder mot profilering.",
    "opt-out",
    "optout please",
    "Hur länge sparar ni uppgifterna? Vilka tredjeparter?",
    "Jag vill inte ha fler nyhetsbrev eller sms",
    "Mitt nya telefonnummer är 070-1234567",
    "Please correct my surname – it is spelled wrongly",
    "Ta bort mig ur er sändlista",
    "IMY, skadestånd och polisanmälan",
    "data-portability as JSON",
    "machine-readable format please",
    "Out of Office: I am away until Monday",
    "Automatiskt svar: tjänstledig",
    "123radera456mig",
    "x" * 500 + " radera mig",
]


def corpus_texts() -> list[tuple[str, str, str]]:
    texts = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append((row["text"], row.get("subject", ""), row["channel"]))
    return texts + [(text, "", channel) for text in CRAFTED for channel in ("email", "chat")]


@pytest.fixture(scope="module")
def readings() -> list[classifier._Reading]:
    return [classifier._read(text, subject, channel) for text, subject, channel in corpus_texts()]


def test_no_pattern_that_matches_a_corpus_message_is_ever_skipped(readings):
    patterns = [p for rules in classifier._FILTERED.values() for p, _, _, _ in rules]
    patterns += FLAG_PATTERNS
    needs = [prefilter(p) for p in patterns]
    assert sum(1 for n in needs if n.requirements) >= len(patterns) - 2  # they do filter
    matched = 0
    for reading in readings:
        words = Words(reading.mended)
        for pattern, need in zip(patterns, needs, strict=True):
            if pattern.search(reading.mended):
                matched += 1
                assert need.may_match(words), (pattern.pattern, reading.mended)
    assert matched > 5_000  # the corpus exercises the patterns


def test_the_index_names_every_rule_that_matches(readings):
    rules = [pattern for _, pattern, _, _ in classifier._RULES]
    for reading in readings:
        possible = classifier._RULES_INDEX.possible(Words(reading.mended))
        assert {i for i, p in enumerate(rules) if p.search(reading.mended)} <= possible


def test_a_texts_bits_say_what_checking_each_requirement_says(readings):
    needs = [prefilter(p) for rules in classifier._FILTERED.values() for p, *_ in rules]
    needs += [prefilter(p) for p in FLAG_PATTERNS]
    assert any(need.raw for need in needs)  # the raw-text path is exercised too
    met = 0
    for reading in readings:
        words = Words(reading.mended)
        for need in needs:
            checked = all(words.meets(r) for r in need.requirements)
            assert need.may_match(words) is checked, (need.requirements, reading.mended)
            met += checked
    assert met > 10_000


def test_forgetting_the_words_bits_changes_no_answer(readings, monkeypatch):
    from bot.reading import prefilter as module

    monkeypatch.setattr(module._Table, "WORDS_KEPT", 5)
    for reading in readings[:300]:
        assert classifier._RULES_INDEX.possible(Words(reading.mended)) == {
            index
            for index, need in enumerate(classifier._RULES_INDEX.prefilters)
            if all(Words(reading.mended).meets(r) for r in need.requirements)
        }
    assert len(module._TABLE.words) <= 5 + 400  # emptied, not grown


def test_a_pattern_made_after_a_text_was_looked_at_is_judged_on_it_too():
    words = Words("vi vill ha ett zyxvorbtillstand nu")
    assert not prefilter(re.compile(r"\bradera\b")).may_match(words)
    assert prefilter(re.compile(r"\bzyxvorb\w*")).may_match(words)  # new bits, same text
    assert not prefilter(re.compile(r"\bzyxvorbx")).may_match(words)


def test_words_are_the_runs_of_ascii_letters():
    import random

    chance = random.Random(3)
    for _ in range(20_000):
        text = "".join(chance.choices("abz AZ09_-'\n\t\x00\x7fåé", k=chance.randint(0, 30)))
        assert classifier._words(text) == re.findall(r"[a-z]+", text), text


def test_the_words_mending_reports_are_the_words_of_the_mended_text():
    for text, subject, _ in corpus_texts():
        folded = classifier.fold(f"{subject}\n{text}")
        mended, origin, words = classifier._mended_words(folded)
        assert words.text == mended
        assert words.words == frozenset(re.findall(r"[a-z]+", mended))
        assert (mended, origin) == classifier._mended(folded)


def slow_fold(text: str) -> str:
    return "".join(classifier._fold_char(c) for c in text)


def test_fast_folding_gives_the_same_text_as_folding_each_character():
    every_character = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    for start in range(0, len(every_character), 512):
        chunk = "".join(every_character[start : start + 512])
        assert classifier.fold(chunk) == slow_fold(chunk)
    for text in ["ΣΑΣ Σ", "İstanbul ÅÄÖ", "ℌello", "Straße ẞ", "ǅemal", "ﬁnal", *CRAFTED]:
        assert classifier.fold(text) == slow_fold(text), text
    for text, subject, _ in corpus_texts():
        assert classifier.fold(text) == slow_fold(text)
        assert classifier.fold(subject) == slow_fold(subject)


def test_an_ordinary_business_mail_runs_no_pattern():
    body = (
        "Hej, vi har gått igenom offerten och återkommer om leveransdatum för projektet. "
        "Kan ni skicka en uppdaterad tidplan och en kostnadsuppskattning innan fredag?\n"
    ) * 20
    words = Words(classifier.fold(body))
    rules = [need for rules in classifier._FILTERED.values() for *_, need in rules]
    assert [need for need in rules if need.may_match(words)] == []


@pytest.mark.parametrize(
    ("pattern", "text", "may"),
    [
        (r"\bradera\b", "vi raderar", False),  # a longer word is not the word
        (r"\bradera\b", "radera!", True),
        (r"\bradera\w*", "vi raderar", True),  # the start of a word
        (r"\b(?:vill|onskar) inte ha", "jag onskar inte", True),
        (r"\b(?:vill|onskar) inte ha", "jag onskar", False),
        (r"registerutdrag", "xregisterutdragx", True),  # anywhere in a word
        (r"^\W*(?:stopp|stop)\W*$", "ok", False),
        (r"(?<![\d])\d{6}", "abc", True),  # nothing to require: always run
        (r"(a)\1", "b", True),  # a back-reference: always run
        (r"\bh(?:ur \w+ jag|ow do i)\b", "how can you", False),
        (r"\bh(?:ur \w+ jag|ow do i)\b", "hur gor jag", True),
    ],
)
def test_requirements_are_read_from_the_pattern(pattern, text, may):
    assert prefilter(re.compile(pattern)).may_match(Words(text)) is may
    assert re.search(pattern, text) is None or may  # never against the regex itself


def test_a_pattern_with_flags_is_always_run():
    assert prefilter(re.compile("radera", re.IGNORECASE)).requirements == ()


def test_the_requirements_kept_in_the_file_are_what_deriving_them_gives():
    """Deriving every pattern's requirements took ~1.5 s at each start: they are kept in a
    file. It must say what deriving says, for exactly the classifier's patterns (after a
    pattern or this module changes: `bench/write_prefilters.py`)."""
    import subprocess

    from bot.reading import prefilter as module

    kept = json.loads(module.DERIVED_FILE.read_text(encoding="utf-8"))["patterns"]
    # The patterns the classifier asks for at its import (in a fresh interpreter: tests ask
    # for others here).
    program = (
        "import json, bot.reading.classifier; from bot.reading import prefilter;"
        "print(json.dumps(sorted(set(prefilter._ASKED))))"
    )
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, check=True)
    asked = set(json.loads(run.stdout))
    assert len(asked) > 100
    assert json.loads(module.DERIVED_FILE.read_text())["derivation"] == module._derivation()
    assert set(kept) == asked, "run: .venv/bin/python bench/write_prefilters.py"
    for source in asked:
        derived = module.derive(source)
        assert prefilter(source).requirements == derived, source
        assert [sorted(r) for r in derived] == [[tuple(a) for a in r] for r in kept[source]]


def test_a_pattern_the_file_does_not_hold_is_derived():
    from bot.reading import prefilter as module

    assert "vill radera mitt konto" not in module._derived_before()
    need = prefilter(re.compile(r"\bvill radera mitt konto\b"))
    assert need.requirements and not need.may_match(Words("vill ni ringa mig"))
    assert need.may_match(Words("jag vill radera mitt konto nu"))


@pytest.mark.parametrize(
    "patterns",
    [
        None,
        [],
        {"\\bradera\\b": [[]]},  # a requirement no text meets: the pattern never run
        {"\\bradera\\b": [[["whole", ""]]]},
        {"\\bradera\\b": [[["sometimes", "radera"]]]},
        {"\\bradera\\b": [["wx"]]},
        {"\\bradera\\b": [[["part", "a mig"]]]},  # no word holds a blank: never met
        {"\\bradera\\b": [[["whole", "Radera"]]]},
        {"\\bradera\\b": "radera"},
    ],
)
def test_a_file_not_of_the_shape_deriving_gives_is_not_used(tmp_path, monkeypatch, patterns):
    """A file got wrong must never make a pattern that matches be skipped, nor stop noxbot
    from starting: it is not used, and every pattern is derived."""
    from bot.reading import prefilter as module

    path = tmp_path / "prefilters.json"
    path.write_text(json.dumps({"derivation": module._derivation(), "patterns": patterns}))
    monkeypatch.setattr(module, "DERIVED_FILE", path)
    monkeypatch.setattr(module, "_DERIVED", None)
    assert module._derived_before() == {}
    assert prefilter(re.compile(r"\bradera\b")).may_match(Words("radera mig"))


def test_a_file_written_by_another_version_of_the_derivation_is_not_used(tmp_path, monkeypatch):
    from bot.reading import prefilter as module

    path = tmp_path / "prefilters.json"
    kept = {"\\bradera\\b": [[["whole", "nothing"]]]}
    path.write_text(json.dumps({"derivation": "0123456789abcdef", "patterns": kept}))
    monkeypatch.setattr(module, "DERIVED_FILE", path)
    monkeypatch.setattr(module, "_DERIVED", None)
    assert module._derived_before() == {}
    assert prefilter(re.compile(r"\bradera\b")).may_match(Words("radera mig"))


def test_a_checkout_with_crlf_line_ends_still_uses_the_file():
    # git's autocrlf on Windows writes the module with CRLF: the same version, whose file
    # saves 1.5 s of every start.
    from bot.reading import prefilter as module

    source = Path(module.__file__).read_bytes()
    assert b"\r\n" not in source
    assert module._derivation(source.replace(b"\n", b"\r\n")) == module._derivation()
    assert module._derivation(source.replace(b"derive", b"Derive")) != module._derivation()


def test_passages_asking_a_question_are_found_from_the_question_marks(readings):
    from bot.reading.learned_model import sentence_spans

    checked = 0
    for reading in readings:
        text = reading.mended
        sentences = sentence_spans(text)
        for width in (1, 2):
            count = len(sentences) - width + 1
            if count < 1:
                continue
            searched = [
                index
                for index in range(count)
                if "?" in text[sentences[index][0] : sentences[index + width - 1][1]]
            ]
            assert classifier._passages_asking(text, sentences, width, count) == searched
            checked += bool(searched)
    assert checked > 1_000


def test_a_long_invented_word_is_judged_like_any_other_and_not_kept():
    from bot.reading import prefilter as module

    needs = [prefilter(p) for rules in classifier._FILTERED.values() for p, *_ in rules]
    long_words = [
        "mama" * 4_000,
        "x" * 70 + "registerutdrag" + "y" * 70,
        "unsubscribe" + "q" * 100,
        "z" * 100 + "nyhetsbrev",
        "avregistrera" * 9,
    ]
    kept = len(module._TABLE.words)
    for word in long_words:
        words = Words(f"hej {word} radera")
        for need in needs:
            assert need.may_match(words) is all(words.meets(r) for r in need.requirements)
    assert len(module._TABLE.words) <= kept + 2  # "hej" and "radera" at most
