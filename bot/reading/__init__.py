"""Reading messages, pure: MIME mail into text, quoted replies and signatures, language,
personal identity numbers, machine-written mail, and the classifier (its rules and its
learned model, with the model's data). Linear in the size of what it reads.

May import: bot.rules, bot.store (plain types), bot.config, bot.errors.
"""
