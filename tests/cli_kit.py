"""The command line driven in this process, as the CLI tests share it: a config file for a
throwaway SQLite database, `noxbot …` through typer's runner, its JSON, and the console
script itself (exit status and stderr)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app, main

runner = CliRunner()


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config naming a database in `tmp_path`, found through $NOXBOT_CONFIG; staff "eva"."""
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "cli.db"}"\n')
    monkeypatch.setenv("NOXBOT_CONFIG", str(path))
    monkeypatch.setenv("NOXBOT_STAFF", "eva")
    return path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def run_json(*args: str):
    code, output = run(*args, "--format", "json")
    assert code == 0, output
    return json.loads(output)


def run_main(*args: str) -> tuple[int, str]:
    """The console script itself, in this process: exit status and what went to stderr."""
    err = io.StringIO()
    argv = sys.argv
    sys.argv = ["noxbot", *args]
    try:
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        sys.argv = argv
    code = exit_info.value.code
    return (0 if code is None else code), err.getvalue()
