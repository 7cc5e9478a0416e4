"""The web console: a Starlette application of server-rendered pages and plain HTML forms.

Every page but the login and the setup link needs a live session (a cookie holding a random
token; the database keeps its hash). Every form carries the session's CSRF token and is
refused without it. What staff do goes through the same workflow functions as the command
line, under the staff member's own name in the audit trail. Database work runs in a worker
thread, so the console never stalls the other workers of `noxbot run`.
"""

from __future__ import annotations

import asyncio
import binascii
import difflib
import hashlib
import hmac
import itertools
import secrets
import statistics
import tempfile
import threading
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, or_, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from bot.channels.messages import Attachment
from bot.config import WebSettings
from bot.errors import NoxbotError
from bot.reading.safe_text import printable, stored_note
from bot.rules.channels import ChannelName
from bot.rules.deadlines import local_clock, stockholm_date, working_days_left
from bot.rules.kinds import RequestKind, needs_verification
from bot.rules.verification import Method
from bot.sources.documents import document_text
from bot.store import audit
from bot.store.database import Database, is_refused_conflict, is_transient
from bot.store.forgetting import erased_with
from bot.store.records import get_case, resolution_notes, subject_of
from bot.store.register import as_written
from bot.store.search import name_contains, text_contains
from bot.store.tables import (
    AuditEvent,
    ContactPoint,
    Direction,
    Draft,
    DraftStatus,
    Message,
    MessageState,
    Outbox,
    Request,
    RequestStatus,
    StaffAccount,
    StaffAlert,
    Verification,
    WebSession,
)
from bot.web import accounts
from bot.web.hints import console_alert
from bot.workflow.approval import approval_plan, approve_draft, edit_draft
from bot.workflow.cases import (
    add_note,
    call_still_owed,
    close_case,
    erased_why,
    extend_case,
    redraft_on_request,
    refuse_case,
    reopen_case,
    resolve_alert,
)
from bot.workflow.checklist import sources_json, tick
from bot.workflow.complaints import record_outcome
from bot.workflow.confirming import expire_verifications, identity_denied
from bot.workflow.corrections import add_changes, correct_kinds
from bot.workflow.drafts import reject_draft
from bot.workflow.lifecycle import is_open
from bot.workflow.linking import (
    challenge_routes,
    draft_no_data,
    link_to_subject,
    routes_for,
    send_new_challenge,
)
from bot.workflow.outbox import requeue, text_to_show
from bot.workflow.pipeline import decide_triage
from bot.workflow.services import Services
from bot.workflow.views import (
    case_waits_on,
    challenge_deliveries,
    find_people,
    waiting_notices,
)
from bot.workflow.words import (
    DELIVERY_WORDS,
    PRESSED_WORDS,
    action_words,
    address_words,
    button_pressed,
    challenge_words,
    draft_status_words,
    history_words,
    kinds_words,
    method_words,
    name_words,
    party_words,
    status_words,
)

SESSION_COOKIE = "noxbot_session"
LOGIN_COOKIE = "noxbot_login"  # the login form's CSRF token (double submit)
SETUP_COOKIE = "noxbot_setup"  # the password setup form's CSRF token (double submit)
BROWSER_COOKIE = "noxbot_browser"  # who logged in from this browser before (accounts)


def same_token(expected: str, given: str) -> bool:
    """Whether a form's token is the expected one, in constant time; any text is an answer
    (compare_digest refuses str with characters beyond ASCII: a crafted token was a 500)."""
    return secrets.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


MAX_FORM_TEXT = 200_000  # characters in one form field: bounded work per request
#: Logins whose password is checked at the same moment; more get "busy, try again" (503).
MAX_PASSWORD_CHECKS = 4

