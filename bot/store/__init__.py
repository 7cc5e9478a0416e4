"""Storage: the tables, the database and its migrations, the audit chain, the register of
people on file, and case records (references, lookups).

May import: bot.config, bot.errors, bot.clock, bot.files — nothing above it.
"""
