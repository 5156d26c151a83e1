"""Staff accounts: roles, zones and departments (jurisdiction), passwords, sessions, lockout."""
