"""Which regular expressions cannot match a text, told from its words before running them.

The classifier runs some 150 patterns over every message, and most of them find nothing in
an ordinary mail: running them all costs milliseconds. Each pattern needs certain words
("radera", "samtycke", "unsubscribe") to match at all; they are derived here from the
pattern's own syntax tree once, at import, and a text whose words hold none of them is not
searched. Deriving them from the pattern, instead of listing them by hand beside it, keeps
the two from drifting apart; tests/test_prefilter.py checks on the corpus that no match is
ever skipped.

Deriving them takes about a second and a half for all the classifier's patterns, at every
start of noxbot (a command, `noxbot run`, a restart after a crash): what they give is kept
in data/prefilters.json, looked up by the pattern's source, and a pattern not in it (new or
changed) is derived as before. `bench/write_prefilters.py` writes the file again;
tests/test_prefilter.py fails when it no longer says what deriving would.

A requirement is a set of alternatives, any one of which every match contains, each over
the text's runs of ASCII letters (its "words"): a whole word ("mig"), the start of a word
("nyhetsbrev" before `\\w*`), the end of one, a part of one, or failing all that a raw
substring. A pattern whose tree holds anything this module does not know is simply always
run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import re._constants as sre  # the standard library's own regex parser (Python 3.11+)
import re._parser as sre_parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: The text's words, as the requirements see them.
WORD = re.compile(r"[a-z]+")
#: How many requirements of a pattern are kept (the cheapest and most telling).
_KEPT = 6
#: How many requirements one run of simple items gives at most.
_ROUNDS = 4
#: Expansions of a run of simple pattern items beyond this many strings are not made.
_MAX_STRINGS = 400

# Kinds of requirement, ranked for which of a pattern's requirements are kept (_cost).
WHOLE, START, END, PART, RAW = "whole", "start", "end", "part", "raw"
_RANK = {WHOLE: 0, START: 1, END: 1, PART: 2, RAW: 3}

Atom = tuple[str, str]  # (kind, letters or raw text)


class _Unknown(Exception):
    """A construct the analysis does not know: the pattern gets no requirement."""


def _class_may_hold_letter(items: list) -> bool:
    """Whether a character class (IN) can match any of a-z; True when unsure."""
    negate = bool(items) and items[0][0] is sre.NEGATE
    members = items[1:] if negate else items

    def member(letter: int) -> bool:
        for op, av in members:
            if op is sre.LITERAL and av == letter:
                return True
            if op is sre.RANGE and av[0] <= letter <= av[1]:
                return True
            if op is sre.CATEGORY:
                if av in (sre.CATEGORY_WORD, sre.CATEGORY_NOT_DIGIT, sre.CATEGORY_NOT_SPACE):
                    return True
                if av in (sre.CATEGORY_NOT_LINEBREAK, sre.CATEGORY_UNI_NOT_LINEBREAK):
                    return True
                if av not in (
                    sre.CATEGORY_DIGIT,
                    sre.CATEGORY_SPACE,
                    sre.CATEGORY_NOT_WORD,
                    sre.CATEGORY_LINEBREAK,
                    sre.CATEGORY_UNI_LINEBREAK,
                ):
                    return True  # unknown category: it may
            elif op not in (sre.LITERAL, sre.RANGE):
                return True
        return False

    return any(member(letter) != negate for letter in range(ord("a"), ord("z") + 1))


def _may_be_letter(op: object, av: object) -> bool:
    """Whether one item, matching at least one character, can match a letter a-z."""
    if op is sre.LITERAL:
        return ord("a") <= av <= ord("z")  # type: ignore[operator]
    if op is sre.IN:
        return _class_may_hold_letter(av)  # type: ignore[arg-type]
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, _, item = av  # type: ignore[misc]
        return low == 0 or any(_may_be_letter(o, a) for o, a in item.data)
    return True


def _expand(items: Iterable[tuple[object, object]]) -> set[str] | None:
    """Every string a run of simple items can match, or None when they are not simple or
    too many (zero-width assertions count as the empty string: a superset is safe)."""
    strings = {""}
    for op, av in items:
        choices = _expand_item(op, av)
        if choices is None or len(strings) * len(choices) > _MAX_STRINGS:
            return None
        strings = {a + b for a, b in itertools.product(strings, choices)}
    return strings


def _expand_item(op: object, av: object) -> set[str] | None:
    if op is sre.LITERAL:
        return {chr(av)}  # type: ignore[arg-type]
    if op is sre.AT:
        return {""}
    if op is sre.IN:
        chars: set[str] = set()
        for member_op, member in av:  # type: ignore[attr-defined]
            if member_op is sre.LITERAL:
                chars.add(chr(member))
            elif member_op is sre.RANGE and member[1] - member[0] < 8:
                chars.update(chr(c) for c in range(member[0], member[1] + 1))
            else:
                return None
        return chars
    if op is sre.SUBPATTERN:
        _, add_flags, del_flags, inner = av  # type: ignore[misc]
        if add_flags or del_flags:
            return None
        return _expand(inner.data)
    if op is sre.BRANCH:
        union: set[str] = set()
        for branch in av[1]:  # type: ignore[index]
            expanded = _expand(branch.data)
            if expanded is None:
                return None
            union |= expanded
        return union
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, high, item = av  # type: ignore[misc]
        if high > 1:
            return None
        inner = _expand(item.data)
        if inner is None:
            return None
        return inner | {""} if low == 0 else inner
    return None


def _candidates(string: str, bounded_left: bool, bounded_right: bool) -> list[Atom]:
    """What a match that holds `string` at this place certainly contains: each run of
    letters (a whole word when nothing can touch it), or the string itself."""
    found: list[Atom] = []
    for run in WORD.finditer(string):
        left = run.start() > 0 or bounded_left
        right = run.end() < len(string) or bounded_right
        found.append(
            (WHOLE if left and right else START if left else END if right else PART, run.group())
        )
    return found or ([(RAW, string)] if string else [])


def _atoms(strings: set[str], bounded_left: bool, bounded_right: bool) -> list[Requirement]:
    """Requirements of a set of strings, each one atom per string: chosen so that few atoms
    cover them all (the words the strings share), cheap kinds and long words first; then
    again from the atoms not yet chosen (a string that has none left gives its last one
    again), while some string has atoms left. None when a string can be empty
    (it holds nothing to require)."""
    candidates = [_candidates(s, bounded_left, bounded_right) for s in strings]
    if not all(candidates):
        return []
    last: list[Atom] = [atoms[0] for atoms in candidates]
    found: list[Requirement] = []
    while any(candidates) and len(found) < _ROUNDS:
        shared: dict[Atom, int] = {}
        for atoms in candidates:
            for atom in set(atoms):
                shared[atom] = shared.get(atom, 0) + 1
        last = [
            min(atoms, key=lambda a: (_common(a[1]), _RANK[a[0]], -shared[a], -len(a[1]), a[1]))
            if atoms
            else previous
            for atoms, previous in zip(candidates, last, strict=True)
        ]
        found.append(frozenset(last))
        candidates = [[a for a in atoms if a not in last] for atoms in candidates]
    return found


#: Words in nearly every message: a requirement of them rules little out.
_COMMON = """
    a an and ar are as at av be by can de den det du en er ett for from har have i if in
    is it jag kan med min mina mitt my ni not nu of om on or pa please s som ska t that the
    this till to ut var vara vi vill was we will with would you your
