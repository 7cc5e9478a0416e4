"""What NOX's privacy policy says, structured for replies: the Art. 15(1) information, answers
to questions about the processing (Art. 12-14), and the names of the request kinds.

Everything here is taken from shared/policy/integritetspolicy-nox.txt; where the policy is
vague (retention) the text says so rather than invent a period. The policy still names
Datainspektionen; the authority is now IMY, and replies name IMY.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Art15Info:
    purposes: tuple[str, ...]
    legal_bases: tuple[str, ...]
    categories: tuple[str, ...]
    recipients: tuple[str, ...]
    transfers: str
    retention: str
    source: str
    automated_decisions: str
    rights: tuple[str, ...]
    complaint: str


_ART15 = {
    "sv": Art15Info(
        purposes=(
            "Förmedling av konsultuppdrag mellan konsulter och våra kunder",
            "Uppdragsförfrågningar, marknadsföring och kampanjer som passar din profil "
            "(kan innefatta profilering)",
            "Individuell anpassning: analys av preferenser och tillgänglighet, och med din "
            "tillåtelse anpassning av konsultprofil/CV för ett uppdrag",
            "Orderuppfyllelse: fakturor, betalningar, kontroll av adresser och identitet",
            "Information, service och kommunikation med konsulter, kunder och säljpartners",
        ),
        legal_bases=(
            "Avtal: behandlingen behövs för att fullgöra ett avtal med dig",
            "Rättslig förpliktelse",
            "Intresseavvägning (vårt berättigade intresse av att förmedla konsulttjänster)",
            "Samtycke, för den behandling du särskilt har samtyckt till",
        ),
        categories=(
            "Namn, e-postadress och telefonnummer",
            "Kompetensområden, yrkesroller, meritförteckning/CV och personligt brev",
            "Namn och organisationsnummer på bolaget du fakturerar genom",
            "Tillgänglighetsdatum, fotografi och referenser (om du lämnat dem)",
            "Tekniska uppgifter (IP-adress, operativsystem, webbläsare) via cookies",
            "Uppgifter om hur du använder vår webbplats och våra nyhetsbrev",
            "Uppgifter från sociala nätverk som du låter dem dela med oss",
            "Återkoppling och innehåll du själv delar med oss",
        ),
        recipients=(
            "Kunder, när vi förmedlar ett uppdrag",
            "Tjänsteleverantörer som behandlar uppgifter för vår räkning "
            "(personuppgiftsbiträden), t.ex. drift, betalning och support",
            "En förvärvare om NOX Consulting går samman med eller förvärvas av ett annat bolag",
            "Myndigheter och andra när lag kräver det",
        ),
        transfers="Dina uppgifter kan lagras på servrar som NOX Consulting använder och som "
        "finns utanför Sverige.",
        retention="Vi sparar uppgifterna bara så länge som krävs för de ändamål de samlades in "
        "för, eller för att uppfylla krav i lag (till exempel bokföringslagen).",
        source="Från dig själv eller en representant för ditt bolag: via webbplatsen, e-post, "
        "dokument, telefon, sms eller andra meddelanden, och från sociala nätverk när du "
        "tillåter det.",
        automated_decisions="Uppgifterna kan användas för profilering inför "
        "uppdragsförfrågningar och marknadsföring. Vi fattar inga beslut med rättsliga "
        "följder enbart automatiskt.",
        rights=(
            "Att få tillgång till dina uppgifter (registerutdrag)",
            "Att få felaktiga uppgifter rättade",
            "Att få uppgifter raderade",
            "Att begränsa behandlingen",
            "Att få ut och flytta dina uppgifter (dataportabilitet)",
            "Att invända mot behandling som bygger på intresseavvägning, och när som helst "
            "mot direktmarknadsföring och profilering",
            "Att när som helst återkalla ett samtycke",
        ),
        complaint="Du kan klaga hos Integritetsskyddsmyndigheten (IMY), imy.se, och har rätt "
        "till skadestånd om du lidit skada av en behandling i strid med lag.",
    ),
    "en": Art15Info(
        purposes=(
            "Brokering consulting assignments between consultants and our clients",
            "Assignment offers, marketing and campaigns that match your profile (this may "
            "involve profiling)",
            "Personalisation: analysing preferences and availability, and with your "
            "permission adapting your consultant profile/CV for an assignment",
            "Order fulfilment: invoices, payments, checking addresses and identity",
            "Information, service and communication with consultants, clients and partners",
        ),
        legal_bases=(
            "Contract: the processing is needed to perform a contract with you",
            "Legal obligation",
            "Legitimate interest (our interest in brokering consulting services)",
            "Consent, for processing you have specifically agreed to",
        ),
        categories=(
            "Name, email address and phone number",
            "Areas of competence, roles, CV and cover letter",
            "Name and organisation number of the company you invoice through",
            "Availability date, photograph and references (if you gave them)",
            "Technical data (IP address, operating system, browser) through cookies",
            "How you use our website and newsletters",
            "Data from social networks that you allow them to share with us",
            "Feedback and content you share with us yourself",
        ),
        recipients=(
            "Clients, when we broker an assignment",
            "Service providers processing data on our behalf (processors), e.g. hosting, "
            "payments and support",
            "An acquirer if NOX Consulting merges with or is acquired by another company",
            "Authorities and others where the law requires it",
        ),
        transfers="Your data may be stored on servers used by NOX Consulting that are located "
        "outside Sweden.",
        retention="We keep the data only for as long as the purposes it was collected for "
        "require, or as the law requires (for example Swedish bookkeeping law).",
        source="From you or a representative of your company: through our website, email, "
        "documents, phone, text messages or other messages, and from social networks when "
        "you allow it.",
        automated_decisions="Your data may be used for profiling for assignment offers and "
        "marketing. We make no decisions with legal effects by automated means alone.",
        rights=(
            "Access to your data (a copy)",
            "Rectification of inaccurate data",
            "Erasure",
            "Restriction of processing",
            "Data portability",
            "Objection to processing based on legitimate interest, and at any time to direct "
            "marketing and profiling",
            "Withdrawal of consent at any time",
        ),
        complaint="You may complain to the Swedish Authority for Privacy Protection (IMY), "
        "imy.se, and you may be entitled to damages if unlawful processing harmed you.",
    ),
}


def art15_info(language: str) -> Art15Info:
    return _ART15.get(language, _ART15["en"])


@dataclass(frozen=True)
class InfoAnswer:
    topic: str
    question: str
    answer: str


TOPICS: tuple[str, ...] = (
    "controller",
    "categories",
    "purposes",
    "legal_basis",
    "recipients",
    "transfers",
    "retention",
    "cookies",
    "marketing",
    "security",
    "source",
    "rights",
)

# Keywords per topic, on folded text (lower-case, no diacritics).
_TOPIC_PATTERNS: dict[str, re.Pattern[str]] = {
    topic: re.compile(pattern)
    for topic, pattern in {
        "controller": r"personuppgiftsansvarig|\bcontroller\b|vem ansvarar|who is responsible",
        "categories": r"vilka (person)?uppgifter|vad for (slags )?uppgifter|what (personal )?"
        r"data|which (personal )?data|what information|what kind of data|kategorier|categor",
        "purposes": r"varfor|andamal|vad anvander ni|purpose|\bwhy\b|what do you use",
        "legal_basis": r"rattslig grund|laglig grund|legal basis|lawful basis|pa vilken grund",
        "recipients": r"delar ni|dela(r)? (mina )?uppgifter|tredje part|lamnar ni ut|vilka far|"
        r"\bshare\b|third part|who (can|gets|has) access|\bsell\b|saljer ni",
        "transfers": r"utanfor (sverige|eu)|utomlands|servrar|\bserver|outside (sweden|the eu|"
        r"europe)|abroad|transfer|overfor",
        "retention": r"hur lange|sparar ni|lagrar ni|how long|retention|keep (my|the|your)|"
        r"lagringstid|gallra",
        "cookies": r"cookie|kakor|sparning|tracking",
        "marketing": r"marknadsfor|nyhetsbrev|newsletter|marketing|utskick",
        "security": r"sakerhet|skyddar ni|security|protect|dataintrang|breach",
        "source": r"varifran|hur fick ni|where did you get|how did you get|kalla",
        "rights": r"rattigheter|vilka ratt|my rights|what rights",
    }.items()
}

_ANSWERS: dict[str, dict[str, tuple[str, str]]] = {
    "sv": {
        "controller": (
            "Vem är personuppgiftsansvarig?",
            "NOX Consulting AB är personuppgiftsansvarig. Du når oss på info@noxconsulting.se.",
        ),
        "categories": (
            "Vilka uppgifter behandlar vi?",
            "Främst det som finns i konsultprofil/CV: namn, e-post, telefon, "
            "kompetensområden, roller, meritförteckning, personligt brev samt namn "
            "och organisationsnummer på ditt bolag. Ibland även tillgänglighet, "
            "foto och referenser. Personnummer behöver vi inte.",
        ),
        "purposes": (
            "Varför behandlar vi uppgifterna?",
            "Huvudsyftet är att förmedla konsultuppdrag. Vi använder också uppgifterna "
            "för uppdragsförfrågningar och marknadsföring, för fakturering och för "
            "att kommunicera med dig.",
        ),
        "legal_basis": (
            "På vilken rättslig grund?",
            "Avtal, rättslig förpliktelse, intresseavvägning (vårt berättigade "
            "intresse av att förmedla uppdrag) eller ditt samtycke, beroende på "
            "behandlingen.",
        ),
        "recipients": (
            "Vilka delar vi uppgifterna med?",
            "Med kunder när vi förmedlar ett uppdrag, med tjänsteleverantörer som "
            "arbetar på vårt uppdrag (personuppgiftsbiträden) och med myndigheter "
            "när lag kräver det. Vid en sammanslagning eller ett förvärv kan "
            "uppgifterna föras över till den nya ägaren.",
        ),
        "transfers": (
            "Lagras uppgifterna utanför Sverige?",
            "Ja, uppgifterna kan lagras på servrar som NOX Consulting använder och "
            "som finns utanför Sverige.",
        ),
        "retention": (
            "Hur länge sparar vi uppgifterna?",
            "Bara så länge som krävs för ändamålen, eller så länge lag kräver (till "
            "exempel bokföringslagen för fakturor).",
        ),
        "cookies": (
            "Använder vi cookies?",
            "Ja, sessionscookies samlar in tekniska uppgifter som IP-adress, "
            "operativsystem och webbläsare. Du kan blockera cookies i din webbläsare.",
        ),
        "marketing": (
            "Hur slutar jag få marknadsföring?",
            "Säg till oss när som helst, till exempel genom att svara på detta "
            "meddelande. Administrativa meddelanden, som fakturor, kan du fortfarande "
            "få.",
        ),
        "security": (
            "Hur skyddas uppgifterna?",
            "Vi lagrar uppgifterna i driftsmiljöer med säkerhetsåtgärder mot obehörig "
            "åtkomst, och bara behörig personal har tillgång till dem.",
        ),
        "source": (
            "Varifrån kommer uppgifterna?",
            "Från dig eller en representant för ditt bolag, via webbplatsen, e-post, "
            "dokument, telefon eller sms, och från sociala nätverk om du tillåter det.",
        ),
        "rights": (
            "Vilka rättigheter har du?",
            "Tillgång, rättelse, radering, begränsning, dataportabilitet, invändning och "
            "återkallelse av samtycke.",
        ),
    },
    "en": {
        "controller": (
            "Who is the controller?",
            "NOX Consulting AB is the controller. You can reach us at info@noxconsulting.se.",
        ),
        "categories": (
            "What data do we process?",
            "Mainly what is in a consultant profile/CV: name, email, phone, areas "
            "of competence, roles, CV, cover letter, and the name and organisation "
            "number of your company. Sometimes availability, a photo and "
            "references. We do not need personal identity numbers.",
        ),
        "purposes": (
            "Why do we process it?",
            "Mainly to broker consulting assignments. We also use the data for "
            "assignment offers and marketing, invoicing, and to communicate with you.",
        ),
        "legal_basis": (
            "On what legal basis?",
            "Contract, legal obligation, legitimate interest (our interest in "
            "brokering assignments) or your consent, depending on the processing.",
        ),
        "recipients": (
            "Who do we share it with?",
            "Clients when we broker an assignment, service providers working on "
            "our behalf (processors), and authorities where the law requires it. "
            "In a merger or acquisition the data may pass to the new owner.",
        ),
        "transfers": (
            "Is the data stored outside Sweden?",
            "Yes, it may be stored on servers used by NOX Consulting that are located "
            "outside Sweden.",
        ),
        "retention": (
            "How long do we keep it?",
            "Only as long as the purposes require, or as long as the law requires "
            "(for example Swedish bookkeeping law for invoices).",
        ),
        "cookies": (
            "Do we use cookies?",
            "Yes, session cookies collect technical data such as IP address, operating "
            "system and browser. You can block cookies in your browser.",
        ),
        "marketing": (
            "How do I stop marketing?",
            "Tell us at any time, for example by replying to this message. You may "
            "still receive administrative messages such as invoices.",
        ),
        "security": (
            "How is the data protected?",
            "We keep it in environments with security measures against unauthorised "
            "access, and only authorised staff can reach it.",
        ),
        "source": (
            "Where does the data come from?",
            "From you or a representative of your company, through our website, email, "
            "documents, phone or text message, and from social networks if you allow "
            "it.",
        ),
        "rights": (
            "What rights do you have?",
            "Access, rectification, erasure, restriction, portability, objection and "
            "withdrawal of consent.",
        ),
    },
}

_GENERAL = ("purposes", "categories", "rights")


def _fold(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c)
    )


def info_answers(text: str, language: str) -> tuple[InfoAnswer, ...]:
    """Answers to the topics the person asked about; a general set when none is recognised."""
    folded = _fold(text)
    topics = [t for t in TOPICS if _TOPIC_PATTERNS[t].search(folded)] or list(_GENERAL)
    answers = _ANSWERS.get(language, _ANSWERS["en"])
    return tuple(InfoAnswer(t, *answers[t]) for t in topics)


KIND_LABELS: dict[str, dict[str, str]] = {
    "sv": {
        "access": "tillgång till dina personuppgifter (registerutdrag)",
        "rectification": "rättelse av dina personuppgifter",
        "erasure": "radering av dina personuppgifter",
        "restriction": "begränsning av behandlingen",
        "portability": "dataportabilitet (dina uppgifter i maskinläsbar form)",
        "objection": "invändning mot behandlingen",
        "marketing_optout": "att inte längre få marknadsföring",
        "consent_withdrawal": "återkallelse av samtycke",
        "complaint": "klagomål på vår hantering av personuppgifter",
        "info": "frågor om hur vi behandlar personuppgifter",
    },
    "en": {
        "access": "access to your personal data",
        "rectification": "rectification of your personal data",
        "erasure": "erasure of your personal data",
        "restriction": "restriction of processing",
        "portability": "data portability (your data in a machine-readable form)",
        "objection": "objection to processing",
        "marketing_optout": "no more marketing",
        "consent_withdrawal": "withdrawal of consent",
        "complaint": "a complaint about our handling of personal data",
        "info": "questions about how we process personal data",
    },
}


def kind_labels(kinds: list[str], language: str) -> list[str]:
    """The kinds as the person reads them, in their language."""
    labels = KIND_LABELS.get(language, KIND_LABELS["en"])
    return [labels.get(k, k) for k in kinds]
