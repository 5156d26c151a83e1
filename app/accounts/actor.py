"""Who acts: every operation takes an Actor and checks what it may do, inside the operation."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    username: str
    role: str  # admin, clerk, reviewer, auditor; "system" for the command line's own work
    zones: frozenset[str] = field(default_factory=frozenset)
    department: str = ""
    user_id: int | None = None

    @classmethod
    def command_line(cls) -> Actor:
        """A person at the server's command line: acts as the city (admin), audited by name."""
        try:
            who = getpass.getuser()
        except Exception:  # no user name in the environment (containers)
            who = "unknown"
        return cls(username=f"cli:{who}"[:64], role="admin")

    @property
    def is_city(self) -> bool:
        return self.role == "admin"

    def sees_zone(self, zone_id: str) -> bool:
        """Whether records of this zone exist for this actor (admin and auditor: every zone;
        a clerk: their zones; a reviewer: their zones, or every zone when none is assigned)."""
        if self.role in ("admin", "auditor"):
            return True
        if self.role == "reviewer" and not self.zones:
            return True
        return zone_id in self.zones
