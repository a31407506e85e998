"""The client's one error hierarchy: each is printed as one line, and decides the exit status."""

from __future__ import annotations


class CommandError(Exception):
    """A mistake or a failure the user can act on: one line on stderr, exit status 1."""


class Interrupted(CommandError):
    """Ctrl-C: the message says how to continue; exit status 130."""
