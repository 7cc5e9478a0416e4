"""Classifying a parsed mail, here or in the mail reader's worker process, which imports
this (with the classifier and its model) only when it is sent a backlog's groups of mail
(bot.runtime.mail_parsing.ReadGroup)."""

from __future__ import annotations

from bot.channels.messages import InboundMessage
from bot.reading.classifier import Classification, classify
from bot.rules.channels import ChannelName


def classify_inbound(inbound: InboundMessage, *, visible: bool = False) -> Classification:
    """The classifier's reading of a message, on its text and subject as stored.

    `visible`: the text is a parsed mail's (bot.reading.mail: visible_text's output), so
    the classifier need not strip quotes and signatures again — as long as storing it
    changed nothing (a NUL dropped, a number masked: then it does, as before). A mail the
    reader parsed is in its stored form already (InboundMessage.stored_form): its text is
    the stored one, not scanned again, and only what the classifier reads of it is."""
    subject, text = inbound.stored_subject_and_text()
    return classify(
        text,
        subject=subject,
        channel="chat" if inbound.channel is ChannelName.TELEGRAM else "email",
        visible=visible and text == inbound.text,
    )


def classification_of(inbound: InboundMessage) -> Classification | None:
    """A parsed mail's classification; None for a malformed mail, or when classifying it
    failed (the pipeline classifies it again, and quarantines it if that fails too)."""
    if inbound.malformed:
        return None
    try:
        return classify_inbound(inbound, visible=True)
    except Exception:
        return None
