"""Staff accounts of the console: what a session and the login limit allow, over time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.store.tables import StaffAccount, WebSession
from bot.web import accounts
from tests.sources_kit import write_docx, write_odt, write_pdf
from tests.workflow_kit import make_world

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_logins_never_used_again_are_forgotten_by_the_daily_housekeeping(tmp_path: Path):
    from bot.workflow.housekeeping import run_daily_retention

    world = make_world(tmp_path)
    now = world.clock()
    with world.database.session() as session:
        account, _ = accounts.add_account(
            session, "alice", now=now, actor="staff:admin", setup_hours=1
        )
        accounts.set_password(session, account, "a long enough password", now)
        accounts.open_session(session, account, now, minutes=60)  # the browser never returns
        live, _ = accounts.open_session(session, account, now + timedelta(hours=2), minutes=60)
    world.clock.advance(hours=2)
    with world.database.session() as session:
        run_daily_retention(session, world.services, world.clock().date())
    with world.database.session() as session:
        assert len(session.exec(select(WebSession)).all()) == 1
        assert accounts.session_for(session, live, world.clock()) is not None
    world.database.dispose()


def test_a_session_ends_at_its_lifetime_and_a_reset_ends_it_at_once(tmp_path: Path):
    world = make_world(tmp_path)
    now = world.clock()
    with world.database.session() as session:
        account, _ = accounts.add_account(
            session, "alice", now=now, actor="staff:admin", setup_hours=1
        )
        accounts.set_password(session, account, "a long enough password", now)
        token, _ = accounts.open_session(session, account, now, minutes=60)
    with world.database.session() as session:
        assert accounts.session_for(session, token, now + timedelta(minutes=59)) is not None
        assert accounts.session_for(session, token, now + timedelta(minutes=60)) is None
        # The expired session is gone from the database, not only refused.
        assert session.exec(select(WebSession)).all() == []
    with world.database.session() as session:
        account = session.exec(select(StaffAccount)).one()
        token, _ = accounts.open_session(session, account, now, minutes=60)
        accounts.reset_account(session, "alice", now=now, actor="staff:admin", setup_hours=1)
        assert accounts.session_for(session, token, now) is None
        assert accounts.check_login(session, "alice", "a long enough password") is None
    world.database.dispose()


def test_the_password_is_kept_only_as_an_argon2_hash_and_a_setup_link_expires(tmp_path: Path):
    world = make_world(tmp_path)
    now = world.clock()
    with world.database.session() as session:
        account, link = accounts.add_account(
            session, "bertil", now=now, actor="staff:admin", setup_hours=2
        )
        assert accounts.account_for_setup(session, link, now + timedelta(hours=2)) is None
        assert accounts.account_for_setup(session, link, now + timedelta(hours=1)) is account
        with pytest.raises(accounts.AccountError, match="at least 12"):
            accounts.set_password(session, account, "short", now)
        for blank in (" " * 12, "ab" * 6):
            with pytest.raises(accounts.AccountError, match="no password"):
                accounts.set_password(session, account, blank, now)
        accounts.set_password(session, account, "bertils lösenord", now)
        assert account.password_hash and account.password_hash.startswith("$argon2id$")
        assert "lösenord" not in account.password_hash
        assert accounts.account_for_setup(session, link, now) is None  # once only
        with pytest.raises(accounts.AccountError, match="exists already"):
            accounts.add_account(session, "bertil", now=now, actor="staff:admin", setup_hours=2)
        with pytest.raises(accounts.AccountError, match="a staff name is"):
            accounts.add_account(session, "bad name!", now=now, actor="x", setup_hours=2)
    world.database.dispose()


def test_the_login_limit_refuses_after_the_attempts_and_lets_in_when_the_window_moves_on():
    limiter = accounts.LoginLimiter(attempts=3, window=timedelta(minutes=15))
    start = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    for minute in range(3):
        got = limiter.reserve("alice", "127.0.0.1", start + timedelta(minutes=minute))
        assert isinstance(got, accounts.Reservation)
    refused = limiter.reserve("Alice", "127.0.0.1", start + timedelta(minutes=5))
    assert isinstance(refused, accounts.Refusal) and not refused.slowed
    assert refused.seconds == 10 * 60  # until the first wrong guess leaves the window
    assert isinstance(limiter.reserve("bob", "127.0.0.1", start), accounts.Reservation)
    assert isinstance(limiter.reserve("alice", "10.0.0.9", start), accounts.Reservation)
    later = start + timedelta(minutes=15, seconds=1)
    assert isinstance(limiter.reserve("alice", "127.0.0.1", later), accounts.Reservation)


def test_one_address_trying_many_names_is_stopped_after_four_times_the_attempts():
    limiter = accounts.LoginLimiter(attempts=2, window=timedelta(minutes=15))
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    for i in range(8):
        assert isinstance(limiter.reserve(f"name{i}", "10.6.6.6", now), accounts.Reservation)
    assert isinstance(limiter.reserve("name99", "10.6.6.6", now), accounts.Refusal)


def test_a_right_password_hands_its_attempt_back():
    limiter = accounts.LoginLimiter(attempts=2, window=timedelta(minutes=15))
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    for _ in range(5):
        reservation = limiter.reserve("alice", "127.0.0.1", now)
        assert isinstance(reservation, accounts.Reservation)
        limiter.refund(reservation)
    for _ in range(2):
        assert isinstance(limiter.reserve("alice", "127.0.0.1", now), accounts.Reservation)
    assert isinstance(limiter.reserve("alice", "127.0.0.1", now), accounts.Refusal)


PASSWORD = "correct horse battery"


def _console(tmp_path: Path, attempts: int = 3, **web: Any) -> tuple[Any, Any]:
    """A console over a fresh world with staff member alice (password PASSWORD)."""
    from bot.config import WebSettings
    from bot.web.app import create_app

    world = make_world(tmp_path)
    with world.database.session() as session:
        account, _ = accounts.add_account(
            session, "alice", now=world.clock(), actor="staff:admin", setup_hours=1
        )
        accounts.set_password(session, account, PASSWORD, world.clock())
    settings = WebSettings(login_attempts=attempts, login_window_minutes=15, **web)
    return world, create_app(world.database, world.services, settings)


async def _login(
    app: Any, password: str, client_ip: str = "10.0.0.1", name: str = "alice"
) -> tuple[int, str]:
    """One browser's login from `client_ip`: the status and page it gets back."""
    import re

    import httpx

    transport = httpx.ASGITransport(app=app, client=(client_ip, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        response = await http.post(
            "/login", data={"csrf": csrf.group(1), "name": name, "password": password}
        )
        return response.status_code, response.text


async def test_thirty_guesses_at_once_from_one_address_still_get_only_three_tries(tmp_path):
    world, app = _console(tmp_path, attempts=3)
    try:
        answers = await asyncio.gather(*(_login(app, f"wrong guess no {i:02d}") for i in range(30)))
        statuses = [status for status, _ in answers]
        assert statuses.count(401) == 3, statuses  # only three passwords were checked
        assert statuses.count(429) == 27, statuses
        assert "Too many wrong passwords" in next(text for s, text in answers if s == 429)
        # the right password from that address waits for the window too
        assert (await _login(app, PASSWORD))[0] == 429
    finally:
        world.database.dispose()


async def test_sixteen_logins_at_once_check_four_passwords_and_tell_the_rest_to_try_again(
    tmp_path,
):
    world, app = _console(tmp_path, attempts=5)
    try:
        answers = await asyncio.gather(
            *(_login(app, "x" * 12, f"10.1.0.{i}", f"nobody{i}") for i in range(16))
        )
        statuses = [status for status, _ in answers]
        # four argon2 checks at most (64 MiB each), not sixteen
        assert statuses.count(401) <= 4 and set(statuses) <= {401, 503}, statuses
        busy = [text for status, text in answers if status == 503]
        assert busy and all("busy: try again in a moment" in text for text in busy)
        # once the rush is over, logging in works as usual
        assert (await _login(app, PASSWORD, "10.1.0.0"))[0] == 303
    finally:
        world.database.dispose()


async def test_three_wrong_guesses_from_another_address_do_not_keep_alice_out(tmp_path):
    world, app = _console(tmp_path, attempts=3)
    try:
        for _ in range(3):
            assert (await _login(app, "wrong password!!", "203.0.113.66"))[0] == 401
        assert (await _login(app, "wrong password!!", "203.0.113.66"))[0] == 429
        assert (await _login(app, PASSWORD, "10.9.9.9"))[0] == 303  # alice, her own PC
    finally:
        world.database.dispose()


async def test_guessing_alice_from_many_addresses_slows_her_login_but_never_locks_her_out(
    tmp_path,
):
    world, app = _console(tmp_path, attempts=3)
    try:
        for i in range(12):  # four times the attempts, each from a fresh address
            assert (await _login(app, "wrong password!!", f"198.51.100.{i}"))[0] == 401
        assert (await _login(app, "wrong password!!", "198.51.100.99"))[0] == 401
        status, page = await _login(app, PASSWORD, "10.9.9.9")
        assert status == 429 and "wait 30 seconds and try again" in page
        assert (await _login(app, "wrong password!!", "198.51.100.98"))[0] == 429
        world.clock.advance(seconds=30)
        assert (await _login(app, PASSWORD, "10.9.9.9"))[0] == 303
    finally:
        world.database.dispose()


def test_the_session_cookie_is_secure_when_staff_open_an_https_address_unless_told_otherwise():
    from bot.config import WebSettings

    assert WebSettings(base_url="https://console.nox.example").secure_cookies is True
    assert WebSettings(base_url="HTTPS://console.nox.example").secure_cookies is True
    assert WebSettings().secure_cookies is False  # http://127.0.0.1:8470
    assert WebSettings(secure_cookies=True).secure_cookies is True
    explicit = WebSettings(base_url="https://console.nox.example", secure_cookies=False)
    assert explicit.secure_cookies is False


async def test_logging_in_over_the_https_address_sets_a_secure_session_cookie(tmp_path):
    world, app = _console(tmp_path, base_url="https://console.nox.example")
    try:
        import re

        import httpx

        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1))
        # the browser speaks https to the proxy (a Secure login-form cookie comes back)
        address = "https://console.nox.example"
        async with httpx.AsyncClient(transport=transport, base_url=address) as http:
            csrf = re.search(r'name="csrf" value="([^"]+)"', (await http.get("/login")).text)
            assert csrf is not None
            response = await http.post(
                "/login", data={"csrf": csrf[1], "name": "alice", "password": PASSWORD}
            )
        assert response.status_code == 303
        session_cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("noxbot_session=")
        )
        assert "secure" in session_cookie.lower() and "httponly" in session_cookie.lower()
    finally:
        world.database.dispose()


