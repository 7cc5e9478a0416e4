"""Staff actions the database refuses - in the console, the staff chat and the command
line; on PostgreSQL, against a real deadlock, a row lock not granted in time and a
connection cut while a COMMIT is answered. An action refused because another held what it
needed is run again, as if pressed a moment later; one that had changed something outside
the database (an erasure's files moved), or whose COMMIT may have gone through unseen, is
not, and staff are told what they must look at. Before, every one of these was a 500 page;
and for a few hours an erasure approval was run again after its files had been moved (in
the chat it still was: the press was read again), and a lost COMMIT's action done twice."""

from __future__ import annotations

import re
import select as readiness
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select

from bot.channels.telegram import make_bot
from bot.cli import main
from bot.config import DocumentsSource, TelegramSettings
from bot.runtime.chat_poller import poll_chat_once
from bot.store import database
from bot.store.register import find_subject
from bot.store.tables import AuditEvent, Outbox
from bot.workflow import approval
from bot.workflow.cases import close_case
from tests.fake_bot_api import FakeBotApi
from tests.sources_kit import write_pdf
from tests.web_kit import console_client
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, World, make_world

STAFF_CHAT, EVA = -1001, 7001


def _verified_reply(world: World, text: str) -> tuple[str, Any]:
    reference = world.email(ANNA_EMAIL, text).reference
    world.press(ANNA_TELEGRAM, world.verification(reference).id, yes=True)
    return reference, world.reply_draft(reference)


def _locks_waited_for_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections made from now on (the world's, the command line's) wait for a lock 1.5 s
    at most, not 30."""
    monkeypatch.setitem(
        database.POSTGRES_CONNECT_ARGS, "options", "-c statement_timeout=60000 -c lock_timeout=1500"
    )


def _with_a_cv(tmp_path: Path, url: str) -> tuple[World, Path]:
    """A world whose documents source holds Anna's CV; the folder an erasure moves it to."""
    cv = tmp_path / "cv"
    cv.mkdir()
    write_pdf(cv / "cv-anna.pdf", ["CV", "Anna Lindqvist", "070-123 45 67"])
    holding = tmp_path / "raderat"
    source = DocumentsSource(
        type="documents", name="CV-arkiv", folder=str(cv), holding_folder=str(holding)
    )
    return make_world(tmp_path, url, sources=[source]), holding