"""
_COMMON_WORDS = frozenset(_COMMON.split())


def _common(word: str) -> bool:
    return word in _COMMON_WORDS


def _left_bounded(items: list, index: int, outer: bool) -> bool:
    """Whether the character before items[index] can never be a letter a-z."""
    if index == 0:
        return outer
    op, av = items[index - 1]
    if op is sre.AT:
        return av in (sre.AT_BOUNDARY, sre.AT_BEGINNING, sre.AT_BEGINNING_STRING)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] == 0:
        return False
    if op in (sre.SUBPATTERN, sre.BRANCH, sre.ASSERT, sre.ASSERT_NOT):
        return False
    return not _may_be_letter(op, av)


def _right_bounded(items: list, index: int, outer: bool) -> bool:
    """Whether the character after items[index - 1] can never be a letter a-z."""
    if index == len(items):
        return outer
    op, av = items[index]
    if op is sre.AT:
        return av in (sre.AT_BOUNDARY, sre.AT_END, sre.AT_END_STRING)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] == 0:
        return False
    if op in (sre.SUBPATTERN, sre.BRANCH, sre.ASSERT, sre.ASSERT_NOT):
        return False
    return not _may_be_letter(op, av)


Requirement = frozenset[Atom]  # one of these atoms is in every match
#: Items that require nothing this module can name (a class, an optional part, a lookaround).
_NO_REQUIREMENT = (
    sre.IN,
    sre.ANY,
    sre.NOT_LITERAL,
    sre.MAX_REPEAT,
    sre.MIN_REPEAT,
    sre.POSSESSIVE_REPEAT,
    sre.ASSERT,
    sre.ASSERT_NOT,
)


def _run_requirements(
    items: list, start: int, end: int, left: bool, right: bool
) -> list[Requirement]:
    """Requirements of a run of simple items, cut into pieces whose strings are few enough
    to list."""
    found: list[Requirement] = []
    while start < end:
        stop = start + 1
        strings = _expand(items[start:stop])
        while stop < end and (longer := _expand(items[start : stop + 1])) is not None:
            strings, stop = longer, stop + 1
        if strings is not None:
            lb, rb = _left_bounded(items, start, left), _right_bounded(items, stop, right)
            found.extend(_atoms(strings, lb, rb))
        start = stop
    return found


def _requirements(items: list, left: bool, right: bool) -> list[Requirement]:
    """Requirements every match of a sequence of items meets (each one on its own)."""
    found: list[Requirement] = []
    index = 0
    while index < len(items):
        op, av = items[index]
        if op is sre.AT:
            index += 1
            continue
        end = index
        while end < len(items) and items[end][0] is not sre.AT and _expand([items[end]]):
            end += 1
        if end > index:  # a run of simple items: the strings it can be, piece by piece
            found.extend(_run_requirements(items, index, end, left, right))
            if end < len(items) and items[end][0] is sre.BRANCH:
                # "h(?:ur …|ow …)": the parser took the branches' common start out of them;
                # put it back, so that each branch starts with whole words again.
                lb, rb = _left_bounded(items, index, left), _right_bounded(items, end + 1, right)
                found.extend(
                    _either(
                        [_requirements(items[index:end] + b.data, lb, rb) for b in items[end][1][1]]
                    )
                )
            index = end
            continue
        lb, rb = _left_bounded(items, index, left), _right_bounded(items, index + 1, right)
        if op is sre.SUBPATTERN:
            _, add_flags, del_flags, inner = av
            if not (add_flags or del_flags):
                found.extend(_requirements(inner.data, lb, rb))
        elif op is sre.BRANCH:
            found.extend(_either([_requirements(b.data, lb, rb) for b in av[1]]))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
            found.extend(_requirements(av[2].data, False, False))
        elif op not in _NO_REQUIREMENT:
            raise _Unknown(str(op))
        index += 1
    return found


def _either(branches: list[list[Requirement]]) -> list[Requirement]:
    """Requirements met by a match of any branch: each branch's best one together, then
    each one's second best (or its best again) together, and so on; none when a branch
    has no requirement."""
    if not branches or not all(branches):
        return []
    ranked = [sorted(set(requirements), key=_best_first) for requirements in branches]
    found: list[Requirement] = []
    for place in range(min(_ROUNDS, max(map(len, ranked)))):
        atoms: set[Atom] = set()
        for requirements in ranked:
            atoms |= requirements[min(place, len(requirements) - 1)]
        found.append(frozenset(atoms))
    return found


def _best_first(requirement: Requirement) -> tuple[tuple[int, int, int], list[Atom]]:
    """By cost, then by the atoms themselves: the same order whatever a set's (which
    changes with the interpreter's hash seed), so the file and a fresh derivation agree."""
    return _cost(requirement), sorted(requirement)


