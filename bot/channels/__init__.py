"""Channels: how messages reach noxbot and leave it (email, Telegram, in-memory)."""
