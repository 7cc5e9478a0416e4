"""The console refuses a form larger than any staff member writes before reading it: a
form is otherwise held in memory whole, by a process that also reads mail and sends replies."""

from __future__ import annotations

from tests.web_kit import console_client
from tests.workflow_kit import ANNA_EMAIL


async def test_a_huge_login_form_is_refused_before_it_is_read(world):
    """Before, 40 logins of 39 MB each, sent at once by anyone, took the process to 1 GB
    before each was refused for its missing token."""
    async with console_client(world) as (http, _):
        refused = await http.post("/login", data={"name": "x" * 2_000_000, "password": "y"})
        assert refused.status_code == 413 and "too large" in refused.text
        assert refused.headers["x-frame-options"] == "DENY"
        huge = await http.post("/logout", data={"csrf": "z" * 100_000})
        assert huge.status_code == 413


async def test_a_staff_form_is_read_only_for_someone_logged_in(world):
    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    async with console_client(world) as (http, _):
        http.cookies.clear()  # no longer logged in
        form = {"csrf": "x", "text": "a" * 3_000_000}
        answer = await http.post(f"/cases/{reference}/edit", data=form)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


async def test_an_edit_as_long_as_a_long_letter_is_saved_and_a_larger_one_refused(world):
    reference = world.email(ANNA_EMAIL, "Sluta skicka nyhetsbrev till mig.").reference
    draft = world.reply_draft(reference)
    long_letter = draft.text + "\n\nP.S. " + "Vi har ändrat åtkomsten för ärendet. " * 4_000
    async with console_client(world) as (http, csrf):
        form = {"csrf": csrf, "draft": str(draft.id), "subject": draft.subject, "why": "längre"}
        saved = await http.post(f"/cases/{reference}/edit", data={**form, "text": long_letter})
        assert saved.status_code == 303, saved.text[-300:]
        assert len(world.reply_draft(reference).text) > 148_000
        too_large = await http.post(
            f"/cases/{reference}/edit", data={**form, "text": "å" * 1_000_000}
        )
    assert too_large.status_code == 413
