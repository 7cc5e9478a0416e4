"""Property: no message carries register data unless its case is verified, a staff member
approved it, and it goes to the person the data is about — whatever order requests,
answers, staff actions and strangers writing into other people's threads come in."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.approval import approve_draft
from bot.case_records import CaseError
from bot.channels.base import ChannelName
from bot.drafts import open_drafts
from bot.models import Draft, Outbox, Request, Verification
from bot.register import subject_data_values
from bot.verifying import verify_by_phone
from tests.workflow_kit import (
    ANNA_EMAIL,
    ANNA_TELEGRAM,
    ERIK_EMAIL,
    JOHN_EMAIL,
    JOHN_TELEGRAM,
    MARIA_EMAIL,
    MARIA_TELEGRAM,
    World,
    make_world,
)

TEXTS = [
    "Jag vill ha en kopia av alla personuppgifter ni har om mig.",
    "Please delete all my personal data.",
    "Please send me my personal data as JSON so I can move it elsewhere.",
    "Rätta mitt telefonnummer till 076-555 12 34.",
    "Please restrict the processing of my personal data.",
    "sluta skicka nyhetsbrev till mig",
    "What personal data do you hold about me?",
    "Jag är missnöjd och anmäler er till IMY.",
]
EMAIL_SENDERS = [ANNA_EMAIL, JOHN_EMAIL, ERIK_EMAIL, MARIA_EMAIL, "stranger@example.org"]
TELEGRAM_SENDERS = [ANNA_TELEGRAM, JOHN_TELEGRAM, MARIA_TELEGRAM, "5559999"]
ON_FILE_TELEGRAM = [ANNA_TELEGRAM, JOHN_TELEGRAM, MARIA_TELEGRAM, "5559999"]

action = st.one_of(
    st.tuples(st.just("email"), st.sampled_from(EMAIL_SENDERS), st.sampled_from(TEXTS)),
    st.tuples(st.just("chat"), st.sampled_from(TELEGRAM_SENDERS), st.sampled_from(TEXTS)),
    st.tuples(st.just("press"), st.sampled_from(ON_FILE_TELEGRAM), st.booleans()),
    st.tuples(st.just("code"), st.sampled_from(TELEGRAM_SENDERS), st.booleans()),
    st.tuples(st.just("approve"), st.integers(0, 5), st.none()),
    st.tuples(st.just("phone"), st.integers(0, 5), st.none()),
    st.tuples(st.just("deliver"), st.none(), st.none()),
    # Someone (maybe not the requester) answers in a case's thread, quoting its reference.
    st.tuples(st.just("thread"), st.sampled_from(EMAIL_SENDERS), st.sampled_from(TEXTS)),
)

counter = itertools.count()


async def play(world: World, actions: list[tuple]) -> None:
    for kind, a, b in actions:
        if kind == "email":
            world.email(a, b)
        elif kind == "chat":
            world.chat(a, b)
        elif kind == "press":
            with world.session() as session:
                pending = session.exec(
                    select(Verification).where(Verification.method == "telegram_confirm")
                ).all()
            for verification in pending[-1:]:
                world.press(a, verification.id, b)
        elif kind == "code":
            mails = world.channels[ChannelName.EMAIL].sent
            if mails:
                import re

                found = re.search(r"\b\d{6}\b", mails[-1].text)
                code = found.group(0) if found and b else "000000"
                world.chat(a, code)
        elif kind == "approve":
            with world.database.session() as session:
                drafts = open_drafts(session)
            if drafts:
                try:
                    with world.database.session() as session:
                        approve_draft(
                            session, world.services, drafts[a % len(drafts)].id, actor="staff:eva"
                        )
                except CaseError:
                    pass
        elif kind == "phone":
            with world.session() as session:
                cases = session.exec(select(Request)).all()
            if cases:
                try:
                    with world.database.session() as session:
                        verify_by_phone(
                            session,
                            world.services,
                            cases[a % len(cases)].reference,
                            "called the number on file",
                            actor="staff:eva",
                        )
                except CaseError:
                    pass
        elif kind == "thread":
            with world.session() as session:
                cases = session.exec(select(Request)).all()
            if cases:
                world.email(a, b, f"Re: Din begäran [{cases[-1].reference}]")
        else:
            await world.deliver()
    await world.deliver()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=14))
def test_no_register_data_leaves_without_verification_and_staff_approval(actions):
    with tempfile.TemporaryDirectory() as directory:
        world = make_world(Path(directory))
        with world.session() as session:
            from bot.models import Subject
            from bot.register import contacts_of

            # Each person's register values, and where they may go: their own addresses.
            # Names and addresses are left out: they are what a requester tells us anyway.
            owners: dict[str, set[str]] = {}
            for person in session.exec(select(Subject)):
                addresses = {c.value for c in contacts_of(session, person)}
                for value in subject_data_values(session, person):
                    if "@" in value or value.isdigit() or value == person.name:
                        continue
                    owners.setdefault(value, set()).update(addresses)
        asyncio.run(play(world, actions))
        with world.session() as session:
            for outbox in session.exec(select(Outbox).where(Outbox.status == "sent")):
                payload = outbox.text + "".join(a["content"] for a in outbox.attachments)
                leaked = {v for v in owners if v in payload}
                if not leaked:
                    continue
                for value in leaked:
                    assert outbox.address in owners[value], (
                        f"{value!r} went to {outbox.address}, not to the person it is about"
                    )
                draft = session.get(Draft, outbox.draft_id) if outbox.draft_id else None
                case = session.get(Request, outbox.request_id)
                assert draft is not None, f"{outbox.purpose} carried {leaked} without a draft"
                assert draft.decided_by and draft.decided_by.startswith("staff:"), leaked
                assert case is not None and case.verified_at is not None, (
                    f"{case.reference} unverified but sent {leaked}"
                )
        world.database.dispose()
