"""What a newcomer sees at the command line: empty results in words, the words the lists
show accepted back as option values, and errors that say what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "cli.db"}"\n')
    monkeypatch.setenv("NOXBOT_CONFIG", str(path))
    monkeypatch.setenv("NOXBOT_STAFF", "eva")
    return path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_requests_list_on_a_fresh_database_says_no_requests_not_a_bare_header(config):
    code, output = run("requests", "list")
    assert code == 0
    assert output.strip() == "No requests."
    code, output = run("requests", "list", "--status", "done")
    assert output.strip() == "No requests with that status."
    code, output = run("requests", "list", "--format", "json")
    assert json.loads(output) == []


def test_subjects_search_without_a_match_says_no_one_found(config, tmp_path):
    register = tmp_path / "reg.csv"
    register.write_text("name,email\nAnna Berg,anna@example.se\n")
    assert run("subjects", "import", str(register))[0] == 0
    code, output = run("subjects", "search", "karin")
    assert code == 0 and output.strip() == "No one found."
    assert "Anna Berg" in run("subjects", "search", "anna")[1]
    code, output = run("subjects", "search", "karin", "--format", "json")
    assert json.loads(output) == []
