"""The staff console when the database refuses an action: on PostgreSQL, against a real
deadlock and a connection cut while a COMMIT is answered. An action refused because
another held what it needed is run again, as if pressed a moment later; one that had
changed something outside the database (an erasure in the sources), or whose COMMIT may
have gone through unseen, is not, and staff are told what they must look at. Before,
every one of these was a 500 page; and for a few hours an erasure approval was run again
after its files had been moved, and a lost COMMIT's action done twice."""

from __future__ import annotations

import re
import select as readiness
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.config import DocumentsSource, WebSettings
from bot.store.tables import AuditEvent, Outbox
from bot.web import accounts
from bot.web.app import create_app
from bot.workflow import approval
from bot.workflow.cases import close_case
from tests.sources_kit import write_pdf
from tests.workflow_kit import ANNA_EMAIL, ANNA_TELEGRAM, World, make_world

PASSWORD = "a long enough password"


@asynccontextmanager
async def _logged_in(world: World) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The console over `world`, with staff member alice logged in; her form token."""
    with world.database.session() as session:
        account, _ = accounts.add_account(
            session, "alice", now=world.clock(), actor="staff:admin", setup_hours=1
        )
        accounts.set_password(session, account, PASSWORD, world.clock())
    app = create_app(world.database, world.services, WebSettings())
    transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        login = re.search(r'name="csrf" value="([^"]+)"', (await http.get("/login")).text)
        assert login is not None
        form = {"csrf": login[1], "name": "alice", "password": PASSWORD}
        assert (await http.post("/login", data=form)).status_code == 303
        token = re.search(r'name="csrf" value="([^"]+)"', (await http.get("/")).text)
        assert token is not None
        yield http, token[1]


def _verified_reply(world: World, text: str) -> tuple[str, Any]:
    reference = world.email(ANNA_EMAIL, text).reference
    world.press(ANNA_TELEGRAM, world.verification(reference).id, yes=True)
    return reference, world.reply_draft(reference)


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
        async with _logged_in(world) as (http, token):
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
    cv = tmp_path / "cv"
    cv.mkdir()
    write_pdf(cv / "cv-anna.pdf", ["CV", "Anna Lindqvist", "070-123 45 67"])
    holding = tmp_path / "raderat"
    source = DocumentsSource(
        type="documents", name="CV-arkiv", folder=str(cv), holding_folder=str(holding)
    )
    world = make_world(tmp_path, postgres_url, sources=[source])
    try:
        reference, draft = _verified_reply(world, "Radera alla mina uppgifter, artikel 17.")
        assert "cv-anna.pdf" in draft.text
        closing = _closing_comes_while_approving(world, reference, monkeypatch)
        async with _logged_in(world) as (http, token):
            answer = await _approve(http, token, reference, draft)
        closing.join(30)
        said = _page_text(answer)
        assert answer.status_code == 503, said[-400:]
        assert "after work in the sources had been done" in said
        assert "Look at the case and its sources before approving again" in said
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
        async with _logged_in(world) as (http, token):
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
