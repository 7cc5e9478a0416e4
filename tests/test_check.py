"""`noxbot check` reaches real servers on 127.0.0.1 and says clearly what is wrong."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP as SMTPServer
from typer.testing import CliRunner

from bot.cli import app
from bot.config import parse_settings
from bot.runtime.reach import check_servers
from tests.pg import free_port


class _Sink:
    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook name
        return "250 OK"


@pytest.fixture
async def smtp_port():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTPServer(_Sink()), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


#: The one group the fake Bot API's bot is in, and who is in it.
STAFF_CHAT, STAFF_MEMBERS = -1001234567890, (7001, 7002)


@pytest.fixture
async def bot_api():
    async def get_me(request: web.Request) -> web.Response:
        if request.match_info["token"] != "123:good":
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "id": 1,
                    "is_bot": True,
                    "first_name": "NOX",
                    "username": "nox_test_bot",
                },
            }
        )

    async def get_chat(request: web.Request) -> web.Response:
        fields = await request.post()
        if fields["chat_id"] != str(STAFF_CHAT):  # as Telegram answers for a chat the bot is not in
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
                status=400,
            )
        return web.json_response({"ok": True, "result": {"id": STAFF_CHAT, "type": "supergroup"}})

    async def get_chat_member(request: web.Request) -> web.Response:
        fields = await request.post()
        status = "member" if int(fields["user_id"]) in STAFF_MEMBERS else "left"
        user = {"id": int(fields["user_id"]), "is_bot": False, "first_name": "X"}
        return web.json_response({"ok": True, "result": {"status": status, "user": user}})

    app = web.Application()
    app.router.add_post("/bot{token}/getMe", get_me)
    app.router.add_post("/bot{token}/getChat", get_chat)
    app.router.add_post("/bot{token}/getChatMember", get_chat_member)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/bot"
    await runner.cleanup()


async def test_check_reaches_smtp_and_the_bot_api(smtp_port, bot_api, monkeypatch):
    monkeypatch.setenv("TEST_TG_TOKEN", "123:good")
    settings = parse_settings(
        {
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "tls": "none"},
            "telegram": {"token_env": "TEST_TG_TOKEN", "base_url": bot_api},
        }
    )
    probes = {p.name: p for p in await check_servers(settings)}
    assert probes["SMTP"].ok, probes["SMTP"].detail
    assert probes["Telegram"].ok and "@nox_test_bot" in probes["Telegram"].detail


async def test_check_says_what_keeps_the_staff_chat_from_working(bot_api, monkeypatch):
    """A staff chat id the bot is not in, an empty list of who may decide, and a user id
    that is not in the chat: each would show only as a silent staff chat after the start."""
    monkeypatch.setenv("TEST_TG_TOKEN", "123:good")

    async def telegram_probe(**staff: object):
        telegram = {"token_env": "TEST_TG_TOKEN", "base_url": bot_api, **staff}
        [probe] = await check_servers(parse_settings({"telegram": telegram}))
        return probe

    working = await telegram_probe(staff_chat_id=STAFF_CHAT, staff_user_ids=[7001, 7002])
    assert working.ok and f"staff chat {STAFF_CHAT} with 2 staff member(s)" in working.detail
    typo = await telegram_probe(staff_chat_id=-100999, staff_user_ids=[7001])
    assert not typo.ok and "the staff chat -100999 cannot be reached" in typo.detail
    assert "chat not found" in typo.detail and "add @nox_test_bot to the group" in typo.detail
    nobody = await telegram_probe(staff_chat_id=STAFF_CHAT)
    assert not nobody.ok and "staff_user_ids is empty" in nobody.detail
    outsider = await telegram_probe(staff_chat_id=STAFF_CHAT, staff_user_ids=[7001, 7009])
    assert not outsider.ok and "7009" in outsider.detail and "7001" not in outsider.detail
    no_chat = await telegram_probe(staff_user_ids=[7001])
    assert no_chat.ok and "staff_user_ids has no use" in no_chat.detail


async def test_check_names_a_wrong_token_a_missing_secret_and_a_closed_port(bot_api, monkeypatch):
    monkeypatch.setenv("TEST_TG_TOKEN", "123:bad")
    monkeypatch.delenv("TEST_IMAP_PW", raising=False)
    closed = free_port()
    settings = parse_settings(
        {
            "imap": {
                "host": "127.0.0.1",
                "port": closed,
                "tls": "none",
                "username": "info",
                "password_env": "TEST_IMAP_PW",
                "timeout_seconds": 5,
            },
            "smtp": {"host": "127.0.0.1", "port": closed, "tls": "none", "timeout_seconds": 5},
            "telegram": {"token_env": "TEST_TG_TOKEN", "base_url": bot_api},
        }
    )
    probes = {p.name: p for p in await check_servers(settings)}
    assert not probes["IMAP"].ok and "[imap] password_env" in probes["IMAP"].detail
    assert not probes["SMTP"].ok and f"127.0.0.1:{closed}" in probes["SMTP"].detail
    assert not probes["Telegram"].ok and "Unauthorized" in probes["Telegram"].detail
    monkeypatch.setenv("TEST_IMAP_PW", "x")
    probes = {p.name: p for p in await check_servers(settings)}
    assert not probes["IMAP"].ok and "refused" in probes["IMAP"].detail.lower()


# --- noxbot check as staff run it: what later commands would refuse is reported here ------

runner = CliRunner()


def _check(config: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["check", "-c", str(config)], catch_exceptions=False)
    return result.exit_code, result.output


def _noxbot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=60
    )


def test_check_reports_a_missing_verification_secret_with_postgresql(
    tmp_path, postgres_url, monkeypatch
):
    monkeypatch.delenv("NOXBOT_VERIFICATION_SECRET", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{postgres_url}"\n')
    code, output = _check(config)
    assert code == 1
    assert "Database: OK" in output
    assert (
        "Verification secret: FAILED (the environment variable [verification] secret_env names "
        "is not set; required with PostgreSQL)"
    ) in output.splitlines()
    monkeypatch.setenv("NOXBOT_VERIFICATION_SECRET", "s3cret")
    code, output = _check(config)
    assert code == 0 and "but it is only 6 characters" in " ".join(output.split())
    monkeypatch.setenv("NOXBOT_VERIFICATION_SECRET", "0123456789abcdef" * 4)
    code, output = _check(config)
    assert code == 0 and "characters" not in output


def test_a_template_folder_that_does_not_exist_is_reported_by_check_and_refused(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n'
        '[templates]\ndirectory = "/nonexistent/tpl"\n'
    )
    code, output = _check(config)
    assert code == 1
    assert (
        "Templates: FAILED ([templates] directory = '/nonexistent/tpl': no such folder)" in output
    )
    refused = _noxbot("drafts", "list", "-c", str(config))
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0
    assert "[templates] directory = '/nonexistent/tpl': no such folder" in refused.stderr
    (tmp_path / "tpl" / "sv").mkdir(parents=True)
    config.write_text(config.read_text().replace("/nonexistent/tpl", str(tmp_path / "tpl")))
    assert _check(config)[0] == 0


def test_check_does_not_create_a_mistyped_sqlite_database(tmp_path):
    mistyped = tmp_path / "noxbto.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{mistyped}"\n')
    code, output = _check(config)
    assert code == 0
    assert f"Database: OK ({mistyped} does not exist yet; it will be created on first start)" in (
        output.splitlines()
    )
    assert not mistyped.exists() and not Path(f"{mistyped}.key").exists()
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "typo" / "noxbot.db"}"\n')
    code, output = _check(config)
    assert code == 1 and f"the folder {tmp_path / 'typo'} does not exist" in output
    assert not (tmp_path / "typo").exists()


def test_check_prints_section_names_in_brackets_one_line_per_problem(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_IMAP_PW", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n'
        '[imap]\nhost = "127.0.0.1"\nusername = "info"\npassword_env = "TEST_IMAP_PW"\n'
    )
    code, output = _check(config)
    assert code == 1
    assert (
        "IMAP: FAILED (127.0.0.1:993: the environment variable [imap] password_env names is "
        "not set)"
    ) in output.splitlines()
    assert "TEST_IMAP_PW" not in output  # it might have been a secret pasted by mistake


def test_check_finds_a_source_that_drafting_could_not_search(tmp_path):
    (tmp_path / "cv").mkdir()
    (tmp_path / "archive" / "cur").mkdir(parents=True)
    (tmp_path / "archive" / "new").mkdir()
    config = tmp_path / "config.toml"
    base = f'[database]\nurl = "sqlite:///{tmp_path / "nox.db"}"\n'
    good = (
        f'[[sources]]\ntype = "documents"\nname = "CV-arkiv"\nfolder = "{tmp_path / "cv"}"\n'
        f'erase = "delete"\n'
        f'[[sources]]\ntype = "maildir"\nname = "Arkiv"\npath = "{tmp_path / "archive"}"\n'
        f'erase_folder = "{tmp_path / "erased"}"\n'
    )
    config.write_text(base + good)
    code, output = _check(config)
    assert code == 0, output
    assert "Source 1 (CV-arkiv): OK (documents ready)" in output.splitlines()

    bad = (
        good.replace(str(tmp_path / "cv"), str(tmp_path / "cv-typo"))
        .replace(str(tmp_path / "archive"), str(tmp_path))
        .replace('erase = "delete"\n', 'erase = "delete"\ncategory = "cvs"\n')
        + f'[[sources]]\ntype = "sql"\nname = "CRM"\nurl = "sqlite:///{tmp_path / "crm.db"}"\n'
    )
    config.write_text(base + bad)
    code, output = _check(config)
    assert code == 1
    lines = output.splitlines()
    assert f"Source 1 (CV-arkiv): FAILED (the folder {tmp_path / 'cv-typo'} is not there)" in lines
    assert f"Source 2 (Arkiv): FAILED ({tmp_path} is not a Maildir (no cur/ and new/ in it))" in (
        lines
    )
    assert f"Source 3 (CRM): FAILED (the database file {tmp_path / 'crm.db'} is not there)" in lines
    assert not (tmp_path / "crm.db").exists()  # checking creates nothing
    config.write_text(
        base + good.replace('erase = "delete"\n', 'erase = "delete"\ncategory = "cvs"\n')
    )
    code, output = _check(config)
    assert code == 1 and "category 'cvs' is not in the records of processing" in output


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        (
            'type = "documents"\nname = "CV"\nfoldr = "/tmp"\nerase = "delete"\n',
            "[[sources]] number 1 (type = 'documents'): unknown key foldr (expected one of: "
            "name, folder,",
        ),
        (
            'type = "dokuments"\nname = "CV"\n',
            "[[sources]] number 1 has type = 'dokuments': expected type = one of 'documents',",
        ),
        (
            'type = "documents"\nname = "CV"\n',
            "[[sources]] number 1 (type = 'documents'): folder is missing (a documents source "
            "needs it)",
        ),
        (
            'type = "mailbox"\nname = "info"\n',
            "[[sources]] expected an [imap] section",
        ),
    ],
)
def test_a_mistake_in_a_source_is_one_line_naming_the_source_and_key(tmp_path, entry, said):
    config = tmp_path / "config.toml"
    config.write_text(f"[[sources]]\n{entry}")
    for command in (("check",), ("requests", "list")):
        refused = _noxbot(*command, "-c", str(config))
        assert refused.returncode == 1
        assert refused.stderr.strip().count("\n") == 0, refused.stderr
        assert said in refused.stderr and "unexpected error" not in refused.stderr


def test_a_mailbox_source_says_it_is_searched_through_the_imap_account(tmp_path, monkeypatch):
    """It said "mailbox ready" beside "IMAP: FAILED": its state is the IMAP account's."""
    monkeypatch.delenv("NOX_CHECK_IMAP", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "nox.db"}"\n'
        '[imap]\nhost = "127.0.0.1"\nport = 9\nusername = "info"\n'
        'password_env = "NOX_CHECK_IMAP"\n'
        '[[sources]]\ntype = "mailbox"\nname = "info"\n'
    )
    code, output = _check(config)
    lines = output.splitlines()
    assert code == 1
    assert "Source 1 (info): OK (searched through the [imap] account: see IMAP below)" in lines
    assert any(line.startswith("IMAP: FAILED") for line in lines)


