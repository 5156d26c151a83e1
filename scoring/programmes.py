"""Which programme is in force: each table is current, superseded, expired or illustrative.

A table is superseded by the next table of the same city and kind (by `effective_from`), or by a
successor outside this project that its `superseded` note names; it has expired when its
`effective_to` has passed. What an applicant sees first is the current table of their city.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from scoring.model import Table

Status = Literal["current", "superseded", "expired", "illustrative", "future"]

STATUS_LABELS: dict[str, str] = {
    "current": "现行政策",
    "superseded": "已被新政策取代",
    "expired": "已过有效期",
    "illustrative": "示例，非官方分值",
    "future": "尚未施行",
}


@dataclass(frozen=True, slots=True)
class Standing:
    status: Status
    successor: Table | None = None  # the table that replaced this one, when in the project
    note: str = ""  # plain Chinese: why it is no longer in force

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def in_force(self) -> bool:
        return self.status == "current"


def standing(table: Table, tables: list[Table], today: dt.date) -> Standing:
    if table.illustrative:
        return Standing("illustrative")
    later = [
        t
        for t in tables
        if t.city == table.city
        and t.kind == table.kind
        and not t.illustrative
        and t.effective_from > table.effective_from
        and t.effective_from <= today
    ]
    if later:
        successor = min(later, key=lambda t: t.effective_from)
        return Standing("superseded", successor, f"已由《{successor.name}》取代。")
    if table.superseded:
        return Standing("superseded", None, table.superseded)
    if table.effective_from > today:
        return Standing("future", None, f"{chinese_date(table.effective_from)} 起施行。")
    if table.effective_to is not None and table.effective_to < today:
        return Standing("expired", None, f"有效期至 {chinese_date(table.effective_to)}。")
    return Standing("current")


def chinese_date(day: dt.date) -> str:
    """2023 年 1 月 11 日."""
    return f"{day.year} 年 {day.month} 月 {day.day} 日"


def valid_on(table: Table, day: dt.date) -> bool:
    """Whether `day` lies in the table's period of validity."""
    if day < table.effective_from:
        return False
    return table.effective_to is None or day <= table.effective_to
