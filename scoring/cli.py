"""`jifen score` and `jifen tables`."""

from __future__ import annotations


def register(commands) -> None:
    """Add the scoring subcommands to the `jifen` parser."""