def _cost(requirement: Requirement) -> tuple[int, int, int]:
    """Lower is better: cheap kinds, few common words, few alternatives."""
    worst = max(_RANK[kind] for kind, _ in requirement)
    common = sum(1 for _, text in requirement if _common(text))
    return (worst, common, len(requirement))


@dataclass(frozen=True)
class Prefilter:
    """The requirements of one pattern, best first; empty when it has none (always run)."""

    requirements: tuple[Requirement, ...]
    #: Its requirements' bits in _TABLE, those of them looked for in the raw text (which
    #: a word's bits cannot tell) with their bits, and those bits together.
    bits: int = field(init=False, repr=False, compare=False)
    raw: tuple[tuple[int, Requirement], ...] = field(init=False, repr=False, compare=False)
    raw_bits: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bits, raw = _TABLE.add(self.requirements)
        object.__setattr__(self, "bits", bits)
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "raw_bits", sum(bit for bit, _ in raw))

    def may_match(self, words: Words) -> bool:
        """False only when the pattern certainly cannot match the text of `words`."""
        unmet = self.bits & ~words.met()
        if not unmet:
            return True
        if unmet & ~self.raw_bits:
            return False
        return all(words.meets(need) for bit, need in self.raw if unmet & bit)


def prefilter(pattern: re.Pattern[str] | str) -> Prefilter:
    """The requirements of a pattern compiled without flags (else none: always run)."""
    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    flags = pattern.flags & ~re.UNICODE if isinstance(pattern, re.Pattern) else 0
    if flags or not isinstance(source, str):
        return Prefilter(())
    _ASKED.append(source)
    kept = _derived_before().get(source)
    if kept is not None:
        return Prefilter(kept)
    return Prefilter(derive(source))


