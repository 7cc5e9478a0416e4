"""A local HTTP server speaking enough of the Telegram Bot API for python-telegram-bot.

PTB posts form fields (objects as JSON strings) or multipart for files to
{base_url}{token}/{method}; replies are {"ok": true, "result": ...}.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "NOX", "username": "nox_test_bot"}


@dataclass
class Call:
    method: str
    fields: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    message_id: int | None = None  # of the message it sent


@dataclass
class FakeBotApi:
    token: str = "123:test"
    calls: list[Call] = field(default_factory=list)
    fail_next: int = 0  # answer 502 this many times: a server that is down
    fail_calls: set[int] = field(default_factory=set)  # answer 502 to these calls (1 = first)
    hold_polls: float = 0.05  # how long an empty long poll is held open
    _ids: itertools.count = field(default_factory=lambda: itertools.count(500))
    base_url: str = ""
    updates: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0  # getUpdates calls seen
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event | None = None  # set when an update comes during a long poll

    def user_says(
        self, user_id: int, text: str, reply_to: int | None = None, chat_id: int | None = None
    ) -> int:
        """Queue a message from a user, in their private chat or in the group `chat_id`;
        returns its message id."""
        return self.user_sends(user_id, {"text": text}, reply_to, chat_id)

    def user_sends(
        self,
        user_id: int,
        content: dict[str, Any],
        reply_to: int | None = None,
        chat_id: int | None = None,
    ) -> int:
        """Queue a message with the given content (text, photo ...)."""
        message_id = next(self._ids)
        chat = (
            {"id": user_id, "type": "private"}
            if chat_id is None
            else {"id": chat_id, "type": "supergroup", "title": "Staff"}
        )
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            **content,
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"},
        }
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to,
                "date": int(time.time()),
                "chat": chat,
            }
        self.updates.append({"update_id": next(self._update_ids), "message": message})
        self._wake_poll()
        return message_id

    def _wake_poll(self) -> None:
        """A held long poll answers at once when an update comes, as the real API does."""
        if self._arrived is not None:
            self._arrived.set()

    def user_presses(
        self,
        user_id: int,
        data: str,
        chat_id: int | None = None,
        first_name: str | None = None,
        message_id: int = 1,
        text: str | None = None,
        username: str | None = None,
    ) -> None:
        """Queue a press of an inline button by a user, on a message (`message_id`, showing
        `text`) in their private chat or in the group `chat_id` (the staff chat, say)."""
        chat = (
            {"id": user_id, "type": "private"}
            if chat_id is None
            else {"id": chat_id, "type": "supergroup", "title": "Staff"}
        )
        update_id = next(self._update_ids)  # (a press's id is unique, as Telegram's are)
        self.updates.append(
            {
                "update_id": update_id,
                "callback_query": {
                    "id": f"cb{update_id}",
                    "data": data,
                    "chat_instance": "ci",
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": first_name or f"User{user_id}",
                        **({"username": username} if username else {}),
                    },
                    "message": {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": chat,
                        **({"text": text} if text is not None else {}),
                    },
                },
            }
        )
        self._wake_poll()

    def sent(self, method: str = "sendMessage") -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        fields: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.filename:
                    files[part.filename] = await part.read()
                else:
                    fields[part.name] = await part.text()
        else:
            fields = dict(await request.post())
        for key in ("reply_markup", "reply_parameters"):
            if key in fields and isinstance(fields[key], str):
                fields[key] = json.loads(fields[key])
        if method not in ("getMe", "deleteWebhook", "getUpdates"):
            self.calls.append(Call(method, fields, files))
            if self.fail_next > 0 or len(self.calls) in self.fail_calls:
                self.fail_next = max(0, self.fail_next - 1)
                return web.json_response(
                    {"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502
                )
        if method == "getUpdates":
            self.polls += 1
            offset = int(fields.get("offset") or 0)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and float(fields.get("timeout") or 0) > 0:
                # A short long poll keeps tests quick; an update that comes ends it.
                self._arrived = asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), self.hold_polls)
                self._arrived = None
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            return web.json_response({"ok": True, "result": self.updates[:100]})
        if method == "getMe":
            return web.json_response({"ok": True, "result": BOT_USER})
        if method in ("sendMessage", "sendDocument"):
            chat_id = int(fields["chat_id"])
            result: dict[str, Any] = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
            }
            self.calls[-1].message_id = result["message_id"]
            if method == "sendMessage":
                result["text"] = fields["text"]
            else:
                name = next(iter(files), "file")
                result["document"] = {
                    "file_id": f"f{result['message_id']}",
                    "file_unique_id": f"u{result['message_id']}",
                    "file_name": name,
                }
            return web.json_response({"ok": True, "result": result})
        return web.json_response({"ok": True, "result": True})

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
