"""The law and the policy, pure: request kinds, deadlines (Regulation 1182/71, Swedish
holidays), the channels a request comes by, verification routes and codes, and what NOX's
privacy policy says. Values in, values out; no database session, no network.

May import: bot.store (its plain types only), bot.config, bot.errors, bot.clock.
"""
