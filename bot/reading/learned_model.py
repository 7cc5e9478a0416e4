"""The learned half of the classifier: a linear model over words, word pairs, letter groups
and the rules' own findings, one score per kind (pure; weights loaded once from bot/data).

Why both: the rules are precise and explain themselves, but people ask for their rights in
more ways than any list of phrases holds. The model, trained on our labelled corpus
(bench/corpus, bench/train_classifier.py), weighs everything a message says, with the
rules' verdicts among its inputs. Features are plain strings, so training (scikit-learn)
and inference (here, no dependencies) share this one definition of them.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, pairwise, repeat
from operator import itemgetter
from pathlib import Path

from bot.reading.identity_numbers import find_identity_numbers
from bot.rules.kinds import RequestKind

#: Bump when the features change: the shipped weights are then stale and must be retrained
#: (tests/test_classifier.py checks the two agree).
FEATURES_VERSION = 4
MODEL_PATH = Path(__file__).parent / "data" / "classifier_model.json"
#: The rules' verdicts enter training with this value instead of 1: regularisation then
#: spreads less of their weight over the thousands of word features that co-occur with them.
#: Exported weights are multiplied by it, so inference adds them as they are.
RULE_EMPHASIS = 1.0
#: A second or third kind in one message must be at least this probable unless the model
#: says otherwise (its `second_threshold`, chosen by bench/train_classifier.py).
SECOND_KIND_THRESHOLD = 0.5
#: A second kind added because the model says "several rights" must be at least this
#: probable (see LinearModel.multi_threshold).
MULTI_FLOOR = 0.1
RIGHTS = tuple(k for k in RequestKind if k is not RequestKind.NONE)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
#: A longer run of letters is no word a person wrote (base64, a hash): only its beginning is
#: read, so that such runs neither cost time nor fill the caches of word features.
MAX_WORD = 64
_CLAUSE_END = re.compile(r"[.!?;\n]")
#: Where a sentence ends: always also a clause's end, so a text's tokens are its sentences'
#: tokens one after another.
SENTENCE_END = re.compile(r"[.!?\n]+")
#: The text cut into pieces, each up to and with the end of a sentence (or of the text): a
#: piece of blanks only, or (group 1) a sentence; every character is read once.
_SENTENCE_PIECE = re.compile(r"[^\S\n]*+(?:[.!?\n]+|\Z)|([^.!?\n]+)(?:[.!?\n]+|\Z)")
_NEGATORS = frozenset(
    [
        "inte",
        "ej",
        "icke",
        "aldrig",
        "not",
        "don't",
        "dont",
        "doesn't",
        "never",
        "no",
        "nor",
        "without",
        "utan",
    ]
)
# Swedish puts the negation after an imperative verb ("radera inte", "ta inte bort").
_AFTER_VERB = frozenset(["inte", "ej", "icke", "aldrig"])
# Words after which a negation no longer reaches ("inte radera, bara rätta").
_SCOPE_ENDS = frozenset(["bara", "endast", "only", "just", "but", "men", "instead", "utan"])
_PHONE = re.compile(r"(?<![\d])(?:\+|00)?\d[\d \-()]{6,16}\d(?![\d])")
#: What every _PHONE match holds (see _has_phone).
_DIGIT_RUN = re.compile(r"\d[\d \-()]{6,16}\d")
# Tried only where a run of address characters starts: from every position inside a long
# run the search went over the rest of it again (quadratic in a long "word"); a match
# exists exactly when one did before (the run's start is an address's start too).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+")


@dataclass(frozen=True)
class Signals:
    """What the rules found, as the model's inputs: per kind the strength of the best rule
    hit (0 when none), and the rules' other observations by name."""

    rule_scores: dict[RequestKind, float]
    flags: frozenset[str]


def tokens(text: str, start: int = 0, end: int | None = None) -> list[tuple[str, bool]]:
    """Words of folded text (of text[start:end], read in place), each marked whether a
    negation earlier in its clause reaches it."""
    return _tokens(text.replace("\u2019", "'") if "\u2019" in text else text, start, end)


