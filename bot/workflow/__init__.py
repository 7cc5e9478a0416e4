"""The workflow: what noxbot does with one inbound message (the pipeline), and what
requesters and staff do to a case — opening, confirming who asked, drafting and rendering,
approval and what it carries out, the outbox, retention and reminders, the staff chat's
decisions. Every state change goes through `lifecycle.transition`.

May import: handlers, bot.channels (message values, no sockets), bot.reading, bot.rules,
bot.store, and the base modules.
"""
