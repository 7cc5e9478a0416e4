"""Deadlines for answering a rights request: GDPR Art. 12(3) periods counted as Regulation
(EEC, Euratom) No 1182/71 says, with Swedish public holidays and the receipt date in Stockholm.
Pure date arithmetic, so staff views, reminders and drafts all show the same dates.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

#: The months as a letter writes them, by language (a date written out: "5 januari 2027").
MONTH_NAMES = {
    "sv": (
        "januari",
        "februari",
        "mars",
        "april",
        "maj",
        "juni",
        "juli",
        "augusti",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}

STOCKHOLM = "Europe/Stockholm"


def easter_sunday(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous algorithm of 1876)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _saturday_from(d: date) -> date:
    return d + timedelta(days=(5 - d.weekday()) % 7)


@lru_cache(maxsize=64)
def swedish_public_holidays(year: int) -> frozenset[date]:
    """Swedish allmänna helgdagar of `year` other than ordinary Sundays (lag 1989:253 1 §).

    Computed here rather than with the `holidays` package, whose first use loads the
    calendars of every country (~20 MiB of a worker's memory); tests/test_deadlines.py
    checks these dates against that package for 1990–2100. The eves (Midsommarafton,
    Julafton, Nyårsafton) are not allmänna helgdagar and do not move a deadline. Since 2005
    (SFS 2004:1320) Nationaldagen is one and Annandag pingst no longer is."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1),  # Nyårsdagen
        date(year, 1, 6),  # Trettondedag jul
        easter - timedelta(days=2),  # Långfredagen
        easter,  # Påskdagen
        easter + timedelta(days=1),  # Annandag påsk
        date(year, 5, 1),  # Första maj
        easter + timedelta(days=39),  # Kristi himmelsfärdsdag
        easter + timedelta(days=49),  # Pingstdagen
        _saturday_from(date(year, 6, 20)),  # Midsommardagen
        _saturday_from(date(year, 10, 31)),  # Alla helgons dag
        date(year, 12, 25),  # Juldagen
        date(year, 12, 26),  # Annandag jul
    }
    if year >= 2005:
        days.add(date(year, 6, 6))  # Nationaldagen
    else:
        days.add(easter + timedelta(days=50))  # Annandag pingst
    return frozenset(days)


def is_working_day(d: date) -> bool:
    """A day that is neither a Saturday, a Sunday nor a Swedish public holiday."""
    return d.weekday() < 5 and d not in swedish_public_holidays(d.year)


def local_clock(at: datetime, tz: str = STOCKHOLM, form: str = "%Y-%m-%d %H:%M") -> str:
    """A point in time as a clock in `tz` reads it, the zone named when the form has the
    hour ("2026-11-24 10:00 CET"); a naive datetime is taken as UTC (SQLite keeps them so)."""
    if at.tzinfo is None or at.utcoffset() is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(tz)).strftime(form + (" %Z" if "%H" in form else ""))


def stockholm_date(received_at: datetime, tz: str = STOCKHOLM) -> date:
    """The calendar date of receipt in `tz`; a naive datetime is taken as UTC.

    A request that reaches us at 00:30 Stockholm time was received that day, whatever the clock
    of the mail server said, so the period starts from the local date.
    """
    if not isinstance(received_at, datetime):
        raise TypeError(f"received_at must be a datetime, not {type(received_at).__name__}")
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        received_at = received_at.replace(tzinfo=UTC)
    return received_at.astimezone(ZoneInfo(tz)).date()


def _add_months(start: date, months: int) -> date:
    """Same day-number `months` later, or that month's last day (Reg. 1182/71 Art. 3(2)(c))."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _next_working_day_from(d: date) -> date:
    """`d` itself if it is a working day, otherwise the next one (Reg. 1182/71 Art. 3(4))."""
    while not is_working_day(d):
        d += timedelta(days=1)
    return d


def _period_end(received_at: datetime, months: int, tz: str) -> date:
    # Reg. 1182/71, in the order it applies:
    # - Art. 3(1): the day of the event (receipt) does not count;
    # - Art. 3(2)(c): a period in months ends at the end of the day in the last month with the same
    #   date as the day of receipt, or on that month's last day when it has no such date;
    # - Art. 3(4): a period ending on a Saturday, Sunday or public holiday ends at the end of the
    #   next working day. Rolling forward is done once, at the end, from the calendar date.
    return _next_working_day_from(_add_months(stockholm_date(received_at, tz), months))


def due_date(received_at: datetime, tz: str = STOCKHOLM) -> date:
    """The last day to answer: one month from receipt (GDPR Art. 12(3), first sentence)."""
    return _period_end(received_at, 1, tz)


def extended_due_date(received_at: datetime, tz: str = STOCKHOLM) -> date:
    """The last day when the period is extended by two further months (GDPR Art. 12(3)).

    Counted as three months from receipt, not chained from the rolled one-month date, so a
    one-month period that ran into a weekend does not push the extended one further.
    """
    return _period_end(received_at, 3, tz)


def internal_target_date(received_at: datetime, days: int = 14, tz: str = STOCKHOLM) -> date:
    """Our own earlier goal: `days` calendar days after receipt, on a working day.

    Never later than the legal due date, so a long `days` cannot make the target misleading.
    """
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    target = _next_working_day_from(stockholm_date(received_at, tz) + timedelta(days=days))
    return min(target, due_date(received_at, tz))


def working_days_left(due: date, today: date) -> int:
    """Working days staff still have, as a signed count.

    - `due` after `today`: the working days from tomorrow up to and including `due`
      (due tomorrow → 1; due Monday seen on a Friday → 1).
    - `due` is `today`: 0 -- the answer must go out today.
    - `due` before `today` (overdue): minus the working days from `due` up to but not including
      `today`, i.e. how many working days have ended since the deadline; never more than -1, so
      overdue is never shown as 0. A Friday deadline reads -1 on Saturday, Sunday and Monday and
      -2 on Tuesday.
    """
    if due >= today:
        return sum(
            is_working_day(today + timedelta(days=n)) for n in range(1, (due - today).days + 1)
        )
    ended = sum(is_working_day(due + timedelta(days=n)) for n in range((today - due).days))
    return -max(ended, 1)