async def _downloaded_and_viewed(
    tmp_path: Path, filename: str, content_type: str, raw: bytes
) -> tuple[Any, Any]:
    """A reply carrying `raw` as a found file: its download and its view in the console."""
    import base64

    import httpx

    from bot.channels.messages import Attachment
    from bot.store.records import get_case
    from bot.workflow.drafts import new_draft

    world, app = _console(tmp_path)
    try:
        outcome = world.email("kund@example.com", "Please send me a copy of my personal data.")
        found = Attachment(filename, content_type, base64.b64encode(raw).decode(), "base64")
        with world.database.session() as session:
            case = get_case(session, outcome.reference)
            draft = new_draft(
                session, case, "reply", "s", "t", now=world.clock(), attachments=(found,)
            )
            session.flush()
            draft_id = draft.id
            token, _ = accounts.open_session(
                session, accounts.get_account(session, "alice"), world.clock(), 60
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", cookies={"noxbot_session": token}
        ) as http:
            download = await http.get(f"/drafts/{draft_id}/attachments/0?download=1")
            view = await http.get(f"/drafts/{draft_id}/attachments/0")
        return download, view
    finally:
        world.database.dispose()


async def test_staff_see_and_download_a_found_mail_as_it_will_be_attached_not_as_base64(
    tmp_path,
):
    raw = b"From: kund@example.com\r\nSubject: Offert\r\n\r\nour budget is 2 MSEK\r\n"
    download, view = await _downloaded_and_viewed(tmp_path, "mail-1.eml", "message/rfc822", raw)
    assert download.status_code == 200 and download.content == raw
    assert download.headers["content-type"].startswith("message/rfc822")
    assert view.status_code == 200 and "our budget is 2 MSEK" in view.text
    assert view.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("filename", ["Резюме Джон 履歴書.txt", "Åsa Öberg – CV.txt"])
