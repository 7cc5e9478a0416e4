"""Which incoming mails are machines talking (never a case, never answered) and which a person."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message

import pytest

from bot.reading.automated import Automated, AutomatedKind, detect_automated

OWN = ("dataskydd@nox.se", "noxbot@nox.se")

PERSONAL: dict[str, str] = {
    "From": "Anna Svensson <anna.svensson@example.se>",
    "To": "dataskydd@nox.se",
    "Subject": "Begäran om registerutdrag",
    "Date": "Tue, 10 Mar 2026 09:12:00 +0100",
    "Message-ID": "<abc123@example.se>",
    "Return-Path": "<anna.svensson@example.se>",
    "Content-Type": "text/plain; charset=utf-8",
    "MIME-Version": "1.0",
}


def with_headers(**extra: str) -> dict[str, str]:
    """The personal mail plus headers; underscores in names become dashes."""
    return PERSONAL | {name.replace("_", "-"): value for name, value in extra.items()}


def test_a_person_writing_is_not_automated() -> None:
    assert detect_automated(PERSONAL, own_addresses=OWN) is None


def test_outlook_mail_with_only_auto_response_suppress_is_a_person() -> None:
    # What Outlook/Exchange put on every mail a person sends: the header asks *others* not to
    # auto-reply to it; it says nothing about this mail being one.
    outlook = PERSONAL | {
        "X-Auto-Response-Suppress": "All",
        "Thread-Topic": "Begäran om registerutdrag",
        "Thread-Index": "AQHcHm1ZqY3kFm0bC0KrF1n2o0a1Fw==",
        "X-MS-Has-Attach": "",
        "X-MS-TNEF-Correlator": "",
        "X-Mailer": "Microsoft Outlook 16.0",
        "Content-Language": "sv-SE",
    }
    assert detect_automated(outlook, own_addresses=OWN) is None


def test_subject_saying_out_of_office_does_not_make_a_person_a_machine() -> None:
    assert (
        detect_automated(with_headers(Subject="Frånvaro / Out of office – radera mina data"))
        is None
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # 1. Our own mail.
        pytest.param(
            with_headers(From="NOX Dataskydd <DataSkydd@NOX.se>"),
            Automated(AutomatedKind.OWN_MAIL, "From: dataskydd@nox.se"),
            id="from-our-address-any-case",
        ),
        pytest.param(
            with_headers(X_Noxbot_Reference="NOX-2026-0042"),
            Automated(AutomatedKind.OWN_MAIL, "X-Noxbot-Reference: NOX-2026-0042"),
            id="our-reference-header",
        ),
        pytest.param(
            with_headers(X_Noxbot="1"),
            Automated(AutomatedKind.OWN_MAIL, "X-Noxbot: 1"),
            id="our-marker-header",
        ),
        pytest.param(
            # Our own acknowledgement carries Auto-Submitted too; "ours" is the better answer.
            with_headers(From="noxbot@nox.se", Auto_Submitted="auto-replied"),
            Automated(AutomatedKind.OWN_MAIL, "From: noxbot@nox.se"),
            id="own-wins-over-auto-submitted",
        ),
        # 2. Bounces.
        pytest.param(
            with_headers(
                Content_Type='multipart/report; report-type=delivery-status; boundary="b1"'
            ),
            Automated(
                AutomatedKind.BOUNCE, "Content-Type: multipart/report; report-type=delivery-status"
            ),
            id="rfc3464-delivery-status-report",
        ),
        pytest.param(
            with_headers(
                Content_Type='Multipart/Report; boundary="b1"; Report-Type="Delivery-Status"'
            ),
            Automated(
                AutomatedKind.BOUNCE, "Content-Type: multipart/report; report-type=delivery-status"
            ),
            id="delivery-status-report-any-case-quoted",
        ),
        pytest.param(
            with_headers(From="MAILER-DAEMON@mx1.example.se (Mail Delivery System)"),
            Automated(AutomatedKind.BOUNCE, "From: mailer-daemon@mx1.example.se"),
            id="from-mailer-daemon",
        ),
        pytest.param(
            with_headers(From="Mail Delivery System <Postmaster@example.se>"),
            Automated(AutomatedKind.BOUNCE, "From: postmaster@example.se"),
            id="from-postmaster",
        ),
        pytest.param(
            with_headers(From="MAILER-DAEMON"),
            Automated(AutomatedKind.BOUNCE, "From: mailer-daemon"),
            id="from-bare-mailer-daemon",
        ),
        pytest.param(
            with_headers(Return_Path="<>"),
            Automated(AutomatedKind.BOUNCE, "Return-Path: <>"),
            id="null-return-path",
        ),
        pytest.param(
            with_headers(Return_Path="< >"),
            Automated(AutomatedKind.BOUNCE, "Return-Path: <>"),
            id="null-return-path-with-space",
        ),
        pytest.param(
            with_headers(Content_Type="multipart/report; report-type=disposition-notification"),
            Automated(
                AutomatedKind.AUTO_REPLY,
                "Content-Type: multipart/report; report-type=disposition-notification",
            ),
            id="read-receipt-rfc8098-is-machine-made",
        ),
        # 3. RFC 3834 Auto-Submitted.
        pytest.param(
            with_headers(Auto_Submitted="auto-replied"),
            Automated(AutomatedKind.AUTO_REPLY, "Auto-Submitted: auto-replied"),
            id="auto-submitted-auto-replied",
        ),
        pytest.param(
            with_headers(Auto_Submitted="auto-generated"),
            Automated(AutomatedKind.AUTO_REPLY, "Auto-Submitted: auto-generated"),
            id="auto-submitted-auto-generated",
        ),
        pytest.param(
            with_headers(Auto_Submitted="auto-notified"),
            Automated(AutomatedKind.AUTO_REPLY, "Auto-Submitted: auto-notified"),
            id="auto-submitted-auto-notified",
        ),
        pytest.param(
            with_headers(Auto_Submitted="Auto-Replied; owner-email=it@example.se"),
            Automated(
                AutomatedKind.AUTO_REPLY, "Auto-Submitted: Auto-Replied; owner-email=it@example.se"
            ),
            id="auto-submitted-with-parameters",
        ),
        pytest.param(
            # RFC 3834 §3.3: responders should use the null reverse-path too.
            with_headers(Auto_Submitted="auto-replied", Return_Path="<>"),
            Automated(AutomatedKind.AUTO_REPLY, "Auto-Submitted: auto-replied"),
            id="auto-reply-with-null-return-path-is-no-bounce",
        ),
        # 4. Auto-responders outside the RFCs.
        pytest.param(
            with_headers(X_Autoreply="yes"),
            Automated(AutomatedKind.AUTO_REPLY, "X-Autoreply: yes"),
            id="x-autoreply",
        ),
        pytest.param(
            with_headers(X_Autorespond="Frånvaromeddelande"),
            Automated(AutomatedKind.AUTO_REPLY, "X-Autorespond: Frånvaromeddelande"),
            id="x-autorespond",
        ),
        pytest.param(
            with_headers(X_Autoresponder="true"),
            Automated(AutomatedKind.AUTO_REPLY, "X-Autoresponder: true"),
            id="x-autoresponder",
        ),
        pytest.param(
            with_headers(X_Auto_Response_Suppress="All", X_Autoreply="yes"),
            Automated(AutomatedKind.AUTO_REPLY, "X-Autoreply: yes"),
            id="outlook-suppress-with-real-autoreply-header",
        ),
        # 6. Precedence.
        pytest.param(
            with_headers(Precedence="bulk"),
            Automated(AutomatedKind.BULK, "Precedence: bulk"),
            id="precedence-bulk",
        ),
        pytest.param(
            with_headers(Precedence="Junk"),
            Automated(AutomatedKind.BULK, "Precedence: junk"),
            id="precedence-junk",
        ),
        pytest.param(
            with_headers(Precedence="list"),
            Automated(AutomatedKind.MAILING_LIST, "Precedence: list"),
            id="precedence-list",
        ),
        # 7. Mailing lists (RFC 2919, RFC 2369).
        pytest.param(
            with_headers(List_Id="Nyheter från Exempel AB <nyheter.example.se>"),
            Automated(
                AutomatedKind.MAILING_LIST, "List-Id: Nyheter från Exempel AB <nyheter.example.se>"
            ),
            id="list-id",
        ),
        pytest.param(
            with_headers(List_Unsubscribe="<https://example.se/u/1>, <mailto:u@example.se>"),
            Automated(
                AutomatedKind.MAILING_LIST,
                "List-Unsubscribe: <https://example.se/u/1>, <mailto:u@example.se>",
            ),
            id="list-unsubscribe-newsletter",
        ),
        pytest.param(
            with_headers(List_Post="<mailto:gdpr-talk@lists.example.org>"),
            Automated(
                AutomatedKind.MAILING_LIST, "List-Post: <mailto:gdpr-talk@lists.example.org>"
            ),
            id="list-post",
        ),
    ],
)
def test_machine_mail_is_recognised_with_the_header_that_gave_it_away(
    headers: dict[str, str], expected: Automated
) -> None:
    assert detect_automated(headers, own_addresses=OWN) == expected


@pytest.mark.parametrize("value", ["no", "No", " NO "])
def test_auto_submitted_no_means_a_person(value: str) -> None:
    assert detect_automated(with_headers(Auto_Submitted=value)) is None


@pytest.mark.parametrize(
    "content_type",
    ["multipart/mixed; boundary=x", "text/plain", "multipart/report"],
    ids=["mixed", "plain", "report-without-report-type"],
)
def test_other_content_types_are_no_bounce(content_type: str) -> None:
    result = detect_automated(with_headers(Content_Type=content_type))
    assert result is None or result.kind is not AutomatedKind.BOUNCE


def test_report_without_report_type_is_still_machine_made() -> None:
    assert detect_automated(with_headers(Content_Type="multipart/report")) == Automated(
        AutomatedKind.AUTO_REPLY, "Content-Type: multipart/report; report-type="
    )


def test_content_type_given_apart_from_the_headers_wins() -> None:
    dsn = "multipart/report; report-type=delivery-status"
    assert detect_automated(PERSONAL, content_type=dsn) == Automated(
        AutomatedKind.BOUNCE, "Content-Type: multipart/report; report-type=delivery-status"
    )
    headers_say_dsn = with_headers(Content_Type=dsn)
    assert detect_automated(headers_say_dsn, content_type="text/plain") is None


def test_sender_named_like_a_mail_system_elsewhere_in_the_address_is_a_person() -> None:
    assert detect_automated(with_headers(From="Postmaster Pat <pat@postmaster.example.se>")) is None


def test_own_address_only_counts_when_given() -> None:
    assert detect_automated(with_headers(From="dataskydd@nox.se")) is None


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [
        ("AUTO-SUBMITTED", "auto-replied", AutomatedKind.AUTO_REPLY),
        ("auto-submitted", "auto-replied", AutomatedKind.AUTO_REPLY),
        ("x-autoreply", "yes", AutomatedKind.AUTO_REPLY),
        ("PRECEDENCE", "bulk", AutomatedKind.BULK),
        ("list-id", "<l.example.org>", AutomatedKind.MAILING_LIST),
        ("LIST-UNSUBSCRIBE", "<mailto:u@example.org>", AutomatedKind.MAILING_LIST),
        ("return-path", "<>", AutomatedKind.BOUNCE),
        ("x-noxbot-reference", "NOX-1", AutomatedKind.OWN_MAIL),
        ("content-type", "multipart/report; report-type=delivery-status", AutomatedKind.BOUNCE),
    ],
)
def test_header_names_are_matched_in_any_case(name: str, value: str, kind: AutomatedKind) -> None:
    headers = {k: v for k, v in PERSONAL.items() if k.lower() != name.lower()} | {name: value}
    result = detect_automated(headers)
    assert result is not None
    assert result.kind is kind


def test_from_header_in_any_case_is_checked_against_own_addresses() -> None:
    headers = {"FROM": "noxbot@nox.se", "subject": "Kvittens"}
    assert detect_automated(headers, own_addresses=["NoxBot@Nox.SE"]) == Automated(
        AutomatedKind.OWN_MAIL, "From: noxbot@nox.se"
    )


RAW_OUT_OF_OFFICE = b"""\
Return-Path: <>
From: Erik Berg <erik.berg@example.se>
To: dataskydd@nox.se
Subject: =?utf-8?q?Fr=C3=A5nvaro=3A_Re=3A_Ert_=C3=A4rende_NOX-2026-0042?=
AUTO-SUBMITTED: auto-replied
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset=utf-8