def derive(source: str) -> tuple[Requirement, ...]:
    """A pattern's requirements, read from its syntax tree (none when it holds what this
    module does not know), best first: the _KEPT best are kept, and a few are enough to
    rule out nearly everything."""
    try:
        parsed = sre_parse.parse(source)
        if parsed.state.flags & ~re.UNICODE:
            return ()
        requirements = _requirements(list(parsed.data), False, False)
    except (_Unknown, re.error, AttributeError, TypeError, ValueError, IndexError):
        return ()
    return tuple(sorted(set(requirements), key=_best_first)[:_KEPT])


#: What derive gave for each pattern, kept beside this module (see the module's docstring).
DERIVED_FILE = Path(__file__).with_name("data") / "prefilters.json"
#: The sources of the patterns asked for since import (what the file is written from).
_ASKED: list[str] = []
_DERIVED: dict[str, tuple[Requirement, ...]] | None = None


def _derived_before() -> dict[str, tuple[Requirement, ...]]:
    """The file's requirements by source; none when it is missing, not what this module
    would derive (it was written by another version of it) or not of the shape derive
    gives: then every pattern is derived, as before the file. A requirement the file
    got wrong would skip a pattern that matches; one it cannot hold is no reason not to
    start."""
    global _DERIVED
    if _DERIVED is None:
        try:
            kept = json.loads(DERIVED_FILE.read_text(encoding="utf-8"))
            fresh = isinstance(kept, dict) and kept.get("derivation") == _derivation()
            _DERIVED = _checked(kept["patterns"]) if fresh else {}
        except (OSError, ValueError, KeyError, TypeError):
            _DERIVED = {}
    return _DERIVED


def _derivation(source: bytes | None = None) -> str:
    """What derives the requirements: this module's own text, `source` by default (a file
    written by another version of it is not used). Its line ends do not count: a checkout
    with CRLF line ends (git's autocrlf on Windows) is the same version."""
    text = Path(__file__).read_bytes() if source is None else source
    return hashlib.sha256(text.replace(b"\r\n", b"\n")).hexdigest()[:16]


