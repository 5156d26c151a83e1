"""Approval certificates: issue, print, reprint, revoke, verify."""
