"""`noxbot classifier retrain`: the model learns from staff's labels, and is replaced only
when the held-out files say it got no worse."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer

import bot
from bot.cli.app import app, console, write_text_file
from bot.cli.helptext import NoxTyper
from bot.errors import NoxbotError
from bot.reading.learned_model import MODEL_PATH, LinearModel, model_from_json
from bot.reading.training import (
    TrainingUnavailable,
    measure,
    no_worse,
    refit,
    require_sklearn,
    train,
)
from bot.rules.kinds import RequestKind

classifier_app = NoxTyper(help="The classifier's model.", no_args_is_help=True)
app.add_typer(classifier_app, name="classifier")

#: The labelled corpus of a checkout (bench/corpus): noxbot is installed from one.
CORPUS = Path(bot.__file__).resolve().parent.parent / "bench" / "corpus"
LABELS = frozenset(str(k) for k in RequestKind)


def training_files(corpus: Path = CORPUS) -> list[Path]:
    """Every corpus file but the held-out ones, which are never trained on."""
    return sorted(p for p in corpus.glob("*.jsonl") if not p.name.startswith("heldout"))


def heldout_files(corpus: Path = CORPUS) -> list[Path]:
    return sorted(corpus.glob("heldout*.jsonl"))


def corpus_digest(paths: list[Path]) -> str:
    """What a model was trained on, so a stale model is noticed (tests/test_classifier.py)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_corpus(paths: list[Path]) -> list[dict]:
    """Corpus rows, each with its file's name in "file"; a bad line is a clear error."""
    rows = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise NoxbotError(f"{path}: cannot read it ({exc})") from exc
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                kinds = row["kinds"]
                ok = (
                    isinstance(row["text"], str)
                    and row["channel"] in ("email", "chat")
                    and kinds
                    and set(kinds) <= LABELS
                    and (kinds == ["none"] or "none" not in kinds)
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise NoxbotError(f"{path}:{number}: not a corpus line ({exc})") from exc
            if not ok:
                raise NoxbotError(f"{path}:{number}: not a corpus line (channel, text or kinds)")
            row["file"] = path.name
            rows.append(row)
    return rows


@classifier_app.command("retrain")
def retrain(
    labelled: Annotated[
        list[Path] | None,
        typer.Argument(help="Files from `noxbot triage export`: staff's labelled messages."),
    ] = None,
    corpus: Annotated[
        Path,
        typer.Option(
            metavar="FOLDER",
            show_default="bench/corpus",
            help="The shipped corpus: training files and heldout*.jsonl.",
        ),
    ] = CORPUS,
    model_path: Annotated[
        Path,
        typer.Option(
            "--model",
            show_default="bot/reading/data/classifier_model.json",
            help="The model file.",
        ),
    ] = MODEL_PATH,
    search: Annotated[
        bool,
        typer.Option(
            "--search", help="Choose C and thresholds anew by cross-validation (minutes)."
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report; never replace.")] = False,
) -> None:
    """Retrain on the corpus plus staff's labels; report the held-out figures before and
    after; replace the model only when no held-out file gets worse."""
    try:
        require_sklearn()
    except TrainingUnavailable as exc:
        raise NoxbotError(str(exc)) from exc
    files = training_files(corpus)
    held_out = heldout_files(corpus)
    if not files or not held_out:
        raise NoxbotError(f"{corpus}: needs training files and heldout*.jsonl files")
    sources = [*files, *(labelled or [])]
    rows = load_corpus(sources)
    try:
        current = LinearModel.load(model_path)
    except (OSError, ValueError, KeyError) as exc:
        raise NoxbotError(f"{model_path}: cannot read the current model ({exc})") from exc
    digest = corpus_digest(sources)
    console.print(
        f"training on {len(rows)} messages ({len(rows) - len(load_corpus(files))} "
        f"labelled by staff)"
    )
    exported = train(rows, digest, console.print).model if search else refit(rows, current, digest)
    candidate = model_from_json(exported)
    better = True
    for path in held_out:
        heldout_rows = load_corpus([path])
        before, after = measure(current, heldout_rows), measure(candidate, heldout_rows)
        ok = no_worse(after, before)
        better = better and ok
        console.print(f"{path.name}: before {before.line()}")
        console.print(f"{' ' * len(path.name)}  after  {after.line()}{'' if ok else '  WORSE'}")
    if dry_run:
        console.print("dry run: the model is unchanged")
    elif better:
        write_text_file(model_path, json.dumps(exported, separators=(",", ":")) + "\n")
        console.print(f"no held-out file got worse: {model_path} replaced")
    else:
        console.print(f"a held-out file got worse: {model_path} kept as it was")