def _checked(patterns: object) -> dict[str, tuple[Requirement, ...]]:
    """The file's patterns as derive gives requirements; ValueError for anything else (a
    requirement of no atom, a kind this module does not know, an empty word)."""
    if not isinstance(patterns, dict):
        raise ValueError("patterns: not an object")
    found: dict[str, tuple[Requirement, ...]] = {}
    for source, requirements in patterns.items():
        if not isinstance(requirements, list) or len(requirements) > _KEPT:
            raise ValueError("requirements: not a list of at most _KEPT")
        checked = []
        for requirement in requirements:
            if not isinstance(requirement, list) or not requirement:
                raise ValueError("a requirement: not a list of atoms")
            atoms = set()
            for atom in requirement:
                if not (isinstance(atom, list) and len(atom) == 2 and atom[0] in _RANK):
                    raise ValueError("an atom: not [kind, text]")
                if not isinstance(atom[1], str) or not atom[1]:
                    raise ValueError("an atom: no text")
                if atom[0] != RAW and not WORD.fullmatch(atom[1]):  # words are runs of a-z
                    raise ValueError("an atom: a word of other characters than a-z")
                atoms.add((atom[0], atom[1]))
            checked.append(frozenset(atoms))
        found[source] = tuple(checked)
    return found


def derived_file_text(sources: Iterable[str]) -> str:
    """The file's text for these patterns, each derived afresh."""
    lines = [
        f"{json.dumps(source)}: {json.dumps([sorted(r) for r in derive(source)])}"
        for source in sorted(set(sources))
    ]
    head = f'{{"derivation": {json.dumps(_derivation())}, "patterns": {{\n'
    return head + ",\n".join(lines) + "\n}}\n"  # a line per pattern


def _split(requirement: Requirement) -> tuple[frozenset[str], tuple[Atom, ...]]:
    """A requirement's whole words, and its other atoms as (kind, what to look for): raw
    text in the text, the start or end of a word (or a part of one) in the words joined by
    blanks (Words.meets)."""
    wholes = frozenset(value for kind, value in requirement if kind == WHOLE)
    probes = {START: " {}", END: "{} ", PART: "{}", RAW: "{}"}
    others = tuple(
        (kind, probes[kind].format(value)) for kind, value in requirement if kind != WHOLE
    )
    return wholes, others


#: Each requirement met so far, split by _split once (requirements are made at import).
_SPLIT: dict[Requirement, tuple[frozenset[str], tuple[Atom, ...]]] = {}


class _Table:
    """Every requirement of every prefilter, a bit each, and for each word the bits of the
    requirements it meets: worked out once for a word (its starts, ends and parts looked
    up), then found in a dict. A text's bits are then its words' together, and a pattern
    may match when its requirements' bits are all among them — a few integer operations
    where checking each requirement against the text took microseconds. Words recur from
    mail to mail, so nearly every word is found; the dict is emptied when it grows past
    WORDS_KEPT, and a word longer than LONG_WORD is not kept (a mail of many invented
    words costs its own lookups, and no memory)."""

    WORDS_KEPT = 8_192  # ~120 bytes a word, ~190 at LONG_WORD letters: at most ~1.5 MB
    #: Words longer than this are neither kept nor looked at pair by pair (see word_bits).
    LONG_WORD = 64

    def __init__(self) -> None:
        self.count = 0  # bits given so far
        self.generation = 0  # changes whenever bits are given: a text's bits are then stale
        self.whole: dict[str, int] = {}
        self.start: dict[str, int] = {}
        self.end: dict[str, int] = {}
        self.part: dict[str, int] = {}
        self.start_lengths: tuple[int, ...] = ()
        self.end_lengths: tuple[int, ...] = ()
        #: The parts by their first two letters (a word's pairs of letters name the few
        #: parts it may hold: ~150 substring searches a word were most of a new word's
        #: cost), and the parts of one letter.
        self.parts_by_pair: dict[str, list[tuple[str, int]]] = {}
        self.short_parts: list[tuple[str, int]] = []
        self.words: dict[str, int] = {}
        self.given: dict[tuple[Requirement, ...], tuple[int, tuple]] = {}

    def add(
        self, requirements: tuple[Requirement, ...]
    ) -> tuple[int, tuple[tuple[int, Requirement], ...]]:
        """The bits of these requirements (the same ones for the same requirements), and
        those of the requirements holding raw text, which a word's bits cannot tell."""
        if requirements in self.given:
            return self.given[requirements]
        bits, raw = 0, []
        tables = {WHOLE: self.whole, START: self.start, END: self.end, PART: self.part}
        for requirement in requirements:
            bit = 1 << self.count
            self.count += 1
            bits |= bit
            for kind, value in requirement:
                if kind != RAW:
                    tables[kind][value] = tables[kind].get(value, 0) | bit
            if any(kind == RAW for kind, _ in requirement):
                raw.append((bit, requirement))
        self.start_lengths = tuple(sorted({len(value) for value in self.start}))
        self.end_lengths = tuple(sorted({len(value) for value in self.end}))
        self.parts_by_pair, self.short_parts = {}, []
        for part, part_bits in self.part.items():
            if len(part) < 2:
                self.short_parts.append((part, part_bits))
            else:
                self.parts_by_pair.setdefault(part[:2], []).append((part, part_bits))
        self.words.clear()
        self.generation += 1
        self.given[requirements] = bits, tuple(raw)
        return bits, tuple(raw)

    def word_bits(self, word: str) -> int:
        """The bits of the requirements one word meets (its raw-text ones aside)."""
        bits = self.whole.get(word, 0)
        size = len(word)
        start, end, by_pair = self.start.get, self.end.get, self.parts_by_pair.get
        for length in self.start_lengths:
            if length > size:
                break
            if found := start(word[:length]):
                bits |= found
        for length in self.end_lengths:
            if length > size:
                break
            if found := end(word[-length:]):
                bits |= found
        if size > self.LONG_WORD:  # one search a part (in C) costs less than a step a letter
            for part, part_bits in self.part.items():
                if part in word:
                    bits |= part_bits
            return bits
        for index in range(size - 1):
            for part, part_bits in by_pair(word[index : index + 2], ()):
                if word.startswith(part, index):
                    bits |= part_bits
        for part, part_bits in self.short_parts:
            if part in word:
                bits |= part_bits
        return bits

    def text_bits(self, words: Iterable[str]) -> int:
        """The bits of the requirements some word of a text meets."""
        known = self.words
        if len(known) > self.WORDS_KEPT:
            known.clear()
        bits = 0
        for word in words:
            word_bits = known.get(word)
            if word_bits is None:
                word_bits = self.word_bits(word)
                if len(word) <= self.LONG_WORD:  # a longer one is no word a person wrote
                    known[word] = word_bits
            bits |= word_bits
        return bits


