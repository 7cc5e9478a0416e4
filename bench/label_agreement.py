"""How far two careful people agree on the corpus's labels, beside how far noxbot agrees
with either: the ceiling the classifier's targets have to be read against.

    .venv/bin/python bench/label_agreement.py [--show-differences]

For every held-out file with a second reading (bench/corpus/second-reading/<file>: the
same messages labelled again by someone given only LABELLING.md and the texts, without the
author's labels), the measures bench/classifier_bench.py reports, each between two sets of
labels: macro-F1 over the 11 labels, exact-match accuracy, the exact set on messages the
reference labels with several rights, and the requests the other reads as `none` (for
noxbot its silent misses: `none` with a confidence at or above the triage threshold).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.classifier_bench import (  # noqa: E402
    CORPUS,
    TRIAGE_THRESHOLD,
    evaluate,
    load,
    ours,
    staff_view,
)
from bot.reading.training import macro_f1  # noqa: E402

SECOND_READING = CORPUS / "second-reading"


def _relabelled(rows: Sequence[dict], labels: dict[str, list[str]]) -> list[dict]:
    return [{**row, "kinds": labels[row["id"]]} for row in rows]


def _human_line(name: str, reference: Sequence[dict], other: Sequence[dict]) -> str:
    theirs = [set(r["kinds"]) for r in other]  # the same messages, in the same order
    macro = macro_f1(list(reference), theirs)
    exact = sum(set(r["kinds"]) == t for r, t in zip(reference, theirs, strict=True))
    multi = [
        t == set(r["kinds"]) for r, t in zip(reference, theirs, strict=True) if len(r["kinds"]) > 1
    ]
    unseen = [
        t == {"none"} for r, t in zip(reference, theirs, strict=True) if r["kinds"] != ["none"]
    ]
    return _line(
        name, macro, exact / len(reference), sum(multi), len(multi), sum(unseen), len(unseen)
    )


def _model_line(name: str, reference: Sequence[dict]) -> str:
    _, macro, exact, _ = evaluate(reference, ours)
    view = staff_view(reference)
    return _line(name, macro, exact, view.multi_exact, view.multi, view.silent, view.requests)


def _line(
    name: str, macro: float, exact: float, multi_exact: int, multi: int, unseen: int, requests: int
) -> str:
    multi_share = multi_exact / multi if multi else float("nan")
    unseen_share = unseen / requests if requests else 0.0
    return (
        f"  {name:<34}{macro:>9.3f}{exact:>8.3f}{f'{multi_exact}/{multi} ({multi_share:.2f})':>16}"
        f"{f'{unseen}/{requests} ({unseen_share:.1%})':>17}"
    )


def report(path: Path, show_differences: bool) -> None:
    author = load(path)
    labels = {r["id"]: r["kinds"] for r in load(SECOND_READING / path.name)}
    if set(labels) != {r["id"] for r in author}:
        raise SystemExit(f"{path.name}: the second reading does not label the same messages")
    second = _relabelled(author, labels)
    print(f"\n== {path.relative_to(ROOT)}: {len(author)} messages ==")
    print(f"  {'':<34}{'macro-F1':>9}{'exact':>8}{'exact set':>16}{'read as none':>17}")
    print("  against the author's labels:")
    print(_human_line("the second reader", author, second))
    print(_model_line("noxbot (silent misses)", author))
    print("  against the second reader's labels:")
    print(_human_line("the author", second, author))
    print(_model_line("noxbot (silent misses)", second))
    if show_differences:
        for a, b in zip(author, second, strict=True):
            if set(a["kinds"]) != set(b["kinds"]):
                first, other = ", ".join(a["kinds"]), ", ".join(b["kinds"])
                print(f"  {a['id']}: author {first}; second reader {other}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-differences", action="store_true")
    args = parser.parse_args(argv)
    readings = sorted(SECOND_READING.glob("*.jsonl"))
    if not readings:
        raise SystemExit(f"no second readings in {SECOND_READING}")
    print(f"noxbot's silent misses: `none` with a confidence >= {TRIAGE_THRESHOLD} (triage's)")
    for reading in readings:
        report(CORPUS / reading.name, args.show_differences)
    return 0


if __name__ == "__main__":
    sys.exit(main())
