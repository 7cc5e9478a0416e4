"""How fast `noxbot run` reads a mailbox, against mbsync on the same mailbox in the same run,
and how fast it recovers. Starts a throwaway Dovecot (and PostgreSQL with --postgres) on
127.0.0.1, seeds the mailbox, and prints:

- mbsync's raw fetch (Debian `isync`; skipped with a message when it is not installed) and
  `noxbot run` reading the same mailbox: msg/s, their ratio, CPU ms per message, peak RSS;
- the pipeline's CPU per message on an empty database and on one holding 100,000 earlier
  messages and 20,000 cases (in-process, no IMAP), and their ratio;
- recovery: a restart after kill -9 until the next mail is read, mail read after a
  Dovecot crash and return; a lone pushed mail, and one pushed during a burst (read after
  it), each timed from its delivery and from the server's push;
- a backlog of mail with attachments (150 mails with a 1 MB PDF each), and one of hostile
  mail (every pathological mail, mail of words never seen, attachments): time, peak RSS of
  `noxbot run`, of its mail-reading worker, and of the two together.

    .venv/bin/python bench/ingest.py [--mails 2000] [--postgres] [--earlier 100000]

Run from the repository root; needs dovecot-imapd (and PostgreSQL 15 for --postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import dovecot

FILLER = (
    "Hej, vi har gått igenom offerten och återkommer om leveransdatum för projektet. "
    "Kan ni skicka en uppdaterad tidplan och en kostnadsuppskattning innan fredag?\r\n"
)


def mail(n: int) -> bytes:
    """About 3.3 KiB; every fifth a rights request from a new person."""
    if n % 5 == 0:
        sender, subject = f"person{n}@example.se", "Mina uppgifter"
        body = "Hej,\r\nJag vill att ni raderar alla mina personuppgifter.\r\nMvh\r\n" + "\r\n" * 2
        body += "-- \r\n" + FILLER * 18
    else:
        sender, subject = f"kund{n % 97}@example.com", f"Offert {n}"
        body = FILLER * 20
    return (
        f"From: {sender}\r\nTo: info@noxconsulting.se\r\nSubject: {subject}\r\n"
        f"Message-ID: <bench{n}@example.com>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


def with_attachment(n: int, size: int = 1_000_000) -> bytes:
    """A short mail with a CV of `size` bytes attached (base64: ~1.37 times that)."""
    blob = base64.encodebytes(random.Random(n).randbytes(size)).replace(b"\n", b"\r\n")
    return (
        (
            f"From: konsult{n}@example.se\r\nTo: info@noxconsulting.se\r\nSubject: CV {n}\r\n"
            f"Message-ID: <cv{n}@example.com>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nHej, här är mitt CV.\r\n--XX\r\n"
            "Content-Type: application/pdf; name=cv.pdf\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + blob
        + b"--XX--\r\n"
    )


def seed(server: dovecot.Dovecot, first: int, count: int, make=None) -> None:
    """Deliver straight into the Maildir (Dovecot gives them UIDs when it next looks): far
    faster than APPEND, and the server's work is the same when they are read."""
    maildir = server.directory / "home" / dovecot.USER / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    owner = 1000 if os.geteuid() == 0 else os.getuid()
    for n in range(first, first + count):
        path = maildir / "tmp" / f"{time.time_ns()}.bench{n}.host"  # wall clock: a file name
        path.write_bytes((make or mail)(n))
        if os.geteuid() == 0:
            os.chown(path, owner, owner)
        path.rename(maildir / "new" / path.name)
    if os.geteuid() == 0:
        for directory in (maildir, *(maildir / s for s in ("new", "cur", "tmp"))):
            os.chown(directory, owner, owner)


