"""The one base class of errors a person can fix; the command line prints them as one line."""

from __future__ import annotations


class NoxbotError(Exception):
    """An error whose message is meant for the person running noxbot."""


class CaseError(NoxbotError):
    """A staff action that cannot be done as asked; the message says why."""


class StaleDraft(CaseError):
    """Approving or editing a version that is no longer the current one."""