async def test_a_file_named_in_any_alphabet_is_viewed_and_downloaded_by_its_name(
    tmp_path, filename
):
    """Before, a name outside Latin-1 made both a server error (HTTP headers are Latin-1):
    staff could not look at what the reply would send."""
    from urllib.parse import unquote

    raw = "Erfarenhet: 12 år".encode()
    download, view = await _downloaded_and_viewed(tmp_path, filename, "text/plain", raw)
    assert download.status_code == 200 and download.content == raw
    assert view.status_code == 200 and "Erfarenhet: 12 år" in view.text
    disposition = download.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    named = unquote(disposition.split("filename*=UTF-8''")[1])
    assert named.endswith(".txt") and filename.split()[0] in named  # "Резюме", "Åsa"


@pytest.mark.parametrize(
    ("filename", "content_type", "write"),
    [
        ("cv-anna.docx", DOCX, write_docx),
        ("cv-anna.pdf", "application/pdf", write_pdf),
        ("cv-anna.odt", "application/vnd.oasis.opendocument.text", write_odt),
    ],
)
async def test_staff_view_a_found_cv_as_its_text_and_download_it_as_it_is(
    tmp_path, filename, content_type, write
):
    """Before, "view" showed a DOCX's or ODT's bytes as text: zip gibberish."""
    write(tmp_path / filename, ["Anna Lindqvist", "Systemutvecklare sedan 2011"])
    raw = (tmp_path / filename).read_bytes()
    download, view = await _downloaded_and_viewed(tmp_path, filename, content_type, raw)
    assert download.status_code == 200 and download.content == raw
    assert view.status_code == 200
    assert view.headers["content-type"] == "text/plain; charset=utf-8"
    assert "Systemutvecklare sedan 2011" in view.text and "PK\x03\x04" not in view.text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_console_logs_in_searches_the_queue_and_shows_a_case_on_both_databases(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
):
    import re

    import httpx

    from bot.config import WebSettings
    from bot.web.app import create_app
    from tests.workflow_kit import ANNA_EMAIL

    url = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    world = make_world(tmp_path, url)
    try:
        reference = world.email(ANNA_EMAIL, "Jag vill att ni raderar mina uppgifter.").reference
        with world.database.session() as session:
            account, _ = accounts.add_account(
                session, "alice", now=world.clock(), actor="staff:admin", setup_hours=1
            )
            accounts.set_password(session, account, "a long enough password", world.clock())
        app = create_app(world.database, world.services, WebSettings())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            form = (await client.get("/login")).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            response = await client.post(
                "/login",
                data={"csrf": csrf.group(1), "name": "alice", "password": "a long enough password"},
            )
            assert response.status_code == 303 and response.headers["location"] == "/"
            queue = await client.get("/", params={"q": "raderar"})
            assert reference in queue.text and ANNA_EMAIL in queue.text
            assert reference not in (await client.get("/", params={"q": "nobody"})).text
            case = await client.get(f"/cases/{reference}")
            assert "Jag vill att ni raderar mina uppgifter." in case.text
            assert "checking identity" in case.text
    finally:
        world.database.dispose()


