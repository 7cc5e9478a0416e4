"""Property: no message carries register data unless its case is verified, a staff member
approved it, and it goes to the person the data is about; and the register changes only as
an approved text says — whatever order requests, answers (right and wrong codes by every
route), staff actions (approvals, calls, edits that drop a kind or restate a change), forged
From lines and strangers writing into other people's threads come in."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.errors import CaseError
from bot.rules.channels import ChannelName
from bot.store.register import subject_data_values
from bot.store.tables import Draft, Outbox, Request, Verification
from bot.workflow.approval import approve_draft, edit_draft
from bot.workflow.confirming import verify_by_phone
from bot.workflow.drafts import open_drafts
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
    "Skicka en kopia av mina personuppgifter och radera dem sedan.",
    "Please delete my personal data and stop sending me newsletters.",
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
    # A forged From: the mail claims to come from the person a case is about.
    st.tuples(st.just("forged"), st.integers(0, 5), st.sampled_from(TEXTS)),
    # A code by mail, quoting a case's reference, from the address the code went to.
    st.tuples(st.just("mailed_code"), st.integers(0, 5), st.booleans()),
    # Staff edit a waiting reply: keep only its first kind, or restate a change.
    st.tuples(st.just("edit"), st.integers(0, 5), st.sampled_from(["narrow", "restate"])),
)

counter = itertools.count()


async def play(world: World, actions: list[tuple]) -> None:
    for step in actions:
        before = register_state(world)
        approved = await act(world, step)
        after = register_state(world)
        if approved is None:
            assert after == before, f"the register changed without an approval: {step}"
        else:
            subject_id, scope = approved
            assert after == expected_after(before, subject_id, scope), (
                f"approving {scope} changed the register otherwise"
            )
    await world.deliver()


async def act(world: World, step: tuple) -> tuple[int | None, dict] | None:
    """One step; for an approved reply, (the person it was about, its scope)."""
    kind, a, b = step
    if True:
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
                draft = drafts[a % len(drafts)]
                with world.session() as session:
                    subject_id = session.get(Request, draft.request_id).subject_id
                try:
                    with world.database.session() as session:
                        approve_draft(session, world.services, draft.id, actor="staff:eva")
                except CaseError:
                    return None
                if draft.purpose == "reply":
                    return subject_id, draft.covers or {"kinds": [], "changes": []}
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
        elif kind == "forged":
            with world.session() as session:
                cases = session.exec(select(Request).where(Request.channel == "email")).all()
            if cases:
                case = cases[a % len(cases)]
                world.email(case.requester_address, b, f"Re: [{case.reference}]")
        elif kind == "mailed_code":
            with world.session() as session:
                codes = session.exec(
                    select(Verification).where(Verification.method == "email_code")
                ).all()
            if codes:
                challenge = codes[a % len(codes)]
                case_ref = world.session().get(Request, challenge.request_id).reference
                mails = [m for m in world.sent_to(challenge.address) if case_ref in m.subject]
                import re

                found = re.search(r"\b\d{6}\b", mails[-1].text) if mails else None
                code = found.group(0) if found and b else "000000"
                world.email(challenge.address, code, f"Re: [{case_ref}]")
        elif kind == "edit":
            with world.database.session() as session:
                replies = [d for d in open_drafts(session) if d.purpose == "reply"]
            if replies:
                try:
                    with world.database.session() as session:
                        _edit(session, world, replies[a % len(replies)].id, b)
                except CaseError:
                    pass
        else:
            await world.deliver()
    return None


def _edit(session, world: World, draft_id: int, how: str) -> None:
    """A staff edit: keep only the first kind (its text cut to match), or restate the new
    phone number of a rectification."""
    draft = session.get(Draft, draft_id)
    covers = draft.covers or {}
    if how == "narrow":
        kept = covers["kinds"][:1]
        dropped = {h.casefold() for k, h in covers.get("sections", {}).items() if k not in kept}
        text = "\n".join(
            line for line in draft.text.splitlines() if line.strip().casefold() not in dropped
        )
        edit_draft(session, world.services, draft_id, text + "\n/Eva", actor="staff:eva",
                   kinds=kept)  # fmt: skip
    elif any(c["field"] == "phone" for c in covers.get("changes", [])):
        text = draft.text.replace("+46765551234", "+46765559999")
        edit_draft(session, world.services, draft_id, text, actor="staff:eva",
                   changes={"phone": "076-555 99 99"})  # fmt: skip


def register_state(world: World) -> dict[int, tuple]:
    """What the register holds, person by person: fields, flags and contact points."""
    from bot.store.register import contacts_of
    from bot.store.tables import Subject

    with world.session() as session:
        return {
            person.id: (
                person.name,
                person.company,
                person.org_number,
                person.restricted,
                person.objected,
                person.marketing_suppressed,
                person.consent_withdrawn,
                frozenset((c.kind, c.value) for c in contacts_of(session, person)),
            )
            for person in session.exec(select(Subject))
        }


def expected_after(before: dict[int, tuple], subject_id: int | None, scope: dict) -> dict:
    """The register after approving a reply with this scope, from the scope alone."""
    after = dict(before)
    if subject_id is None or subject_id not in after:
        return after
    name, company, org, restricted, objected, marketing, consent, contacts = after[subject_id]
    for change in scope.get("changes", []) if "rectification" in scope["kinds"] else []:
        field, new = change["field"], change["new"]
        if field == "name":
            name = new
        elif field == "company":
            company = new
        elif field == "org_number":
            org = new
        else:
            old = {(k, v) for k, v in contacts if k == field and v == change["old"]}
            contacts = (contacts - old) | {(field, new)}
    kinds = scope["kinds"]
    after[subject_id] = (
        name,
        company,
        org,
        restricted or "restriction" in kinds,
        objected or "objection" in kinds,
        marketing or "marketing_optout" in kinds,
        consent or "consent_withdrawal" in kinds,
        frozenset(contacts),
    )
    if "erasure" in kinds:
        del after[subject_id]
    return after


MULTI = "Skicka en kopia av mina personuppgifter och radera dem sedan."


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=14))
# Staff narrow an access + erasure reply to access, then approve: nobody is erased.
@example(
    [
        ("email", ANNA_EMAIL, MULTI),
        ("deliver", None, None),
        ("press", ANNA_TELEGRAM, True),
        ("edit", 0, "narrow"),
        ("approve", 0, None),
    ]
)
# A forged erasure in the thread of a verified access case, then the waiting reply approved.
@example(
    [
        ("email", ANNA_EMAIL, TEXTS[0]),
        ("deliver", None, None),
        ("press", ANNA_TELEGRAM, True),
        ("forged", 0, TEXTS[1]),
        ("approve", 0, None),
        ("approve", 1, None),
    ]
)
# A new phone number restated by staff, confirmed by a call to the old one, approved.
@example(
    [
        ("email", ANNA_EMAIL, TEXTS[3]),
        ("deliver", None, None),
        ("press", ANNA_TELEGRAM, True),
        ("edit", 0, "restate"),
        ("phone", 0, None),
        ("approve", 0, None),
    ]
)
# Wrong codes by mail with the reference, then the right one: the limit holds.
@example(
    [
        ("chat", ANNA_TELEGRAM, TEXTS[0]),
        ("deliver", None, None),
        *[("mailed_code", 0, False)] * 6,
        ("mailed_code", 0, True),
        ("approve", 0, None),
    ]
)
def test_no_register_data_leaves_without_verification_and_staff_approval(actions):
    with tempfile.TemporaryDirectory() as directory:
        world = make_world(Path(directory))
        with world.session() as session:
            from bot.store.register import contacts_of
            from bot.store.tables import Subject

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
