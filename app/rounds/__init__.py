"""Rounds: one year's programme for one city (`jifen.round/1`), its zones and schools, versions."""
