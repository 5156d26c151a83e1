"""Times as people in the city read them. The database keeps UTC (the audit log's hashes cover
it, and SQLite gives it back without its offset); every page shows Beijing time, UTC+8, which
China has kept without summer time since 1991. A day is the day in Beijing: a message sent at
01:00 on 2 December is dated 2 December, though it is still 1 December in UTC."""

from __future__ import annotations

import datetime as dt

BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")


def in_beijing(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:  # stored in UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(BEIJING)


def beijing_time(value: dt.datetime | None, seconds: bool = False) -> str:
    """'2026-12-02 09:30' (with ':05' when `seconds`) in Beijing time; '' for none."""
    if value is None:
        return ""
    return in_beijing(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def beijing_date(value: dt.datetime) -> dt.date:
    return in_beijing(value).date()


def beijing_today() -> dt.date:
    """Today in Beijing, whatever the server's own time zone (a container's is often UTC): the
    day an application window closes, a 公示 starts or a certificate is dated. Between 00:00 and
    08:00 it is already the next day in Beijing while still the day before in UTC."""
    return _clock(BEIJING).date()


_clock = dt.datetime.now  # a test sets the moment here
