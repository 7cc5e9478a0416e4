"""Staff accounts, their sessions and the login's rate limit.

Passwords are kept only as argon2id hashes (memory-hard: a stolen database does not give
them away cheaply). A new or reset account gets a one-time setup link instead of a password
anyone else knows; setup and session tokens are random and kept only as SHA-256 hashes, so
the database alone opens no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from sqlmodel import Session, col, delete, select

from bot.errors import NoxbotError
from bot.store import audit
from bot.store.tables import StaffAccount, WebSession

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # bounded work per login attempt


@cache
def _hasher() -> PasswordHasher:
    """Imported on first use: argon2 costs every `noxbot` command, `noxbot run` included,
    2.5 MiB that only staff accounts need."""
    from argon2 import PasswordHasher

    return PasswordHasher()


def _password_matches(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored, password[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """Compared against when the account does not exist, so a wrong name costs the same
    time. Made on first use, not at import: an Argon2 hash takes 64 MiB and tens of
    milliseconds, which every `noxbot` command (and `noxbot run`) would otherwise pay."""
    return _hasher().hash("not a password anyone has")


class AccountError(NoxbotError):
    """A staff account that does not exist, or a change that cannot be made to it."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_of(account: StaffAccount) -> str:
    """The name the audit trail records for what this person does in the console."""
    return f"staff:{account.name}"


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise AccountError(f"{name!r}: a staff name is 1-64 letters, digits, '.', '_', '-' or '@'")
    return name


def get_account(session: Session, name: str) -> StaffAccount:
    account = session.exec(select(StaffAccount).where(StaffAccount.name == name)).first()
    if account is None:
        raise AccountError(f"no staff account {name!r} (noxbot staff list)")
    return account


def _new_setup_link(account: StaffAccount, now: datetime, hours: int) -> str:
    token = secrets.token_urlsafe(32)
    account.setup_token_hash = token_hash(token)
    account.setup_expires_at = now + timedelta(hours=hours)
    return token


def add_account(
    session: Session, name: str, *, now: datetime, actor: str, setup_hours: int
) -> tuple[StaffAccount, str]:
    """A new account without a password, and the one-time token of its setup link."""
    name = _valid_name(name)
    if session.exec(select(StaffAccount).where(StaffAccount.name == name)).first():
        raise AccountError(f"staff account {name!r} exists already (noxbot staff reset {name})")
    account = StaffAccount(name=name, created_at=now, updated_at=now)
    token = _new_setup_link(account, now, setup_hours)
    session.add(account)
    audit.record(session, at=now, actor=actor, action="staff_added", detail=name)
    return account, token


def reset_account(
    session: Session, name: str, *, now: datetime, actor: str, setup_hours: int
) -> str:
    """Forget the password, end the sessions, and give a new one-time setup link."""
    account = get_account(session, name)
    account.password_hash = None
    account.disabled = False
    account.updated_at = now
    token = _new_setup_link(account, now, setup_hours)
    session.add(account)
    _end_sessions(session, account)
    audit.record(session, at=now, actor=actor, action="staff_reset", detail=name)
    return token


def disable_account(session: Session, name: str, *, now: datetime, actor: str) -> None:
    """No more logins, and the sessions open now end at once."""
    account = get_account(session, name)
    account.disabled = True
    account.setup_token_hash = None
    account.updated_at = now
    session.add(account)
    _end_sessions(session, account)
    audit.record(session, at=now, actor=actor, action="staff_disabled", detail=name)


def _end_sessions(session: Session, account: StaffAccount) -> None:
    session.exec(delete(WebSession).where(col(WebSession.staff_id) == account.id))  # type: ignore[call-overload]


def list_accounts(session: Session) -> list[StaffAccount]:
    return list(session.exec(select(StaffAccount).order_by(col(StaffAccount.name))))


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) < 3:  # "            ", "aaaaaaaaaaaa": the length alone is no proof
        raise AccountError("a password of one or two characters repeated is no password")


def account_for_setup(session: Session, token: str, now: datetime) -> StaffAccount | None:
    """The account a setup link opens, while it is valid (once, before it expires)."""
    account = session.exec(
        select(StaffAccount).where(StaffAccount.setup_token_hash == token_hash(token))
    ).first()
    if account is None or account.disabled or account.setup_expires_at is None:
        return None
    return account if account.setup_expires_at > now else None


def set_password(session: Session, account: StaffAccount, password: str, now: datetime) -> None:
    check_password_rules(password)
    account.password_hash = _hasher().hash(password)
    account.setup_token_hash = None
    account.setup_expires_at = None
    account.updated_at = now
    session.add(account)
    audit.record(
        session, at=now, actor=actor_of(account), action="staff_password_set", detail=account.name
    )


def check_login(session: Session, name: str, password: str) -> StaffAccount | None:
    """The account when the name and password match an enabled account, else None (the same
    work either way)."""
    account = session.exec(select(StaffAccount).where(StaffAccount.name == name.strip())).first()
    stored = account.password_hash if account and account.password_hash else _dummy_hash()
    matches = _password_matches(stored, password)
    if account is None or account.disabled or account.password_hash is None or not matches:
        return None
    return account


