"""Everything reading produces, dumped, so that a speed-up can be shown to change nothing.

    .venv/bin/python bench/reading_golden.py --write /tmp/golden.jsonl    # before a change
    .venv/bin/python bench/reading_golden.py --compare /tmp/golden.jsonl  # after it

One JSON line per input, in a fixed order:
- every message of bench/corpus/*.jsonl: classify() and classify_by_rules() as JSON, the
  triage flag, and the rules' reading (the text read, folded and mended, the index map,
  language, every hit, the scores, the flags);
- each corpus message also as a mail (plain UTF-8, quoted-printable Latin-1, base64 HTML in
  turn, with RFC 2047 subjects and display names), bench/ingest.py's mails n=0..999, every
  .eml file of examples/ and tests/data/, and the crafted mails of
  bench/pathological_bench.py up to 1.1 MB: parse_email's fields and read_mail's message
  and classification.

--compare prints the first differences and exits 1 when there are any.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ingest, pathological_bench  # noqa: E402
from bot.reading import classifier  # noqa: E402
from bot.reading.mail import MalformedEmail, parse_email  # noqa: E402
from bot.runtime.mail_reader import Position, read_mail  # noqa: E402

CORPUS = ROOT / "bench" / "corpus"
#: Larger crafted mails take seconds each and add nothing the smaller ones do not show.
MAX_CRAFTED_BYTES = 1_100_000


def _plain(value: object) -> object:
    """A value as JSON can hold it; long strings as their length and digest."""
    if isinstance(value, str) and len(value) > 20_000:
        return {
            "len": len(value),
            "sha1": hashlib.sha1(value.encode("utf-8", "surrogatepass")).hexdigest(),
        }
    if isinstance(value, bytes):
        return {"bytes": len(value), "sha1": hashlib.sha1(value).hexdigest()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "value") and not isinstance(value, (int, float)):  # an enum
        return str(value)
    return value


def classification_record(text: str, subject: str, channel: str) -> dict[str, object]:
    reading = classifier._read(text, subject, channel)
    found = classifier.classify(text, subject=subject, channel=channel)
    by_rules = classifier.classify_by_rules(text, subject=subject, channel=channel)
    return {
        "classify": found.to_json(),
        "triage": found.needs_triage,
        "rules": by_rules.to_json(),
        "reading": _plain(
            {
                "combined": reading.combined,
                "mended": reading.mended,
                "origin": reading.origin,
                "language": reading.language,
                "hits": [(str(h.kind), h.weight, h.start, h.end) for h in reading.hits],
                "scores": {str(k): v for k, v in reading.scores.items()},
                "bulk": reading.bulk,
                "flags": reading.flags,
            }
        ),
    }


def mail_record(raw: bytes) -> dict[str, object]:
    try:
        parsed: object = _plain(parse_email(raw))
    except MalformedEmail as exc:
        parsed = f"MalformedEmail: {exc}"
    reading = read_mail(raw, Position(7, 42, None))
    return {
        "parsed": parsed,
        "inbound": _plain(dataclasses.replace(reading.inbound, raw=None)),
        "classification": reading.classification.to_json() if reading.classification else None,
    }


def corpus_rows() -> Iterator[dict]:
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["file"] = path.name
                yield row


def corpus_mail(index: int, row: dict) -> bytes:
    """A corpus message as a mail, in one of three common shapes."""
    message = EmailMessage()
    message["From"] = f"Åsa Öberg {index} <person{index}@example.se>"
    message["To"] = "info@noxconsulting.se"
    message["Subject"] = row.get("subject") or ""
    message["Message-ID"] = f"<corpus{index}@example.se>"
    message["Date"] = "Tue, 24 Nov 2026 10:00:00 +0100"
    text = row["text"]
    shape = index % 3
    if shape == 0:
        message.set_content(text, cte="8bit")
    elif shape == 1:
        try:
            message.set_content(text, charset="iso-8859-1", cte="quoted-printable")
        except UnicodeEncodeError:
            message.set_content(text, cte="quoted-printable")
    else:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>\n")
        message.set_content(
            f"<html><body><p>{escaped}</p></body></html>", subtype="html", cte="base64"
        )
    return message.as_bytes()


def records() -> Iterator[tuple[str, dict[str, object]]]:
    rows = list(corpus_rows())
    for row in rows:
        record = classification_record(row["text"], row.get("subject", ""), row["channel"])
        yield f"corpus {row['file']} {row['id']}", record
    for index, row in enumerate(rows):
        yield f"corpus mail {row['file']} {row['id']}", mail_record(corpus_mail(index, row))
    for n in range(1000):
        yield f"ingest mail {n}", mail_record(ingest.mail(n))
    for path in sorted([*ROOT.glob("examples/mail/*.eml"), *ROOT.glob("tests/data/eml/*.eml")]):
        yield f"eml {path.relative_to(ROOT)}", mail_record(path.read_bytes())
    for name, make in pathological_bench.CASES.items():
        raw = make()
        if len(raw) <= MAX_CRAFTED_BYTES:
            yield f"crafted {name}", mail_record(raw)


def _shown(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)[:600]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="dump every result to this file")
    group.add_argument("--compare", type=Path, help="compare every result with this file")
    args = parser.parse_args()
    if args.write:
        with args.write.open("w", encoding="utf-8") as out:
            count = 0
            for key, record in records():
                out.write(json.dumps({"key": key, **record}, ensure_ascii=False) + "\n")
                count += 1
        print(f"{count} results written to {args.write}")
        return
    expected = [json.loads(line) for line in args.compare.read_text(encoding="utf-8").splitlines()]
    differences = 0
    count = 0
    for (key, record), golden in zip(records(), expected, strict=False):
        count += 1
        actual = json.loads(json.dumps({"key": key, **record}, ensure_ascii=False))
        if actual != golden:
            differences += 1
            if differences <= 10:
                print(f"DIFFERENT: {key}")
                for field in actual:
                    now, before = actual.get(field), golden.get(field)
                    if now != before:
                        print(f"  {field}:\n    now    {_shown(now)}\n    before {_shown(before)}")
    if count != len(expected):
        print(f"{count} results now, {len(expected)} before")
        differences += 1
    print(f"{count} results compared, {differences} different")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
