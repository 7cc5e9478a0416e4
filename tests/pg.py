"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests (see shared/notes/test-servers.md)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.real_clock import real_clock_env

PG_BIN = Path(os.environ.get("NOXBOT_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and pg_ctl refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresCluster:
    directory: Path
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self.directory, ignore_errors=True)

    def pause(self) -> None:
        """Stop the server and keep its data: a database that went down."""
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.directory / "data"),
                    "-m",
                    "immediate",
                    "stop",
                ]
            ),
            check=False,
            capture_output=True,
            timeout=30,
            env=real_clock_env(),
        )

    def resume(self) -> None:
        """Start the server again on the same port and data."""
        _pg_ctl_start(self.directory, self.port)


def available() -> bool:
    return (PG_BIN / "initdb").exists()


def start_cluster() -> PostgresCluster:
    directory = Path(tempfile.mkdtemp(prefix="noxbot-pg-"))
    directory.chmod(0o755)
    data = directory / "data"
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
                "-U",
                "postgres",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
        env=real_clock_env(),
    )
    port = free_port()
    _pg_ctl_start(directory, port)
    return PostgresCluster(directory, port)


def _pg_ctl_start(directory: Path, port: int) -> None:
    data = directory / "data"
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(directory / "log"),
                "-o",
                options,
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=60,
        env=real_clock_env(),
    )