def _tokens(text: str, start: int = 0, end: int | None = None) -> list[tuple[str, bool]]:
    """`tokens` of text[start:end] (read in place: a sentence need not be copied out)."""
    found = _WORD.findall(text, start, len(text) if end is None else end)
    if _NEGATORS.isdisjoint(found):  # the common case: nothing is negated
        if max(map(len, found), default=0) <= MAX_WORD:  # and no word to cut short
            return list(zip(found, repeat(False)))
        return [(word[:MAX_WORD], False) for word in found]
    out: list[tuple[str, bool]] = []
    for clause in _CLAUSE_END.split(text[start:end]):  # a word never spans a clause's end
        negated = False
        words = [word[:MAX_WORD] for word in _WORD.findall(clause)]
        for index, word in enumerate(words):
            if word in _SCOPE_ENDS:
                negated = False
            out.append((word, negated))
            if word in _NEGATORS:
                negated = True
                if index == 1 and word in _AFTER_VERB:  # imperative: "radera inte"
                    out[-2] = (out[-2][0], True)
    return out


def _letter_groups(word: str) -> list[str]:
    if len(word) < 4:
        return []
    padded = f"<{word}>"
    return [padded[i : i + n] for n in (4,) for i in range(len(padded) - n + 1)]


#: How many words' rows a model keeps (see LinearModel.word_row), and how many words'
#: features `word_features` keeps (for training: at inference a word's row is what is
#: kept). Mail of words never seen before (random strings, say) fills the rows: at this
#: size classifying grows by ~3 MiB at most, where 200,000 rows and 50,000 words'
#: features cost ~90 MiB; and classifying the whole corpus (14,249 messages) is as fast
#: as with the larger caches.
WORD_CACHE = 10_000
#: How many sums of a few named features a model keeps (see LinearModel.kept_sums).
KEPT_SUMS = 1_024
FEATURE_CACHE = 8_192


