"""Calendar periods of the figures: a year (`2025`), a quarter (`2025-Q3`) or a month
(`2025-07`), in Asia/Shanghai (the programme's calendar; summaries bucket by month there)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date

from shared import clock


class Interval(enum.StrEnum):
    year = "year"
    quarter = "quarter"
    month = "month"


_PATTERNS = {
    Interval.year: re.compile(r"^(\d{4})$"),
    Interval.quarter: re.compile(r"^(\d{4})-Q([1-4])$"),
    Interval.month: re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
}


def month_index(d: date) -> int:
    """Months since year 0: consecutive months differ by one."""
    return d.year * 12 + d.month - 1


def month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    """A calendar period: its first month and its number of months (12, 3 or 1)."""

    first: int  # month_index of its first month
    interval: Interval

    @property
    def months(self) -> int:
        return {Interval.year: 12, Interval.quarter: 3, Interval.month: 1}[self.interval]

    @property
    def last(self) -> int:
        return self.first + self.months - 1

    @property
    def start(self) -> date:
        return month_start(self.first)

    @property
    def year(self) -> int:
        return self.first // 12

    @property
    def key(self) -> str:
        start = self.start
        if self.interval is Interval.year:
            return f"{start.year}"
        if self.interval is Interval.quarter:
            return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        return f"{start.year}-{start.month:02d}"

    @property
    def label(self) -> str:
        """In Chinese, as reports print it."""
        start = self.start
        if self.interval is Interval.year:
            return f"{start.year}年"
        if self.interval is Interval.quarter:
            return f"{start.year}年第{(start.month - 1) // 3 + 1}季度"
        return f"{start.year}年{start.month}月"

    def shift(self, periods: int) -> Period:
        return Period(self.first + periods * self.months, self.interval)

    def year_before(self) -> Period:
        return Period(self.first - 12, self.interval)

    def contains(self, month: int) -> bool:
        return self.first <= month <= self.last


def of_month(month: int, interval: Interval) -> Period:
    """The period of `interval` that contains the month."""
    if interval is Interval.year:
        return Period(month - month % 12, interval)
    if interval is Interval.quarter:
        return Period(month - month % 3, interval)
    return Period(month, interval)


def parse(text: str) -> Period:
    """`2025`, `2025-Q3` or `2025-07`; ValueError otherwise."""
    for interval, pattern in _PATTERNS.items():
        match = pattern.match(text.strip())
        if not match:
            continue
        year = int(match.group(1))
        if not 1900 <= year <= 2200:
            break
        if interval is Interval.year:
            return Period(year * 12, interval)
        if interval is Interval.quarter:
            return Period(year * 12 + (int(match.group(2)) - 1) * 3, interval)
        return Period(year * 12 + int(match.group(2)) - 1, interval)
    raise ValueError("a year (2025), a quarter (2025-Q3) or a month (2025-07)")


def today() -> date:
    return clock.today()


def current(interval: Interval) -> Period:
    return of_month(month_index(today()), interval)


def span(first: Period, last: Period) -> list[Period]:
    """Every period from `first` to `last` (same interval), inclusive."""
    out = []
    p = first
    while p <= last:
        out.append(p)
        p = p.shift(1)
    return out
