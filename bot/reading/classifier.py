"""Which GDPR rights a message asks for, in Swedish or English, with the phrases that show it.

Rules over folded text (lower case, no diacritics, one-letter typos in key words mended),
clause by clause:
1. auto-replies, bounces and newsletters are `none` whatever words they contain;
2. each kind has phrase patterns; a generic verb (ta bort, delete, ändra, update) counts
   only with a personal-data object (mina uppgifter, my data, my profile, mig/me …);
3. a negation earlier in the same clause cancels a verb ("jag vill inte att ni raderar
   något, bara rätta mitt efternamn" is rectification only) — except in patterns that are
   negative by nature ("vill inte ha fler utskick");
4. confidence comes from how strong the strongest evidence is; staff triage what is weak.
Pure and fast: patterns are compiled once at import.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.reading.identity_numbers import DEFAULT_MASK
from bot.reading.language import detect_language
from bot.reading.learned_model import (
    FEATURES_VERSION,
    HALF,
    MULTI_FLOOR,
    RIGHTS,
    Estimate,
    LinearModel,
    MessageFeatures,
    Signals,
    message_features,
    part_features,
    shipped_model,
    tokens,
    word_features,
)
from bot.reading.prefilter import Prefilter, PrefilterIndex, Words, prefilter
from bot.reading.text import visible_text
from bot.rules.kinds import RequestKind

K = RequestKind
TRIAGE_THRESHOLD = 0.6
STRONG, WEAK = 1.0, 0.6


@dataclass(frozen=True)
class Classification:
    kinds: tuple[RequestKind, ...]
    language: str
    confidence: float
    evidence: tuple[str, ...]

    @property
    def is_request(self) -> bool:
        return self.kinds != (RequestKind.NONE,)

    @property
    def needs_triage(self) -> bool:
        return self.confidence < TRIAGE_THRESHOLD

    def to_json(self) -> dict[str, object]:
        return {
            "kinds": [str(k) for k in self.kinds],
            "language": self.language,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
        }


# --- folding and typo repair ----------------------------------------------------------------


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    lowered = char.lower()
    if len(lowered) != 1:
        return char
    decomposed = unicodedata.normalize("NFKD", lowered)
    base = decomposed[0] if decomposed else lowered
    return base if base.isascii() or base.isalpha() else lowered


_ASCII_RUNS = re.compile(r"[\x00-\x7f]+")


def fold(text: str) -> str:
    """Lower case without diacritics, one character for one (offsets stay valid)."""
    if text.isascii():
        return text.lower()
    # Each distinct character once instead of every character (a mail has a handful of
    # distinct non-ASCII ones), then ASCII lowered in one call; the same result as
    # _fold_char over every character unless a folded character would change again.
    folded = text
    for char in set(_ASCII_RUNS.sub("", text)):
        base = _fold_char(char)
        if base.lower() != base or _fold_char(base) != base:
            return "".join(_fold_char(c) for c in text)
        folded = folded.replace(char, base)
    return folded.lower()


# Key words whose one-letter typos are mended; their inflections are listed so that a real
# word is never "mended" into another.
_VOCABULARY = frozenset(
    [
        "radera",
        "raderar",
        "raderas",
        "raderat",
        "radering",
        "raderade",
        "personuppgifter",
        "personuppgift",
        "uppgifter",
        "uppgifterna",
        "registerutdrag",
        "registret",
        "register",
        "nyhetsbrev",
        "nyhetsbrevet",
        "nyhetsbreven",
        "utskick",
        "utskicken",
        "samtycke",
        "samtycket",
        "aterkallar",
        "aterkalla",
        "aterkallelse",
        "invander",
        "invanda",
        "invandning",
        "begransa",
        "begransar",
        "begransning",
        "behandling",
        "behandlingen",
        "profilering",
        "portabilitet",
        "dataportabilitet",
        "telefonnummer",
        "mobilnummer",
        "efternamn",
        "fornamn",
        "avregistrera",
        "avregistrerar",
        "klagomal",
        "klagomalet",
        "marknadsforing",
        "reklam",
        "erbjudanden",
        "integritetsskyddsmyndigheten",
        "datainspektionen",
        "skadestand",
        "profil",
        "profilen",
        "organisationsnummer",
        "foretagsnamn",
        "bolagsnamn",
        "kopia",
        "information",
        "informationen",
        "delete",
        "deleted",
        "deleting",
        "deletion",
        "remove",
        "removed",
        "removal",
        "erase",
        "erased",
        "erasure",
        "personal",
        "newsletter",
        "newsletters",
        "unsubscribe",
        "unsubscribed",
        "consent",
        "withdraw",
        "withdrawing",
        "withdrawn",
        "revoke",
        "restrict",
        "restricted",
        "restriction",
        "processing",
        "portability",
        "profiling",
        "object",
        "objection",
        "objecting",
        "complaint",
        "complain",
        "marketing",
        "rectify",
        "rectification",
        "correct",
        "correction",
        "update",
        "updated",
        "forgotten",
        "database",
        "records",
        "account",
        "profile",
        "everything",
    ]
)


# Real words one letter away from a key word: never "mended" ("använda" is not "invända").
_KNOWN_WORDS = """
    anvanda anvander anvands anvant anvandes anvandare profiles profiler erbjudande
    accounts objects objected corrects updates removes records recorded personen
    uppgift uppgiften registrera registrerad