@lru_cache(maxsize=FEATURE_CACHE)
def word_features(word: str, negated: bool) -> tuple[str, ...]:
    """A word's own features: itself (marked when negated) and its letter groups, which
    carry inflections, compounds and typos ("raderas", "nyhetsbrevet", "raderra")."""
    if negated:  # letter groups would carry the word's meaning past its negation
        return ("n:" + word,)
    return ("w:" + word, *("c:" + g for g in _letter_groups(word)))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where each sentence of `text` (one that holds more than blanks) starts and ends."""
    return [match.span() for match in _SENTENCE_PIECE.finditer(text) if match.lastindex]


@dataclass(frozen=True)
class MessageFeatures:
    """A message's features, sentence by sentence: each sentence's words (expanded by
    `word_features`, cached at inference) and word pairs (within the sentence), and what
    holds for the message as a whole. The message counts each feature once: a long mail
    does not weigh more for saying "data" ten times."""

    sentences: list[tuple[int, int]]
    words: list[list[tuple[str, bool]]]  # per sentence, in order (repeats kept)
    extras: list[str]

    def pairs(self, index: int) -> list[tuple[str, str]]:
        words = self.words[index]
        return [(words[i][0], words[i + 1][0]) for i in range(len(words) - 1)]

    def all(self) -> list[str]:
        words = dict.fromkeys(w for sentence in self.words for w in sentence)
        pairs = dict.fromkeys(p for i in range(len(self.words)) for p in self.pairs(i))
        found = [f for word, negated in words for f in word_features(word, negated)]
        return found + [f"b:{a}_{b}" for a, b in pairs] + self.extras


def message_features(text: str, original: str, signals: Signals) -> MessageFeatures:
    """`text` is folded and mended, `original` as written."""
    spans = sentence_spans(text)
    text = text.replace("\u2019", "'")  # as `tokens` does; one character for one
    words = [_tokens(text, start, end) for start, end in spans]
    extras = _global_features(original, signals)
    extras.append(length_feature(len(spans)))
    return MessageFeatures(spans, words, list(dict.fromkeys(extras)))


def length_feature(sentences: int) -> str:
    """How long a message (or a passage: two sentences) is, coarsely: a long mail's many
    ordinary words then need not outweigh the one sentence that asks for something."""
    buckets = ((1, "1"), (2, "2"), (5, "3-5"), (12, "6-12"))
    bucket = next((name for most, name in buckets if sentences <= most), "13+")
    return f"x:length:{bucket}"


def part_features(flags: Iterable[str], width: int) -> list[str]:
    """What a passage of `width` sentences holds besides its words and its rules' findings:
    the message's flags and its length, marked as a part's, not as a whole message's. The
    passages of messages that ask for nothing are learned from as `none`: under the whole
    message's names ("x:length:1", "f:data_words") each taught that one sentence, or talk
    of personal data, speaks against a request, and a plain one-sentence request paid."""
    return [*(f"p:{flag}" for flag in sorted(flags)), f"x:part:{width}"]


def _global_features(original: str, signals: Signals) -> list[str]:
    found: list[str] = []
    for kind, score in signals.rule_scores.items():
        found.append(f"r:{kind}:{'strong' if score >= 1.0 else 'weak'}")
    found.extend(f"f:{flag}" for flag in sorted(signals.flags))
    # A personal identity number looks like a phone number, but is masked on arrival and
    # must read as nothing, as its mask does.
    if _has_phone(original):
        found.append("x:phone")
    if "@" in original and _EMAIL.search(original):
        found.append("x:email")
    if "?" in original:
        found.append("x:question")
    return found


def _has_phone(text: str) -> bool:
    """Whether the text holds a phone number that is no personal identity number.

    _PHONE is tried at every position (its look-behind comes first: ~70 ns a character);
    every match holds a run _DIGIT_RUN finds by a fast scan for its first digit, at most
    three characters into it ("+46…", "0046…"), so _PHONE is tried only from there."""
    run = _DIGIT_RUN.search(text)
    if run is None:
        return False
    matches = _PHONE.finditer(text, max(run.start() - 3, 0))
    return any(not find_identity_numbers(m.group()) for m in matches)


#: The model's extra output besides the kinds: whether the message asks for any right at
#: all. Kinds that sound alike ("stop using my data": objection or restriction?) can share
#: out their probability so that none reaches the threshold; this one then still says
#: "a request" and the message goes to staff rather than being filed as ordinary mail.
REQUEST = "request"


@dataclass(frozen=True)
class Estimate:
    """What the model makes of one message."""

    kinds: dict[RequestKind, float]  # per kind: the probability that it is asked for
    request: float  # the probability that any right is asked for
    multi: float = 0.0  # the probability that more than one right is asked for


#: The exported weights have four decimals (bot.reading.training.export): each is a whole
#: number of ten-thousandths, and the model sums them as such, exactly.
SCALE = 10_000
_WORD_OF = itemgetter(0)  # a token's word, without whether it is negated
#: A feature's weights, one per output, packed into one integer of 64-bit fields, the
#: first output lowest: sum(v_j << 64 j), a weight below zero borrowing from the fields
#: above it. That sum is linear, so adding packed rows adds every field at once, and a
#: sentence's dozens of rows are summed by one `sum()` in C instead of a dozen column-wise
#: sums in Python (what reading a long mail sentence by sentence cost most). `biased`
#: reads the fields back: with HALF added to every field none is negative, so the sum's
#: 64-bit digits are the fields themselves, each plus HALF.
_FIELD_BITS = 64
_FIELD_MASK = (1 << _FIELD_BITS) - 1
HALF = 1 << 63


def pack(ten_thousandths: Iterable[int]) -> int:
    """One row of weights (ten-thousandths, each of magnitude well under 2**62) packed."""
    return _packed_biased([value + HALF for value in ten_thousandths])


def _packed_biased(biased: list[int]) -> int:
    """The packed row of weights given each plus HALF (as `LinearModel.biased` reads them)."""
    count = len(biased)
    return int.from_bytes(struct.pack(f"<{count}Q", *biased), "little") - _halves(count)


@lru_cache(maxsize=4)
def _halves(count: int) -> int:
    """HALF in each of `count` fields."""
    return sum(HALF << (_FIELD_BITS * index) for index in range(count))


@dataclass(frozen=True)
class LinearModel:
    """Logistic regressions sharing one feature space: one per kind, one for "any right at
    all" and one for "several rights", with their thresholds. Weight rows hold the kinds'
    weights, then the request's, then (if the model has it) the several rights'; `rows`
    holds them packed (see `pack`), in ten-thousandths, and the intercepts are in
    ten-thousandths too. The word pairs' rows ("b:a_b") are moved from `rows` to
    `_pair_rows` when the model is made."""

    kinds: tuple[RequestKind, ...]
    intercepts: tuple[int, ...]
    rows: dict[str, int]
    threshold: float
    request_threshold: float
    features_version: int
    corpus_digest: str
    #: A passage of a longer message (two sentences) counts for a kind or for "a request"
    #: when its own probability reaches this: a request in the last lines of a long business
    #: mail is not outweighed by the rest. Above 1.0: passages are not read.
    passage_threshold: float = 1.01
    #: A single sentence of a message of two sentences or more counts for a kind when its
    #: own probability reaches this: "I give no more consent for your newsletter. And
    #: delete me from your CRM." — read as a whole, the newsletter's words speak against
    #: erasure; read alone, the second sentence asks for nothing else. Above 1.0: off.
    sentence_threshold: float = 1.01
    #: `none` with a request probability at or above this goes to staff triage rather than
    #: being filed as ordinary mail (the safety net; above 1.0: off).
    unsure_threshold: float = 1.01
    c: float = 3.0  # the regularisation it was trained with (a retrain reuses it)
    #: Once one kind is found, another counts at this probability (a second right is often
    #: only hinted at beside a clear one).
    second_threshold: float = SECOND_KIND_THRESHOLD
    #: When the model's "several rights" output reaches this, a message read as asking for
    #: one right also gets the next likeliest kind, if that is at least MULTI_FLOOR probable
    #: (a second right only hinted at; above 1.0: off, or a model without that output).
    multi_threshold: float = 1.01
    #: In a message whose single sentences are read, a kind beside the likeliest counts only
    #: when some sentence alone reads it at this probability, or the rules find it: a second
    #: right is asked for somewhere, not made of words every request shares ("Delete my
    #: data" / "… all personal data you have about me": erasure, not access). 0: off.
    support_threshold: float = 0.0
    #: A kind is named only when the model's "some right is asked for" output reaches this
    #: in the whole message, a passage or a sentence: a kind barely over its threshold while
    #: the model is sure no right is asked for ("vi vill radera den gamla annonsen": erasure
    #: 0.54, a request 0.02) is not read as one but left to staff (triage). 0: off.
    request_floor: float = 0.0
    #: A word's summed rows (its own feature and letter groups), computed once: most words
    #: recur, and a word expands to many letter groups (this is what makes thousands of
    #: messages a second possible). 0 for a word the model has no weight for.
    _word_rows: dict[tuple[str, bool], int] = field(default_factory=dict, compare=False, repr=False)
    #: The word pairs' rows by the pair itself ("b:a_b" → (a, b)), made once at load: a
    #: message's pairs are then looked up without building their names.
    _pair_rows: dict[tuple[str, str], int] = field(default_factory=dict, compare=False, repr=False)
    #: `kept_sums` by features: a passage's flags and rule findings recur from passage to
    #: passage and from mail to mail (at most KEPT_SUMS, then emptied).
    _kept_sums: dict[tuple[str, ...], tuple[int, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _layout: struct.Struct = field(init=False, compare=False, repr=False)
    _halves: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        outputs = len(self.intercepts)
        object.__setattr__(self, "_layout", struct.Struct(f"<{outputs}Q"))
        object.__setattr__(self, "_halves", _halves(outputs))
        # The pairs move out of `rows` (into a dict of their own): held once, by
        # the pair, their words shared - half the model's ~40,000 rows are pairs, and a
        # copy of each under its name would cost `noxbot run` some 3 MiB for nothing.
        rows: dict[str, int] = {}
        for name, row in self.rows.items():
            if name.startswith("b:"):
                first, _, second = name[2:].partition("_")
                self._pair_rows[(sys.intern(first), sys.intern(second))] = row
            else:
                rows[name] = row
        if len(rows) < len(self.rows):
            object.__setattr__(self, "rows", rows)

    def __getstate__(self) -> dict[str, object]:
        """Pickled (sent to the mail-reading worker, see `use_as_shipped`) without what is
        rebuilt or learned again: the layout, and the words' cache."""
        state = dict(self.__dict__)
        del state["_layout"]
        state["_word_rows"] = {}
        state["_kept_sums"] = {}
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "_layout", struct.Struct(f"<{len(self.intercepts)}Q"))

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LinearModel:
        return model_from_json(read_model_json(path.read_text(encoding="utf-8")))

    def unpack(self, packed: int) -> list[int]:
        """The per-output sums (in ten-thousandths) of the rows summed into `packed`."""
        return [value - HALF for value in self.biased(packed)]

    def biased(self, packed: int) -> tuple[int, ...]:
        """The per-output sums of `packed`, each plus HALF (see `pack`): what comparing
        sums needs, without a step in Python per output."""
        return self._layout.unpack((packed + self._halves).to_bytes(self._layout.size, "little"))

    def weights(self, feature: str) -> tuple[float, ...] | None:
        """One feature's weights as exported, or None when the model has none for it."""
        row = self._row(feature)
        return None if row is None else tuple(v / SCALE for v in self.unpack(row))

    def word_row(self, token: tuple[str, bool]) -> int:
        """A word's packed row (its own features and letter groups), cached."""
        row = self._word_rows.get(token)
        if row is None:
            row = self._learn_words([token])[token]
        return row

    def _learn_words(self, tokens: list[tuple[str, bool]]) -> dict[tuple[str, bool], int]:
        """These words' rows, also put in the cache (emptied first when it would grow too
        big). Callers use the rows returned, never the cache after this: another thread
        classifying at the same time may empty it at any moment."""
        rows = self.rows
        # word_features uncached: the word's row is what is kept (in _word_rows); its
        # features kept as well, thousands of letter groups of words never seen, were the
        # larger part of what such mail made the classifier hold.
        features = word_features.__wrapped__
        learned = {token: sum(rows[f] for f in features(*token) if f in rows) for token in tokens}
        cache = self._word_rows
        if len(cache) + len(learned) > WORD_CACHE:
            cache.clear()
        cache.update(learned)
        return learned

    def read(self, message: MessageFeatures, by_sentence: bool) -> tuple[list[int], list[int]]:
        """The summed weights (without the intercepts) of the whole message and, when
        `by_sentence`, each sentence's packed sum (`unpack` reads it): a word or a pair
        counts once in the whole and once in each sentence that holds it, and a passage's
        estimate adds its sentences' sums instead of reading them again."""
        # The rows are read from the shared cache once, into a dict of this message's own.
        words = dict.fromkeys(chain.from_iterable(message.words))
        found = dict(zip(words, map(self._word_rows.get, words), strict=True))
        missing = [token for token, row in found.items() if row is None]
        if missing:
            found.update(self._learn_words(missing))
        word_row, pair_row = found.__getitem__, self._pair_rows.get
        pair_sets = [dict.fromkeys(pairwise(map(_WORD_OF, found))) for found in message.words]
        pairs: dict[tuple[str, str], None] = {}
        for found in pair_sets:
            pairs.update(found)
        rows = self.rows
        whole = sum(map(word_row, words)) + sum(map(pair_row, pairs, repeat(0)))
        whole += sum(rows[f] for f in message.extras if f in rows)
        sentences = []
        if by_sentence:
            sentences = [
                sum(map(word_row, dict.fromkeys(sentence)))
                + sum(map(pair_row, found_pairs, repeat(0)))
                for sentence, found_pairs in zip(message.words, pair_sets, strict=True)
            ]
        return self.unpack(whole), sentences

    def sums(self, features: Iterable[str]) -> list[int]:
        """The summed weights of features by name (training's, or the rules' findings and
        flags that are not words)."""
        return self.unpack(sum(filter(None, map(self._row, features))))

    def kept_sums(self, features: tuple[str, ...]) -> tuple[int, ...]:
        """`sums` of a few features that recur (a passage's flags, its rules' findings),
        kept by the features."""
        found = self._kept_sums.get(features)
        if found is None:
            found = tuple(self.sums(features))
            if len(self._kept_sums) >= KEPT_SUMS:
                self._kept_sums.clear()
            self._kept_sums[features] = found
        return found

    def _row(self, feature: str) -> int | None:
        """One feature's packed row by its name, or None when the model has none."""
        if feature.startswith("b:"):
            first, _, second = feature[2:].partition("_")
            return self._pair_rows.get((first, second))
        return self.rows.get(feature)

    def estimate(self, message: MessageFeatures) -> Estimate:
        return self.from_sums([self.read(message, False)[0]])

    def from_sums(self, parts: Iterable[list[int]]) -> Estimate:
        """The estimate from summed weights (ten-thousandths, as `read` and `sums` give)."""
        total = [sum(column) / SCALE for column in zip(self.intercepts, *parts, strict=True)]
        probabilities = [1.0 / (1.0 + math.exp(-max(min(t, 50.0), -50.0))) for t in total]
        count = len(self.kinds)
        return Estimate(
            dict(zip(self.kinds, probabilities, strict=False)),
            probabilities[count],
            probabilities[count + 1] if len(probabilities) > count + 1 else 0.0,
        )

    def contribution(self, words: Iterable[tuple[str, bool]], kind: RequestKind) -> float:
        """How much these words push towards one kind (for choosing evidence)."""
        shift = _FIELD_BITS * self.kinds.index(kind)  # that one field, as `biased` reads it
        biased = ((sum(map(self.word_row, words)) + self._halves) >> shift) & _FIELD_MASK
        return (biased - HALF) / SCALE


