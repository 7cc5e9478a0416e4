"""How long reading one mail takes on crafted, pathological input, and what handing a mail
to the guarded reader (bot.reading) costs.

    .venv/bin/python bench/pathological_bench.py [--limit SECONDS] [NAME-PART ...]

Each mail is parsed (bot.channels.mail) and classified in a child process that is killed
after --limit seconds (60), so that a regression shows as "over the limit" instead of a
hang. Then ordinary and large mail is read in this process and through a MailReader, and
the difference is the cost of the guard.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.mail import inbound_from_email  # noqa: E402
from bot.reading.classifier import classify  # noqa: E402
from bot.runtime.mail_reader import MailReader, Position, read_mail  # noqa: E402


def mail(body: str | bytes, *, headers: str = "", content_type: str = "text/plain") -> bytes:
    head = (
        "From: Anna <anna@example.se>\r\nTo: info@noxconsulting.se\r\nSubject: Hej\r\n"
        f"Message-ID: <p1@example.se>\r\n{headers}MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}; charset=utf-8\r\n"
    )
    if isinstance(body, bytes):
        return f"{head}Content-Transfer-Encoding: base64\r\n\r\n".encode() + body
    return f"{head}\r\n{body}".encode()


def html(body: str) -> bytes:
    return mail(body, content_type="text/html")


def header(line: str) -> bytes:
    return mail("hej", headers=f"{line}\r\n")


def top(structure: str) -> bytes:
    return f"From: anna@example.se\r\nSubject: Hej\r\nMIME-Version: 1.0\r\n{structure}".encode()


def nested(depth: int, body: str = "Jag vill ha ett registerutdrag.\r\n") -> str:
    inner = f"Content-Type: text/plain\r\n\r\n{body}"
    for level in range(depth):
        boundary = f"b{level}"
        inner = (
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{inner}\r\n--{boundary}--\r\n"
        )
    return inner


def parts(count: int, headers: Callable[[int], str]) -> bytes:
    body = "".join(f"--B\r\n{headers(i)}\r\n\r\nx{i}\r\n" for i in range(count))
    return top(f'Content-Type: multipart/mixed; boundary="B"\r\n\r\n{body}--B--\r\n')


PROSE = "Hej! Jag vill att ni raderar alla mina personuppgifter, tack. Mvh Anna\n"
CASES: dict[str, Callable[[], bytes]] = {
    "one word of 40,000 letters": lambda: mail("a" * 40_000),
    "one word of 1,000,000 letters": lambda: mail("a" * 1_000_000),
    "1 MB of base64-like letters": lambda: mail(
        base64.b64encode(bytes(range(256)) * 2_900).decode()
    ),
    "75 KB of short lines": lambda: mail("ab\n" * 25_000),
    "a million short lines": lambda: mail("a\n" * 1_000_000),
    "5 MB of prose": lambda: mail(PROSE * 70_000),
    "5 MB of prose on one line": lambda: mail(PROSE.replace("\n", " ") * 70_000),
    "5 MB of prose in base64": lambda: mail(base64.encodebytes(PROSE.encode() * 70_000)),
    "a 1 MB clause of negations": lambda: mail("jag vill inte att ni raderar mig " * 30_000),
    "lines that could start a quote": lambda: mail("From: a\n" * 500_000),
    "a million digits": lambda: mail("1" * 1_000_000),
    "60 KB of blanks that end no line": lambda: mail("Hej " + "\x1c" * 60_000 + " radera mig"),
    "a line of a million em spaces": lambda: mail("a" + "\u2003" * 1_000_000 + "b\n" + PROSE),
    "5 MB of HTML": lambda: html("<div><p>Hej, radera mig</p></div>" * 150_000),
    "unclosed HTML tags": lambda: html("<a " * 300_000),
    "unclosed HTML comments": lambda: html("<!--a>" * 200_000),
    "MIME nested 200 deep": lambda: top(nested(200)),
    "MIME nested 15 deep, 5 MB inside": lambda: top(nested(15, PROSE * 70_000)),
    "5,000 MIME parts": lambda: parts(5_000, lambda i: "Content-Type: text/plain"),
    "190 parts with crafted headers": lambda: parts(
        190,
        lambda i: (
            f"Content-Type: text/plain; p={i}; {'((' * 300}\r\n"
            f"Content-Disposition: attachment; q={i}; {'<a>' * 300}"
        ),
    ),
    "a 1 MB Subject": lambda: header("Subject: " + "ab " * 330_000),
    "a 200 KB Subject": lambda: header("Subject: " + "ab " * 66_000),
    "200 KB of backslashes in Reply-To": lambda: header("Reply-To: " + "\\" * 200_000),
    "5,000 References": lambda: header(
        "References: " + " ".join(f"<i{i}@x.se>" for i in range(5_000))
    ),
    "100,000 header lines": lambda: mail(
        "hej", headers="".join(f"X-H{i}: v\r\n" for i in range(100_000))
    ),
}


def _timed(name: str, connection) -> None:  # in the child process
    raw = CASES[name]()
    started = time.perf_counter()
    inbound = inbound_from_email(raw)
    parsed = time.perf_counter()
    kinds = (
        "" if inbound.malformed else ",".join(classify(inbound.text, subject=inbound.subject).kinds)
    )
    done = time.perf_counter()
    outcome = f"malformed: {inbound.malformed}" if inbound.malformed else kinds
    connection.send((len(raw), parsed - started, done - parsed, outcome))


def pathological(limit: float, only: list[str]) -> None:
    context = multiprocessing.get_context("fork")
    classify("")  # children inherit the loaded model
    print(f"{'mail':36} {'bytes':>10} {'parse s':>8} {'classify s':>10}  outcome")
    for name in CASES:
        if only and not any(part.lower() in name.lower() for part in only):
            continue
        receiving, sending = context.Pipe(duplex=False)
        child = context.Process(target=_timed, args=(name, sending))
        child.start()
        if receiving.poll(limit):
            size, parse, classifying, outcome = receiving.recv()
            print(f"{name:36} {size:>10,} {parse:>8.2f} {classifying:>10.2f}  {outcome}")
        else:
            print(f"{name:36} {'':>10} over the limit of {limit:g} s")
        child.kill()
        child.join()


async def guard_cost() -> None:
    """The guard's cost: a mail read through the worker minus the same mail read here (the
    fastest of several tries each), and what handing over is made of: sending the mail
    there and its reading back (pickled, over a socket)."""
    reader = MailReader(60, guarded_from_bytes=0)
    started = time.perf_counter()
    await reader.read(mail("hej"), Position())
    print(f"\nstarting the reader's worker process: {time.perf_counter() - started:.2f} s")
    print(f"{'mail':8} {'here ms':>8} {'guarded ms':>11} {'cost ms':>8} {'pickling ms':>12}")
    for label, raw, tries in [
        ("3 KB", mail(PROSE * 40), 40),
        ("64 KB", mail(PROSE * 900), 20),
        ("1 MB", mail(PROSE * 14_000), 8),
        ("5 MB", mail(PROSE * 70_000), 4),
    ]:
        here, guarded, pickling = [], [], []
        for _ in range(tries):
            started = time.perf_counter()
            reading = read_mail(raw, Position())
            here.append(time.perf_counter() - started)
            started = time.perf_counter()
            await reader.read(raw, Position())
            guarded.append(time.perf_counter() - started)
            started = time.perf_counter()
            pickle.loads(pickle.dumps((raw, Position())))
            pickle.loads(pickle.dumps(reading))
            pickling.append(time.perf_counter() - started)
        a, b, c = (min(times) * 1000 for times in (here, guarded, pickling))
        print(f"{label:8} {a:>8.1f} {b:>11.1f} {b - a:>8.1f} {c:>12.1f}")
    reader.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("only", nargs="*", help="run only the mails whose name has this")
    args = parser.parse_args()
    pathological(args.limit, args.only)
    if not args.only:
        asyncio.run(guard_cost())


if __name__ == "__main__":
    main()