def test_a_mailbox_folder_the_server_does_not_have_is_named_by_check(
    tmp_path, monkeypatch, imap_server
):
    """The example's folders = ["INBOX", "Sent"]: Microsoft 365 calls it "Sent Items". Before,
    check said OK, and every search of the source then failed at that folder."""
    from tests import dovecot

    monkeypatch.setenv("NOX_CHECK_IMAP", dovecot.PASSWORD)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "nox.db"}"\n'
        f'[imap]\nhost = "127.0.0.1"\nport = {imap_server.port}\ntls = "none"\n'
        f'username = "{dovecot.USER}"\npassword_env = "NOX_CHECK_IMAP"\n'
        '[[sources]]\ntype = "mailbox"\nname = "info"\nfolders = ["INBOX", "Sent Items"]\n'
    )
    code, output = _check(config)
    said = " ".join(output.split())
    assert code == 1
    assert (
        "Source 1 (info): FAILED (the folder(s) 'Sent Items' cannot be opened on 127.0.0.1, so "
        "the source cannot be searched; write each folder's name as the mail server has it)"
    ) in said
    config.write_text(config.read_text().replace('"Sent Items"', '"INBOX"'))
    code, output = _check(config)
    assert "Source 1 (info): OK (searched through the [imap] account, folders INBOX, INBOX)" in (
        " ".join(output.split())
    )