_shipped: LinearModel | None = None


def shipped_model() -> LinearModel:
    """The model shipped with noxbot (MODEL_PATH), loaded on first use and kept."""
    global _shipped
    if _shipped is None:
        _shipped = LinearModel.load()
    return _shipped


def loaded_model() -> LinearModel | None:
    """The shipped model if this process has loaded it, else None (nothing is loaded)."""
    return _shipped


def use_as_shipped(model: LinearModel) -> None:
    """Take `model` as the shipped one: the mail-reading worker gets the watcher's, so that
    the two read mail with one and the same model (a retrain may have replaced the file
    since the watcher started) and the worker's start skips parsing the file (~0.3 s)."""
    global _shipped
    _shipped = model


#: One row of the weights as the model is written (json.dumps with separators (",", ":")):
#: "feature":[numbers], then a comma or the end of the weights and of the model.
_WEIGHTS = ',"weights":{'
#: Strictly JSON (names without raw control characters, numbers as JSON writes them, only
#: JSON's whitespace at the end): anything else is left to the whole parse, which refuses it.
_JSON_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
_WEIGHT_ROW = re.compile(
    rf'"((?:[^"\\\x00-\x1f]|\\.)*)":\[((?:{_JSON_NUMBER})(?:,{_JSON_NUMBER})*)?\]'
    r"(,|\}\}[ \t\n\r]*\Z)"
)