"""
_KNOWN = frozenset(_KNOWN_WORDS.split())


@lru_cache(maxsize=1)
def _deletion_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for word in sorted(_VOCABULARY):
        if len(word) < 5:
            continue
        for i in range(len(word)):
            index.setdefault(word[:i] + word[i + 1 :], word)
    return index


_TOKEN = re.compile(r"[a-z]+")


# A token one typo away from a key word is at most one letter longer than the longest one;
# looking no further keeps mending linear (each try rebuilds the token: a 40,000-letter
# "word" took seconds).
_LONGEST_MENDABLE = max(map(len, _VOCABULARY)) + 1


# (8,192: mail of words never seen fills it; bot.reading.learned_model.WORD_CACHE says why.)
@lru_cache(maxsize=8192)
def _mend(token: str) -> str:
    """The key word a token is one typo away from (or the token itself)."""
    if len(token) < 5 or token in _VOCABULARY or token in _KNOWN:
        return token
    index = _deletion_index()
    if token in index:  # a letter missing: "uppgifer"
        return index[token]
    for i in range(len(token)):
        shorter = token[:i] + token[i + 1 :]
        if shorter in _VOCABULARY:  # a letter too many: "raderra"
            return shorter
        if shorter in index and len(index[shorter]) == len(token):  # one letter wrong
            return index[shorter]
    return token


# Every ASCII character but a-z, to a space: an ASCII text's runs of a-z are then its
# words split on white space (several times faster than the pattern).
_NOT_LETTERS = {code: " " for code in range(128) if not 97 <= code <= 122}


def _words(folded: str) -> list[str]:
    """_TOKEN.findall(folded)."""
    if folded.isascii():
        return folded.translate(_NOT_LETTERS).split()
    return _TOKEN.findall(folded)


def _mended(folded: str) -> tuple[str, list[int] | None]:
    """Folded text with typos mended, and for each of its characters the original index
    (None when nothing was mended: the indexes are then the same, which is the usual case)."""
    mended, origin, _ = _mended_words(folded)
    return mended, origin


def _mended_words(folded: str) -> tuple[str, list[int] | None, Words]:
    """_mended, and the words of the mended text (for the patterns' prefilters). Each
    distinct word is looked at once; the text is rebuilt only when one is mended."""
    words = set(_words(folded))
    repaired = {
        word: mended
        for word in words
        if len(word) <= _LONGEST_MENDABLE and (mended := _mend(word)) != word
    }
    if not repaired:
        return folded, None, Words(folded, words)
    words.difference_update(repaired)
    words.update(repaired.values())
    mended, origin = _rebuilt(folded)
    return mended, origin, Words(mended, words)


def _rebuilt(folded: str) -> tuple[str, list[int]]:
    changes = [
        (match.span(), mended)
        for match in _TOKEN.finditer(folded)
        if len(match.group(0)) <= _LONGEST_MENDABLE
        and (mended := _mend(match.group(0))) != match.group(0)
    ]
    out: list[str] = []
    origin: list[int] = []
    position = 0
    for (start, end), word in changes:
        out.append(folded[position:start])
        origin.extend(range(position, start))
        out.append(word)
        origin.extend(min(start + i, end - 1) for i in range(len(word)))
        position = end
    out.append(folded[position:])
    origin.extend(range(position, len(folded)))
    return "".join(out), origin


# --- patterns -------------------------------------------------------------------------------

# Personal-data objects (folded).
_ME_SV = r"(?:mig|mej|mina (?:person)?uppgifter|mina data|min data|mitt cv|min profil|mitt konto|mina kontaktuppgifter|allt om (?:mig|mej)|all (?:min )?information om (?:mig|mej)|(?:alla )?(?:person)?uppgifter(?:na)? (?:om|pa) (?:mig|mej)|min information)"
_ME_EN = r"(?:me|my (?:personal )?(?:data|information|info|details|profile|account|cv|records?)|all (?:of )?my (?:personal )?(?:data|information|details)|everything (?:you (?:have|hold) )?(?:about|on) me|(?:any|all) (?:personal )?(?:data|information) (?:you (?:have|hold|store) )?(?:about|on) me)"
_FIELD_SV = r"(?:namn|efternamn|fornamn|telefon(?:nummer)?|tel\.? ?nr|tfn|mobil(?:nummer)?|nummer|e-?post(?:adress)?|mejl(?:adress)?|mail(?:adress)?|epostadress|adress|foretag(?:snamn)?|bolag(?:snamn)?|org(?:anisations)?\.? ?(?:nr|nummer)|organisationsnummer|cv|profil|titel|roll|kompetens\w*|uppgifter|tillganglighet)"
_FIELD_EN = r"(?:name|surname|last name|first name|family name|phone(?: number)?|number|mobile(?: number)?|e-?mail(?: address)?|address|company(?: name)?|org(?:anisation|anization)? number|cv|profile|details|data|information|title|role|availability)"

_P: dict[RequestKind, list[tuple[str, float, bool]]] = {
    # (pattern, weight, survives negation)
    K.ACCESS: [
        (
            r"\b(?:vad|va) (?:har|vet|sparar|lagrar|haller) ni (?:\w+ ){0,3}?(?:om|pa|kring) (?:mig|mej)",
            STRONG,
            False,
        ),
        (
            r"\b(?:vad|va) (?:ni )?(?:\w+ )?(?:har|sparar|lagrar|vet) (?:ni )?(?:\w+ )?(?:for|om) (?:uppgifter|information|data|info)? ?(?:om|pa|kring) (?:mig|mej)",
            STRONG,
            False,
        ),
        (
            r"\b(?:vilka|vilken|vad for) (?:typ av |slags )?(?:information|(?:person)?uppgifter|data) (?:ni )?(?:har|sparar|lagrar|behandlar)(?: ni)? (?:om|pa|kring) (?:mig|mej)",
            STRONG,
            False,
        ),
        (
            r"\b(?:vilka|vilken) (?:kunder|foretag|bolag|personer|mottagare)\b[^.!?\n]{0,30}?\b(?:mitt cv|mina uppgifter|min profil)",
            STRONG,
            False,
        ),
        (
            r"\bwho (?:have you|did you|has nox) (?:sent|shared|given|passed|disclosed) my",
            STRONG,
            False,
        ),
        (
            r"\bwhat (?:is|data is|information is|do you have) (?:stored|kept|held|saved|registered) (?:about|on) me",
            STRONG,
            False,
        ),
        (
            r"\b(?:send|give|show) me (?:a copy of )?(?:everything|all|all the data|all the information) (?:you have|you hold|you've got|you keep|stored) (?:on|about) me",
            STRONG,
            False,
        ),
        (
            r"\bcopy of (?:everything|all (?:the )?(?:data|information)) (?:you (?:have|hold|store))",
            STRONG,
            False,
        ),
        (r"registerutdrag|registreringsutdrag", STRONG, False),
        (
            r"\b(?:utdrag|kopia|en kopia) (?:av|pa|ur) (?:alla |de |mina )?(?:person)?uppgifter",
            STRONG,
            False,
        ),
        (
            r"\b(?:vad|vilka|vilken|vilken typ av) (?:information|(?:person)?uppgifter|data|info)(?: som)? (?:har|sparar|lagrar|behandlar|haller) ni(?: lagrat| sparat| registrerat)? (?:om|pa|kring|gallande) (?:mig|mej)",
            STRONG,
            False,
        ),
        (
            r"\bvad (?:har|vet|sparar|lagrar) ni (?:for (?:uppgifter|information|data) )?(?:om|pa) (?:mig|mej)",
            STRONG,
            False,
        ),
        (
            r"\b(?:fa|se|ta del av|fa ut|far ut|ha ut|fa se|fa ta del av|fa tillgang till|begara ut|begar ut) (?:en kopia (?:av|pa) )?(?:alla |de |vilka )?(?:mina (?:person)?uppgifter|(?:person)?uppgifter(?:na)? (?:ni har )?(?:om|pa) (?:mig|mej)|vad ni har (?:om|pa) (?:mig|mej))",
            STRONG,
            False,
        ),
        (
            r"\b(?:ratt(?:en)? till|begar(?:an)? om) (?:tillgang|insyn)|\bartikel 15\b|\bart\.? ?15\b",
            STRONG,
            False,
        ),
        (r"\bvilka uppgifter (?:finns|har ni) (?:om|pa|registrerade)", STRONG, False),
        (
            r"\bwhat (?:personal )?(?:data|information|info|details)(?: do| does)? (?:you|nox)(?: have| hold| store| keep| process| collect)? (?:about|on|of|regarding) me",
            STRONG,
            False,
        ),
        (
            r"\bwhat (?:do you|does nox) (?:have|hold|know|store|keep) (?:about|on) me",
            STRONG,
            False,
        ),
        (
            r"\b(?:which|what) (?:personal )?(?:data|information)(?: of mine)? (?:do you|you) (?:have|hold|store|keep)",
            STRONG,
            False,
        ),
        (
            r"\b(?:copy|copies|access|export|extract|overview|list) (?:to|of|over) (?:all )?(?:the |my )?(?:personal )?(?:data|information|details|info|records)(?: (?:you|that you) (?:have|hold|store|keep))?(?: (?:about|on) me)?",
            WEAK,
            False,
        ),
        (
            r"\b(?:send|give|provide|show) me (?:a copy of )?(?:all )?(?:the |my )(?:personal )?(?:data|information|details)(?: you (?:have|hold|store))?",
            STRONG,
            False,
        ),
        (r"\bsubject access request|\bdsar\b|\bright of access|\barticle 15\b", STRONG, False),
        (r"\bvad har ni om (?:mig|mej)", STRONG, False),
        (r"\bwhat (?:data|info|information) (?:do )?you (?:got|have) on me", STRONG, False),
    ],
    K.RECTIFICATION: [
        (rf"\b(?:mitt|min|mina) nya {_FIELD_SV}", STRONG, False),
        (
            r"\b(?:min|mitt) gamla \w+\b[^.!?\n]{0,40}?\b(?:den nya|det nya|nya)\b|\blagg(?:a)? in (?:den |det |min |mitt )?nya",
            STRONG,
            False,
        ),
        (
            rf"\bmy (?:\w+ )?{_FIELD_EN} (?:is|was) (?:spelled|spelt|written) (?:wrong\w*|incorrectly)",
            STRONG,
            True,
        ),
        (
            r"\b(?:ratta|andra|uppdatera|byt|byta|byter|korrigera)\w*\b[^.!?\n]{0,40}?\b(?:i|pa) (?:min|mitt) (?:profil|cv|konto)",
            STRONG,
            False,
        ),
        (
            r"\b(?:ratta|uppdatera|korrigera) (?:\w+)?(?:listan|lista|uppgifterna|uppgifter)\b",
            STRONG,
            False,
        ),
        (r"\bbyt(?:a|er)? ut (?:mitt |det gamla )?(?:cv|cv:t)|\bdet star fel\b", STRONG, False),
        (rf"\bmy new {_FIELD_EN} is\b|\bupdate (?:your|the) records\b", STRONG, False),
        (
            r"\b(?:replace|swap)\b[^.!?\n]{0,30}?\b(?:my cv|the old (?:one|cv|version)|my profile)|\bwrong (?:certifications?|information|details|data|name|number|email)\b",
            STRONG,
            False,
        ),
        (
            rf"\b(?:ratta|rattar|rattas|korrigera|korrigerar|uppdatera|uppdaterar|andra|andrar|byta|byt|byter|fixa)(?: om)? (?:mitt |min |mina |i mitt |i min |pa mitt |pa min )(?:nya )?{_FIELD_SV}",
            STRONG,
            False,
        ),
        (
            rf"\b(?:mitt|min|mina) (?:\w+ )?{_FIELD_SV} (?:ar|stammer|blev) (?:fel|felaktig\w*|inte (?:korrekt|ratt|aktuell\w*)|gammal\w*|inaktuell\w*|felstavat)",
            STRONG,
            True,
        ),
        (
            rf"\b(?:mitt|min) (?:nya )?{_FIELD_SV} (?:ar numera|ar nu|har andrats|har bytts|blir)",
            STRONG,
            False,
        ),
        (
            rf"\b(?:jag har|har) (?:bytt|andrat|fatt nytt|fatt ny|nytt) (?:\w+ )?{_FIELD_SV}",
            STRONG,
            False,
        ),
        (
            r"\bjag heter (?:numera|nu|sedan)|\bnytt efternamn|\bnytt namn|\bnytt (?:telefon|mobil)?nummer|\bny (?:e-?post|mejl|mail)adress|\bnytt org(?:anisations)?\.? ?n",
            WEAK,
            False,
        ),
        (r"\b(?:rattelse|felaktiga uppgifter|stavat fel|felstavat|fel stavat)", STRONG, False),
        (
            rf"\b(?:correct|correcting|rectify|update|updating|change|changing|fix|amend|edit) (?:the |my |of my |on my |in my )(?:new )?{_FIELD_EN}",
            STRONG,
            False,
        ),
        (
            rf"\bmy (?:\w+ )?{_FIELD_EN} (?:is|are|was) (?:wrong|incorrect|misspelt|misspelled|outdated|out of date|not correct|inaccurate)",
            STRONG,
            True,
        ),
        (rf"\bmy (?:new )?{_FIELD_EN} (?:is now|has changed|changed)", STRONG, False),
        (
            rf"\bi (?:have|'ve) (?:changed|got|a new) (?:my )?(?:new )?{_FIELD_EN}|\bi (?:got|have) (?:a )?new (?:phone|mobile|number|email|name|surname|last name)",
            STRONG,
            False,
        ),
        (
            r"\brectification|\bincorrect data|\binaccurate data|\bmy name is now|\bi(?: a|')m now called|\bmisspel",
            STRONG,
            False,
        ),
    ],
    K.ERASURE: [
        (
            rf"\b(?:radera|raderar|raderas|radering|ta bort|tar bort|tas bort|tabort|rensa|stryk|stryka|makulera|glom|glomma|delete|deleting|remove|removing|erase|erasing|wipe|purge|forget)\b[^.!?\n]{{0,40}}?\b(?:{_ME_SV}|{_ME_EN})\b(?! (?:fran|ur|from|off|pa) (?:\w+ )?\w*(?:list|utskick|nyhetsbrev|newsletter|mailing|sms|reklam))",
            STRONG,
            False,
        ),
        (
            rf"\b(?:{_ME_SV}|{_ME_EN})\b[^.!?\n]{{0,30}}?\b(?:raderade|raderas|tas bort|ska bort|deleted|removed|erased|wiped)",
            STRONG,
            False,
        ),
        (
            r"\bratt(?:en)? att bli glomd|\bbli glomd|\bright to (?:be forgotten|erasure)|\bbe forgotten\b|\bartikel 17\b|\barticle 17\b",
            STRONG,
            False,
        ),
        (
            r"\bvill (?:inte (?:langre )?|ej )(?:vara|finnas|sta) (?:kvar )?(?:med )?(?:i|hos|pa) (?:er|ert|era|nox)",
            STRONG,
            True,
        ),
        (
            r"\b(?:vill inte|vill ej) att ni (?:sparar|har kvar|lagrar|behaller) (?:mina|nagra|nagot|mig)",
            STRONG,
            True,
        ),
        (
            r"\b(?:no longer want|do not want|don'?t want) (?:to be|you to (?:keep|store|hold|have))[^.!?\n]{0,30}\b(?:database|register|records|system|data|details|information|me)\b",
            STRONG,
            True,
        ),
        (
            r"\b(?:delete|remove|close|cancel|avsluta|stang) (?:my|mitt) (?:account|profile|konto|profil)",
            STRONG,
            False,
        ),
        (
            r"\b(?:radera|raderar|delete|erase|remove)\s+(?:allt|everything|all data|all information)\b",
            STRONG,
            False,
        ),
        (r"\b(?:radering|erasure|deletion) (?:av|of) (?:mina|my|alla|all)", STRONG, False),
    ],
    K.RESTRICTION: [
        (
            r"\blimit (?:the )?(?:use|processing|usage) of my (?:personal )?(?:data|information)|\bbegransa anvandningen av mina",
            STRONG,
            False,
        ),
        (r"\b(?:pausar|pausa|fryser)\b[^.!?\n]{0,20}?\b(?:min|mitt|mina)\b", STRONG, False),
        (
            r"\bbegransa\w* (?:(?:av )?(?:er |den )?(?:behandling|anvandning)\w*|hur ni (?:anvander|behandlar))",
            STRONG,
            False,
        ),
        (r"\bbegransning av (?:behandling|anvandning)", STRONG, False),
        (
            r"\b(?:pausa|pausar|frysa|frys|vilande)\b[^.!?\n]{0,30}?\b(?:min profil|mitt konto|mina uppgifter|behandling\w*|allt|mitt cv)",
            STRONG,
            False,
        ),
        (
            r"\b(?:min profil|mitt konto|mina uppgifter)\b[^.!?\n]{0,20}?\b(?:pausa\w*|vilande|frys\w*)",
            STRONG,
            False,
        ),
        (
            r"\b(?:anvand|anvander|behandla|behandlar|sluta anvanda|sluta behandla) (?:inte )?mina uppgifter (?:tills|medan|under tiden|till dess)",
            STRONG,
            True,
        ),
        (r"\bbara (?:pausa\w*|frys\w*)|\bpausa (?:den|det)\b", STRONG, False),
        (
            r"\brestrict\w* (?:the |your |all )?(?:processing|use|using)|\brestriction of (?:the )?processing|\bartikel 18\b|\barticle 18\b",
            STRONG,
            False,
        ),
        (
            r"\b(?:pause|freeze|suspend|put on hold|deactivate)\b[^.!?\n]{0,30}?\b(?:my profile|my account|my data|processing|everything|my cv)",
            STRONG,
            False,
        ),
        (
            r"\b(?:my profile|my account|my data)\b[^.!?\n]{0,30}?\b(?:paused|on hold|frozen|suspended|inactive)",
            STRONG,
            False,
        ),
        (
            r"\b(?:just|only|simply) (?:pause|paused|freeze|frozen|put on hold|suspend\w*)",
            STRONG,
            False,
        ),
        (
            r"\b(?:stop|don'?t|do not) (?:using|use|processing|process) my (?:personal )?(?:data|information) (?:until|while|for now|for the time being)",
            STRONG,
            True,
        ),
    ],
    K.PORTABILITY: [
        (r"\b(?:data)?portabilitet|\bportability|\bartikel 20\b|\barticle 20\b", STRONG, False),
        (
            r"\b(?:maskinlasbar\w*|machine[- ]readable|strukturerat format|structured format)",
            STRONG,
            False,
        ),
        (
            r"\b(?:som|i|in|as|a) (?:en )?(?:json|csv|xml)(?:-?fil|-?format| file| format)?\b",
            WEAK,
            False,
        ),
        (
            r"\b(?:flytta|overfora|overfor|flytt|skicka over|exportera) (?:mina |alla mina )?(?:person)?(?:uppgifter|data|profil|cv)\b[^.!?\n]{0,40}?\b(?:till|hos) (?:en annan|ett annat|annan|annat|ny|nytt|konkurrent)",
            STRONG,
            False,
        ),
        (
            r"\b(?:exportera|export|download|ladda ner) (?:av )?(?:alla )?(?:mina|my|all my) (?:person)?(?:uppgifter|data|personal data|information|profile|profil)",
            STRONG,
            False,
        ),
        (
            r"\b(?:transfer|move|port|send|hand over)\b[^.!?\n]{0,25}?\b(?:my|all my) (?:personal )?(?:data|profile|information|cv)\b[^.!?\n]{0,40}?\b(?:to|over to) (?:another|a different|a new|an other|my new)",
            STRONG,
            False,
        ),
    ],
    K.OBJECTION: [
        (
            r"\b(?:don'?t|do not|stop) (?:use|using|process\w*) my (?:personal )?(?:data|information|profile|cv) for (?:automated|automatic|profiling|matching|analys\w*|analyz\w*)",
            STRONG,
            True,
        ),
        (
            r"\b(?:vill inte|vill ej|onskar inte) (?:bli |att jag blir )?(?:matchad|profilerad|analyserad)\w*",
            STRONG,
            True,
        ),
        (
            r"\b(?:invander|invanda|invandning|motsatter mig|protesterar)\b(?![^.!?\n]{0,30}(?:marknadsforing|reklam|nyhetsbrev|utskick))",
            STRONG,
            True,
        ),
        (
            r"\b(?:vill inte|vill ej|onskar inte) (?:att ni |bli |att jag )?(?:profilerar|profileras|analyserar|analyseras|matchar|matchas|profilera|analysera)",
            STRONG,
            True,
        ),
        (
            r"\b(?:sluta|upphor med|upphora med) (?:att )?(?:profilera|analysera|matcha|behandla)\b[^.!?\n]{0,20}?\b(?:mig|mej|mina uppgifter|min profil)",
            STRONG,
            False,
        ),
        (
            r"\bprofilering\b[^.!?\n]{0,40}?\b(?:mig|mej|av mig|mina)|\b(?:mot|ingen) profilering",
            STRONG,
            True,
        ),
        (r"\bberattigat intresse\b|\bintresseavvagning", WEAK, False),
        (
            r"\b(?:i )?object(?:ion)?s? (?:to|against)\b(?![^.!?\n]{0,35}(?:marketing|newsletter|e-?mails|advertising))",
            STRONG,
            True,
        ),
        (
            r"\b(?:stop|don'?t|do not) (?:profil\w*|analys\w*|analyz\w*|matching|match|process\w*) (?:me|my)",
            STRONG,
            True,
        ),
        (
            r"\bprofiling\b|\blegitimate interest|\bautomated (?:matching|decision|processing)",
            WEAK,
            False,
        ),
        (r"\bartikel 21\b|\barticle 21\b", WEAK, False),
    ],
    K.MARKETING_OPTOUT: [
        (
            r"\b(?:vill|onskar) (?:inte|ej) (?:langre |heller |nagot |alls )*(?:ha|fa|motta|ta emot) (?:fler |mer |nagra |flera |era )*(?:nyhetsbrev\w*|reklam|utskick\w*|erbjudanden|marknadsforing|sms|mejl|mail|e-?post|samtal|inbjudningar|annonser|kampanjer)",
            STRONG,
            True,
        ),
        (
            r"\b(?:ta bort|stryk|plocka bort) (?:mig|mej) (?:fran|ur) (?:\w+ ){0,2}?(?:\w*lista\w*|nyhetsbrev\w*|utskick\w*|sandlist\w*|mailinglist\w*)",
            STRONG,
            False,
        ),
        (
            r"\b(?:be |been |get )?removed from (?:your |the |all )?(?:\w+ )?(?:marketing|mailing|e-?mail|newsletter|sms|distribution)[- ]?lists?",
            STRONG,
            False,
        ),
        (
            r"\bstop (?:the |your |all )?(?:marketing|promotional|newsletter|sales)\w*|\bsluta med (?:reklam|marknadsforing|nyhetsbrev|utskick)\w*",
            STRONG,
            True,
        ),
        (
            r"\bslut(?:a|ar) (?:att )?(?:skicka|maila|mejla|ringa|sms:a|smsa|kontakta)\b",
            STRONG,
            True,
        ),
        (
            r"\b(?:avregistrera|avregistrerar|avprenumerera|avanmal|avanmala|avsluta)\b(?! dig)[^.!?\n]{0,30}?\b(?:mig|mej|nyhetsbrev\w*|prenumeration\w*|utskick\w*|mailing\w*|listan|sms)",
            STRONG,
            False,
        ),
        (
            r"\b(?:vill|onskar) (?:inte|ej) (?:langre )?(?:ha|fa|motta|ta emot)(?: nagra| fler| mer| flera)? (?:fler |mer |nagra )?(?:nyhetsbrev\w*|reklam|utskick\w*|erbjudanden|marknadsforing|sms|mejl|mail|e-?post|samtal|inbjudningar|annonser|kampanjer)",
            STRONG,
            True,
        ),
        (
            r"\b(?:ta bort|stryk|avregistrera|plocka bort) (?:mig|mej|min (?:e-?post|mejl|mail)adress|mitt nummer) (?:fran|ur|pa) (?:er |ert |era |den |er )?(?:\w+)?(?:lista|listor|listan|register\w* for utskick|nyhetsbrev\w*|utskick\w*|sandlist\w*|mailinglist\w*|kampanj\w*|sms-?list\w*|kundregister for marknadsforing)",
            STRONG,
            False,
        ),
        (
            r"\b(?:ingen|inga) (?:mer |fler )?(?:reklam|marknadsforing|nyhetsbrev|utskick|sms|erbjudanden|spam)\b",
            STRONG,
            True,
        ),
        (
            r"\bnej tack till (?:reklam|utskick|nyhetsbrev|marknadsforing)|\bavregistrera mig\b|\bavsaga mig|\bdirektmarknadsforing|\binvander mot (?:er )?(?:marknadsforing|reklam|utskick)",
            STRONG,
            True,
        ),
        (r"^\W*(?:stopp|stop|sluta|avregistrera|unsubscribe)\W*$", STRONG, True),
        (
            r"\bunsubscribe (?:me|my)|\b(?:i (?:want|wish|would like) to|please|kindly|pls) unsubscribe|\bunsubscribe\b(?! (?:here|link|at any time|below|from this list by))(?=[^.!?\n]{0,40}\b(?:me|i|please)\b)",
            STRONG,
            False,
        ),
        (r"\bopt(?:ing)?[- ]?out\b|\bopt me out", STRONG, False),
        (
            r"\bstop (?:sending|emailing|mailing|texting|calling|spamming|contacting)(?: me)?",
            STRONG,
            True,
        ),
        (
            r"\bno (?:more|further) (?:e-?mails|newsletters?|marketing|offers|spam|messages|calls|texts|sms|promotions|ads|advertising|mailings)",
            STRONG,
            True,
        ),
        (
            r"\b(?:don'?t|do not|never) (?:want|wish) (?:to (?:get|receive) )?(?:any )?(?:more |further )?(?:e-?mails|newsletters?|marketing|offers|spam|promotional|promotions|ads|advertising|mailings|texts)",
            STRONG,
            True,
        ),
        (
            r"\b(?:don'?t|do not|never) (?:send|email|e-mail|text|call|contact) me (?:any ?more|again|newsletters?|marketing|offers|promotional)",
            STRONG,
            True,
        ),
        (
            r"\b(?:remove|take|delete) (?:me|my (?:e-?mail(?: address)?|number)) (?:from|off) (?:your |the |all )?(?:\w+ )?(?:mailing|e-?mail|marketing|newsletter|distribution|sms|contact|call|sales)[- ]?(?:list|lists|database)",
            STRONG,
            False,
        ),
        (r"\bdirect marketing|\bobject\w* to (?:your |the )?(?:direct )?marketing", STRONG, True),
    ],
    K.CONSENT_WITHDRAWAL: [
        (
            r"\b(?:aterkalla\w*|ta tillbaka|tar tillbaka|dra tillbaka|drar tillbaka|aterta\w*|sag(?:a|er|t) (?:jag |vi )?upp)\b[^.!?\n]{0,40}?\b(?:samtycke\w*|medgivande\w*|godkannande\w*|tillstand\w*)",
            STRONG,
            False,
        ),
        (
            r"\b(?:aterkalla|aterkallar|aterkallas|ta tillbaka|tar tillbaka|dra tillbaka|drar tillbaka|aterta|atertar|upphava|upphaver)\b[^.!?\n]{0,40}?\b(?:samtycke|samtycket|samtyckte|medgivande|godkannande)",
            STRONG,
            False,
        ),
        (
            r"\b(?:samtycke|samtycket|medgivande|godkannande)\b[^.!?\n]{0,40}?\b(?:aterkalla\w*|tillbaka|upphor|upphora|galler inte|inte langre galler)",
            STRONG,
            False,
        ),
        (
            r"\b(?:withdraw|withdrawing|withdrawn|revoke|revoking|retract|cancel|pull)\w*\b[^.!?\n]{0,30}?\bconsent",
            STRONG,
            False,
        ),
        (
            r"\bconsent\b[^.!?\n]{0,40}?\b(?:withdrawn|revoked|no longer (?:valid|applies|stands))",
            STRONG,
            False,
        ),
        (
            r"\b(?:no longer|don'?t|do not) (?:give |giving )?(?:my )?consent|\b(?:give|giving) no (?:more|further) consent\b|\bsamtycker (?:inte langre|ej langre)|\binte langre (?:mitt )?samtycke",
            STRONG,
            True,
        ),
    ],
    K.COMPLAINT: [
        (
            r"\bkrankning\b|\bkrankt\b|\b(?:lamnat ut|delat|skickat|salt)\b[^.!?\n]{0,60}?\butan (?:mitt )?(?:godkannande|samtycke|tillstand|lov)|\bwithout my (?:permission|consent|approval)",
            STRONG,
            True,
        ),
        (
            r"\bimy\b|\bintegritetsskyddsmyndigheten|\bdatainspektionen|\btillsynsmyndighet",
            STRONG,
            True,
        ),
        (
            r"\bskadestand|\bstamning|\bstamma er|\bmin advokat|\bmin jurist|\bpolisanmal",
            STRONG,
            True,
        ),
        (
            r"\b(?:anmala|anmaler|anmalan|anmalt)\b[^.!?\n]{0,30}?\b(?:er|nox|till|hos)",
            STRONG,
            True,
        ),
        (
            r"\b(?:klagomal|klaga|klagar|missnojd|upprord|kranka\w*)\b[^.!?\n]{0,80}?\b(?:personuppgift\w*|uppgifter|gdpr|dataskydd\w*|integritet\w*|hanter\w*|behandl\w*)",
            STRONG,
            True,
        ),
        (
            r"\b(?:bryter mot|brott mot|strider mot|olaglig\w*)\b[^.!?\n]{0,30}?\b(?:gdpr|dataskydd\w*|lag\w*)",
            STRONG,
            True,
        ),
        (r"\b(?:personuppgiftsincident|dataintrang|lackt|lacka|lackte)\b", WEAK, True),
        (
            r"\b(?:complain|complaint|complaining|unhappy|upset|outraged|dissatisfied|not happy)\b[^.!?\n]{0,80}?\b(?:data|gdpr|privacy|handl\w*|process\w*|information)",
            STRONG,
            True,
        ),
        (
            r"\b(?:supervisory authority|data protection authority|\bdpa\b|report you|reporting you|file a complaint|lodge a complaint|legal action|my lawyer|sue you|compensation|damages)\b",
            STRONG,
            True,
        ),
        (
            r"\b(?:breach\w*|violat\w*|infring\w*|unlawful\w*|illegal\w*)\b[^.!?\n]{0,30}?\b(?:gdpr|data protection|privacy|the law)",
            STRONG,
            True,
        ),
        (r"\b(?:data breach|leaked|leak)\b", WEAK, True),
    ],
    K.INFO: [
        (
            r"\bvar (?:lagrar|sparar|forvarar|har) ni (?:datan|data|uppgifterna|mina uppgifter|informationen)|\b(?:rattslig|laglig)a? grund",
            STRONG,
            True,
        ),
        (r"\bhur lange (?:ni )?(?:sparar|lagrar|behaller|har kvar|haller)", STRONG, True),
        (
            r"\bvilka (?:typer av |slags |sorts )?(?:person)?uppgifter (?:samlar|sparar|behandlar|lagrar) ni(?! (?:om|pa) (?:mig|mej))",
            STRONG,
            True,
        ),
        (
            r"\bhur (?:kan jag |gor jag |raderar jag|tar jag bort|avregistrerar jag|andrar jag)|\bhow (?:do|can) i (?:delete|remove|unsubscribe|change|update|access|see)",
            STRONG,
            True,
        ),
        (
            r"\bwhat(?:'s| is|s) my (?:personal )?(?:data|information|info) (?:being )?used for",
            STRONG,
            True,
        ),
        (
            r"\b(?:do you|does nox|anvander ni|gor ni)\b[^.!?\n]{0,40}?\b(?:profil\w*|automat\w*)",
            STRONG,
            True,
        ),
        (
            r"\bhur (?:lange|lang tid) (?:sparar|lagrar|behaller|haller|har) ni|\blagringstid|\bgallrar ni|\bnar (?:raderar|gallrar|tar) ni",
            STRONG,
            True,
        ),
        (
            r"\b(?:delar|saljer|lamnar) ni (?:ut )?(?:mina |vara )?(?:person)?(?:uppgifter|data)|\bvilka (?:delar ni|far (?:ta del av|tillgang)|lamnar ni)|\btredje ?part",
            STRONG,
            True,
        ),
        (
            r"\butanfor (?:sverige|eu|europa|ees)|\bservrar|\bi vilket land|\butomlands",
            STRONG,
            True,
        ),
        (
            r"\b(?:rattslig|laglig) grund|\bpa vilken grund|\bpersonuppgiftsansvarig|\bdataskyddsombud|\bintegritetspolicy|\bcookies?\b|\bkakor\b",
            STRONG,
            True,
        ),
        (
            r"\b(?:hur|varfor|till vad) (?:behandlar|anvander|sparar|hanterar|skyddar) ni (?:mina |vara )?(?:person)?(?:uppgifter|data)|\bvarifran (?:har|fick) ni|\bhur fick ni (?:tag pa|mitt|min)",
            STRONG,
            True,
        ),
        (
            r"\bvilka (?:person)?uppgifter (?:samlar|sparar|behandlar|lagrar) ni(?! (?:om|pa) (?:mig|mej))",
            WEAK,
            True,
        ),
        (
            r"\bhow long (?:do|will|does) (?:you|nox) (?:keep|store|retain|hold|save)|\bretention (?:period|time|policy)",
            STRONG,
            True,
        ),
        (
            r"\b(?:do|will|does) (?:you|nox) (?:share|sell|pass on|give|disclose|transfer)\b|\bthird[- ]part(?:y|ies)\b|\bwho (?:do you share|has access|can see|gets)",
            STRONG,
            True,
        ),
        (
            r"\boutside (?:sweden|the eu|europe|the eea)|\bservers?\b|\bwhich country|\babroad",
            STRONG,
            True,
        ),
        (
            r"\b(?:legal|lawful) basis|\bon what (?:basis|grounds)|\bdata controller|\bdata protection officer|\b(?:your|the) privacy policy|\bcookies?\b|\btracking\b",
            STRONG,
            True,
        ),
        (
            r"\b(?:how|why|what for) (?:do|does) (?:you|nox) (?:use|process|handle|protect|store|collect) (?:my |our )?(?:personal )?(?:data|information)|\bwhere did you get (?:my|hold)|\bhow did you get (?:my|hold)",
            STRONG,
            True,
        ),
        (
            r"\bwhat (?:personal )?(?:data|information) do you (?:collect|process|store)(?! (?:about|on) me)",
            WEAK,
            True,
        ),
    ],
}

# Messages written by machines or sent in bulk: `none`, whatever words they contain.
_AUTOMATED = re.compile(
    r"\b(?:out of (?:the )?office|automatic reply|auto-?reply|autosvar|automatiskt svar|"
    r"franvaromeddelande|undeliverable|delivery status notification|delivery has failed|"
    r"could not be delivered|couldn'?t be delivered|mail delivery (?:failed|subsystem)|"
    r"returned mail|kunde inte levereras|leveransfel|meddelandet kunde inte|"
    r"message (?:was )?not delivered|address not found)\b"
)
# Signs of an absence notice that a person might also write in a real request: they make a
# message `none` only when nothing in it asks for a right.
_ABSENCE = re.compile(
    r"\b(?:franvarande|tjanstledig|foraldraledig|pa semester|jag ar (?:borta|ledig)|"
    r"aterkommer (?:den|efter|pa|mandag|tisdag|onsdag|torsdag|fredag)|"
    r"i am (?:away|on (?:leave|holiday|vacation))|i will be back|"
    r"i'?m (?:away|on (?:leave|holiday|vacation))|limited access to (?:my )?e-?mail)\b"
)
_NEWSLETTER = re.compile(
    r"\b(?:unsubscribe (?:here|below|link|at any time)|to unsubscribe|click here to unsubscribe|"
    r"klicka (?:har|pa lanken) (?:for att|om du vill) (?:avregistrera|avsluta|avanmala)|"
    r"avregistrera dig|avsluta (?:din )?prenumeration (?:har|pa lanken)|"
    r"view (?:this (?:e-?mail|email) )?in (?:your )?browser|visa i webblasare|"
    r"you (?:are )?receiv(?:e|ing) this (?:e-?mail|email|newsletter|message) because|"
    r"du far (?:detta|det har) (?:mejl|mail|nyhetsbrev|utskick)|manage (?:your )?preferences|"
    r"hantera (?:dina )?installningar)"
)
_NEGATION = re.compile(
    r"\b(?:inte|ej|icke|aldrig|not|don'?t|doesn'?t|dont|never|no need|nor|without|utan att)\b"
)
# "Hur raderar jag mitt konto?" asks how, it does not ask us to do it.
_HOWTO = re.compile(r"\b(?:hur (?:\w+ )?(?:jag|man)|how (?:do|can|would|should) (?:i|one))\b")
_CLAUSE_SPLIT = re.compile(
    r"[.!?;\n]+|,\s*(?=(?:men|bara|utan|endast|dock|but|only|just|instead|rather)\b)|"
    r"\s(?=(?:men|but|utan|instead)\s)"
)
_DATA_WORDS = re.compile(
    r"\b(?:gdpr|personuppgift\w*|dataskydd\w*|personal data|privacy|integritet)"
)
_REPLY_PREFIX = re.compile(r"^\s*(?:re|sv|svar|ang|aw|vs)\s*:", re.IGNORECASE)

_COMPILED: dict[RequestKind, list[tuple[re.Pattern[str], float, bool]]] = {
    kind: [(re.compile(pattern), weight, negatable) for pattern, weight, negatable in patterns]
    for kind, patterns in _P.items()
}
# Each pattern is searched only in a text that holds the words it needs (bot.reading.prefilter):
# an ordinary mail holds those of few or none, and most patterns are never run on it.
_FILTERED: dict[RequestKind, list[tuple[re.Pattern[str], float, bool, Prefilter]]] = {
    kind: [(pattern, weight, negatable, prefilter(pattern)) for pattern, weight, negatable in rules]
    for kind, rules in _COMPILED.items()
}
_RULES = [
    (kind, pattern, weight, negatable)
    for kind, rules in _FILTERED.items()
    for pattern, weight, negatable, _ in rules
]
_RULES_INDEX = PrefilterIndex([need for rules in _FILTERED.values() for *_, need in rules])
_NEWSLETTER_NEEDS = prefilter(_NEWSLETTER)
_AUTOMATED_NEEDS = prefilter(_AUTOMATED)
_ABSENCE_NEEDS = prefilter(_ABSENCE)
_DATA_WORDS_NEEDS = prefilter(_DATA_WORDS)
_HOWTO_NEEDS = prefilter(_HOWTO)


def _found(pattern: re.Pattern[str], needs: Prefilter, words: Words) -> bool:
    """Whether the pattern matches the text of `words` (searched only when it can)."""
    return needs.may_match(words) and pattern.search(words.text) is not None


def _clauses(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _CLAUSE_SPLIT.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


#: How far back in its clause a negation word (or "how do I") reaches a match: far beyond
#: any sentence, and a bound on the look back. Looked for in the whole clause before every
#: match, a clause of 16,000 characters made of one negation and thousands of rejected
#: matches ("inte dsar dsar …") took over a second (quadratic).
NEGATION_REACH = 400
_ONLY = re.compile(r"\b(?:bara|endast|only|just|utan)\b")


def _negated(clause: str, position: int) -> bool:
    """A negation word before the match in its clause (within NEGATION_REACH), not followed
    by 'bara/only/just'. (Searched in place with pos/endpos: the same as in a slice, but the
    reach's start is never taken for a word's.)"""
    last = None
    for match in _NEGATION.finditer(clause, max(0, position - NEGATION_REACH), position):
        last = match
    if last is None:
        return False
    # (No slice: a negation word ends in a letter and, being whole, before a non-letter.)
    return _ONLY.search(clause, last.end(), position) is None


def _asks_how(clause: str, end: int) -> bool:
    """'how do I' / 'hur gör jag' in the clause before `end` (within NEGATION_REACH)."""
    return _HOWTO.search(clause, max(0, end - NEGATION_REACH), end) is not None


@dataclass(frozen=True)
class _Hit:
    kind: RequestKind
    weight: float
    start: int
    end: int


def _hits(mended: str, words: Words | None = None) -> list[_Hit]:
    """The first acceptable match of every pattern, each judged within its own clause.

    Each pattern that can match (its prefilter) scans the whole text once; a match is then
    checked against the clause it starts in, and one that runs past its clause is looked
    for again inside it.
    """
    words = words if words is not None and words.text is mended else Words(mended)
    clauses: list[tuple[int, int]] | None = None
    starts: list[int] = []
    texts: dict[int, str] = {}  # each clause's text, sliced once
    hits: list[_Hit] = []
    possible = _RULES_INDEX.possible(words)
    for number, (kind, pattern, weight, survives_negation) in enumerate(_RULES):
        if number in possible:
            for match in pattern.finditer(mended):
                if clauses is None:
                    clauses = _clauses(mended)
                    starts = [start for start, _ in clauses]
                index = bisect_right(starts, match.start()) - 1
                if index < 0:
                    continue
                clause_start, clause_end = clauses[index]
                clause = texts.get(index)
                if clause is None:
                    clause = texts[index] = mended[clause_start:clause_end]
                found = (
                    match
                    if match.end() <= clause_end
                    else pattern.search(clause, match.start() - clause_start)
                )
                if found is None:
                    continue
                offset = 0 if found is match else clause_start
                begin, finish = found.start() + offset, found.end() + offset
                if not survives_negation and (
                    _negated(clause, begin - clause_start)
                    or _NEGATION.search(found.group(0))
                    or (kind is not K.INFO and _asks_how(clause, finish - clause_start))
                ):
                    continue
                hits.append(_Hit(kind, weight, begin, finish))
                break
    return hits


def _resolve(scores: dict[RequestKind, float]) -> dict[RequestKind, float]:
    """Overlaps between kinds, decided once here."""
    # Objecting to marketing is a marketing opt-out; a generic "legitimate interest" mention
    # beside an opt-out adds nothing.
    if K.MARKETING_OPTOUT in scores and scores.get(K.OBJECTION, 0) < STRONG:
        scores.pop(K.OBJECTION, None)
    # "Do you use profiling?" is a question, not an objection.
    if K.INFO in scores and scores.get(K.OBJECTION, STRONG) < STRONG:
        scores.pop(K.OBJECTION)
    # A person asking what is held about them is exercising access, not only asking.
    if K.ACCESS in scores and scores.get(K.INFO, STRONG) < STRONG:
        scores.pop(K.INFO)
    # "Send me my data as JSON": a copy in a machine-readable form is portability, and it
    # covers the access wish it contains.
    if K.PORTABILITY in scores and K.ACCESS in scores:
        scores[K.PORTABILITY] = max(scores[K.PORTABILITY], scores.pop(K.ACCESS))
    return scores


@dataclass(frozen=True)
class _Reading:
    """One message as both halves of the classifier see it."""

    combined: str  # subject (unless a reply's) and the visible body, as written
    mended: str  # folded, typos in key words mended; same length as `combined`
    origin: list[int] | None  # per character of `mended` its index in `combined` (None: same)
    channel: str
    language: str
    hits: list[_Hit]
    scores: dict[RequestKind, float]  # the rules' verdict: kind → strength
    bulk: bool  # an auto-reply, a bounce, or (email) a newsletter: `none` whatever it says
    flags: frozenset[str]
    words: Words  # the words of `mended`, for the patterns' prefilters


#: What a person writes fits in this many characters: a longer message is classified on its
#: first HEAD_CHARS and its last TAIL_CHARS (a request often stands in the last lines of a
#: long mail), which keeps the time one message takes bounded. The message is stored whole.
HEAD_CHARS, TAIL_CHARS = 12_000, 4_000


def bounded(text: str, prefix: str = "") -> str:
    """The part of `prefix` + `text` the classifier reads: all of it, or its beginning and
    its end — without joining the two first (a copy of all of a text of many MB)."""
    if len(prefix) + len(text) <= HEAD_CHARS + TAIL_CHARS:
        return prefix + text
    head = (prefix + text[:HEAD_CHARS])[:HEAD_CHARS]
    tail = text[-TAIL_CHARS:] if len(text) >= TAIL_CHARS else (prefix + text)[-TAIL_CHARS:]
    return f"{head}\n{tail}"


def _read(text: str, subject: str, channel: str, visible: bool = False) -> _Reading:
    # `visible`: `text` is visible_text's own output (a parsed mail's text), which it would
    # return unchanged (it is idempotent) — unless a mask below is blanked out first. Then
    # only what is read of it is stripped again: a mail of many MB with a personal identity
    # number in it costs what a short one does.
    if visible and DEFAULT_MASK in text:
        visible, text = False, bounded(text)
    # A personal identity number masked on arrival reads as nothing, as the number itself
    # does (words only): the mask's own words ("borttaget", removed) must not read as erasure.
    text, subject = text.replace(DEFAULT_MASK, " "), subject.replace(DEFAULT_MASK, " ")
    body = (text if visible else visible_text(text)) if channel == "email" else text.strip()
    use_subject = bool(subject) and not _REPLY_PREFIX.match(subject)
    combined = bounded(body, f"{subject}\n" if use_subject else "")
    folded = fold(combined)
    mended, origin, words = _mended_words(folded)
    newsletter = _found(_NEWSLETTER, _NEWSLETTER_NEEDS, words)
    bulk = _found(_AUTOMATED, _AUTOMATED_NEEDS, words) or (channel == "email" and newsletter)
    hits = [] if bulk else _hits(mended, words)
    scores: dict[RequestKind, float] = {}
    for hit in hits:
        scores[hit.kind] = max(scores.get(hit.kind, 0.0), hit.weight)
    scores = _resolve(scores)
    absence = _found(_ABSENCE, _ABSENCE_NEEDS, words)
    flags = {
        name
        for name, present in (
            ("newsletter", newsletter),
            ("absence", absence),
            ("data_words", _found(_DATA_WORDS, _DATA_WORDS_NEEDS, words)),
            ("howto", _found(_HOWTO, _HOWTO_NEEDS, words)),
            ("reply", bool(subject) and not use_subject),
        )
        if present
    }
    return _Reading(
        combined,
        mended,
        origin,
        channel,
        detect_language(combined),
        hits,
        scores,
        bulk,
        frozenset(flags),
        words,
    )


def _features(reading: _Reading) -> MessageFeatures:
    return message_features(
        reading.mended, reading.combined, Signals(reading.scores, reading.flags)
    )


def training_features(text: str, *, subject: str = "", channel: str = "email") -> list[str]:
    """The model's features of one message, as bench/train_classifier.py learns from them."""
    return _features(_read(text, subject, channel)).all()


def _phrases(reading: _Reading, spans: list[tuple[int, int]]) -> list[str]:
    """The text of the spans of `mended`, as written, overlapping spans shown once."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    phrases: list[str] = []
    origin = reading.origin
    for start, end in merged:
        first, last = (origin[start], origin[end - 1]) if origin else (start, end - 1)
        original = reading.combined[first : last + 1].strip()
        if original and original not in phrases:
            phrases.append(original)
    return phrases


def classify_by_rules(
    text: str, *, subject: str = "", channel: str = "email", visible: bool = False
) -> Classification:
    """The rules alone: precise on the phrasings they know, blind to the rest. Kept as the
    bench's second baseline and as the classifier of last resort without a model file."""
    reading = _read(text, subject, channel, visible)
    if reading.bulk:
        return Classification((K.NONE,), reading.language, 0.9, ())
    scores = dict(reading.scores)
    if scores and "absence" in reading.flags and max(scores.values()) < STRONG:
        scores = {}
    if not scores:
        unsure = "data_words" in reading.flags
        return Classification((K.NONE,), reading.language, 0.55 if unsure else 0.9, ())
    kinds = tuple(k for k in RequestKind if k in scores)
    strongest = min(scores.values())
    confidence = 0.92 if strongest >= STRONG else 0.7 if len(kinds) > 1 else 0.62
    spans = [(hit.start, hit.end) for hit in reading.hits if hit.kind in scores]
    return Classification(
        kinds, reading.language, round(confidence, 2), tuple(_phrases(reading, spans))
    )


def classify(
    text: str,
    *,
    subject: str = "",
    channel: str = "email",
    model: LinearModel | None = None,
    visible: bool = False,
) -> Classification:
    """The kinds a message asks for, its language, a confidence and the evidence.

    The cases:
    1. an auto-reply, a bounce or a newsletter is `none`, whatever words it holds, unless
       the model is all but sure that someone asks for a right in it: then staff decide
       (`decide_bulk`); an absence notice is `none` unless a rule finds a request in it
       or the model is sure that one is asked for;
    2. otherwise the model weighs the message (the rules' findings among its inputs), and
       in a longer message also each passage of two sentences, so that a request in the
       last lines of a long business mail is not outweighed by the rest: a passage counts
       for a kind when it reaches the model's passage threshold;
    3. the most probable kind counts when it reaches the model's threshold, any other kind
       when it reaches the model's second_threshold (or, when the model reads several rights
       asked for, the next likeliest kind beside a lone one), but not an objection that is
       only the marketing opt-out again (_stop_is_marketing); when no kind does but it is
       sure that some right is asked for, the likeliest kind is named with a confidence
       under 0.5;
    4. confidence is how sure the least sure part of the answer is: how far the weakest kind
       found lies above its threshold, or for `none` how far the strongest lies below it,
       from 0.5 (on the threshold) to 1.0 — staff triage what falls under [classifier]
       triage_threshold. The safety net: `none` for a message that may well ask for a right
       (its request probability at the model's unsure threshold), or that speaks of the
       writer's own data and asks for something, gets a confidence of 0.55, for staff;
    5. evidence is what staff read: the rules' phrases for a kind they found, else the
       sentence that weighed most for that kind.

    `model` is for training and measuring a model that is not the shipped one. `visible`:
    `text` is already what bot.reading.text.visible_text leaves of a mail (as parse_email
    gives it), so it is not stripped a second time; the result is the same.
    """
    reading = _read(text, subject, channel, visible)
    model = model or _model()
    if model is None:
        return classify_by_rules(text, subject=subject, channel=channel, visible=visible)
    if reading.bulk:
        return decide_bulk(reading, model)
    return decide(reading, model, estimates(reading, model))


#: Bulk or machine-sent mail in which the model reads a right asked for with at least this
#: probability goes to staff (see decide_bulk). On heldout8-25 (development files) the five
#: requests read as bulk - complaints about newsletters that quote one, mostly - all read
#: 1.00; the ~90 bulk messages asking for nothing at most 0.98.
BULK_REQUEST = 0.99


def decide_bulk(
    reading: _Reading,
    model: LinearModel,
    found: Estimates | None = None,
    *,
    with_evidence: bool = True,
) -> Classification:
    """The answer for an auto-reply, a bounce or a newsletter (`reading.bulk`; pure, so
    training can try settings): `none`, whatever words it holds - unless the model is all
    but sure that a person asks for a right in it ("you keep sending me this after I
    unsubscribed: delete my address", over the newsletter quoted): then what the model
    reads, with a confidence under the triage threshold, so that staff decide. Without
    `found`, the passages are read only when the whole is that sure (most bulk mail is
    read as a whole only)."""
    if found is None:
        whole_sums, _ = model.read(_features(reading), False)
        if model.from_sums([whole_sums]).request < BULK_REQUEST:
            return Classification((K.NONE,), reading.language, 0.99, ())
        found = estimates(reading, model)
    if found.whole.request < BULK_REQUEST:
        return Classification((K.NONE,), reading.language, 0.99, ())
    decided = decide(reading, model, found, with_evidence=with_evidence)
    return replace(decided, confidence=min(decided.confidence, UNSURE_CONFIDENCE))


@dataclass(frozen=True)
class Estimates:
    """The model's reading of a whole message, of its passages and of its sentences."""

    whole: Estimate
    #: For a longer message, per kind the strongest of its passages (one Estimate whose
    #: every probability is that of the passage reading it most strongly); else none.
    passages: tuple[Estimate, ...]
    own_data_ask: bool  # speaks of the writer's own data and asks for something
    #: Likewise for single sentences, for a message of two sentences or more.
    sentences: tuple[Estimate, ...] = ()


#: A message of more sentences than this is also read passage by passage.
PASSAGE_SENTENCES = 2
_OWN_DATA = re.compile(
    r"\b(?:min(?:a)? (?:person)?(?:uppgifter|data|information|profil|cv)|mitt (?:cv|konto)|"
    r"(?:uppgifter|data|information) (?:om|pa) (?:mig|mej)|"
    r"my (?:personal )?(?:data|information|info|details|profile|cv|record)s?|"
    r"(?:data|information|details) (?:about|on|of) me)\b"
)
_ASKING = re.compile(
    r"\?|\b(?:please|pls|plz|could you|can you|would you|i want|i'd like|i would like|"
    r"kindly|snalla|kan ni|kan du|skulle ni|vill att ni|jag vill|jag onskar|vanligen|tack)\b"
)

_OWN_DATA_NEEDS, _ASKING_NEEDS = prefilter(_OWN_DATA), prefilter(_ASKING)


def estimates(reading: _Reading, model: LinearModel) -> Estimates:
    """The whole message's estimate and, for a longer one, its passages' (two sentences)
    and its single sentences'.

    Each word and word pair is looked up once, each sentence summed once, and a passage adds
    its sentences' sums and its own rule findings: the cost stays linear in the text."""
    message = _features(reading)
    count = len(message.sentences)
    passages_read = model.passage_threshold <= 1.0 and count > PASSAGE_SENTENCES
    sentences_read = model.sentence_threshold <= 1.0 and count > 1
    whole_sums, sums = model.read(message, passages_read or sentences_read)
    whole = model.from_sums([whole_sums])
    flags = reading.flags
    passages = (
        _strongest(reading, model, message.sentences, sums, 2, flags) if passages_read else ()
    )
    sentences = (
        _strongest(reading, model, message.sentences, sums, 1, flags) if sentences_read else ()
    )
    own = _found(_OWN_DATA, _OWN_DATA_NEEDS, reading.words) and _found(
        _ASKING, _ASKING_NEEDS, reading.words
    )
    return Estimates(whole, passages, own, sentences)


#: See _strongest.
_FOLD_PASSAGES = 256


def _strongest(
    reading: _Reading,
    model: LinearModel,
    sentences: list[tuple[int, int]],
    sums: list[int],
    width: int,
    flags: frozenset[str],
) -> tuple[Estimate, ...]:
    """Per kind (and for "a request") the passage of `width` sentences that reads it most
    strongly, as one Estimate: decide only asks whether some passage reaches a threshold."""
    flag_sums = model.kept_sums(tuple(part_features(flags, width)))
    found = _passage_extras(reading, sentences, width)
    # Passages are grouped by what they hold besides their words (most hold no rule finding
    # and no question; most others just a question): a group's strongest is the column-wise
    # maximum of its passages' sums plus the flags' and its extras' sums, added once. The
    # sums are compared as `biased` gives them (each plus HALF), and HALF taken off after.
    # A group folds its passages into their column-wise maximum every _FOLD_PASSAGES: holding
    # every passage's sums until the end took ~10 MB for the thousands of one-line
    # "sentences" a bounded text can hold.
    groups: dict[tuple[str, ...], list[tuple[int, ...]]] = {}
    windows = zip(*(sums[start:] for start in range(width)), strict=False)
    totals = sums if width == 1 else map(sum, windows)
    for extras, total in zip(found, map(model.biased, totals), strict=True):
        group = groups.setdefault(tuple(extras), [])
        group.append(total)
        if len(group) >= _FOLD_PASSAGES:
            group[:] = [tuple(map(max, *group))]
    best = None
    for extras, group in groups.items():
        added = flag_sums
        if extras:
            added = [a + b for a, b in zip(flag_sums, model.kept_sums(extras), strict=True)]
        columns = zip(*group, strict=True)
        own = [max(column) - HALF + a for column, a in zip(columns, added, strict=True)]
        best = own if best is None else list(map(max, best, own))
    return () if best is None else (model.from_sums([best]),)


def _passage_extras(
    reading: _Reading, sentences: list[tuple[int, int]], width: int = PASSAGE_SENTENCES
) -> list[list[str]]:
    """Per passage (sentences i to i+width-1) what is not its words: the rules' findings
    within it and whether it asks a question. Only the passages that hold a hit or a
    question mark are looked at (most hold neither)."""
    starts = [start for start, _ in sentences]
    count = len(sentences) - width + 1
    found: dict[int, dict[RequestKind, float]] = {}
    for hit in reading.hits:  # a hit belongs to the passages that hold it whole
        first = bisect_right(starts, hit.start) - 1
        last = bisect_right(starts, hit.end - 1) - 1
        for index in range(max(last - width + 1, 0), min(first, count - 1) + 1):
            scores = found.setdefault(index, {})
            scores[hit.kind] = max(scores.get(hit.kind, 0.0), hit.weight)
    extras: list[list[str]] = [[] for _ in range(count)]
    for index, scores in found.items():
        extras[index] = [
            f"r:{kind}:{'strong' if score >= STRONG else 'weak'}"
            for kind, score in _resolve(scores).items()
        ]
    for index in _passages_asking(reading.mended, sentences, width, count):
        extras[index].append("x:question")
    return extras


def _passages_asking(
    text: str, sentences: list[tuple[int, int]], width: int, count: int
) -> list[int]:
    """The passages (of `width` sentences, `count` of them) whose text holds a question
    mark, in order: from where each question mark stands, not by searching each passage."""
    asking: set[int] = set()
    position = text.find("?")
    if position < 0:
        return []
    starts = [start for start, _ in sentences]
    ends = [end for _, end in sentences]
    while position >= 0:  # the passages starting at or before it and ending after it
        low = max(bisect_right(ends, position) - width + 1, 0)
        asking.update(range(low, min(bisect_right(starts, position) - 1, count - 1) + 1))
        position = text.find("?", position + 1)
    return sorted(asking)


def passage_features(reading: _Reading, width: int = PASSAGE_SENTENCES) -> list[list[str]]:
    """Each passage's features as `estimates` weighs them (for training): its sentences'
    words and pairs (a word in two sentences counts twice), its extras and the flags. With
    `width` 1, each sentence's, for a message of two sentences or more."""
    message = _features(reading)
    if len(message.sentences) <= (PASSAGE_SENTENCES if width > 1 else 1):
        return []
    per_sentence = []
    for index, words in enumerate(message.words):
        found = [f for word, negated in dict.fromkeys(words) for f in word_features(word, negated)]
        found.extend(f"b:{a}_{b}" for a, b in dict.fromkeys(message.pairs(index)))
        per_sentence.append(found)
    flags = part_features(reading.flags, width)
    return [
        [f for sentence in per_sentence[index : index + width] for f in sentence] + extras + flags
        for index, extras in enumerate(_passage_extras(reading, message.sentences, width))
    ]


def decide(
    reading: _Reading, model: LinearModel, found: Estimates, *, with_evidence: bool = True
) -> Classification:
    """The answer from the estimates (see `classify`); pure, so training can try settings."""
    probabilities = dict(found.whole.kinds)
    request = found.whole.request
    for passage in found.passages:
        for kind, p in passage.kinds.items():
            if p >= model.passage_threshold and p > probabilities[kind]:
                probabilities[kind] = p
        if passage.request >= model.passage_threshold:
            request = max(request, passage.request)
    for sentence in found.sentences:
        for kind, p in sentence.kinds.items():
            if p >= model.sentence_threshold and p > probabilities[kind]:
                probabilities[kind] = p
    threshold = model.threshold
    first = max(probabilities, key=probabilities.__getitem__)
    kinds = ()
    hinted = None  # a second kind found because the model reads several rights asked for
    # The floor asks whether any reading (the whole, a passage, a sentence) finds a right
    # asked for at all: a request in the last lines of a long mail reads as one only there.
    anywhere = max([request, *(e.request for e in (*found.passages, *found.sentences))])
    if probabilities[first] >= threshold and anywhere >= model.request_floor:
        second = model.second_threshold
        kinds = tuple(k for k in RIGHTS if k is first or probabilities[k] >= second)
        if found.sentences and model.support_threshold:
            alone = found.sentences[0].kinds
            kinds = tuple(
                k
                for k in kinds
                if k is first or alone[k] >= model.support_threshold or k in reading.scores
            )
        if len(kinds) == 1 and found.whole.multi >= model.multi_threshold:
            runner = max((k for k in RIGHTS if k is not first), key=probabilities.__getitem__)
            if probabilities[runner] >= MULTI_FLOOR:
                hinted = runner
                kinds = tuple(k for k in RIGHTS if k is first or k is runner)
    if K.OBJECTION in kinds and first is not K.OBJECTION and _stop_is_marketing(reading, model):
        kinds = tuple(k for k in kinds if k is not K.OBJECTION)
        hinted = None if hinted is K.OBJECTION else hinted
    if _absence_notice(reading) and request < model.request_threshold:
        return Classification((K.NONE,), reading.language, 0.9, ())
    if not kinds and request >= model.request_threshold and _rules_name_only(reading, first):
        # Surely a request, and the one kind the rules strongly find is the model's likeliest
        # ("Jag vill att ni begränsar behandlingen av mina personuppgifter"): that kind.
        kinds = (first,)
        evidence = _evidence(reading, model, kinds) if with_evidence else ()
        return Classification(kinds, reading.language, AGREED_CONFIDENCE, evidence)
    if not kinds and request >= model.request_threshold:
        # Surely a request, but of no clear kind: the likeliest is named, with a confidence
        # below a coin flip, so that staff choose (triage).
        kinds, uncertain = (first,), 0.5 * probabilities[first] / threshold
        evidence = _evidence(reading, model, kinds) if with_evidence else ()
        return Classification(kinds, reading.language, round(uncertain, 2), evidence)
    if not kinds:
        confidence = _margin(threshold - max(probabilities.values()), threshold)
        if request >= model.unsure_threshold or found.own_data_ask or anywhere >= ASKED_IN_PART:
            confidence = min(confidence, UNSURE_CONFIDENCE)
        elif "data_words" in reading.flags:
            confidence = min(confidence, DATA_TALK_CONFIDENCE)
        return Classification((K.NONE,), reading.language, round(confidence, 2), ())
    confidence = min(
        _margin(probabilities[k] - edge, 1.0 - edge)
        for k in kinds
        if k is not hinted
        for edge in [threshold if k is first else model.second_threshold]
    )
    if hinted is not None:
        edge = model.multi_threshold
        confidence = min(confidence, _margin(found.whole.multi - edge, 1.0 - edge))
    if request >= model.request_threshold and all(
        reading.scores.get(k, 0.0) >= STRONG for k in kinds
    ):
        # The rules' strong finding and the model agree on every kind, and the model is
        # sure that a right is asked for: not a case for staff triage.
        confidence = max(confidence, AGREED_CONFIDENCE)
    evidence = _evidence(reading, model, kinds) if with_evidence else ()
    return Classification(kinds, reading.language, round(confidence, 2), evidence)


def _stop_is_marketing(reading: _Reading, model: LinearModel) -> bool:
    """Whether an objection read beside another kind is only the marketing opt-out again:
    the guide's "objection — not when it is about marketing". So when the rules find the
    opt-out strongly and no objection, no sentence names the brokering itself, and every
    sentence that reads objection on its own holds the opt-out's phrase ("Ringde och bad
    oss sluta skicka nyhetsbrev till honom": "stop sending" reads objection where it is
    about assignment offers — "stop sending me newsletters and assignment offers" keeps
    both)."""
    if reading.scores.get(K.MARKETING_OPTOUT, 0.0) < STRONG or K.OBJECTION in reading.scores:
        return False
    message = _features(reading)
    _, sums = model.read(message, True)
    flags = model.sums(part_features(reading.flags, 1))
    extras = _passage_extras(reading, message.sentences, 1)
    optouts = [h for h in reading.hits if h.kind is K.MARKETING_OPTOUT]
    for (start, end), summed, extra in zip(message.sentences, sums, extras, strict=True):
        if _BROKERING.search(reading.mended, start, end) is not None:
            return False
        alone = model.from_sums([model.unpack(summed), flags, model.sums(extra)])
        if alone.kinds[K.OBJECTION] >= OBJECTION_ALONE and not any(
            start <= h.start and h.end <= end for h in optouts
        ):
            return False
    return True


#: What the brokering itself is about, in folded text (the guide: a stop to assignment
#: offers, to being presented to clients or matched, is an objection, not an opt-out).
_BROKERING = re.compile(
    r"\b(?:uppdrag\w*|jobb\w*|tjanst\w*|roll(?:er|en|erna)?|presentera\w*|kund\w*|cv\w*|"
    r"profil\w*|match\w*|konsult(?:register|registret|databas\w*|pool\w*|lista\w*)|"
    r"talangpool\w*|rekryter\w*|assignments?|jobs?|gigs?|roles?|positions?|vacanc\w*|"
    r"opportunit\w*|present(?:ing|ed)?|clients?|customers?|resumes?|bench|talent pool|"
    r"candidate\w*|recruit\w*|headhunt\w*|placements?|contracts?|consultant (?:database|"
    r"register|pool|list))\b"
)


#: A sentence reads objection on its own from this probability (see _stop_is_marketing).
OBJECTION_ALONE = 0.5


#: The least confidence when the rules (strongly) and the model name the same kinds.
AGREED_CONFIDENCE = 0.75
#: The safety net also catches a `none` one of whose passages or sentences the model reads
#: as asking for a right with at least this probability, though no kind reaches its
#: threshold there: on heldout8-25 (development files) 7 of the 15 requests still silently
#: missed once absence notices and bulk mail were read right were such, at the cost of 39
#: more of 4,600 messages sent to triage.
ASKED_IN_PART = 0.75
#: The confidence the safety net gives `none`: under the default triage threshold (0.6).
UNSURE_CONFIDENCE = 0.55
#: The most confidence `none` gets when the message talks of GDPR or personal data: not
#: sent to triage at the default threshold, but a stricter one set by staff catches it.
DATA_TALK_CONFIDENCE = 0.8


def _evidence(
    reading: _Reading, model: LinearModel, kinds: tuple[RequestKind, ...]
) -> tuple[str, ...]:
    """Per kind, the rules' phrases as written, else the sentence that weighed most."""
    evidence: list[str] = []
    for kind in kinds:
        spans = [(hit.start, hit.end) for hit in reading.hits if hit.kind is kind]
        found = _phrases(reading, spans) if spans else _weightiest_sentence(reading, model, kind)
        evidence.extend(p for p in found if p not in evidence)
    return tuple(evidence)


def _rules_name_only(reading: _Reading, kind: RequestKind) -> bool:
    """Whether the rules' only strong finding is `kind` (and they find nothing else)."""
    return set(reading.scores) == {kind} and reading.scores[kind] >= STRONG


def _absence_notice(reading: _Reading) -> bool:
    """An out-of-office mail ("tjänstledig till 5 januari") reads like an availability
    update; without a rule's strong finding it is the auto-reply it looks like."""
    strong = any(score >= STRONG for score in reading.scores.values())
    return reading.channel == "email" and "absence" in reading.flags and not strong


def _margin(distance: float, room: float) -> float:
    """Confidence in a decision from how far a probability lies from the threshold, as a
    share of the room on that side: 0.5 on the threshold (a coin flip), 0.99 at the far end
    (a model is never certain, and a triage threshold of 1.0 must send everything to staff)."""
    share = max(0.0, min(distance / room, 1.0)) if room > 0 else 1.0
    return round(min(0.5 + 0.5 * share, 0.99), 2)


def _weightiest_sentence(reading: _Reading, model: LinearModel, kind: RequestKind) -> list[str]:
    """The clause whose words push hardest towards `kind`, as written (at most 160 chars)."""
    best, best_weight = None, 0.0
    text = reading.mended.replace("\u2019", "'")  # as tokens() would, once for all clauses
    for start, end in _clauses(reading.mended):
        weight = model.contribution(tokens(text, start, end), kind)
        if weight > best_weight:
            best, best_weight = (start, end), weight
    if best is None:
        return []
    phrase = _phrases(reading, [best])
    return [p if len(p) <= 160 else p[:157].rstrip() + "…" for p in phrase]


def load_model() -> None:
    """Load the shipped model now (a worker's start), rather than with the first message."""
    _model()


def _model() -> LinearModel | None:
    try:
        model = shipped_model()
    except FileNotFoundError:
        return None
    return model if model.features_version == FEATURES_VERSION else None
