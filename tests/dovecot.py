"""A throwaway Dovecot (IMAP) on 127.0.0.1 from a temp dir (see shared/notes/test-servers.md)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.pg import free_port
from tests.real_clock import real_clock_env

USER, PASSWORD = "info", "secret"


def available() -> bool:
    return shutil.which("dovecot") is not None or Path("/usr/sbin/dovecot").exists()


@dataclass
class Dovecot:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.directory, ignore_errors=True)

    def halt(self) -> None:
        """The server crashes (kill -9 of every Dovecot process: each connection drops at
        once), keeping its mail: `resume` starts it again on the same port. (A clean stop
        keeps an IDLE session open up to 10 s more, then says BYE.)"""
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def resume(self) -> None:
        """Start the server again after `halt` (an outage, a restart), same port and mail."""
        self.process = _launch(self.directory, self.port)


# Dovecot is not given a moved clock (tests.real_clock): its maildir takes arrival times from
# the kernel's file times, which no preloaded library moves, and it refuses mail when the two
# disagree. Tests whose mail arrives "now" take their dates from `server_now`.


async def server_now(server: Dovecot) -> datetime:
    """The server's own "now": the INTERNALDATE it gives a message appended without one.
    Tests whose mail arrives "now" take their dates from here, not from their own clock."""
    import aioimaplib

    client = aioimaplib.IMAP4(host="127.0.0.1", port=server.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(USER, PASSWORD)
    await client.create("Clock")
    await client.append(b"Subject: what time is it\r\n\r\n.\r\n", mailbox="Clock")
    await client.select("Clock")
    response = await client.fetch("*", "(INTERNALDATE)")
    await client.logout()
    stamp = re.search(rb'INTERNALDATE "([^"]+)"', b"".join(map(bytes, response.lines)))
    assert stamp is not None, response.lines
    return datetime.strptime(stamp.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")


def start() -> Dovecot:
    directory = Path(tempfile.mkdtemp(prefix="noxbot-dovecot-"))
    directory.chmod(0o755)  # the mail uid must be able to enter it
    home = directory / "home" / USER
    home.mkdir(parents=True)
    uid = gid = 1000 if os.geteuid() == 0 else os.getuid()
    if os.geteuid() == 0:
        shutil.chown(home, uid, gid)
    (directory / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}::\n")
    port = free_port()
    user_lines = ""
    if os.geteuid() != 0:
        import getpass

        me = getpass.getuser()
        user_lines = (
            f"default_internal_user = {me}\ndefault_login_user = {me}\n"
            f"default_internal_group = {me}\n"
        )
    (directory / "dovecot.conf").write_text(f"""
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:~/Maildir
{user_lines}
passdb {{
  driver = passwd-file
  args = {directory}/users
}}
userdb {{
  driver = passwd-file
  args = {directory}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""")
    return Dovecot(directory, port, _launch(directory, port))


def _launch(directory: Path, port: int) -> subprocess.Popen[bytes]:
    """Run Dovecot on the config in `directory`; returns once it greets on `port`."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    process = subprocess.Popen(
        [binary, "-F", "-c", str(directory / "dovecot.conf")],
        env=real_clock_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, which `halt` kills
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        return process
            except OSError:
                time.sleep(0.05)
    except BaseException:  # interrupted while waiting: never leave a server behind
        process.kill()
        raise
    process.kill()
    log = (directory / "dovecot.log").read_text() if (directory / "dovecot.log").exists() else ""
    raise RuntimeError(f"Dovecot did not start: {log[-2000:]}")
