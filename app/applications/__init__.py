"""Applicants and their applications: the bulk import (the online and counter forms, in
app/intake, check and write rows the same way), the claimed facts with their verification
state, and the score snapshots."""
