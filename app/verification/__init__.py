"""Verifying claimed facts: each department's queue, and its decisions on each fact."""