async def append(server: dovecot.Dovecot, n: int) -> None:
    import aioimaplib

    client = aioimaplib.IMAP4(host="127.0.0.1", port=server.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(dovecot.USER, dovecot.PASSWORD)
    await client.append(mail(n), mailbox="INBOX")
    await client.logout()


class PushObserver:
    """A second IMAP session in IDLE on the same mailbox, in a process of its own: when the
    server told it of new mail (an untagged EXISTS) - the moment the issue's "within 1 s of
    the server's push" counts from. Dovecot tells IDLE sessions of a change 0.5 s after it
    (NOTIFY_DELAY_MSECS in its mailbox-watch.c), the watcher's session and this one alike.
    It stays in one IDLE and sends nothing meanwhile: a command would have Dovecot look at
    the mailbox, and tell the watcher of mail sooner than it would on its own."""

    SESSION = """
import asyncio, sys, time, aioimaplib
async def main(port, user, password):
    client = aioimaplib.IMAP4(host="127.0.0.1", port=port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(user, password)
    await client.select("INBOX")
    await client.idle_start(timeout=600)
    print("ready", flush=True)
    while True:
        try:
            lines = await client.wait_server_push(timeout=600)
        except asyncio.TimeoutError:
            continue
        for line in lines:
            text = line.decode() if isinstance(line, bytes) else str(line)
            if text.endswith("EXISTS"):
                print(time.monotonic(), flush=True)
asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
"""

    def __init__(self, server: dovecot.Dovecot) -> None:
        self.told: list[float] = []  # monotonic times of the pushes seen (one clock for all)
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.SESSION, str(server.port), dovecot.USER, dovecot.PASSWORD],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":  # (its end, should it fail)
            self.stop()
            raise RuntimeError("the observing IMAP session did not start")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.told.append(float(line))

    def first_after(self, moment: float, within: float = 10.0) -> float | None:
        """When the server first told of new mail after `moment` (waits up to `within`)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = [t for t in self.told if t >= moment]
            if found:
                return found[0]
            time.sleep(0.01)
        return None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def run_mbsync(server: dovecot.Dovecot, work: Path) -> float | None:
    """Seconds mbsync takes to fetch the whole mailbox into a local Maildir, or None."""
    binary = shutil.which("mbsync")
    if binary is None:
        print("mbsync: not installed (apt-get install isync); skipping the comparison")
        return None
    local = work / "mbsync-maildir"
    local.mkdir()
    config = work / "mbsyncrc"
    config.write_text(
        f"IMAPAccount bench\nHost 127.0.0.1\nPort {server.port}\nUser {dovecot.USER}\n"
        f"Pass {dovecot.PASSWORD}\nSSLType None\nAuthMechs LOGIN\n\n"
        "IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\n\n"
        "Channel bench\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\n"
        f"SyncState {work}/mbsync-state/\n"
    )
    (work / "mbsync-state").mkdir()
    started = time.perf_counter()
    subprocess.run([binary, "-q", "-c", str(config), "bench"], check=True)
    return time.perf_counter() - started


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """The processor time of `pid`; with `children`, plus that of the processes it started
    (the mail-reading worker: ended ones as the kernel adds them up, running ones read)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
        for child in _children(pid):
            with contextlib.suppress(OSError, IndexError, ValueError):
                own = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(own[11]) + int(own[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def _children(pid: int) -> list[str]:
    """The pids of the processes `pid` started that still run."""
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN
        return []


def children_peak_rss_mib(pid: int) -> list[float]:
    """The peak RSS of each process `pid` started that still runs (noxbot run's mail-reading
    worker, which reads mail of 64 KB or more: bot.runtime.mail_reader)."""
    peaks = []
    for child in _children(pid):
        with contextlib.suppress(OSError):  # ended meanwhile
            peaks.append(peak_rss_mib(int(child)))
    return [peak for peak in peaks if peak]  # (an ended child not yet reaped has none)


class Noxbot:
    """`noxbot run` as a process, on a config of its own; reads its log and database."""

    def __init__(self, work: Path, server: dovecot.Dovecot, url: str) -> None:
        self.url = url
        self.config = work / "noxbot.toml"
        self.log = work / "noxbot.log"
        self.config.write_text(
            f'[database]\nurl = "{url}"\n\n'
            f'[imap]\nhost = "127.0.0.1"\nport = {server.port}\ntls = "none"\n'
            f'username = "{dovecot.USER}"\npoll_seconds = 60\nbacklog_days = 36500\n'
        )
        self.process: subprocess.Popen[bytes] | None = None
        from sqlalchemy import create_engine

        self._engine = create_engine(url) if url.startswith("postgresql") else None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "-c", str(self.config)],
            env={
                **os.environ,
                "NOXBOT_IMAP_PASSWORD": dovecot.PASSWORD,
                "NOXBOT_VERIFICATION_SECRET": "bench-only-secret-key-0123456789abcdef",
            },
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )

    def _scalar(self, query: str) -> object:
        """One value from noxbot's database; None before the schema is there."""
        from sqlalchemy import create_engine, text

        engine = self._engine or create_engine(self.url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(query)).scalar()
        except Exception:  # not created or not migrated yet
            return None
        finally:
            if self._engine is None:
                engine.dispose()

    def stored(self) -> int:
        return self._scalar("SELECT count(*) FROM message") or 0

    def holds(self, message_id: str) -> bool:
        """Whether the message with this Message-ID (one of the bench's own) is stored."""
        query = f"SELECT count(*) FROM message WHERE message_id = '{message_id}'"
        return bool(self._scalar(query))

    def read_through(self) -> int:
        """The last UID the mail watcher has done with (stored, or skipped as a duplicate)."""
        value = self._scalar("SELECT value FROM channel_cursor WHERE name = 'imap:INBOX'")
        return int(str(value).rsplit(":", 1)[1]) if value else 0

    def log_has(self, text: str) -> bool:
        return self.log.exists() and text in self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)


