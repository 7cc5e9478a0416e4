"""Where handle_batch spends its CPU: cProfile over the pipeline (no IMAP) on the bench mail
of bench/ingest.py, ordinary mail and new requests measured apart.

    .venv/bin/python bench/pipeline_profile.py [--postgres] [--kind all|ordinary|request]
        [--mails 500] [--top 40] [--sort tottime|cumulative] [--repeat 3] [--ack]
        [--earlier 100000 --cases 20000] [--no-profile]

Prints CPU ms per message (process time, no profiler) for each kind — the lowest of
`--repeat` runs, as neighbours on a shared machine only ever add to it — then the profile.
With `--earlier`, the bench mix also on a database holding that many earlier messages and
`--cases` cases (bench/ingest.py's fill), measured in turn with the empty one.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import mail


def readings(first: int, count: int, kind: str) -> list:
    from bot.runtime.intake import Pending
    from bot.runtime.mail_reader import Position, read_mail

    numbers = [
        n
        for n in range(first, first + count * 5)
        if kind == "all" or (n % 5 == 0) == (kind == "request")
    ][:count]
    out = []
    for i, n in enumerate(numbers):
        r = read_mail(mail(n), Position(1, n, None))
        out.append(Pending(r.inbound, f"1:{i}", r.classification))
    return out


def run(world, pending: list, batch: int = 25) -> float:
    from bot.runtime.intake import handle_batch

    started = time.process_time()
    for start in range(0, len(pending), batch):
        handle_batch(world.database, world.services, pending[start : start + batch], "imap:X")
    return (time.process_time() - started) / len(pending)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--kind", default="all", choices=["all", "ordinary", "request"])
    parser.add_argument("--mails", type=int, default=500)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--ack", action="store_true", help="acknowledge at once (the default)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--earlier", type=int, default=0)
    parser.add_argument("--cases", type=int, default=20_000)
    args = parser.parse_args()
    from bot.config import VerificationSettings
    from tests.workflow_kit import make_world

    work = Path(tempfile.mkdtemp(prefix="noxbot-prof-"))
    cluster = None
    if args.postgres:
        from sqlalchemy import create_engine, text

        from tests import pg

        cluster = pg.start_cluster()
        admin = create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in ("prof", "full"):
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url, full_url = cluster.url("prof"), cluster.url("full")
    else:
        url, full_url = f"sqlite:///{work / 'prof.db'}", f"sqlite:///{work / 'full.db'}"
    try:
        verification = VerificationSettings(acknowledge_at_once=args.ack)
        world = make_world(work / "a", url, verification=verification)
        run(world, readings(100_000, 200, "all"))  # warm up: imports, caches, known senders
        first = 200_000
        for kind in ("ordinary", "request", "all"):
            costs = []
            for _ in range(args.repeat):
                costs.append(run(world, readings(first, args.mails, kind)))
                first += 10_000
            print(f"{kind:9} {min(costs) * 1000:6.2f} ms CPU per message (lowest of {args.repeat})")
        if args.earlier:
            from bench.ingest import fill

            full = make_world(work / "b", full_url, verification=verification)
            fill(full, args.earlier, args.cases)
            run(full, readings(100_000, 200, "all"))
            empty_costs, full_costs = [], []
            for _ in range(args.repeat):
                empty_costs.append(run(world, readings(first, args.mails, "all")))
                full_costs.append(run(full, readings(first, args.mails, "all")))
                first += 10_000
            empty_cost, full_cost = min(empty_costs), min(full_costs)
            print(
                f"bench mix: empty {empty_cost * 1000:.2f} ms, with {args.earlier:,} messages "
                f"and {args.cases:,} cases {full_cost * 1000:.2f} ms; "
                f"ratio {full_cost / empty_cost:.2f}"
            )
            full.database.dispose()
        if not args.no_profile:
            pending = readings(300_000, args.mails, args.kind)
            profile = cProfile.Profile()
            profile.enable()
            run(world, pending)
            profile.disable()
            stats = pstats.Stats(profile).strip_dirs().sort_stats(args.sort)
            stats.print_stats(args.top)
        world.database.dispose()
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
