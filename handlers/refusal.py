"""Refusal (GDPR Art. 12(4)): a staff choice for any case — the reasons, and the right to
complain to IMY and to seek a judicial remedy. Approving it sends the notice and closes
the case; nothing in the register changes."""

from __future__ import annotations

TEMPLATE = "refusal.txt.j2"