def wait_for(condition, timeout: float, poll: float = 0.02, bot: Noxbot | None = None) -> float:
    """When `condition()` came true; ends the benchmark when `timeout` passes first, or when
    `bot`'s process has ended meanwhile (saying how, with the end of its log)."""
    deadline = time.monotonic() + timeout
    while not condition():
        ended = bot is not None and bot.process is not None and bot.process.poll() is not None
        if ended or time.monotonic() > deadline:
            log = bot.log if bot is not None else None
            said = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            why = f"noxbot run ended ({bot.process.returncode})" if ended else "timed out"
            raise SystemExit(f"{why}; noxbot's log ends:\n{said}")
        time.sleep(poll)
    return time.monotonic()


def backlog(args: argparse.Namespace, server: dovecot.Dovecot, work: Path, url: str) -> None:
    seed(server, 0, args.mails)
    fetch = run_mbsync(server, work)
    bot = Noxbot(work, server, url)
    started = time.monotonic()
    bot.start()
    assert bot.process is not None
    wait_for(lambda: bot.log_has("new to read"), 120, 0.01, bot)
    connected = time.monotonic()
    together = TogetherSampler(bot.process.pid)
    cpu_at_start = cpu_seconds(bot.process.pid)
    all_cpu_at_start = cpu_seconds(bot.process.pid, children=True)
    wait_for(lambda: bot.stored() >= args.mails, 600, 0.05, bot)
    done = time.monotonic()
    cpu = cpu_seconds(bot.process.pid) - cpu_at_start
    all_cpu = cpu_seconds(bot.process.pid, children=True) - all_cpu_at_start
    rss = peak_rss_mib(bot.process.pid)
    both = together.stop()
    rate = args.mails / (done - connected)
    kind = bot.url.split(":")[0]
    print(f"\n{args.mails} mails of ~{len(mail(1)) / 1024:.1f} KiB, 20 % requests, {kind}")
    if fetch is not None:
        print(f"mbsync raw fetch:   {args.mails / fetch:7.0f} msg/s ({fetch:.2f} s)")
    print(f"noxbot run:         {rate:7.0f} msg/s ({done - connected:.2f} s after connecting;"
          f" started {connected - started:.1f} s before)")  # fmt: skip
    if fetch is not None:
        print(f"ratio mbsync/noxbot: {rate and (args.mails / fetch) / rate:6.1f}x")
    print(f"CPU per message:    {all_cpu / args.mails * 1000:7.2f} ms"
          f" (the watcher {cpu / args.mails * 1000:.2f}, its mail-reading worker"
          f" {(all_cpu - cpu) / args.mails * 1000:.2f})")  # fmt: skip
    print(f"peak RSS:           {rss:7.0f} MiB (the worker beside it {together.child_peak:.0f} MiB;"
          f" the two together, sampled, at most {both:.0f} MiB,"
          f" PSS {together.pss_peak:.0f})")  # fmt: skip

    # A lone mail, and mail pushed while a burst is read (read right after it), counted
    # from their delivery and from the server's push (seen by a session of its own).
    observer = PushObserver(server)

    def pushed(n: int, stored: int | None = None) -> tuple[float, float, float]:
        """Mail n appended: when it was delivered, read (`stored` messages in all, or mail n
        itself), told."""
        asyncio.run(append(server, n))
        delivered = time.monotonic()
        if stored is not None:
            wait_for(lambda: bot.stored() >= stored, 120, 0.005, bot)
        else:
            wait_for(lambda: bot.holds(f"<bench{n}@example.com>"), 120, 0.005, bot)
        read = time.monotonic()
        return delivered, read, observer.first_after(delivered) or float("nan")

    try:
        time.sleep(1.0)
        delivered, read, told = pushed(199_999, args.mails + 1)
        print(f"a lone mail: read {read - delivered:.2f} s after its delivery,"
              f" {read - told:.2f} s after the server's push")  # fmt: skip
        # Delivered 0.3 s after a burst, before the watcher has heard of the burst (Dovecot
        # tells an IDLE session 0.5 s after a change): it is read as one of the burst.
        seed(server, 100_000, 500)
        t0 = time.monotonic()
        time.sleep(0.3)
        delivered, read, told = pushed(200_000, args.mails + 502)
        burst = read - t0
        # Delivered while a burst is being read: read before the rest of it.
        seed(server, 110_000, 500)
        wait_for(lambda: bot.stored() >= args.mails + 502 + 20, 60, 0.005, bot)
        left = args.mails + 1002 - bot.stored()
        during = pushed(210_000)
        wait_for(lambda: bot.stored() >= args.mails + 1003, 120, 0.02, bot)
    finally:
        observer.stop()
    print(
        f"push right after a 500-mail burst: read {read - delivered:.2f} s after its delivery,"
        f" {read - told:.2f} s after the server's push (the burst took {burst:.2f} s)"
    )
    print(
        f"push while a 500-mail burst is read ({left} left): read"
        f" {during[1] - during[0]:.2f} s after its delivery, {during[1] - during[2]:.2f} s"
        " after the server's push"
    )

    # A kill -9 and a restart: the next mail is read without waiting out the lease.
    bot.stop(signal.SIGKILL)
    asyncio.run(append(server, 200_001))
    restarted = time.monotonic()
    bot.start()
    wait_for(lambda: bot.stored() >= args.mails + 1004, 120, 0.02, bot)
    print(
        f"restart after kill -9: next mail read {time.monotonic() - restarted:.2f} s after"
        " the start (Python, model and database included)"
    )

    # A Dovecot crash of 5 s: mail delivered while it was away is read soon after it is back.
    server.halt()
    time.sleep(5)
    seed(server, 300_000, 1)
    server.resume()
    back = time.monotonic()
    wait_for(lambda: bot.stored() >= args.mails + 1005, 120, 0.02, bot)
    print(f"Dovecot down 5 s: mail read {time.monotonic() - back:.2f} s after it was back")
    bot.stop()
    tail = bot.log.read_text(errors="replace").splitlines()[-1]
    print(f"last log line: {tail.split(' ', 3)[-1]}")


