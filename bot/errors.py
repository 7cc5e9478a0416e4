"""The one base class of errors a person can fix; the command line prints them as one line."""

from __future__ import annotations


class NoxbotError(Exception):
    """An error whose message is meant for the person running noxbot."""


class CaseError(NoxbotError):
    """A staff action that cannot be done as asked; the message says why."""


class StaleDraft(CaseError):
    """Approving or editing a version that is no longer the current one."""


class ChangedMeanwhile(CaseError):
    """What a step read changed before it could write it (another staff member, a worker, a
    second click): the step is refused whole, as a serialisation failure would be - staff
    look again, and a worker reads its message again (bot.store.database.is_transient)."""