Jag \xc3\xa4r tillbaka den 20 april.
"""

RAW_DSN = b"""\
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.example.se>
To: dataskydd@nox.se
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="B0UND"
MIME-Version: 1.0

--B0UND
Content-Type: text/plain

Your message could not be delivered.
--B0UND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.se
Final-Recipient: rfc822; nobody@example.se
Action: failed
Status: 5.1.1
--B0UND--
"""

RAW_OUTLOOK = b"""\
Return-Path: <anna.svensson@example.se>
From: Anna Svensson <anna.svensson@example.se>
To: "dataskydd@nox.se" <dataskydd@nox.se>
Subject: Radera mina uppgifter
Thread-Topic: Radera mina uppgifter
Thread-Index: AQHcHm1ZqY3kFm0bC0KrF1n2o0a1Fw==
X-Auto-Response-Suppress: All
X-MS-Has-Attach:
Content-Type: text/plain; charset="iso-8859-1"

Hej, radera allt ni har om mig.
"""

RAW_NEWSLETTER = b"""\
From: Exempel AB <nyheter@example.se>
To: dataskydd@nox.se
Subject: Nyheter om GDPR i mars
List-Unsubscribe: <https://example.se/unsubscribe?u=1>,
 <mailto:unsubscribe@example.se?subject=unsubscribe>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
