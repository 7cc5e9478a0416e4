"""`noxbot run`: all workers until stopped."""

from __future__ import annotations

import logging

from bot.cli.app import ConfigOption, app, console, services_for
from bot.errors import NoxbotError


@app.command("run", short_help="Read mail and chat, send, keep deadlines: until stopped.")
def run_command(config: ConfigOption = None) -> None:
    """Run the mail watcher, chat poller, outbox sender and scheduler until SIGINT/SIGTERM,
    and the staff console when [web] is set: each for the sections the config has. The
    secrets they log in with are read from the environment variables the config names
    ([imap] password_env, [smtp] password_env, [telegram] token_env); one not set stops it
    at start, named."""
    from bot.runtime.supervisor import run_until_signalled

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # httpx logs every request URL, and a Bot API URL carries the bot token; Alembic and
    # python-telegram-bot talk at INFO about nothing staff need.
    for noisy in ("httpx", "httpcore", "alembic", "telegram", "aioimaplib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The schema is upgraded in a child process: the long-running one never holds Alembic.
    settings, database, services = services_for(config, upgrade_apart=True)
    if unset := settings.unset_secrets():
        # All of them at once, before "running": not the first, seconds after it. (Their
        # names are not repeated: a secret pasted in place of one must not be printed.)
        if len(unset) == 1:
            raise NoxbotError(f"{unset[0]}: the environment variable it names is not set")
        raise NoxbotError(f"{', '.join(unset)}: the environment variables they name are not set")
    running = [
        name
        for name, section in (
            ("mail watcher", settings.imap),
            ("chat poller", settings.telegram),
            ("SMTP sender", settings.smtp),
            ("web console", settings.web),
        )
        if section
    ]
    console.print(
        f"noxbot running ({', '.join(running) or 'no channels configured'}, "
        "outbox and scheduler); Ctrl-C stops it."
    )
    run_until_signalled(settings, database, services)
    console.print("noxbot stopped.")
