"""A department's own system settling facts through the JSON API, with a token of its own."""
