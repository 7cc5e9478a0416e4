"""What the bot answers by itself in a chat, outside any case: `/start` and `/help` say what
it is for. The answer holds no personal data, so it goes out at once, without approval."""

from __future__ import annotations

from sqlmodel import Session

from bot.rules.channels import ChannelName
from bot.store.tables import Message
from bot.workflow.outbox import queue_outbox
from bot.workflow.services import Services

#: The Telegram commands answered with what the bot is for (`/start` is the first thing a
#: new chat sends; "/help@NoxBot" is how a command looks in a group).
HELP_COMMANDS = ("/start", "/help")


def is_help_command(text: str | None) -> bool:
    words = (text or "").strip().split(maxsplit=1)
    return bool(words) and words[0].split("@", 1)[0].lower() in HELP_COMMANDS


def answer_help(session: Session, services: Services, message: Message) -> None:
    """Queue what the bot is for, in Swedish and in English (a chat says no language)."""
    parts = [services.drafter.render("help.txt.j2", language) for language in ("sv", "en")]
    queue_outbox(
        session,
        None,
        ChannelName(message.channel),
        message.address,
        parts[0].subject,
        "\n\n".join(part.text.strip() for part in parts),
        purpose="help",
        auto_submitted=True,
        now=services.clock(),
        from_address=services.settings.organisation.email,
    )
