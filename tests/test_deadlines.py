"""Deadlines staff see for a request: GDPR Art. 12(3) periods under Regulation 1182/71.

Every weekday named below was checked with python's calendar module.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.rules.deadlines import (
    due_date,
    extended_due_date,
    internal_target_date,
    is_working_day,
    stockholm_date,
    swedish_public_holidays,
    working_days_left,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def noon(day: str) -> datetime:
    """Receipt at 12:00 Stockholm time on an ISO date."""
    return datetime.combine(date.fromisoformat(day), time(12), tzinfo=STOCKHOLM)


def weekday(day: date) -> str:
    return calendar.day_name[calendar.weekday(day.year, day.month, day.day)]


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        pytest.param("2026-03-10", "2026-04-10", id="plain-month-same-day-number-friday"),
        # 31 Jan + 1 month has no 31 Feb: 28 Feb 2026, a Saturday → Monday 2 March.
        pytest.param("2026-01-31", "2026-03-02", id="jan31-to-feb28-saturday-rolls-to-monday"),
        # 20 June 2026 is Midsummer Day and a Saturday; 21st Sunday → Monday 22 June.
        pytest.param("2026-05-20", "2026-06-22", id="midsummer-day-saturday-rolls-to-monday"),
        # 24 Dec 2026 is a Thursday; Christmas Eve is no allmän helgdag.
        pytest.param("2026-11-24", "2026-12-24", id="christmas-eve-thursday-does-not-move"),
        # 2028 is a leap year: 29 Feb 2028 exists and is a Tuesday.
        pytest.param("2028-01-31", "2028-02-29", id="leap-year-jan31-to-feb29-tuesday"),
        # 2027 is no leap year: 29 Feb → 28 Feb 2027, a Sunday → Monday 1 March.
        pytest.param("2027-01-29", "2027-03-01", id="non-leap-feb28-sunday-rolls-to-march1"),
        # 6 June 2025 (national day) is a Friday → Sat, Sun → Monday 9 June; annandag pingst
        # (9 June 2025) stopped being a holiday in 2005, so it does not move the date further.
        pytest.param("2025-05-06", "2025-06-09", id="national-day-friday-rolls-past-weekend"),
        # 6 June 2028 is a Tuesday → Wednesday 7 June.
        pytest.param("2028-05-06", "2028-06-07", id="national-day-tuesday-rolls-one-day"),
        # Ascension Day 14 May 2026 is a Thursday → Friday 15 May (a "klämdag", still working).
        pytest.param("2026-04-14", "2026-05-15", id="ascension-thursday-rolls-to-friday"),
        # Good Friday 3 April 2026 → Sat, Easter Sunday, Easter Monday 6 April → Tuesday 7 April.
        pytest.param("2026-03-03", "2026-04-07", id="good-friday-rolls-past-easter-monday"),
        # 1 May 2026 (första maj, lag 1989:253) is a Friday → Monday 4 May.
        pytest.param("2026-04-01", "2026-05-04", id="may-day-friday-rolls-to-monday"),
        # Christmas Day 25 Dec 2025 Thursday, Boxing Day Friday → Monday 29 Dec.
        pytest.param("2025-11-25", "2025-12-29", id="christmas-and-boxing-day-roll-to-monday"),
        # New Year's Day 1 Jan 2026 is a Thursday → Friday 2 Jan.
        pytest.param("2025-12-01", "2026-01-02", id="new-years-day-thursday-rolls-to-friday"),
        # New Year's Day 1 Jan 2027 is a Friday → Sat, Sun → Monday 4 Jan.
        pytest.param("2026-12-01", "2027-01-04", id="new-years-day-friday-rolls-to-monday"),
        # Epiphany 6 Jan 2027 is a Wednesday → Thursday 7 Jan.
        pytest.param("2026-12-06", "2027-01-07", id="epiphany-wednesday-rolls-to-thursday"),
        # Midsummer Eve 19 June 2026 is a Friday and an ordinary working day in law.
        pytest.param("2026-05-19", "2026-06-19", id="midsummer-eve-friday-does-not-move"),
        # 29 Dec 2029 is a Saturday → Sunday → Monday 31 Dec, New Year's Eve, where it stops.
        pytest.param("2029-11-29", "2029-12-31", id="roll-stops-on-new-years-eve-monday"),
    ],
)
def test_answer_is_due_one_month_after_receipt_on_a_working_day(
    received: str, expected: str
) -> None:
    due = due_date(noon(received))
    assert due == date.fromisoformat(expected), weekday(due)
    assert is_working_day(due)


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # 31 Jan + 3 months: 30 April 2026 is a Thursday. Chaining from the rolled one-month
        # date (2 March) would wrongly give 2 June.
        pytest.param("2026-01-31", "2026-04-30", id="jan31-to-april30-not-chained"),
        # 30 Nov + 3 months → 28 Feb 2027, a Sunday → Monday 1 March.
        pytest.param("2026-11-30", "2027-03-01", id="clamped-to-feb28-sunday-rolls"),
        # 1 Feb + 3 months = 1 May 2026, första maj on a Friday → Monday 4 May.
        pytest.param("2026-02-01", "2026-05-04", id="may-day-rolls-to-monday"),
        # 24 Sep + 3 months = 24 Dec 2026, Christmas Eve Thursday, stays.
        pytest.param("2026-09-24", "2026-12-24", id="christmas-eve-does-not-move"),
        # 31 Oct 2025 + 3 months = 31 Jan 2026, a Saturday → Monday 2 Feb, across a year end.
        pytest.param("2025-10-31", "2026-02-02", id="across-year-end-saturday-rolls"),
    ],
)
def test_extended_answer_is_due_three_months_after_receipt(received: str, expected: str) -> None:
    assert extended_due_date(noon(received)) == date.fromisoformat(expected)


@pytest.mark.parametrize(
    ("received_at", "expected"),
    [
        # Summer time (CEST, UTC+2) began on 29 March 2026.
        pytest.param(
            datetime(2026, 3, 31, 22, 30, tzinfo=UTC),
            date(2026, 4, 1),
            id="utc-late-is-next-day-cest",
        ),
        pytest.param(
            datetime(2026, 3, 31, 21, 59, tzinfo=UTC),
            date(2026, 3, 31),
            id="utc-before-midnight-cest",
        ),
        pytest.param(
            datetime(2026, 3, 31, 22, 0, tzinfo=UTC), date(2026, 4, 1), id="exact-midnight-cest"
        ),
        # Winter time (CET, UTC+1).
        pytest.param(
            datetime(2026, 1, 31, 23, 30, tzinfo=UTC),
            date(2026, 2, 1),
            id="utc-late-is-next-day-cet",
        ),
        pytest.param(
            datetime(2026, 1, 31, 22, 59, tzinfo=UTC),
            date(2026, 1, 31),
            id="utc-before-midnight-cet",
        ),
        # A naive datetime is UTC, not local time.
        pytest.param(datetime(2026, 3, 31, 22, 30), date(2026, 4, 1), id="naive-is-utc"),
        pytest.param(datetime(2026, 3, 31, 21, 30), date(2026, 3, 31), id="naive-is-utc-same-day"),
        # 18:30 EST on 31 Jan is 23:30 UTC, 00:30 CET on 1 Feb.
        pytest.param(
            datetime(2026, 1, 31, 18, 30, tzinfo=ZoneInfo("America/New_York")),
            date(2026, 2, 1),
            id="new-york-evening-is-next-day-in-stockholm",
        ),
        # 17:30 EDT on 31 March is 21:30 UTC, 23:30 CEST the same day.
        pytest.param(
            datetime(2026, 3, 31, 17, 30, tzinfo=ZoneInfo("America/New_York")),
            date(2026, 3, 31),
            id="new-york-afternoon-is-same-day-in-stockholm",
        ),
    ],
)
def test_date_of_receipt_is_taken_in_stockholm(received_at: datetime, expected: date) -> None:
    assert stockholm_date(received_at) == expected


def test_mail_arriving_after_midnight_stockholm_time_starts_the_period_next_day() -> None:
    # 1 April (CEST) + 1 month = 1 May, första maj on a Friday → Monday 4 May; counted from
    # the UTC date (31 March) it would have been Thursday 30 April.
    assert due_date(datetime(2026, 3, 31, 22, 30, tzinfo=UTC)) == date(2026, 5, 4)
    assert due_date(datetime(2026, 3, 31, 21, 30, tzinfo=UTC)) == date(2026, 4, 30)


def test_naive_datetime_deadline_is_counted_from_the_utc_instant() -> None:
    assert due_date(datetime(2026, 3, 31, 22, 30)) == date(2026, 5, 4)


def test_winter_midnight_receipt_extends_from_february_first() -> None:
    # 1 Feb (CET) + 3 months = 1 May 2026 → Monday 4 May; from 31 Jan it would be 30 April.
    assert stockholm_date(datetime(2026, 1, 31, 23, 30, tzinfo=UTC)) == date(2026, 2, 1)
    assert extended_due_date(datetime(2026, 1, 31, 23, 30, tzinfo=UTC)) == date(2026, 5, 4)
    assert extended_due_date(datetime(2026, 1, 31, 22, 30, tzinfo=UTC)) == date(2026, 4, 30)


def test_another_zone_can_be_asked_for() -> None:
    # 01:00 CEST on 1 April is 23:00 UTC on 31 March.
    received = datetime(2026, 4, 1, 1, 0, tzinfo=STOCKHOLM)
    assert stockholm_date(received, tz="UTC") == date(2026, 3, 31)
    assert due_date(received, tz="UTC") == date(2026, 4, 30)


def test_a_plain_date_is_refused_because_its_zone_is_unknown() -> None:
    with pytest.raises(TypeError):
        stockholm_date(date(2026, 4, 1))  # type: ignore[arg-type]


def test_public_holidays_2026_are_exactly_the_allmanna_helgdagar_on_weekdays_and_weekends() -> None:
    assert swedish_public_holidays(2026) == {
        date(2026, 1, 1),  # nyårsdagen
        date(2026, 1, 6),  # trettondedag jul
        date(2026, 4, 3),  # långfredagen
        date(2026, 4, 5),  # påskdagen
        date(2026, 4, 6),  # annandag påsk
        date(2026, 5, 1),  # första maj
        date(2026, 5, 14),  # Kristi himmelsfärdsdag
        date(2026, 5, 24),  # pingstdagen
        date(2026, 6, 6),  # nationaldagen
        date(2026, 6, 20),  # midsommardagen
        date(2026, 10, 31),  # alla helgons dag
        date(2026, 12, 25),  # juldagen
        date(2026, 12, 26),  # annandag jul
    }


@pytest.mark.parametrize("year", range(2024, 2036))
def test_eves_are_not_public_holidays_in_any_year(year: int) -> None:
    public = swedish_public_holidays(year)
    christmas_eve, new_years_eve = date(year, 12, 24), date(year, 12, 31)
    # Midsummer Eve is the Friday between 19 and 25 June.
    midsummer_eve = next(
        date(year, 6, d) for d in range(19, 26) if date(year, 6, d).weekday() == calendar.FRIDAY
    )
    assert public.isdisjoint({christmas_eve, new_years_eve, midsummer_eve})
    assert midsummer_eve + timedelta(days=1) in public  # midsommardagen, the Saturday after
    # Thirteen named days at most (fewer when two share a date): no ordinary Sundays, no eves.
    assert len(public) <= 13


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2026, 4, 2), True, id="maundy-thursday-works"),
        pytest.param(date(2026, 4, 3), False, id="good-friday"),
        pytest.param(date(2026, 4, 6), False, id="easter-monday"),
        pytest.param(date(2026, 3, 28), False, id="saturday"),
        pytest.param(date(2026, 3, 29), False, id="sunday"),
        pytest.param(date(2026, 6, 19), True, id="midsummer-eve-friday"),
        pytest.param(date(2026, 12, 24), True, id="christmas-eve-thursday"),
        pytest.param(date(2027, 12, 31), True, id="new-years-eve-friday"),
        pytest.param(date(2026, 4, 30), True, id="walpurgis-eve-thursday"),
        pytest.param(date(2025, 6, 9), True, id="whit-monday-no-longer-a-holiday"),
        pytest.param(date(2028, 6, 6), False, id="national-day-tuesday"),
    ],
)
def test_working_days(day: date, expected: bool) -> None:
    assert is_working_day(day) is expected


@pytest.mark.parametrize(
    ("received", "days", "expected"),
    [
        pytest.param("2026-03-02", 14, "2026-03-16", id="two-weeks-on-a-monday"),
        # 20 Mar + 14 = 3 April, Good Friday → past Easter Monday → Tuesday 7 April.
        pytest.param("2026-03-20", 14, "2026-04-07", id="target-on-good-friday-rolls-past-easter"),
        # 31 Jan + 14 = 14 Feb 2026, a Saturday → Monday 16 Feb.
        pytest.param("2026-01-31", 14, "2026-02-16", id="target-on-saturday-rolls-to-monday"),
        # 17 Dec 2027 + 14 = 31 Dec 2027, New Year's Eve on a Friday, which is a working day.
        pytest.param("2027-12-17", 14, "2027-12-31", id="new-years-eve-friday-does-not-move"),
        # 5 June 2026 + 14 = 19 June, Midsummer Eve Friday, a working day.
        pytest.param("2026-06-05", 14, "2026-06-19", id="midsummer-eve-friday-does-not-move"),
        pytest.param("2026-03-10", 0, "2026-03-10", id="zero-days-is-the-receipt-day"),
        # 31 Jan + 29 = 1 March (Sunday) → 2 March, which equals the due date.
        pytest.param("2026-01-31", 29, "2026-03-02", id="rolled-target-equal-to-due"),
        # 10 Mar + 40 days would be 19 April; the legal due date 10 April comes first.
        pytest.param("2026-03-10", 40, "2026-04-10", id="never-later-than-due-date"),
    ],
)
def test_internal_target_is_earlier_working_day_capped_at_due_date(
    received: str, days: int, expected: str
) -> None:
    target = internal_target_date(noon(received), days=days)
    assert target == date.fromisoformat(expected)
    assert target <= due_date(noon(received))


def test_internal_target_defaults_to_fourteen_days() -> None:
    assert internal_target_date(noon("2026-03-02")) == date(2026, 3, 16)


def test_internal_target_refuses_negative_days() -> None:
    with pytest.raises(ValueError):
        internal_target_date(noon("2026-03-02"), days=-1)


@pytest.mark.parametrize(
    ("due", "today", "expected"),
    [
        pytest.param("2026-03-10", "2026-03-10", 0, id="due-today"),
        pytest.param("2026-03-11", "2026-03-10", 1, id="due-tomorrow"),
        pytest.param("2026-03-13", "2026-03-09", 4, id="monday-to-friday"),
        # Fri 27 March → Mon 30 March: the weekend does not count.
        pytest.param("2026-03-30", "2026-03-27", 1, id="over-a-weekend"),
        pytest.param("2026-03-30", "2026-03-28", 1, id="seen-on-saturday"),
        # Thu 2 April → Tue 7 April: Good Friday, Easter weekend and Easter Monday skipped.
        pytest.param("2026-04-07", "2026-04-02", 1, id="over-easter"),
        # Wed 1 April → Wed 8 April: Thu 2, Tue 7, Wed 8.
        pytest.param("2026-04-08", "2026-04-01", 3, id="easter-week"),
        # Mon 22 June → Fri 24 July 2026, no holidays: five full weeks.
        pytest.param("2026-07-24", "2026-06-19", 25, id="midsummer-eve-today-counts-from-monday"),
        # Overdue: due Friday 27 March.
        pytest.param("2026-03-27", "2026-03-28", -1, id="overdue-seen-saturday"),
        pytest.param("2026-03-27", "2026-03-29", -1, id="overdue-seen-sunday"),
        pytest.param("2026-03-27", "2026-03-30", -1, id="overdue-seen-monday"),
        pytest.param("2026-03-27", "2026-03-31", -2, id="overdue-seen-tuesday"),
        # Due Thu 2 April: Good Friday and Easter Monday are no working days.
        pytest.param("2026-04-02", "2026-04-07", -1, id="overdue-over-easter"),
        pytest.param("2026-04-02", "2026-04-08", -2, id="overdue-after-easter"),
        # A due date that is itself no working day still reads as overdue the day after.
        pytest.param("2026-03-28", "2026-03-29", -1, id="overdue-never-zero"),
    ],
)
def test_working_days_left(due: str, today: str, expected: int) -> None:
    assert working_days_left(date.fromisoformat(due), date.fromisoformat(today)) == expected


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2098, 9, 30), timezones=st.just(UTC)
    )
)
def test_every_due_date_is_the_first_working_day_on_or_after_the_calendar_month(
    received_at: datetime,
) -> None:
    received = stockholm_date(received_at)
    due = due_date(received_at)
    extended = extended_due_date(received_at)
    assert is_working_day(due) and is_working_day(extended)
    assert received < due < extended
    # The calendar end of the month, clamped to the month's last day.
    month, year = received.month % 12 + 1, received.year + received.month // 12
    calendar_end = date(year, month, min(received.day, calendar.monthrange(year, month)[1]))
    assert calendar_end <= due
    assert all(
        not is_working_day(calendar_end + timedelta(days=n))
        for n in range((due - calendar_end).days)
    )
    assert internal_target_date(received_at) <= due
    assert working_days_left(due, received) >= 1


def test_the_holiday_calendar_agrees_with_the_holidays_package_from_1990_to_2100() -> None:
    """Our own calendar (the package loads every country's, ~20 MiB) against `holidays`,
    PUBLIC category, eves excluded by name as the law has them (see deadlines.py)."""
    import holidays  # the test extra
    from holidays.constants import PUBLIC

    eves = {"Midsommarafton", "Julafton", "Nyårsafton"}
    for year in range(1990, 2101):
        theirs = holidays.Sweden(
            years=year, include_sundays=False, categories=(PUBLIC,), language="sv"
        )
        expected = {d for d, names in theirs.items() if not set(names.split("; ")) <= eves}
        assert swedish_public_holidays(year) == expected, year
