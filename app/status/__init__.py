"""The applicant's own view of an application: found by its number, ID number and name."""
