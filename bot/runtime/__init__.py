"""`noxbot run`: the workers under one supervisor (the mail watcher, the chat poller, the
staff chat, the outbox sender, the scheduler), the pollers' lease, the configured senders,
and `check`'s reachability tests.

May import: bot.workflow and everything below it.
"""
