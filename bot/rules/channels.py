"""The ways a request reaches NOX: by email or Telegram (read by noxbot), or by phone or
post (typed in by staff, and answered by hand or by a channel on file)."""

from __future__ import annotations

from enum import StrEnum


class ChannelName(StrEnum):
    EMAIL = "email"
    TELEGRAM = "telegram"
    PHONE = "phone"  # manual intake only: staff type in what was said
    POST = "post"  # manual intake only