_TABLE = _Table()


class Words:
    """A text's words (runs of a-z), and the checks of a requirement against them."""

    def __init__(self, text: str, words: Iterable[str] | None = None) -> None:
        self.text = text
        self.words = frozenset(WORD.findall(text) if words is None else words)
        self._joined: str | None = None
        self._met = (-1, 0)  # (_TABLE's generation, the bits of the requirements met)

    def met(self) -> int:
        """The bits (in _TABLE) of the requirements the words meet, raw-text ones aside."""
        generation, bits = self._met
        if generation != _TABLE.generation:
            bits = _TABLE.text_bits(self.words)
            self._met = (_TABLE.generation, bits)
        return bits

    def meets(self, requirement: Requirement) -> bool:
        """Whether the text meets one requirement: the definition met() gives in bits."""
        split = _SPLIT.get(requirement)
        if split is None:
            split = _SPLIT[requirement] = _split(requirement)
        wholes, others = split
        if not self.words.isdisjoint(wholes):  # one set operation for all the whole words
            return True
        for kind, probe in others:
            if kind == RAW:
                if probe in self.text:
                    return True
            else:
                if self._joined is None:
                    self._joined = " " + " ".join(self.words) + " "
                if probe in self._joined:
                    return True
        return False


class PrefilterIndex:
    """Many patterns' prefilters at once: the patterns whose requirements' bits are all
    among a text's, in one pass of integer operations."""

    def __init__(self, prefilters: list[Prefilter]) -> None:
        self.prefilters = prefilters
        self._bits = [(index, need.bits) for index, need in enumerate(prefilters) if not need.raw]
        self._raw = [index for index, need in enumerate(prefilters) if need.raw]

    def possible(self, words: Words) -> set[int]:
        """The indexes of the patterns that may match the text of `words`."""
        unmet = ~words.met()
        found = {index for index, bits in self._bits if not bits & unmet}
        found.update(index for index in self._raw if self.prefilters[index].may_match(words))
        return found
