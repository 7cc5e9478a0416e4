"""Processor time of reading one mail (bot.runtime.mail_reader.read_mail), step by step.

    .venv/bin/python bench/reading_cpu.py [--mails 1000] [--rounds 5]

On bench/ingest.py's mails (about 3.3 KiB; every fifth a request, whose signature hides most
of its body), request and ordinary mail apart, in ms of processor time per mail (the
fastest of --rounds rounds, so that neighbours on a shared machine count as little as
possible): the whole of read_mail; parsing (bot.channels.mail.inbound_from_email); the
rules' reading (classifier._read: visible text, folding, mending, patterns, language); the
learned model's part (features, estimates, decision); and read_mail's steps without the
model's part (parse, stored text, rules' reading, timed together), the figure the reading
side answers for.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import mail  # noqa: E402
from bot.channels.mail import inbound_from_email  # noqa: E402
from bot.reading import classifier  # noqa: E402
from bot.reading.safe_text import stored_text  # noqa: E402
from bot.runtime.mail_reader import Position, read_mail  # noqa: E402


def per_item_ms(items: Sequence[object], step: Callable[[object], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for item in items:
            step(item)
        best = min(best, time.process_time() - started)
    return best / len(items) * 1000


def measure(raws: list[bytes], rounds: int) -> dict[str, float]:
    inbounds = [inbound_from_email(raw) for raw in raws]
    texts = [(stored_text(m.text), stored_text(m.subject)) for m in inbounds]
    readings = [classifier._read(text, subject, "email") for text, subject in texts]
    model = classifier._model()
    assert model is not None, "the shipped model is missing"

    def model_part(reading: object) -> None:
        if not reading.bulk:  # type: ignore[attr-defined]
            classifier.decide(reading, model, classifier.estimates(reading, model))  # type: ignore[arg-type]

    figures = {
        "read_mail": per_item_ms(raws, lambda raw: read_mail(raw, Position(1, 1, None)), rounds),  # type: ignore[arg-type]
        "parse": per_item_ms(raws, inbound_from_email, rounds),  # type: ignore[arg-type]
        "stored_text": per_item_ms(
            inbounds,
            lambda m: (stored_text(m.text), stored_text(m.subject)),  # type: ignore[attr-defined]
            rounds,
        ),
        "rules' reading": per_item_ms(
            texts,
            lambda t: classifier._read(t[0], t[1], "email"),
            rounds,  # type: ignore[index]
        ),
        "model": per_item_ms(readings, model_part, rounds),
    }
    figures["read_mail without the model"] = per_item_ms(raws, _without_model, rounds)
    return figures


def _without_model(raw: bytes) -> None:
    """read_mail's steps up to the model: parse, the text as stored, the rules' reading."""
    inbound = inbound_from_email(raw, imap_uidvalidity=1, imap_uid=1)
    classifier._read(stored_text(inbound.text), stored_text(inbound.subject), "email")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    read_mail(mail(1), Position())  # load the model
    groups = {
        "request": [mail(n) for n in range(args.mails) if n % 5 == 0],
        "ordinary": [mail(n) for n in range(args.mails) if n % 5 != 0],
    }
    results = {name: measure(raws, args.rounds) for name, raws in groups.items()}
    print(f"ms of processor time per mail (fastest of {args.rounds} rounds)")
    print(f"{'step':30} {'request':>9} {'ordinary':>9}")
    for step in results["request"]:
        print(f"{step:30} {results['request'][step]:>9.3f} {results['ordinary'][step]:>9.3f}")


if __name__ == "__main__":
    main()