Content-Type: text/html; charset=utf-8

<p>Nyheter</p>
"""


@pytest.mark.parametrize("policy", [email.policy.compat32, email.policy.default], ids=str)
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            RAW_OUT_OF_OFFICE,
            Automated(AutomatedKind.AUTO_REPLY, "Auto-Submitted: auto-replied"),
            id="out-of-office",
        ),
        pytest.param(
            RAW_DSN,
            Automated(
                AutomatedKind.BOUNCE, "Content-Type: multipart/report; report-type=delivery-status"
            ),
            id="delivery-status-notification",
        ),
        pytest.param(RAW_OUTLOOK, None, id="outlook-person"),
        pytest.param(
            RAW_NEWSLETTER,
            Automated(
                AutomatedKind.MAILING_LIST,
                "List-Unsubscribe: <https://example.se/unsubscribe?u=1>,"
                " <mailto:unsubscribe@example.se?subject=unsubscribe>",
            ),
            id="newsletter-folded-header",
        ),
    ],
)
def test_parsed_messages_are_read_like_header_dicts(
    raw: bytes, expected: Automated | None, policy: email.policy.Policy
) -> None:
    message = email.message_from_bytes(raw, policy=policy)
    assert isinstance(message, Message)
    assert detect_automated(message, own_addresses=OWN) == expected


def test_email_message_built_by_us_is_recognised_as_own() -> None:
    message = EmailMessage()
    message["From"] = "NOX Dataskydd <dataskydd@nox.se>"
    message["To"] = "anna.svensson@example.se"
    message["X-Noxbot-Reference"] = "NOX-2026-0042"
    message.set_content("Vi har tagit emot din begäran.")
    assert detect_automated(message) == Automated(
        AutomatedKind.OWN_MAIL, "X-Noxbot-Reference: NOX-2026-0042"
    )
    assert detect_automated(message, own_addresses=OWN) == Automated(
        AutomatedKind.OWN_MAIL, "From: dataskydd@nox.se"
    )


def test_kinds_have_stable_values_for_storage() -> None:
    assert [kind.value for kind in AutomatedKind] == [
        "auto_reply",
        "bounce",
        "mailing_list",
        "bulk",
        "own_mail",
    ]
