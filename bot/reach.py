"""`noxbot check`: reach each configured server and say in one line what is wrong.

Every probe has a timeout and logs in the way the workers will, so a wrong password or a
closed port shows here, not at three in the morning in the mail watcher.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aioimaplib
import aiosmtplib
import httpx

from bot.config import ImapSettings, Settings, SmtpSettings, TelegramSettings


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "no answer before the timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


async def check_imap(imap: ImapSettings, password: str | None) -> Probe:
    where = f"{imap.host}:{imap.port}"
    if password is None:
        return Probe(
            "IMAP",
            False,
            f"{where}: environment variable {imap.password_env} is not set ([imap] password_env)",
        )
    cls = aioimaplib.IMAP4_SSL if imap.tls == "ssl" else aioimaplib.IMAP4
    client = cls(host=imap.host, port=imap.port, timeout=imap.timeout_seconds)
    try:
        await asyncio.wait_for(client.wait_hello_from_server(), imap.timeout_seconds)
        if imap.tls == "starttls":
            await asyncio.wait_for(client.starttls(), imap.timeout_seconds)
        login = await asyncio.wait_for(client.login(imap.username, password), imap.timeout_seconds)
        if login.result != "OK":
            return Probe("IMAP", False, f"{where}: login as {imap.username} refused")
        select = await asyncio.wait_for(client.select(imap.mailbox), imap.timeout_seconds)
        if select.result != "OK":
            return Probe("IMAP", False, f"{where}: mailbox {imap.mailbox!r} cannot be opened")
        await asyncio.wait_for(client.logout(), imap.timeout_seconds)
    except Exception as exc:  # any failure is the answer we came for
        return Probe("IMAP", False, f"{where}: {_describe(exc)}")
    return Probe("IMAP", True, f"{where}: logged in as {imap.username}, {imap.mailbox} opened")


async def check_smtp(smtp: SmtpSettings, password: str | None) -> Probe:
    where = f"{smtp.host}:{smtp.port}"
    if smtp.username and password is None:
        return Probe(
            "SMTP",
            False,
            f"{where}: environment variable {smtp.password_env} is not set ([smtp] password_env)",
        )
    client = aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        timeout=smtp.timeout_seconds,
        use_tls=smtp.tls == "ssl",
        start_tls=smtp.tls == "starttls",
    )
    try:
        await client.connect()
        if smtp.username:
            await client.login(smtp.username, password or "")
        await client.quit()
    except Exception as exc:
        return Probe("SMTP", False, f"{where}: {_describe(exc)}")
    who = f" as {smtp.username}" if smtp.username else ""
    return Probe("SMTP", True, f"{where}: connected{who}")


async def check_telegram(telegram: TelegramSettings, token: str | None) -> Probe:
    if token is None:
        return Probe(
            "Telegram",
            False,
            f"environment variable {telegram.token_env} is not set ([telegram] token_env)",
        )
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            response = await client.post(f"{telegram.base_url}{token}/getMe")
        body = response.json()
    except Exception as exc:
        return Probe("Telegram", False, f"{telegram.base_url}: {_describe(exc)}")
    if not body.get("ok"):
        return Probe("Telegram", False, f"getMe refused: {body.get('description', 'no reason')}")
    return Probe("Telegram", True, f"bot @{body['result'].get('username', '?')} answers")


async def check_servers(settings: Settings) -> list[Probe]:
    probes = []
    if settings.imap is not None:
        probes.append(check_imap(settings.imap, settings.secret(settings.imap.password_env)))
    if settings.smtp is not None:
        probes.append(check_smtp(settings.smtp, settings.secret(settings.smtp.password_env)))
    if settings.telegram is not None:
        probes.append(
            check_telegram(settings.telegram, settings.secret(settings.telegram.token_env))
        )
    return list(await asyncio.gather(*probes))
