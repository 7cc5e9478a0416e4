"""`noxbot classifier retrain`: staff's labels teach the model, and a model that reads the
held-out files worse never replaces the one in use."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import NoxbotError
from bot.reading.learned_model import MODEL_PATH

CORPUS = Path(__file__).resolve().parent.parent / "bench" / "corpus"
runner = CliRunner()


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A small corpus: two training files, and a training file of the real corpus standing
    in as held out (the real held-out files are measured once, by hand, never in tests)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(CORPUS / "train.jsonl", folder / "train.jsonl")
    shutil.copy(CORPUS / "dev.jsonl", folder / "dev.jsonl")
    shutil.copy(CORPUS / "train3e.jsonl", folder / "heldout.jsonl")
    return folder


def retrain(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["classifier", "retrain", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_model_that_reads_held_out_mail_worse_is_kept_out(corpus, tmp_path):
    model = tmp_path / "model.json"
    shutil.copy(MODEL_PATH, model)  # trained on far more, the stand-in included
    before = model.read_bytes()
    code, output = retrain("--corpus", str(corpus), "--model", str(model))
    assert code == 0, output
    assert "heldout.jsonl: before macro-F1" in output and "after  macro-F1" in output
    assert "WORSE" in output and "kept as it was" in output
    assert model.read_bytes() == before


def test_staff_labels_are_learned_and_a_better_model_replaces_the_old(corpus, tmp_path):
    model = tmp_path / "model.json"
    weak = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    weak["weights"] = {}  # knows nothing: every message reads alike
    model.write_text(json.dumps(weak), encoding="utf-8")
    labelled = tmp_path / "labelled.jsonl"
    label = {"id": "triage-1", "channel": "chat", "language": "sv", "subject": ""}
    labelled.write_text(
        json.dumps({**label, "text": "sluta skicka reklam till mig", "kinds": ["marketing_optout"]})
        + "\n",
        encoding="utf-8",
    )
    code, output = retrain(str(labelled), "--corpus", str(corpus), "--model", str(model))
    assert code == 0, output
    assert "(1 labelled by staff)" in output and "replaced" in output
    replaced = json.loads(model.read_text(encoding="utf-8"))
    assert replaced["weights"] and replaced["threshold"] == weak["threshold"]


def test_a_dry_run_reports_and_changes_nothing(corpus, tmp_path):
    model = tmp_path / "model.json"
    weak = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    weak["weights"] = {}
    model.write_text(json.dumps(weak), encoding="utf-8")
    before = model.read_bytes()
    code, output = retrain("--corpus", str(corpus), "--model", str(model), "--dry-run")
    assert code == 0 and "dry run: the model is unchanged" in output
    assert model.read_bytes() == before


def test_a_broken_labelled_file_is_a_clear_error_and_changes_nothing(corpus, tmp_path):
    model = tmp_path / "model.json"
    shutil.copy(MODEL_PATH, model)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "channel": "chat", "text": "hej", "kinds": ["delete"]}\n')
    with pytest.raises(NoxbotError, match=r"bad.jsonl:1: not a corpus line"):
        retrain(str(bad), "--corpus", str(corpus), "--model", str(model))


def test_without_the_train_extra_retrain_says_what_to_install(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now fails
    with pytest.raises(NoxbotError, match=r'pip install -e "\.\[train\]"'):
        retrain("--corpus", str(corpus), "--model", str(tmp_path / "model.json"))
