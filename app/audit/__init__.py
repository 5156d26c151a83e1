"""The audit log: append-only, hash-chained, one entry per state change, unmask, export, login
and refused access (`models`, `operations`, `views`)."""