class TogetherSampler:
    """The largest RSS of a process and its children together, sampled every 10 ms while
    it runs (each process's own peak, VmHWM, is exact; their sum at the same moment can
    only be sampled). Also the largest sum of their PSS, sampled every 100 ms: RSS counts
    the pages the two share (the interpreter and its libraries, ~10 MiB) in each of them,
    PSS shares them out, so its sum is the memory the two hold."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.pss_peak = pid, 0.0, 0.0
        #: The largest RSS of any one child seen (the worker is replaced after a mail that
        #: grew it: its own VmHWM is gone with it).
        self.child_peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        rounds = 0
        while not self._done.wait(0.01):
            with contextlib.suppress(OSError, ValueError):
                pids = _children(self.pid)
                children = [rss_mib(int(child)) for child in pids]
                self.peak = max(self.peak, rss_mib(self.pid) + sum(children))
                self.child_peak = max(self.child_peak, *children, 0.0)
                if pids and rounds % 10 == 0:  # (reading smaps costs the kernel a walk)
                    pss = pss_mib(self.pid) + sum(pss_mib(int(child)) for child in pids)
                    self.pss_peak = max(self.pss_peak, pss)
                rounds += 1

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak


def pss_mib(pid: int) -> float:
    """A process's proportional set size: its RSS with each shared page divided among the
    processes that map it."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # ended meanwhile, or a kernel without smaps_rollup
        return 0.0
    match = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # ended meanwhile
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def read_backlog(work: Path, url: str, what: str, count: int, make) -> None:
    """`count` mails (`make(n)`) as a backlog in a Dovecot of its own: how long `noxbot run`
    takes to store them all, its peak RSS, its mail-reading worker's, and the two
    together."""
    server = dovecot.start()
    try:
        seed(server, 0, count, make)
        bot = Noxbot(work, server, url)
        bot.start()
        assert bot.process is not None
        wait_for(lambda: bot.log_has("new to read"), 120, 0.01, bot)
        # From here: the schema's upgrade, a child process of its own at the start, is over.
        together = TogetherSampler(bot.process.pid)
        connected = time.monotonic()
        wait_for(lambda: bot.read_through() >= count, 600, 0.05, bot)
        took = time.monotonic() - connected
        workers = children_peak_rss_mib(bot.process.pid)
        both = together.stop()
        worker = max([together.child_peak, *workers])
        print(f"{what}: read in {took:.2f} s, peak RSS {peak_rss_mib(bot.process.pid):.0f} MiB"
              f" (the mail-reading worker process beside it: {worker:.0f} MiB;"
              f" the two together, sampled, at most {both:.0f} MiB,"
              f" PSS {together.pss_peak:.0f})")  # fmt: skip
        bot.stop()
    finally:
        server.stop()