def read_model_json(text: str) -> dict:
    """The exported model as parsed JSON, each row of weights packed (see `pack`).

    The weights are written with four decimals, so ~370,000 numbers hold ~10,000 values:
    each distinct number is converted once. Rows are read and packed one at a time, so
    that the model's ~40,000 lists of numbers never exist at once: what they left behind,
    freed among the rows that stay, cost `noxbot run` ~3 MiB for as long as it runs. A
    model written otherwise (other separators) is parsed as plain JSON."""
    weights_at = text.find(_WEIGHTS)
    if weights_at > 0:
        with contextlib.suppress(ValueError):
            data = json.loads(text[:weights_at] + "}")
            data["weights"] = _packed_rows(text, weights_at + len(_WEIGHTS))
            data["packed"] = True
            return data
    return _read_model_json_whole(text)


def _packed_rows(text: str, position: int) -> dict[str, int]:
    """The weights' rows, packed, from `text` at `position` (just after '"weights":{', see
    read_model_json); ValueError where they are not written as expected."""
    biased: dict[str, int] = {}

    def value(number: str) -> int:
        found = biased.get(number)
        if found is None:
            # As the whole parse reads it: a whole number exactly, any other as a float.
            whole = not any(mark in number for mark in ".eE")
            scaled = int(number) * SCALE if whole else round(float(number) * SCALE)
            found = biased[number] = scaled + HALF
        return found

    rows: dict[str, int] = {}
    while True:
        row = _WEIGHT_ROW.match(text, position)
        if row is None:
            raise ValueError("weights not written as expected")
        name = row.group(1)
        if "\\" in name:
            name = json.loads(f'"{name}"')
        numbers = row.group(2)
        rows[name] = _packed_biased([value(n) for n in numbers.split(",")] if numbers else [])
        position = row.end()
        if row.group(3) != ",":
            return rows


