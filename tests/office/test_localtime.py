"""Pages show Beijing time; the day is Beijing's day."""

from __future__ import annotations

import datetime as dt

from app.localtime import beijing_date, beijing_time


def test_a_stored_utc_time_reads_as_beijing_time_and_its_day_is_beijings():
    late = dt.datetime(2026, 12, 1, 17, 30, 5)  # as SQLite gives it back: UTC, no offset
    assert beijing_time(late) == "2026-12-02 01:30"
    assert beijing_time(late, seconds=True) == "2026-12-02 01:30:05"
    assert beijing_date(late) == dt.date(2026, 12, 2)  # still 1 December in UTC
    aware = dt.datetime(2026, 12, 1, 17, 30, tzinfo=dt.UTC)  # as PostgreSQL gives it back
    assert beijing_time(aware) == "2026-12-02 01:30"
    other = dt.datetime(2026, 12, 2, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert beijing_time(other) == "2026-12-02 01:30"
    assert beijing_time(None) == ""
