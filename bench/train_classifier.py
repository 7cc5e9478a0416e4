"""Train the classifier's model on our labelled corpus and write bot/data/classifier_model.json.

    .venv/bin/pip install -e ".[train]"          # scikit-learn, for training only
    .venv/bin/python bench/train_classifier.py [--check]

Learns from every corpus file except heldout*.jsonl, which are never seen here. Before the
final fit it picks the regularisation and the decision thresholds by cross-validation that
leaves out a group of files at a time: each file was written by a different author, so a
fold measures what the model makes of authors it has not read — the honest stand-in for
real mail — and prints that figure per file. `--check` only reports whether the shipped
model is up to date; `--refit` skips the search and fits with the shipped model's C and
settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.cli.classifier import corpus_digest, load_corpus  # noqa: E402
from bot.cli.classifier import training_files as cli_training_files  # noqa: E402
from bot.reading.learned_model import FEATURES_VERSION, MODEL_PATH, LinearModel  # noqa: E402
from bot.reading.training import refit, score, train  # noqa: E402

CORPUS = ROOT / "bench" / "corpus"


def training_files() -> list[Path]:
    return cli_training_files(CORPUS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    parser.add_argument(
        "--refit",
        action="store_true",
        help="no cross-validation: fit with the shipped model's C and settings (seconds)",
    )
    args = parser.parse_args(argv)
    paths = training_files()
    digest = corpus_digest(paths)
    if args.check:
        shipped = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
        current = (
            shipped["corpus_digest"] == digest and shipped["features_version"] == FEATURES_VERSION
        )
        print("the shipped model is current" if current else "the shipped model is STALE")
        return 0 if current else 1

    rows = load_corpus(paths)
    print(f"training on {len(rows)} messages from {', '.join(p.name for p in paths)}")
    if args.refit:
        model = refit(rows, LinearModel.load(), digest)
        return write(model)
    trained = train(rows, digest, lambda line: print(line, file=sys.stderr))
    results, best, model = trained.results, trained.best, trained.model
    print("\ncross-validation figures (groups of files left out), pooled; the ten best")
    print("settings (C, threshold, request, passage, unsure, second, multi, sentence,")
    print("support, floor) and")
    print("the one chosen:")
    ranked = sorted(results, key=lambda key: -score(results[key]["pooled"]))
    for key in ranked[:10]:
        mark = "  <- chosen" if key == best else ""
        print(f"  {key}  {results[key]['pooled'].line()}{mark}")
    print("\nper file at the chosen setting (each measured by a model that never saw it):")
    for name, value in sorted(results[best].items()):
        if name != "pooled":
            print(f"  {name:<16} {value.line()}")
    return write(model)


def write(model: dict) -> int:
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    MODEL_PATH.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    size = MODEL_PATH.stat().st_size // 1024
    print(f"\nwrote {MODEL_PATH.relative_to(ROOT)}: {len(model['weights'])} features, {size} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
