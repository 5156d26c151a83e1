"""`jifen allocate` and `jifen instance`: registered by the allocator (issue 3)."""

from __future__ import annotations


def register(commands) -> None:
    """Add the allocation subcommands to the `jifen` parser."""