def _read_model_json_whole(text: str) -> dict:
    """read_model_json for a model written otherwise: parsed whole, then packed."""
    floats: dict[str, float] = {}

    def shared(number: str) -> float:
        value = floats.get(number)
        if value is None:
            value = floats[number] = float(number)
        return value

    data = json.loads(text, parse_float=shared)
    biased = {value: round(value * SCALE) + HALF for value in floats.values()}
    weights = data["weights"]
    for feature, row in weights.items():
        try:
            weights[feature] = _packed_biased(list(map(biased.__getitem__, row)))
        except KeyError:  # a weight written as a whole number ("0"): parsed as an int
            weights[feature] = pack(round(w * SCALE) for w in row)
    data["packed"] = True
    return data


def model_from_json(data: dict) -> LinearModel:
    """A model from its exported form (as written to MODEL_PATH), without a file."""
    weights = data["weights"]
    if not data.get("packed"):
        weights = {f: pack(round(w * SCALE) for w in row) for f, row in weights.items()}
    return LinearModel(
        kinds=tuple(RequestKind(k) for k in data["kinds"]),
        intercepts=tuple(round(i * SCALE) for i in data["intercepts"]),
        rows=weights,
        threshold=data["threshold"],
        request_threshold=data["request_threshold"],
        features_version=data["features_version"],
        corpus_digest=data["corpus_digest"],
        passage_threshold=data.get("passage_threshold", 1.01),
        sentence_threshold=data.get("sentence_threshold", 1.01),
        unsure_threshold=data.get("unsure_threshold", 1.01),
        c=data.get("c", 3.0),
        second_threshold=data.get("second_threshold", SECOND_KIND_THRESHOLD),
        multi_threshold=data.get("multi_threshold", 1.01),
        support_threshold=data.get("support_threshold", 0.0),
        request_floor=data.get("request_floor", 0.0),
    )