def test_a_command_line_start_does_not_pay_for_a_password_hash():
    """An Argon2 hash takes 64 MiB: the one a wrong name is checked against is made on the
    first login, not when `noxbot` (or `noxbot run`) starts."""
    import subprocess
    import sys

    # VmHWM: this process's own peak (ru_maxrss would carry the parent's over the fork).
    check = (
        "import re, bot.cli; from bot.web import accounts; "
        "status = open('/proc/self/status').read(); "
        "print(accounts._dummy_hash.cache_info().currsize, "
        "int(re.search(r'VmHWM:\\s*(\\d+)', status).group(1)) // 1024)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    hashes, peak_mib = map(int, done.stdout.split())
    assert hashes == 0, done.stderr
    assert peak_mib < 64 + 40  # the hash alone would take 64 MiB


async def test_a_password_set_without_the_setup_forms_token_is_refused_and_the_link_still_works(
    tmp_path,
):
    import re

    import httpx

    world, app = _console(tmp_path)
    with world.database.session() as session:
        _, link = accounts.add_account(
            session, "bertil", now=world.clock(), actor="staff:admin", setup_hours=1
        )
    password = {"password": "bertils eget lösenord", "again": "bertils eget lösenord"}
    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            # Another site's page posting to the link: no form token, so nothing is set.
            refused = await http.post(f"/setup/{link}", data=password)
            assert refused.status_code == 403 and "no valid token" in refused.text
            page = await http.get(f"/setup/{link}")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None and csrf.group(1) not in str(page.url)
            wrong = await http.post(f"/setup/{link}", data={**password, "csrf": "guessed"})
            assert wrong.status_code == 403
            done = await http.post(f"/setup/{link}", data={**password, "csrf": csrf.group(1)})
            assert done.status_code == 303 and done.headers["location"] == "/login?password=set"
            login = await http.get(done.headers["location"])
            assert "Your password is set: log in with it." in login.text
            assert "password is set" not in (await http.get("/login")).text
        with world.database.session() as session:
            assert accounts.check_login(session, "bertil", password["password"]) is not None
    finally:
        world.database.dispose()


async def test_a_crafted_form_token_is_refused_not_a_server_error(tmp_path):
    """A token with characters beyond ASCII made the constant-time comparison raise (500)."""
    import re

    import httpx

    world, app = _console(tmp_path)
    with world.database.session() as session:
        _, link = accounts.add_account(
            session, "bertil", now=world.clock(), actor="staff:admin", setup_hours=1
        )
    password = {"password": "bertils eget lösenord", "again": "bertils eget lösenord"}
    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 1234), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            page = await http.get(f"/setup/{link}")
            assert re.search(r'name="csrf" value="([^"]+)"', page.text)
            setup = await http.post(f"/setup/{link}", data={**password, "csrf": "å"})
            assert setup.status_code == 403
            await http.get("/login")
            login = await http.post("/login", data={"name": "a", "password": "b", "csrf": "å"})
            assert login.status_code == 403
    finally:
        world.database.dispose()


