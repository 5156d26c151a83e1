"""Applicants and their applications: intake (bulk import now; counter and online forms next),
the claimed facts with their verification state, and the score snapshots."""
