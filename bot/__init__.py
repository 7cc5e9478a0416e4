"""noxbot: GDPR data-subject rights requests for NOX Consulting AB."""

__version__ = "0.1.0"
