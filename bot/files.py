"""Reading a file a person named (on the command line, in an import): what is wrong with it
is one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

from bot.errors import NoxbotError


def read_named_file(path: Path, expected: str = "a file") -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NoxbotError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NoxbotError(f"{path}: is a folder, expected {expected}") from None
    except OSError as exc:
        raise NoxbotError(f"{path}: cannot read ({exc.strerror or exc})") from None
