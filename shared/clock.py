"""One clock for "today": the programme's day, in Asia/Shanghai.

Competitions, training, mentoring and honours run in Asia/Shanghai (DESIGN.md section 1), and
a date a person gives ("effective 2 December", "started today") is a date there. The server's
own date is UTC, which is still yesterday between 00:00 and 08:00 in Shanghai: a grade change
dated today was refused as "in the future" in those hours, while a mentorship dated the same
day was accepted. So every "today" of the three services, and every comparison of a date with
now, comes from here. Instants (timestamps) stay in UTC: only calendar dates need a zone.

`now()` is the one point tests move (monkeypatch `shared.clock.now`); `today()` follows it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

#: Where the programme runs: every calendar date of the services is a date here.
TIMEZONE = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current instant (aware, UTC)."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in Asia/Shanghai."""
    return now().astimezone(TIMEZONE).date()


def local(moment: datetime) -> datetime:
    """An instant as Shanghai's wall-clock time."""
    return moment.astimezone(TIMEZONE)


def start_of(day: date) -> datetime:
    """The first instant of a Shanghai day."""
    return datetime.combine(day, time(0), TIMEZONE)
