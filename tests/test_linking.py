"""Requesters not on file: linking a case to a person on file, answering "no data held"."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.errors import CaseError
from bot.store.records import get_case
from bot.store.tables import Subject
from bot.workflow.linking import draft_no_data, link_to_subject
from tests.web_kit import prepare


def test_no_data_held_is_refused_for_an_address_on_file_and_for_a_linked_case(tmp_path: Path):
    database, services, (erik, stranger, _) = prepare(tmp_path / "demo")
    with database.session() as session, pytest.raises(CaseError, match="verified already"):
        draft_no_data(session, services, erik, actor="staff:t")
    with database.session() as session:
        maria = session.exec(select(Subject).where(Subject.name == "Maria Berg")).one().id or 0
        link_to_subject(session, services, stranger, maria, actor="staff:t")
    with database.session() as session, pytest.raises(CaseError, match="on file"):
        draft_no_data(session, services, stranger, actor="staff:t")
    with database.session() as session, pytest.raises(CaseError, match="already"):
        link_to_subject(session, services, stranger, maria, actor="staff:t")
    with database.session() as session:
        assert get_case(session, stranger).status == "awaiting_verification"
    database.dispose()