@contextmanager
def _annas_row_held(world: World, url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Another connection holds Anna's register row (as a long import would): an erasure's
    approval moves the CV, then is refused (55P03, lock not available) when it comes to
    erase her from the register."""
    with world.session() as session:
        anna = find_subject(session, "email", ANNA_EMAIL)
        assert anna is not None
    other = create_engine(url)
    try:
        with other.connect() as holder:
            holder.execute(text("SELECT id FROM subject WHERE id = :i FOR UPDATE"), {"i": anna.id})
            yield
            holder.rollback()
    finally:
        other.dispose()


def _closing_comes_while_approving(
    world: World, reference: str, monkeypatch: pytest.MonkeyPatch
) -> threading.Thread:
    """Staff close the case while the approval holds its draft (paused 1.5 s once it has
    claimed it): the closing holds the audit trail and waits for the draft, the approval
    then waits for the trail: a deadlock, and PostgreSQL refuses the approval."""
    claimed, claim = threading.Event(), approval.claim_decision

    def claim_then_wait(*args: Any, **kwargs: Any) -> Any:
        claim(*args, **kwargs)
        if not claimed.is_set():  # the first try only
            claimed.set()
            time.sleep(1.5)

    def close() -> None:
        claimed.wait(10)
        with world.database.session() as session:
            close_case(session, world.services, reference, "dup", actor="staff:o")

    monkeypatch.setattr(approval, "claim_decision", claim_then_wait)
    closing = threading.Thread(target=close)
    closing.start()
    return closing


async def _approve(
    http: httpx.AsyncClient, token: str, reference: str, draft: Any
) -> httpx.Response:
    form = {"csrf": token, "draft": str(draft.id), "version": str(draft.version)}
    return await http.post(f"/cases/{reference}/approve", data=form)


def _page_text(response: httpx.Response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


async def test_an_approval_that_deadlocks_with_a_closing_is_run_again_and_answered(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path, postgres_url)
    try:
        reference, draft = _verified_reply(world, "Hej, jag vill ha ett registerutdrag om mig.")
        closing = _closing_comes_while_approving(world, reference, monkeypatch)
        async with console_client(world) as (http, token):
            answer = await _approve(http, token, reference, draft)
        closing.join(30)
        assert answer.status_code == 400, _page_text(answer)[-400:]
        assert "cannot be approved: it is superseded" in _page_text(answer)
        assert world.case(reference).status == "closed"
        with world.session() as session:
            assert list(session.exec(select(Outbox).where(Outbox.draft_id == draft.id))) == []
    finally:
        world.database.dispose()


async def test_an_erasure_approval_refused_after_its_files_were_moved_is_not_run_again(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files moved cannot be rolled back with the database: run again, the approval found
    the CV gone, recorded its erasure as failed and told staff to erase it by hand."""
    world, holding = _with_a_cv(tmp_path, postgres_url)
    try:
        reference, draft = _verified_reply(world, "Radera alla mina uppgifter, artikel 17.")
        assert "cv-anna.pdf" in draft.text
        closing = _closing_comes_while_approving(world, reference, monkeypatch)
        async with console_client(world) as (http, token):
            answer = await _approve(http, token, reference, draft)
        closing.join(30)
        said = _page_text(answer)
        assert answer.status_code == 400, said[-400:]
        assert "after work in the sources had been done" in said
        assert "look at the case and its sources before approving again" in said
        assert (holding / "cv-anna.pdf").exists()  # moved once
        assert world.alerts("erasure_failed") == []
        assert world.case(reference).status == "closed"
    finally:
        world.database.dispose()


class _CommitAnswerLost:
    """A TCP proxy to PostgreSQL on 127.0.0.1; once armed, it passes the next COMMIT to the
    server, lets it be done, and cuts the client off before the answer reaches it."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.armed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = readiness.select([client, server], [], [])
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        raise OSError
                    (server if end is client else client).sendall(data)
                    if end is client and self.armed.is_set() and b"COMMIT" in data:
                        self.armed.clear()
                        time.sleep(0.3)  # the server commits and answers...
                        raise OSError  # ...and the answer never reaches the client
        except OSError:
            client.close()
            server.close()


async def test_an_action_whose_commit_answer_was_lost_is_not_done_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    port = int(re.findall(r":(\d+)/", postgres_url)[-1])
    proxy = _CommitAnswerLost(port)
    world = make_world(tmp_path, postgres_url.replace(f":{port}/", f":{proxy.port}/"))
    try:
        reference, draft = _verified_reply(world, "Hej, jag vill ha ett registerutdrag om mig.")
        async with console_client(world) as (http, token):
            posts: list[Callable[[], Any]] = [
                lambda: http.post(
                    f"/cases/{reference}/note", data={"csrf": token, "text": "called Anna once"}
                ),
                lambda: _approve(http, token, reference, draft),
            ]
            answers = []
            for post in posts:
                proxy.armed.set()
                answers.append(await post())
        for answer in answers:
            assert answer.status_code == 503, _page_text(answer)[-400:]
            assert "whether this was done is not known" in _page_text(answer)
        with world.session() as session:
            notes = session.exec(select(AuditEvent.detail).where(AuditEvent.action == "note"))
            assert list(notes) == ["called Anna once"]
            queued = session.exec(select(Outbox).where(Outbox.draft_id == draft.id))
            assert len(list(queued)) == 1
    finally:
        world.database.dispose()
        proxy.listener.close()


async def test_an_erasure_approved_in_the_staff_chat_and_refused_is_not_read_again(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The press was read again after the refusal (the chat's offset had not moved): the
    second reading found the CV gone and told staff to erase it by hand."""
    _locks_waited_for_briefly(monkeypatch)
    world, holding = _with_a_cv(tmp_path, postgres_url)
    api = FakeBotApi()
    await api.start()
    try:
        reference, draft = _verified_reply(world, "Radera alla mina uppgifter, artikel 17.")
        telegram = TelegramSettings(
            base_url=api.base_url, staff_chat_id=STAFF_CHAT, staff_user_ids=[EVA]
        )
        settings = world.services.settings.model_copy(update={"telegram": telegram})
        world.services.settings = settings
        async with make_bot(telegram, api.token) as bot:
            api.user_presses(EVA, f"d:{draft.id}:{draft.version}:a", STAFF_CHAT)
            with _annas_row_held(world, postgres_url, monkeypatch):
                await poll_chat_once(world.database, world.services, bot, settings, 0)
            assert await poll_chat_once(world.database, world.services, bot, settings, 0) == 0
        [answer] = [call.fields["text"] for call in api.sent("answerCallbackQuery")]
        assert "efter att arbete i källorna redan gjorts" in answer
        assert (holding / "cv-anna.pdf").exists()
        assert world.alerts("erasure_failed") == []
        assert world.case(reference).status == "awaiting_approval"
    finally:
        await api.stop()
        world.database.dispose()


def test_an_erasure_approved_on_the_command_line_and_refused_says_to_look_first(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """It said the change was rolled back and to run the command again; run again, the
    approval found the CV gone and told staff to erase it by hand."""
    _locks_waited_for_briefly(monkeypatch)
    world, holding = _with_a_cv(tmp_path, postgres_url)
    config = tmp_path / "noxbot.toml"
    config.write_text(
        f'[database]\nurl = "{postgres_url}"\n\n[[sources]]\ntype = "documents"\n'
        f'name = "CV-arkiv"\nfolder = "{tmp_path / "cv"}"\nholding_folder = "{holding}"\n'
    )
    monkeypatch.setenv("NOXBOT_VERIFICATION_SECRET", "x" * 64)
    try:
        reference, draft = _verified_reply(world, "Radera alla mina uppgifter, artikel 17.")
        with _annas_row_held(world, postgres_url, monkeypatch):
            monkeypatch.setattr(sys, "argv", ["noxbot", "drafts", "approve", str(draft.id)])
            monkeypatch.setenv("NOXBOT_CONFIG", str(config))
            with pytest.raises(SystemExit) as ended:
                main()
        said = capsys.readouterr().err
        assert ended.value.code == 1
        assert "after work in the sources had been done" in said
        assert "look at the case and its sources before approving again" in said
        assert "run it again" not in said
        assert (holding / "cv-anna.pdf").exists()
        assert world.case(reference).status == "awaiting_approval"
    finally:
        world.database.dispose()
