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


class DoneOutsideNotRecorded(CaseError):
    """The database refused a transaction after it had changed something outside the
    database (an erasure's files moved, a source's rows changed): rolled back, the database
    records none of it, and running it again would meet what is already done - so it is not
    run again by anyone, and staff are told to look."""

    def __init__(self) -> None:
        super().__init__(
            "the database refused this after work in the sources had been done (files moved, "
            "rows changed there) and recorded none of it; what was done there is not undone: "
            "look at the case and its sources before approving again"
        )
