"""An in-memory channel for the demo and tests: what is sent is kept in a list."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.channels.messages import OutboundMessage, SendError
from bot.rules.channels import ChannelName


@dataclass
class MemoryChannel:
    """Records every message 'sent'; can be told to fail, like a server that is down."""

    name: ChannelName
    sent: list[OutboundMessage] = field(default_factory=list)
    fail_next: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))

    async def send(self, message: OutboundMessage) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise SendError(f"{self.name} is down (simulated)")
        self.sent.append(message)
        if self.name is ChannelName.EMAIL and message.message_id:
            return message.message_id
        return str(next(self._ids))
