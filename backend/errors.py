"""The project's small exception hierarchy.

Every message carries the evidence and names the valid form, so a page can show it as it is:
``ConfigError("quiet_hours_start must be 0-23, got 25")``.
"""

from __future__ import annotations


class CouncilError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(CouncilError, ValueError):
    """A setting or an input is out of its valid range; nothing was changed."""


class StoreError(CouncilError):
    """The store could not read or write its files."""


class NotOwnerError(CouncilError):
    """Another process owns the data directory; this one can only view and queue commands."""


class DebateNotFound(CouncilError, KeyError):
    """No debate has the given id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "debate not found"


class DebateFailed(CouncilError):
    """A debate runner stopped with an error; the message says why."""
