"""Applying: online from the public checker (and, with the same operation, at the counter)."""