def open_session(
    session: Session, account: StaffAccount, now: datetime, minutes: int
) -> tuple[str, WebSession]:
    """A new session: the cookie's token (returned once) and the row that knows it by hash."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=token_hash(token),
        staff_id=account.id or 0,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(row)
    audit.record(session, at=now, actor=actor_of(account), action="staff_login")
    return token, row


def session_for(
    session: Session, token: str, now: datetime
) -> tuple[WebSession, StaffAccount] | None:
    """The live session a cookie names and its account; expired ones are deleted."""
    row = session.exec(select(WebSession).where(WebSession.token_hash == token_hash(token))).first()
    if row is None:
        return None
    account = session.get(StaffAccount, row.staff_id)
    if row.expires_at <= now or account is None or account.disabled:
        session.delete(row)
        return None
    return row, account


def close_session(session: Session, token: str) -> None:
    session.exec(delete(WebSession).where(col(WebSession.token_hash) == token_hash(token)))  # type: ignore[call-overload]


#: Per client address (whatever the names) and per name (from every address) the limit is
#: this many times `login_attempts`, so one address cannot spray names and many addresses
#: cannot guess one name without bound.
SPREAD = 4
#: Over the per-name limit, that name's password is checked at most once this often: it
#: slows a guessing crowd down without locking the owner out for the whole window.
SLOW_SECONDS = 30


@dataclass(frozen=True)
class Reservation:
    """One password check counted in advance against its keys (refunded when it succeeds)."""

    keys: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class Refusal:
    """A login refused before its password is looked at, and why."""

    slowed: bool  # the name is being guessed from many addresses (not this one's fault)
    seconds: int  # until trying again can help


#: How long a browser counts as one its staff member logged in from (days).
KNOWN_BROWSER_DAYS = 365


def known_browser_token(key: bytes, name: str, now: datetime) -> str:
    """What a browser keeps once `name` logged in on it: the name and the day, signed with
    the console's key. Not a login - the password is still asked for - only what lets the
    owner past the spacing a flood of wrong guesses from elsewhere puts on the name."""
    name, day = name.strip().lower(), now.astimezone(UTC).strftime("%Y%m%d")
    encoded = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
    return f"{encoded}.{day}.{_browser_mac(key, name, day)}"


def is_known_browser(key: bytes, token: str, name: str, now: datetime) -> bool:
    """Whether `token` (a browser's cookie) is one known_browser_token gave for `name`
    within KNOWN_BROWSER_DAYS."""
    parts = token[:200].split(".")
    if len(parts) != 3:
        return False
    encoded, day, mac = parts
    try:
        who = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        issued = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:  # (UnicodeDecodeError and binascii.Error are ValueErrors)
        return False
    if who != name.strip().lower() or not (
        now - timedelta(days=KNOWN_BROWSER_DAYS) <= issued <= now + timedelta(days=1)
    ):
        return False
    return hmac.compare_digest(mac, _browser_mac(key, who, day))


def _browser_mac(key: bytes, name: str, day: str) -> str:
    return hmac.new(key, f"known browser\0{name}\0{day}".encode(), hashlib.sha256).hexdigest()


@dataclass
class LoginLimiter:
    """Password checks per (account name, client address), per address and per name in a
    sliding window.

    One address gets `attempts` tries at one name, then that pair is refused until the
    window moves on; so are addresses trying more than `SPREAD` x `attempts` passwords in
    all. Wrong guesses at a name from other addresses do not lock its owner out: past
    `SPREAD` x `attempts` for the name, its checks are only spaced `SLOW_SECONDS` apart.

    An attempt is counted (reserved) under a lock *before* the slow argon2 check and handed
    back when the password was right, so requests sent at the same moment cannot all slip
    past the count while the first ones are still being checked."""

    attempts: int
    window: timedelta

    def __post_init__(self) -> None:
        self._failures: dict[str, deque[datetime]] = defaultdict(deque)
        self._next_check: dict[str, datetime] = {}  # slowed names: no check before then
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def _wait(self, times: deque[datetime], now: datetime) -> int:
        return max(1, math.ceil((times[0] + self.window - now).total_seconds()))

    def reserve(
        self, name: str, client: str, now: datetime, *, known_browser: bool = False
    ) -> Reservation | Refusal:
        """Count one attempt of `name` from `client`, or say why it is refused.
        `known_browser`: the browser shows it logged in as `name` before (is_known_browser):
        the spacing others' guesses put on the name does not apply to it, or an attacker
        who keeps using the name's one check every SLOW_SECONDS would keep its owner out."""
        name = name.strip().lower()
        pair, by_client, by_name = f"pair:{name}\0{client}", f"client:{client}", f"name:{name}"
        with self._lock:
            for key, limit in ((pair, self.attempts), (by_client, SPREAD * self.attempts)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    return Refusal(slowed=False, seconds=self._wait(times, now))
            if not known_browser and len(self._recent(by_name, now)) >= SPREAD * self.attempts:
                allowed = self._next_check.get(by_name, now)
                if now < allowed:
                    return Refusal(slowed=True, seconds=math.ceil((allowed - now).total_seconds()))
                self._next_check[by_name] = now + timedelta(seconds=SLOW_SECONDS)
            keys = (pair, by_client, by_name)
            for key in keys:
                self._failures[key].append(now)
            self._forget_idle(now)
            return Reservation(keys, now)

    def refund(self, reservation: Reservation) -> None:
        """Take back an attempt that turned out right (or was never checked)."""
        with self._lock:
            for key in reservation.keys:
                times = self._failures.get(key)
                if times and reservation.at in times:
                    times.remove(reservation.at)

    def _forget_idle(self, now: datetime) -> None:
        if len(self._failures) > 10_000:  # bounded memory under a flood of names
            for key in [k for k in self._failures if not self._recent(k, now)]:
                del self._failures[key]
            for key in [k for k, at in self._next_check.items() if at <= now]:
                del self._next_check[key]