async def test_a_second_setup_page_in_the_same_browser_keeps_the_first_form_working(tmp_path):
    """Each link's form has its own token: opening another person's link, or the same link
    in a second tab, does not void the form already filled in."""
    import re

    import httpx

    world, app = _console(tmp_path)
    with world.database.session() as session:
        _, link_b = accounts.add_account(
            session, "bertil", now=world.clock(), actor="staff:admin", setup_hours=1
        )
        _, link_c = accounts.add_account(
            session, "cecilia", now=world.clock(), actor="staff:admin", setup_hours=1
        )
    password = {"password": "bertils eget lösenord", "again": "bertils eget lösenord"}
    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            first = await http.get(f"/setup/{link_b}")
            csrf_b = re.search(r'name="csrf" value="([^"]+)"', first.text).group(1)
            await http.get(f"/setup/{link_c}")  # another person's link
            await http.get(f"/setup/{link_b}")  # the same link in a second tab
            post = await http.post(f"/setup/{link_b}", data={**password, "csrf": csrf_b})
            assert post.status_code == 303
            forged = await http.post(f"/setup/{link_c}", data={**password, "csrf": "x" * 32})
            assert forged.status_code == 403
    finally:
        world.database.dispose()


async def test_a_form_posted_to_a_case_that_does_not_exist_says_so(tmp_path):
    """A note posted (with a valid form token) to a reference no case has: a page saying
    so, not a server error."""
    import re

    import httpx

    world, app = _console(tmp_path)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            page = await http.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            login = {"csrf": csrf.group(1), "name": "alice", "password": PASSWORD}
            assert (await http.post("/login", data=login)).status_code == 303
            queue = await http.get("/")
            token = re.search(r'name="csrf" value="([^"]+)"', queue.text)
            assert token is not None
            posted = await http.post(
                "/cases/DSR-2026-9999/note", data={"csrf": token.group(1), "text": "x"}
            )
        assert posted.status_code == 400
        assert "no case with reference DSR-2026-9999" in posted.text
    finally:
        world.database.dispose()


