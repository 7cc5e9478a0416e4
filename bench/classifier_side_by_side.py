"""The classifier's throughput against an earlier revision's, side by side in one process.

    .venv/bin/python bench/classifier_side_by_side.py --base d8e4031 [--rounds 8]
        [--corpus bench/corpus/heldout26.jsonl ...]

On a shared machine the speed of one core changes from one minute to the next (here, by
two to three times in a day), so two runs one after the other — or two processes side by
side — cannot show a change of 20 %. Here the earlier revision (taken from git into a
temporary directory) and the working tree are imported into one process and classify
the same messages in turn, every --chunk messages, each in processor time; they see the
same machine. Prints messages a processor second for each and the ratio, and how many
answers differ (a speed-up must change none).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = [ROOT / "bench" / "corpus" / f"heldout{n}.jsonl" for n in (26, 27)]

Classify = Callable[..., object]


def checkout(revision: str, into: Path) -> Path:
    """The revision's `bot/` package, unpacked under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "bot"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 on: refuse odd members
            tar.extractall(into, filter="data")
        else:
            tar.extractall(into)  # (our own repository's archive)
    return into


def classifier_of(root: Path) -> Classify:
    """`classify` of the `bot` package under `root`, imported afresh (the other's modules
    are forgotten first: each keeps its own caches and model)."""
    for name in [m for m in sys.modules if m == "bot" or m.startswith("bot.")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("bot.reading.classifier")
    finally:
        sys.path.remove(str(root))
    return module.classify


def read(classify: Classify, row: dict) -> object:
    return classify(row["text"], subject=row.get("subject", ""), channel=row["channel"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision to compare with")
    parser.add_argument("--corpus", type=Path, action="append")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=25)
    args = parser.parse_args(argv)
    rows = [
        json.loads(line)
        for path in args.corpus or DEFAULT_CORPUS
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        readers = {
            args.base: classifier_of(checkout(args.base, Path(tmp))),
            "working tree": classifier_of(ROOT),
        }
        # Both read every message once first: models loaded, caches warm, answers compared.
        base_answers, new_answers = ([repr(read(f, row)) for row in rows] for f in readers.values())
        differ = sum(a != b for a, b in zip(base_answers, new_answers, strict=True))
        spent = dict.fromkeys(readers, 0.0)
        for _ in range(args.rounds):
            for number, start in enumerate(range(0, len(rows), args.chunk)):
                chunk = rows[start : start + args.chunk]
                order = list(readers.items())
                for name, classify in order if number % 2 else order[::-1]:  # who goes first
                    began = time.process_time()
                    for row in chunk:
                        read(classify, row)
                    spent[name] += time.process_time() - began
    count = args.rounds * len(rows)
    print(f"{len(rows)} messages, {args.rounds} rounds, in turn every {args.chunk}:")
    for name, seconds in spent.items():
        print(f"  {name:<14}{count / seconds:>8,.0f} messages a processor second")
    base, new = spent.values()
    print(f"  ratio {base / new:.3f} (working tree / {args.base}); answers that differ: {differ}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
