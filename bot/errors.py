"""The one base class of errors a person can fix; the command line prints them as one line."""

from __future__ import annotations


class NoxbotError(Exception):
    """An error whose message is meant for the person running noxbot."""