async def test_guesses_from_everywhere_do_not_keep_alice_out_of_a_browser_she_logged_in_from(
    tmp_path,
):
    """A crowd guessing at "alice" from ever new addresses takes the name's one check every
    30 seconds before she can; the browser she logged in from before is let past that
    spacing (its cookie is signed by the console: a copied-out name does not do)."""
    import re

    import httpx

    world, app = _console(tmp_path, attempts=3)
    transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as her:

            async def log_in(password: str) -> int:
                page = await her.get("/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
                assert csrf is not None
                form = {"csrf": csrf.group(1), "name": "alice", "password": password}
                return (await her.post("/login", data=form)).status_code

            assert await log_in(PASSWORD) == 303  # her PC, some day before
            her.cookies.delete("noxbot_session")
            for i in range(13):  # the crowd: the name is spaced out from the 13th on
                assert (await _login(app, "wrong password!!", f"198.51.100.{i}"))[0] == 401
            assert (await _login(app, PASSWORD, "10.8.8.8"))[0] == 429  # an unknown browser
            assert await log_in(PASSWORD) == 303  # hers: at once
            her.cookies.delete("noxbot_session")
            forged = accounts.known_browser_token(b"not the console's key", "alice", world.clock())
            her.cookies.set("noxbot_browser", forged)
            assert await log_in(PASSWORD) == 429
    finally:
        world.database.dispose()


def test_a_known_browser_token_is_for_its_name_its_key_and_a_year():
    key, now = b"k" * 32, datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    token = accounts.known_browser_token(key, "Alice", now)
    assert accounts.is_known_browser(key, token, "alice", now + timedelta(days=300))
    assert not accounts.is_known_browser(key, token, "alice", now + timedelta(days=366))
    assert not accounts.is_known_browser(key, token, "bob", now)
    assert not accounts.is_known_browser(b"x" * 32, token, "alice", now)
    for bad in ("", "a.b", "!!.20260601.00", token.replace(".2026", ".2O26"), "é" * 500):
        assert not accounts.is_known_browser(key, bad, "alice", now)


async def test_a_challenge_past_its_time_shows_in_the_console_as_waiting_on_staff(tmp_path):
    """The console served alone (`noxbot web`, no `noxbot run` and its scheduler beside it)
    showed a case whose challenge nobody answered in time as still waiting on the
    requester, as `requests list` does not: the queue and the case page move it to staff
    first, as the command line's lists do."""
    from tests.web_kit import console_client
    from tests.workflow_kit import ANNA_EMAIL

    world = make_world(tmp_path)
    try:
        reference = world.email(ANNA_EMAIL, "Hej, jag vill ha ett registerutdrag om mig.").reference
        assert world.case(reference).status == "awaiting_verification"
        world.clock.advance(hours=world.services.settings.verification.code_ttl_hours + 1)
        async with console_client(world) as (http, _):
            queue = (await http.get("/")).text
            case_page = (await http.get(f"/cases/{reference}")).text
        row = next(r for r in queue.split("<tr") if reference in r)
        assert "identity not confirmed" in row
        assert "answer the verification challenge" not in row
        assert "identity not confirmed" in case_page
        assert world.case(reference).status == "unverified"
        assert len(world.alerts("verification_failed")) == 1
    finally:
        world.database.dispose()