#: What a finished action says on the page it returns to (fixed words: no data in URLs).
DONE_WORDS = {
    "approved": "Approved: the reply is queued to be sent.",
    "approved_notice": "Approved: the notice is queued to be sent.",
    "approved_by_hand": "Approved: deliver it by phone or post as the case page says.",
    "edited": "Saved as a new version (a new draft id, shown below; it replaces the one edited).",
    "rejected": "Draft rejected; the reason is recorded.",
    "noted": "Note added.",
    "closed": "Case closed.",
    "reopened": "Case reopened; the legal deadline stays the original one.",
    "extended": "Extension notice drafted; approve it to extend.",
    "refused": "Refusal notice drafted; approve it to refuse.",
    "linked": "Linked to the person on file; the verification challenge is queued to go to them.",
    "linked_call": "Linked to the person on file; call them on the number on file and record "
    'the answer (see Alerts: "call to verify").',
    "linked_no_route": "Linked to the person on file, but no contact point on file may be used "
    "to verify them (see Alerts).",
    "nodata": "Answer drafted: no data held linked to the address. Approve it to send.",
    "kinds": "Kinds corrected; the reply is drafted again for them.",
    "changes": "Changes added; the reply is drafted again to match.",
    "challenge": "A new verification challenge is queued to be sent.",
    "challenge_call": "A call is asked for: call the number on file and record the answer (see "
    'Alerts: "call to verify").',
    "ticked": "Checklist item ticked off; your note stays on the case.",
    "outcome": "Outcome recorded; the reply is drafted again with it, for approval.",
    "redrafted": "The reply is drafted again from what is on file now; review it and approve.",
}

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class Console:
    """The console's state: the database, the workflow's services, the login limiter."""

    def __init__(self, database: Database, services: Services, web: WebSettings) -> None:
        self.database = database
        self.services = services
        self.web = web
        self.limiter = accounts.LoginLimiter(
            web.login_attempts, timedelta(minutes=web.login_window_minutes)
        )
        #: Signs the cookie of a browser its staff member logged in from before.
        self.browser_key = hmac.new(
            services.hash_key, b"noxbot console: known browsers", hashlib.sha256
        ).digest()
        #: Password checks running at once (bounded memory: argon2 takes 64 MiB each).
        self.password_checks = threading.BoundedSemaphore(MAX_PASSWORD_CHECKS)
        self.templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
        # Whatever a page shows (a subject, a mail's text, a file name) cannot hide or
        # reorder what stands around it: a right-to-left override or an escape sequence
        # is shown as "\u202e", as the terminal and the staff chat show it.
        self.templates.env.finalize = _shown_safely
        self.templates.env.filters["as_typed"] = _as_typed
        self.templates.env.filters["status_words"] = status_words
        self.templates.env.filters["name_words"] = name_words
        self.templates.env.filters["kinds_words"] = kinds_words
        self.templates.env.filters["method_words"] = method_words
        self.templates.env.filters["history_words"] = history_words
        self.templates.env.filters["action_words"] = action_words
        self.templates.env.globals["address_words"] = address_words
        self.templates.env.globals["party_words"] = party_words
        self.templates.env.globals["challenge_words"] = challenge_words
        self.templates.env.globals["DELIVERY_WORDS"] = DELIVERY_WORDS
        self.templates.env.globals["console_alert"] = console_alert
        # A press of a confirmation button, kept as a message without text (None otherwise).
        self.templates.env.globals["pressed_words"] = lambda m: PRESSED_WORDS.get(
            button_pressed(m.state, m.state_reason, m.text) or ""
        )
        self.templates.env.filters["text_to_show"] = text_to_show
        self.templates.env.filters["draft_status_words"] = draft_status_words
        # A stated change's phone number as the case's letter writes it ("070-123 45 67").
        self.templates.env.filters["as_written"] = as_written
        # Times as staff read a clock: in the organisation's zone, named (CET, CEST).
        zone = services.settings.organisation.timezone
        self.templates.env.filters["local"] = lambda at, form="%Y-%m-%d %H:%M": local_clock(
            at, zone, form
        )

    def today(self) -> Any:
        return stockholm_date(self.services.clock(), self.services.settings.organisation.timezone)

    def page(
        self, request: HttpRequest, name: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers.update(_SECURITY_HEADERS)
        return response

    def set_cookie(
        self, response: Response, name: str, value: str, max_age: int, path: str = "/"
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            httponly=True,
            samesite="strict",
            secure=self.web.secure_cookies,
        )


Handler = Callable[[HttpRequest], Awaitable[Response]]


def _secured(response: Response) -> Response:
    response.headers.update(_SECURITY_HEADERS)
    return response


def _client(request: HttpRequest) -> str:
    return request.client.host if request.client else "unknown"


T = TypeVar("T")

#: Tries of a staff action that met a deadlock or a lock (each from scratch, in a new
#: transaction), and the pause before the next, growing.
BUSY_TRIES = 3
BUSY_PAUSE_SECONDS = 0.1

BUSY_TEXT = (
    "The database was busy (another action held what this one needed); nothing was done. "
    "Try again in a moment."
)
UNSURE_TEXT = (
    "The database could not be reached, or its answer was lost: whether this was done is "
    "not known. Look at the case before doing it again."
)


class NotRunAgain(Exception):
    """A page or staff action the database failed, not run again; says why, for staff."""


async def _again_while_busy(database: Database, body: Callable[[Session], T]) -> T:
    """`body` in a transaction of its own, run again when the database refused it because
    another held what it needed: a deadlock (two actions at once; on PostgreSQL one is
    refused: an approval holds its draft and waits for the audit trail, a closing holds the
    trail and waits for the draft), a serialisation conflict, a lock not granted in time.
    That transaction was rolled back whole, so running it again is as if pressed a moment
    later; that another action changed the case meanwhile (ChangedMeanwhile) is shown to
    staff instead, who decide on what it is now. Not run again: a transaction that had
    changed something outside the database (DoneOutsideNotRecorded, shown like any refusal),
    and one whose connection was lost (a COMMIT whose answer was lost may have gone
    through)."""
    attempt = 1
    while True:
        try:
            return await run_in_threadpool(_run_once, database, body)
        except DBAPIError as exc:
            if not is_refused_conflict(exc):
                if is_transient(exc):
                    raise NotRunAgain(UNSURE_TEXT) from exc
                raise
            if attempt == BUSY_TRIES:
                raise NotRunAgain(BUSY_TEXT) from exc
        await asyncio.sleep(BUSY_PAUSE_SECONDS * attempt)
        attempt += 1


def _run_once(database: Database, body: Callable[[Session], T]) -> T:
    with database.session() as session:
        return body(session)


#: Bytes one staff form may send: a draft's whole text (MAX_FORM_TEXT characters, each up
#: to four bytes, percent-encoded) and its few other fields.
MAX_FORM_BYTES = MAX_FORM_TEXT * 12 + 64_000
#: Bytes the forms sent before logging in may send (login, logout, the setup link's).
MAX_LOGIN_FORM_BYTES = 16_000


class FormTooLarge(Exception):
    """A form larger than its limit: refused before it is read into memory."""


async def _form(request: HttpRequest, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The posted form's text fields, read only up to `limit` bytes: a form of tens of MB,
    sent before any check of who sends it, must not be held in memory (FormTooLarge)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FormTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise FormTooLarge
    request._body = bytes(body)  # where Starlette keeps a body read: form() parses it
    form = await request.form(max_files=0, max_fields=50, max_part_size=MAX_FORM_TEXT * 4)
    return {k: str(v)[:MAX_FORM_TEXT] for k, v in form.items() if isinstance(v, str)}


class _AsTyped(Markup):
    """A form field's value (escaped HTML): sent back by the browser, so kept exactly as
    written — an escape shown there would be saved into the draft."""


def _as_typed(value: Any) -> Markup:
    return _AsTyped(escape("" if value is None else value))


def _shown_safely(value: Any) -> Any:
    """A value a page shows, with what could hide or reorder text written visibly
    (safe_text.printable); HTML the page built itself stays HTML, a form field's value
    (`as_typed`) as it is."""
    if isinstance(value, _AsTyped):
        return value
    if isinstance(value, Markup):
        return Markup(printable(str(value)))
    return printable(value) if isinstance(value, str) else value


def _disposition(how: str, filename: str) -> str:
    """A Content-Disposition for a file of any name: an ASCII `filename` (letters outside
    ASCII dropped; HTTP headers are Latin-1) and the name itself as RFC 6266's UTF-8
    `filename*`. Quotes, slashes and line ends never reach the header."""
    kept = "".join(c for c in filename if c.isalnum() or c in "._-")
    ascii_name = unicodedata.normalize("NFKD", kept).encode("ascii", "ignore").decode()
    if not ascii_name or ascii_name.startswith("."):  # "Резюме.docx": "file.docx"
        ascii_name = "file" + ascii_name
    if kept == ascii_name or not kept:
        return f'{how}; filename="{ascii_name}"'
    return f"{how}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(kept, safe='')}"


def _too_large(request: HttpRequest, exc: Exception) -> Response:
    return _secured(Response("The form is too large.", 413, media_type="text/plain"))


#: The console's icon in the browser's tab (and no 404 for the one browsers ask for).
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#1f6feb"/>'
    '<text x="8" y="12" font-size="11" text-anchor="middle" fill="#fff" '
    'font-family="sans-serif">n</text></svg>'
)


async def favicon(request: HttpRequest) -> Response:
    return Response(
        FAVICON,
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


#: Attachments read as documents: viewed, the console shows their text (as the documents
#: source reads them), not their bytes; downloaded, they are what the reply attaches.
_DOCUMENTS = (".pdf", ".docx", ".odt")
#: A larger document is not read in the console (reading one costs seconds and a hundred
#: MiB or more, in a request): staff download it. A CV is well under this.
VIEW_DOCUMENT_BYTES = 2 * 1024 * 1024


def _document_text(filename: str, data: bytes) -> str:
    """A document attachment's text, to read in the browser; a line saying so when it
    cannot be read."""
    if len(data) > VIEW_DOCUMENT_BYTES:
        size = f"{len(data) / 1024 / 1024:.1f} MB"
        return f"{filename} is too large to show here ({size}); download it to open it."
    with tempfile.TemporaryDirectory(prefix="noxbot-view-") as folder:
        path = Path(folder) / f"document{Path(filename).suffix.lower()}"
        path.write_bytes(data)
        try:
            text = document_text(path)
        except Exception:  # (pypdf and python-docx raise many kinds for a damaged file)
            return f"The text of {filename} cannot be read here; download it to open it."
    return text or f"{filename} holds no text (a scanned image?); download it to open it."


def create_app(database: Database, services: Services, web: WebSettings) -> Starlette:
    """The console's ASGI application over one database."""
    console = Console(database, services, web)

    def logged_in(session: Session, request: HttpRequest) -> tuple[WebSession, StaffAccount] | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        return accounts.session_for(session, token, services.clock())

    def to_login() -> Response:
        return _secured(RedirectResponse("/login", status_code=303))

    # --- logging in -------------------------------------------------------------------

    async def login_page(request: HttpRequest) -> Response:
        token = secrets.token_urlsafe(24)
        password_set = request.query_params.get("password") == "set"  # (from the setup form)
        response = console.page(
            request, "login.html", {"csrf": token, "error": None, "password_set": password_set}
        )
        console.set_cookie(response, LOGIN_COOKIE, token, 3600)
        return response

    def login_refused(
        request: HttpRequest, error: str, status: int, retry_after: int | None = None
    ) -> Response:
        csrf = secrets.token_urlsafe(24)
        response = console.page(request, "login.html", {"csrf": csrf, "error": error}, status)
        console.set_cookie(response, LOGIN_COOKIE, csrf, 3600)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    async def login(request: HttpRequest) -> Response:
        form = await _form(request, MAX_LOGIN_FORM_BYTES)
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not same_token(expected, form.get("csrf", "")):
            return _secured(Response("Forbidden: the form has no valid token.", 403))
        name = form.get("name", "").strip()[:64]
        now = services.clock()

        def check(reservation: accounts.Reservation) -> str:
            with database.session() as session:
                account = accounts.check_login(session, name, form.get("password", ""))
                if account is None:
                    return ""
                token, _ = accounts.open_session(session, account, now, web.session_minutes)
            console.limiter.refund(reservation)  # a right password costs no attempt
            return token

        known = accounts.is_known_browser(
            console.browser_key, request.cookies.get(BROWSER_COOKIE, ""), name, now
        )
        reservation = console.limiter.reserve(name, _client(request), now, known_browser=known)
        if isinstance(reservation, accounts.Refusal):
            error = (
                f"Many wrong passwords for this name lately: wait {reservation.seconds} "
                "seconds and try again."
                if reservation.slowed
                else "Too many wrong passwords: wait a few minutes and try again."
            )
            return login_refused(request, error, 429, retry_after=reservation.seconds)
        # Each check holds 64 MiB of argon2 memory: only a few at once, the rest are told
        # to come back (waiting in line would hold their memory-free slot just the same).
        if not console.password_checks.acquire(blocking=False):
            console.limiter.refund(reservation)  # never checked: costs no attempt
            return login_refused(
                request, "The console is busy: try again in a moment.", 503, retry_after=2
            )
        try:
            token = await run_in_threadpool(check, reservation)
        finally:
            console.password_checks.release()
        if not token:
            return login_refused(request, "Wrong name or password.", 401)
        response = _secured(RedirectResponse("/", status_code=303))
        console.set_cookie(response, SESSION_COOKIE, token, web.session_minutes * 60)
        known_for = accounts.KNOWN_BROWSER_DAYS * 24 * 3600
        browser = accounts.known_browser_token(console.browser_key, name, now)
        console.set_cookie(response, BROWSER_COOKIE, browser, known_for)
        response.delete_cookie(LOGIN_COOKIE)
        return response

    async def logout(request: HttpRequest) -> Response:
        form = await _form(request, MAX_LOGIN_FORM_BYTES)

        def work() -> bool:
            with database.session() as session:
                found = logged_in(session, request)
                if found is None or not same_token(found[0].csrf_token, form.get("csrf", "")):
                    return False
                accounts.close_session(session, request.cookies.get(SESSION_COOKIE, ""))
                audit.record(
                    session,
                    at=services.clock(),
                    actor=accounts.actor_of(found[1]),
                    action="staff_logout",
                )
                return True

        if not await run_in_threadpool(work):
            return _secured(Response("Forbidden", 403))
        response = to_login()
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def setup(request: HttpRequest) -> Response:
        """The one-time link's form. The link's token says who; the form's own token (a
        hidden field matching a cookie, as on the login form) says the post came from the
        form this browser was shown, not from another site."""
        token = request.path_params["token"]
        form = await _form(request, MAX_LOGIN_FORM_BYTES) if request.method == "POST" else {}
        if request.method == "POST":
            expected = request.cookies.get(SETUP_COOKIE, "")
            if not expected or not same_token(expected, form.get("csrf", "")):
                return _secured(Response("Forbidden: the form has no valid token.", 403))

        def work() -> tuple[str, str | None, str]:
            now = services.clock()
            with database.session() as session:
                account = accounts.account_for_setup(session, token, now)
                if account is None:
                    return "gone", None, ""
                if request.method == "GET":
                    return "form", None, account.name
                if form.get("password") != form.get("again"):
                    return "form", "The two passwords differ.", account.name
                try:
                    accounts.set_password(session, account, form.get("password", ""), now)
                except accounts.AccountError as exc:
                    return "form", str(exc), account.name
                return "done", None, account.name

        state, error, name = await run_in_threadpool(work)
        if state == "gone":
            return console.page(
                request,
                "message.html",
                {
                    "text": "This link is used or has expired; ask for a new one "
                    "(noxbot staff reset NAME)."
                },
                status=404,
            )
        if state == "done":
            response = _secured(RedirectResponse("/login?password=set", status_code=303))
            response.delete_cookie(SETUP_COOKIE, path=request.url.path)
            return response
        # One cookie per link (its path), kept when the page is shown again: a second tab,
        # or another person's link in the same browser, does not void this form's token.
        csrf = request.cookies.get(SETUP_COOKIE) or secrets.token_urlsafe(24)
        response = console.page(
            request,
            "setup.html",
            {"name": name, "error": error, "token": token, "csrf": csrf},
            status=400 if error else 200,
        )
        console.set_cookie(response, SETUP_COOKIE, csrf, 3600, path=request.url.path)
        return response

    def not_run_again(request: HttpRequest, why: NotRunAgain) -> Response:
        return console.page(request, "message.html", {"text": str(why), "error": True}, 503)

    # --- pages that need a session ------------------------------------------------------

    def page(builder: Callable[[Session, HttpRequest, dict[str, Any]], Any]) -> Handler:
        """A GET page: the session checked; the builder returns a context or a Response."""

        async def handler(request: HttpRequest) -> Response:
            def work(session: Session) -> Any:
                found = logged_in(session, request)
                if found is None:
                    return None
                context: dict[str, Any] = {
                    "me": found[1].name,
                    "csrf": found[0].csrf_token,
                    "today": console.today(),
                }
                return builder(session, request, context)

            try:
                result = await _again_while_busy(database, work)
            except NotRunAgain as why:
                return not_run_again(request, why)
            if result is None:
                return to_login()
            if isinstance(result, Response):
                return _secured(result)
            name, context = result
            return console.page(request, name, context)

        return handler

    def action(work: Callable[[Session, HttpRequest, dict[str, str], str], str]) -> Handler:
        """A POST form: session and CSRF token checked; `work` runs in one transaction and
        returns the word for what was done; a NoxbotError is shown on the case page."""

        async def handler(request: HttpRequest) -> Response:
            def signed_in() -> bool:
                """Whether the cookie names a live session: read only, nothing committed
                (the action's own transaction checks it again, and answers a database
                that cannot be reached as every action does)."""
                try:
                    with Session(database.engine) as session:
                        return logged_in(session, request) is not None
                except Exception:
                    return True

            # Who posts is known before the form is read: only staff may send a large one.
            if not request.cookies.get(SESSION_COOKIE) or not await run_in_threadpool(signed_in):
                return to_login()
            form = await _form(request)

            def run(session: Session) -> tuple[int, str]:
                found = logged_in(session, request)
                if found is None:
                    return 401, ""
                if not same_token(found[0].csrf_token, form.get("csrf", "")):
                    return 403, ""
                return 303, work(session, request, form, accounts.actor_of(found[1]))

            try:
                status, done = await _again_while_busy(database, run)
            except NotRunAgain as why:
                return not_run_again(request, why)
            except NoxbotError as exc:
                if "reference" not in request.path_params:
                    return console.page(
                        request, "message.html", {"text": str(exc), "error": True}, status=400
                    )
                return await error_page(
                    request, request.path_params["reference"], str(exc), posted=form
                )
            if status == 401:
                return to_login()
            if status == 403:
                return _secured(Response("Forbidden: the form has no valid token.", 403))
            if done.startswith("/"):  # a page of its own (alerts, outbox, triage)
                return _secured(RedirectResponse(done, status_code=303))
            reference = request.path_params["reference"]
            return _secured(
                RedirectResponse(f"/cases/{quote(reference)}?done={done}", status_code=303)
            )

        return handler

    async def error_page(
        request: HttpRequest, reference: str, error: str, posted: dict[str, str] | None = None
    ) -> Response:
        """The case page with the refusal on top; the form that was refused keeps what staff
        typed in it (`posted`, with the action it went to), to be put right and sent again."""

        def work() -> Any:
            with database.session() as session:
                found = logged_in(session, request)
                if found is None:
                    return None
                context = {"me": found[1].name, "csrf": found[0].csrf_token}
                context["today"] = console.today()
                context["posted_to"] = request.url.path.rsplit("/", 1)[-1]
                context["posted"] = {k: v for k, v in (posted or {}).items() if k != "csrf"}
                try:
                    return case_page(session, reference, context, error=error)
                except NoxbotError:  # (a form posted to a case that does not exist)
                    return "message.html", {**context, "text": error, "error": True}

        result = await run_in_threadpool(work)
        if result is None:
            return to_login()
        return console.page(request, result[0], result[1], status=400)

    def queue(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        expire_verifications(session, services)  # (as `requests list`: see `case`)
        params = request.query_params
        status = params.get("status", "open")
        kind = params.get("kind", "")
        channel = params.get("channel", "")
        overdue = params.get("overdue") == "1"
        text = params.get("q", "").strip()[:200]
        today = context["today"]
        query = select(Request)
        # "Open": what staff still have work on, an answered case whose Art. 19 notice
        # waits for approval too (views.waiting_notices).
        noticing = set(session.scalars(waiting_notices())) if status == "open" else set()
        if status == "open":
            query = query.where(
                or_(col(Request.closed_at).is_(None), col(Request.id).in_(noticing))
            )
        elif status:
            query = query.where(Request.status == status)
        if channel:
            query = query.where(Request.channel == channel)
        if text:
            # Names, addresses and subjects folded ("åkesson", "Akesson" find Åkesson);
            # a mail's text in the spellings a word is written in (bot.store.search). What
            # people wrote, not what we sent: every acknowledgment holds the same words.
            in_messages = select(Message.request_id).where(
                Message.direction == Direction.INBOUND,
                text_contains(Message.text, text) | name_contains(Message.subject, text),
            )
            # The people found as `subjects search` finds them: by name or by any contact
            # point, a phone number however it is written ("0709998877", "070-999 88 77").
            people = [p.id for p in find_people(session, text, limit=200)]
            query = query.where(
                or_(
                    name_contains(Request.reference, text),
                    name_contains(Request.requester_address, text),
                    name_contains(Request.requester_name, text),
                    col(Request.subject_id).in_(people),
                    col(Request.id).in_(in_messages),
                )
            )
        # First the cases' dates and kinds alone (a light row each: thousands of cases are
        # a few ms), filtered and put deadline first; then the shown page's cases whole,
        # with what each waits on (the approval plan: ~5 ms a case, so never for all).
        light = select(
            Request.id,
            Request.reference,
            Request.status,
            Request.kinds,
            Request.due_date,
            Request.extended,
            Request.extended_due_date,
        ).where(col(Request.id).in_(query.with_only_columns(col(Request.id))))
        found = []
        for id_, reference, case_status, kinds, due_date, extended, extended_due in session.execute(
            light
        ):
            if status == "open" and not is_open(case_status) and id_ not in noticing:
                continue
            if kind and kind not in kinds:
                continue
            due = extended_due if extended and extended_due else due_date
            late = is_open(case_status) and due < today
            if overdue and not late:
                continue
            found.append((due, reference, id_, late))
        found.sort()
        pages = max(1, -(-len(found) // QUEUE_PAGE))
        try:
            page_number = min(max(int(params.get("page", "1")), 1), pages)
        except ValueError:
            page_number = 1
        first = (page_number - 1) * QUEUE_PAGE
        shown = found[first : first + QUEUE_PAGE]
        on_page = select(Request).where(col(Request.id).in_([id_ for _, _, id_, _ in shown]))
        cases = {case.id: case for case in session.exec(on_page)}
        rows = []
        for due, _, id_, late in shown:
            case = cases[id_]
            subject = subject_of(session, case)
            name = case.requester_name or (subject.name if subject else "")
            rows.append(
                {
                    "case": case,
                    "name": name,
                    "erased": None if name else erased_with(session, case),
                    "due": due,
                    "overdue": late,
                    "days_left": working_days_left(due, today) if is_open(case.status) else None,
                    "waiting": case_waits_on(session, services, case, in_console=True),
                }
            )
        # As the form has them, and as the page links carry them ("" where left at "any").
        filters = {
            "status": status,
            "kind": kind,
            "channel": channel,
            "overdue": "1" if overdue else "",
            "q": text,
        }
        context.update(
            rows=rows,
            filters=filters,
            statuses=list(STATUS_CHOICES),
            kinds=KIND_CHOICES,
            channels=CHANNEL_CHOICES,
            paging={
                "total": len(found),
                "first": first + 1 if shown else 0,
                "last": first + len(shown),
                "page": page_number,
                "pages": pages,
                "previous": _queue_link(filters, page_number - 1) if page_number > 1 else None,
                "next": _queue_link(filters, page_number + 1) if page_number < pages else None,
            },
        )
        return "queue.html", context

    def case_page(
        session: Session, reference: str, context: dict[str, Any], error: str | None = None
    ) -> Any:
        case = get_case(session, reference)
        today = context["today"]
        context.setdefault("posted", {})  # (what a refused form held: see error_page)
        context.setdefault("posted_to", "")
        due = (
            case.extended_due_date if case.extended and case.extended_due_date else (case.due_date)
        )
        messages = list(
            session.exec(
                select(Message)
                .where(Message.request_id == case.id)
                .order_by(col(Message.received_at), col(Message.id))
            )
        )
        drafts = list(
            session.exec(
                select(Draft)
                .where(Draft.request_id == case.id)
                .order_by(col(Draft.series), col(Draft.version))
            )
        )
        series: dict[str, list[Draft]] = {}
        for draft in drafts:
            series.setdefault(draft.series, []).append(draft)
        threads = []
        for versions in sorted(series.values(), key=lambda v: v[0].created_at):
            latest = versions[-1]
            plan = (
                approval_plan(session, services, latest, in_console=True)
                if latest.status == DraftStatus.AWAITING_APPROVAL
                else None
            )
            diffs = [
                (older, newer, _diff(older, newer)) for older, newer in itertools.pairwise(versions)
            ]
            threads.append({"versions": versions, "latest": latest, "plan": plan, "diffs": diffs})
        events = list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.request_id == case.id)
                .order_by(col(AuditEvent.id))
            )
        )
        # Why each version was written: the reason staff gave with their edit.
        edit_reasons = {}
        for event in events:
            if event.action == "draft_edit_reason":
                head, _, why = event.detail.partition(": ")
                edit_reasons[head.split(" ")[1]] = why
        outbox = list(
            session.exec(
                select(Outbox).where(Outbox.request_id == case.id).order_by(col(Outbox.id))
            )
        )
        verifications = list(
            session.exec(
                select(Verification)
                .where(Verification.request_id == case.id)
                .order_by(col(Verification.id))
            )
        )
        context.update(
            case=case,
            waiting=case_waits_on(session, services, case, in_console=True),
            subject=subject_of(session, case),
            erased=erased_with(session, case),
            edit_reasons=edit_reasons,
            routes=challenge_routes(session, services, case),
            denied=identity_denied(session, case),
            # Linking is for a request whose answer depends on who asks.
            needs_verification=needs_verification(case.kinds),
            due=due,
            overdue=is_open(case.status) and due < today,
            days_left=working_days_left(due, today) if is_open(case.status) else None,
            open=is_open(case.status),
            cannot_reopen=None if is_open(case.status) else erased_why(session, case),
            messages=messages,
            outbox=outbox,
            verifications=verifications,
            deliveries=challenge_deliveries(verifications, outbox),
            threads=threads,
            alerts=list(
                session.exec(
                    select(StaffAlert)
                    .where(StaffAlert.request_id == case.id)
                    .order_by(col(StaffAlert.id))
                )
            ),
            events=events,
            error=error,
            done=None,
            kind_choices=KIND_CHOICES,
            change_fields=CHANGE_FIELDS,
            sources=sources_json(session, case),
            can_redraft=case.status in (RequestStatus.AWAITING_APPROVAL, RequestStatus.REJECTED),
        )
        return "case.html", context

    def case(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        # A challenge past its time goes to staff before they look (the scheduler of
        # `noxbot run` does it too, but the console may be served alone): never "pending".
        expire_verifications(session, services)
        try:
            name, context = case_page(session, request.path_params["reference"], context)
        except NoxbotError:
            return HTMLResponse("No such case.", status_code=404)
        context["done"] = DONE_WORDS.get(request.query_params.get("done", ""))
        person = request.query_params.get("person", "").strip()[:200]
        context["person"] = person
        context["candidates"] = find_people(session, person) if person else []
        # Where each one's challenge may go, the strongest first: staff choose before linking.
        case = context.get("case")
        context["candidate_routes"] = (
            {p.id: routes_for(session, services, case, p) for p in context["candidates"]}
            if case is not None
            else {}
        )
        return name, context

    def raw_message(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        message = session.get(Message, int(request.path_params["message_id"]))
        if message is None or message.raw is None:
            return Response("No raw message kept.", status_code=404)
        return Response(
            message.raw,
            media_type="message/rfc822",
            headers={"Content-Disposition": f'attachment; filename="message-{message.id}.eml"'},
        )

    def attachment(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        draft = session.get(Draft, int(request.path_params["draft_id"]))
        index = int(request.path_params["index"])
        if draft is None or not 0 <= index < len(draft.attachments):
            return Response("No such attachment.", status_code=404)
        item = draft.attachments[index]
        how = "attachment" if request.query_params.get("download") else "inline"
        disposition = _disposition(how, item["filename"])
        # Shown as plain text whatever it claims to be: nothing in it runs in the console.
        media = "text/plain; charset=utf-8" if how == "inline" else item["content_type"]
        try:  # the bytes the reply will attach, so staff review what is really sent
            stored = Attachment(
                item["filename"],
                item["content_type"],
                item["content"],
                item.get("encoding", "utf-8"),
            )
            data = stored.data()
        except (binascii.Error, ValueError):
            return Response("This attachment cannot be decoded.", status_code=422)
        if how == "inline" and Path(item["filename"]).suffix.lower() in _DOCUMENTS:
            data = _document_text(item["filename"], data).encode("utf-8")
        return Response(
            data,
            media_type=media,
            headers={"Content-Disposition": disposition},
        )

    # --- actions ----------------------------------------------------------------------

    def _draft_of(session: Session, request: HttpRequest, form: dict[str, str]) -> Draft:
        case = get_case(session, request.path_params["reference"])
        try:
            draft = session.get(Draft, int(form.get("draft", "")))
        except ValueError:
            draft = None
        if draft is None or draft.request_id != case.id:
            raise NoxbotError("that draft is not one of this case's")
        return draft

    def approve(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        draft = _draft_of(session, request, form)
        version = int(form["version"]) if form.get("version", "").isdigit() else None
        approve_draft(session, services, draft.id or 0, actor=actor, expected_version=version)
        if draft.to_channel in (ChannelName.PHONE, ChannelName.POST):
            return "approved_by_hand"
        return "approved" if draft.purpose == "reply" else "approved_notice"

    def edit(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        draft = _draft_of(session, request, form)
        why = stored_note(form.get("why", "")).strip()
        if not why:
            raise NoxbotError("say why you edit the draft (it is kept with the new version)")
        text = form.get("text", "").replace("\r\n", "\n")
        edit_draft(
            session,
            services,
            draft.id or 0,
            text,
            actor=actor,
            subject=form.get("subject"),
            why=why,
        )
        return "edited"

    def reject(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        draft = _draft_of(session, request, form)
        reject_draft(session, services, draft.id or 0, form.get("reason", ""), actor=actor)
        return "rejected"

    def note(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        add_note(
            session, services, request.path_params["reference"], form.get("text", ""), actor=actor
        )
        return "noted"

    def close(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        close_case(
            session,
            services,
            request.path_params["reference"],
            form.get("reason", ""),
            actor=actor,
        )
        return "closed"

    def reopen(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        reopen_case(
            session,
            services,
            request.path_params["reference"],
            form.get("reason", ""),
            actor=actor,
        )
        return "reopened"

    def extend(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        extend_case(
            session,
            services,
            request.path_params["reference"],
            form.get("reason", ""),
            actor=actor,
        )
        return "extended"

    def refuse(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        refuse_case(
            session,
            services,
            request.path_params["reference"],
            form.get("reason", ""),
            actor=actor,
        )
        return "refused"

    def link(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        if not form.get("subject", "").isdigit():
            raise NoxbotError("choose a person on file to link")
        verification = link_to_subject(
            session,
            services,
            request.path_params["reference"],
            int(form["subject"]),
            actor=actor,
            address=form.get("address") or None,
        )
        if verification is None:
            return "linked_no_route"
        return "linked_call" if verification.method == Method.PHONE_CALL else "linked"

    def nodata(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        draft_no_data(session, services, request.path_params["reference"], actor=actor)
        return "nodata"

    def tick_item(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        note = form.get("note", "").strip()
        if not note:
            raise NoxbotError("say what was done before ticking the item off (it is kept)")
        if not form.get("item", "").isdigit():
            raise NoxbotError("choose a checklist item of this case")
        tick(
            session,
            request.path_params["reference"],
            int(form["item"]),
            note,
            actor=actor,
            now=services.clock(),
        )
        return "ticked"

    def outcome(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        text = form.get("text", "").replace("\r\n", "\n")
        record_outcome(session, services, request.path_params["reference"], text, actor=actor)
        return "outcome"

    def redraft(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        reference = request.path_params["reference"]
        redraft_on_request(session, services, reference, actor=actor, where="console")
        return "redrafted"

    # --- the other pages -----------------------------------------------------------------

    def alerts(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        everything = request.query_params.get("all") == "1"
        query = select(StaffAlert).order_by(col(StaffAlert.id).desc()).limit(500)
        if not everything:
            query = query.where(col(StaffAlert.resolved_at).is_(None))
        rows = list(session.exec(query))
        references = _references(session, [a.request_id for a in rows])
        # Only a message kept as received (one that could not be read) has a file to give.
        asked = [a.message_id for a in rows if a.message_id]
        kept_raw = set(
            session.exec(
                select(Message.id).where(col(Message.id).in_(asked), col(Message.raw).is_not(None))
            )
        )
        resolved = request.query_params.get("resolved", "")
        context.update(
            alerts=rows,
            references=references,
            everything=everything,
            kept_raw=kept_raw,
            notes=resolution_notes(session, {a.id for a in rows if a.resolved_at is not None})
            if everything
            else {},
            resolved_now=int(resolved) if resolved.isdigit() else None,
            call_owed=request.query_params.get("call", "")[:40],
        )
        return "alerts.html", context

    def resolve(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        note = form.get("note", "").strip()
        if not note:
            raise NoxbotError("say what was done about the alert (the note is kept)")
        alert_id = int(request.path_params["alert_id"])
        alert = resolve_alert(session, services, alert_id, note, actor=actor)
        case = session.get(Request, alert.request_id) if alert.request_id else None
        owed = f"&call={case.reference}" if case and call_still_owed(session, alert) else ""
        return f"/alerts?resolved={alert_id}{owed}"

    def outbox(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        rows = list(session.exec(select(Outbox).order_by(col(Outbox.id).desc()).limit(500)))
        context.update(rows=rows, references=_references(session, [o.request_id for o in rows]))
        return "outbox.html", context

    def retry(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        requeue(session, services, int(request.path_params["outbox_id"]), actor=actor)
        return "/outbox"

    def register(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        text = request.query_params.get("q", "").strip()[:200]
        people = []
        for person in find_people(session, text) if text else []:
            cases = list(
                session.exec(
                    select(Request)
                    .where(Request.subject_id == person.id)
                    .order_by(col(Request.received_at))
                )
            )
            contacts = list(
                session.exec(select(ContactPoint).where(ContactPoint.subject_id == person.id))
            )
            people.append({"person": person, "cases": cases, "contacts": contacts})
        context.update(q=text, people=people)
        return "register.html", context

    def reports(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        context.update(report=case_report(session, context["today"]))
        return "reports.html", context

    def export(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        try:
            _, context = case_page(session, request.path_params["reference"], context)
        except NoxbotError:
            return HTMLResponse("No such case.", status_code=404)
        context["exported_at"] = services.clock()
        context["organisation"] = services.settings.organisation
        html = console.templates.get_template("case_file.html").render(context)
        return HTMLResponse(
            html,
            headers={
                "Content-Disposition": f'attachment; filename="{context["case"].reference}.html"'
            },
        )

    def kinds(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        wanted = [k for k in KIND_CHOICES if form.get(f"kind_{k}") == "1"]
        correct_kinds(session, services, request.path_params["reference"], wanted, actor=actor)
        return "kinds"

    def changes(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        field, value = form.get("field", "").strip(), form.get("value", "").strip()
        if not field or not value:
            raise NoxbotError("choose a field and give its new value")
        add_changes(
            session, services, request.path_params["reference"], {field: value}, actor=actor
        )
        return "changes"

    def challenge(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        verification = send_new_challenge(
            session,
            services,
            request.path_params["reference"],
            actor=actor,
            address=form.get("address") or None,
        )
        return "challenge_call" if verification.method == Method.PHONE_CALL else "challenge"

    def triage(session: Session, request: HttpRequest, context: dict[str, Any]) -> Any:
        messages = list(
            session.exec(
                select(Message)
                .where(Message.state == MessageState.TRIAGE)
                .order_by(col(Message.received_at))
                .limit(200)
            )
        )
        context.update(messages=messages, kinds=KIND_CHOICES)
        return "triage.html", context

    def decide(session: Session, request: HttpRequest, form: dict[str, str], actor: str) -> str:
        wanted = [RequestKind(k) for k in KIND_CHOICES if form.get(f"kind_{k}") == "1"]
        if form.get("none") == "1":
            wanted = []
        elif not wanted:
            raise NoxbotError("tick what the message asks for, or say it is not a request")
        outcome = decide_triage(
            session,
            services,
            int(request.path_params["message_id"]),
            wanted or None,
            actor=actor,
        )
        return f"/cases/{outcome.reference}" if outcome.reference else "/triage"

    routes = [
        Route("/favicon.svg", favicon, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/setup/{token}", setup, methods=["GET", "POST"]),
        Route("/", page(queue), methods=["GET"]),
        Route("/cases/{reference}", page(case), methods=["GET"]),
        Route("/messages/{message_id:int}/raw", page(raw_message), methods=["GET"]),
        Route("/drafts/{draft_id:int}/attachments/{index:int}", page(attachment), methods=["GET"]),
        Route("/cases/{reference}/approve", action(approve), methods=["POST"]),
        Route("/cases/{reference}/edit", action(edit), methods=["POST"]),
        Route("/cases/{reference}/reject", action(reject), methods=["POST"]),
        Route("/cases/{reference}/note", action(note), methods=["POST"]),
        Route("/cases/{reference}/close", action(close), methods=["POST"]),
        Route("/cases/{reference}/reopen", action(reopen), methods=["POST"]),
        Route("/cases/{reference}/extend", action(extend), methods=["POST"]),
        Route("/cases/{reference}/refuse", action(refuse), methods=["POST"]),
        Route("/cases/{reference}/link", action(link), methods=["POST"]),
        Route("/cases/{reference}/nodata", action(nodata), methods=["POST"]),
        Route("/cases/{reference}/export", page(export), methods=["GET"]),
        Route("/cases/{reference}/kinds", action(kinds), methods=["POST"]),
        Route("/cases/{reference}/changes", action(changes), methods=["POST"]),
        Route("/cases/{reference}/challenge", action(challenge), methods=["POST"]),
        Route("/cases/{reference}/tick", action(tick_item), methods=["POST"]),
        Route("/cases/{reference}/outcome", action(outcome), methods=["POST"]),
        Route("/cases/{reference}/redraft", action(redraft), methods=["POST"]),
        Route("/triage", page(triage), methods=["GET"]),
        Route("/triage/{message_id:int}", action(decide), methods=["POST"]),
        Route("/alerts", page(alerts), methods=["GET"]),
        Route("/alerts/{alert_id:int}/resolve", action(resolve), methods=["POST"]),
        Route("/outbox", page(outbox), methods=["GET"]),
        Route("/outbox/{outbox_id:int}/retry", action(retry), methods=["POST"]),
        Route("/register", page(register), methods=["GET"]),
        Route("/reports", page(reports), methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={FormTooLarge: _too_large})


STATUS_CHOICES = ("open", "", *(s.value for s in RequestStatus))
#: Cases on one page of the queue: what each waits on is worked out for the page shown only.
QUEUE_PAGE = 100


def _queue_link(filters: dict[str, str], page: int) -> str:
    """The queue with these filters, at `page`; filters left at their default are left out."""
    kept = {name: value for name, value in filters.items() if value}
    if filters.get("status") == "":
        kept["status"] = ""  # "all" is the empty status, not the default (open)
    return "/?" + urlencode({**kept, "page": page})


KIND_CHOICES = tuple(k.value for k in RequestKind if k is not RequestKind.NONE)
CHANGE_FIELDS = ("name", "company", "org_number", "phone", "email")
CHANNEL_CHOICES = tuple(c.value for c in ChannelName)


def _references(session: Session, ids: list[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(Request.id, Request.reference).where(col(Request.id).in_(wanted)))
    return {row[0]: row[1] for row in rows}


def case_report(session: Session, today: Any) -> dict[str, Any]:
    """For the reports page and an inspection: cases per month and kind, how long answers
    took (received to finished, in days: median and worst), and how many open cases are
    overdue now."""
    per_month: dict[str, dict[str, int]] = {}
    kinds_seen: set[str] = set()
    days: list[float] = []
    overdue = 0
    open_cases = 0
    for case in session.exec(select(Request)):
        month = case.received_at.strftime("%Y-%m")
        for kind in case.kinds or ["(none)"]:
            kinds_seen.add(kind)
            per_month.setdefault(month, {}).setdefault(kind, 0)
            per_month[month][kind] += 1
        if case.status == RequestStatus.DONE and case.closed_at is not None:
            days.append((case.closed_at - case.received_at).total_seconds() / 86400)
        if is_open(case.status):
            open_cases += 1
            due = (
                case.extended_due_date
                if case.extended and case.extended_due_date
                else (case.due_date)
            )
            overdue += due < today
    return {
        "months": sorted(per_month.items(), reverse=True),
        "kinds": sorted(kinds_seen),
        "answered": len(days),
        "median_days": statistics.median(days) if days else None,
        "worst_days": max(days) if days else None,
        "open": open_cases,
        "overdue": overdue,
        # Answered, but an Art. 19 notice is still to go: the queue lists these as open too.
        "noticing": len(
            {
                case_id
                for case_id, status in session.execute(
                    select(Request.id, Request.status).where(col(Request.id).in_(waiting_notices()))
                )
                if not is_open(status)
            }
        ),
    }


def _diff(older: Draft, newer: Draft) -> list[tuple[str, str]]:
    """The lines of a unified diff between two versions, each with its kind (+, -, @, ' ')."""
    lines = difflib.unified_diff(
        older.text.splitlines(),
        newer.text.splitlines(),
        f"version {older.version}",
        f"version {newer.version}",
        lineterm="",
    )
    return [(line[:1] if line[:1] in "+-@" else " ", line) for line in lines]