def attachments(work: Path, url: str, count: int = 150) -> None:
    """A backlog of mail with a 1 MB attachment each."""
    read_backlog(work, url, f"{count} mails with a 1 MB attachment", count, with_attachment)


def never_seen_words(n: int, count: int = 2_000) -> bytes:
    """A mail of `count` random words, none of them ever seen before (every classifier
    cache fills with them)."""
    rng = random.Random(n)
    words = (
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyzåäö") for _ in range(rng.randint(5, 10)))
        for _ in range(count)
    )
    body = "Hej, radera mina uppgifter.\r\n" + " ".join(words)
    return (
        f"From: slump{n}@example.se\r\nTo: info@noxconsulting.se\r\nSubject: Slump {n}\r\n"
        f"Message-ID: <slump{n}@example.com>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


def hostile(work: Path, url: str) -> None:
    """Hostile mail: bench/pathological_bench.py's mails (huge words and lines, 5 MB bodies,
    deep and wide MIME, huge headers), 200 mails of 2,000 words never seen, 20 mails with
    a 1 MB attachment, mixed."""
    from bench.pathological_bench import CASES

    # Each its own Message-ID (the catalogue's share one: all but one would be duplicates).
    mails = [
        make().replace(b"<p1@example.se>", f"<p1.{n}@example.se>".encode())
        for n, make in enumerate(CASES.values())
    ]
    mails += [never_seen_words(n) for n in range(200)]
    mails += [with_attachment(n) for n in range(20)]
    random.Random(5).shuffle(mails)
    what = f"{len(CASES)} pathological, 200 of new words, 20 attached, mixed"
    read_backlog(work, url, what, len(mails), mails.__getitem__)


def flat_cost(url_for, earlier: int, cases: int) -> None:
    """The pipeline's CPU per message (handle_batch, no IMAP) on an empty database and on
    one holding `earlier` messages and `cases` cases."""
    from bot.runtime.intake import Pending, handle_batch
    from bot.runtime.mail_reader import Position, read_mail
    from tests.workflow_kit import make_world

    def measure(world, first: int) -> float:
        readings = [read_mail(mail(n), Position(1, n, None)) for n in range(first, first + 500)]
        pending = [Pending(r.inbound, f"1:{i}", r.classification) for i, r in enumerate(readings)]
        started = time.process_time()
        for start in range(0, len(pending), 25):
            handle_batch(world.database, world.services, pending[start : start + 25], "imap:X")
        return (time.process_time() - started) / len(pending)

    work = Path(tempfile.mkdtemp())
    empty = make_world(work / "a", url_for("empty"))
    full = make_world(work / "b", url_for("full"))
    fill(full, earlier, cases)
    measure(empty, 500_000)  # warm up: imports, caches
    measure(full, 510_000)
    # Side by side, five rounds of each in turn, and the median of each: one round of 500
    # varied by a quarter from run to run (the garbage collector, the page cache).
    empty_costs, full_costs = [], []
    for round_ in range(5):
        empty_costs.append(measure(empty, 600_000 + round_ * 1000))
        full_costs.append(measure(full, 600_000 + round_ * 1000))
    empty_cost, full_cost = statistics.median(empty_costs), statistics.median(full_costs)
    print(
        f"pipeline CPU/msg (median of 5 rounds side by side): empty {empty_cost * 1000:.2f} ms,"
        f" with {earlier:,} messages and {cases:,} cases {full_cost * 1000:.2f} ms;"
        f" ratio {full_cost / empty_cost:.2f}"
    )
    empty.database.dispose()
    full.database.dispose()


def fill(world, earlier: int, cases: int) -> None:
    """Earlier messages and cases, written in bulk (as the pipeline would have left them)."""
    from sqlalchemy import insert

    from bot.store.tables import Message, Request

    now = datetime(2026, 11, 1, tzinfo=UTC)
    rng = random.Random(7)
    with world.database.engine.begin() as connection:
        connection.execute(
            insert(Request.__table__),
            [
                {
                    "reference": f"DSR-2020-{i:06d}",
                    "kinds": ["erasure"],
                    "language": "sv",
                    "channel": "email",
                    "requester_address": f"old{i}@example.se",
                    "status": "done",
                    "received_at": now,
                    "due_date": date(2026, 12, 1),
                    "target_date": date(2026, 11, 20),
                    "evidence": [],
                    "requested_changes": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(cases)
            ],
        )
        for start in range(0, earlier, 10_000):
            connection.execute(
                insert(Message.__table__),
                [
                    {
                        "dedupe_key": f"email:<old{i}@example.com>",
                        "direction": "in",
                        "channel": "email",
                        "address": f"kund{rng.randrange(5000)}@example.com",
                        "subject": "Offert",
                        "text": "Hej",
                        "message_id": f"<old{i}@example.com>",
                        "references": [],
                        "state": "not_a_request",
                        "received_at": now - timedelta(minutes=i),
                        "request_id": (i % cases) + 1 if i % 5 == 0 else None,
                    }
                    for i in range(start, min(start + 10_000, earlier))
                ],
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--earlier", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=20_000)
    args = parser.parse_args()
    if not dovecot.available():
        raise SystemExit("needs dovecot-imapd (apt-get install dovecot-imapd)")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    work = Path(tempfile.mkdtemp(prefix="noxbot-bench-"))
    cluster = None
    if args.postgres:
        from sqlalchemy import create_engine, text

        from tests import pg

        cluster = pg.start_cluster()
        admin = create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in ("bench", "attachments", "hostile", "empty", "full"):
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()

        def url_for(name: str) -> str:
            return cluster.url(name)
    else:

        def url_for(name: str) -> str:
            return f"sqlite:///{work / name}.db"

    server = dovecot.start()
    try:
        backlog(args, server, work, url_for("bench"))
        (work / "attachments").mkdir()
        attachments(work / "attachments", url_for("attachments"))
        (work / "hostile").mkdir()
        hostile(work / "hostile", url_for("hostile"))
        flat_cost(url_for, args.earlier, args.cases)
    finally:
        server.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
