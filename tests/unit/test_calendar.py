"""The working-day calendar: dates checked by hand against the published bank holidays of England and Wales."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.bank_holidays import FIRST_YEAR as FIRST_KNOWN_YEAR
from models.bank_holidays import regular_holidays, shipped_list
from models.calendar import (
    YEARS_BEYOND,
    CalendarRangeError,
    WorkingCalendar,
    add_calendar_months,
    england_and_wales_holidays,
)

LAST_KNOWN_YEAR = shipped_list().last_year  # the last year of GOV.UK's list as the package ships it

CAL = WorkingCalendar()
D = dt.date


class TestHandCheckedDates:
    """Each expectation was counted on a printed calendar; the comment shows the count."""

    @pytest.mark.parametrize(
        ("aware", "n", "expected"),
        [
            # Christmas 2026: Fri 25 Dec, Boxing Day Sat 26 -> substitute Mon 28 Dec; New Year Fri 1 Jan 2027.
            # Fri 18 Dec (day 0): 21, 22, 23, 24 are days 1-4; 25 and 28 are holidays; Tue 29 is day 5.
            (D(2026, 12, 18), 5, D(2026, 12, 29)),
            # ... 30 (6), 31 (7), 1 Jan holiday, 4-8 Jan (8-12), 11, 12, 13 Jan (13-15).
            (D(2026, 12, 18), 15, D(2027, 1, 13)),
            # Christmas 2027: Sat 25 and Sun 26 -> substitutes Mon 27 and Tue 28 Dec.
            # Thu 23 Dec (0): Fri 24 (1), 27-28 holidays, Wed 29 (2), Thu 30 (3), Fri 31 (4), Mon 3 Jan 2028?
            # 1 Jan 2028 is a Saturday -> substitute Mon 3 Jan; so Tue 4 Jan is day 5.
            (D(2027, 12, 23), 5, D(2028, 1, 4)),
            # Christmas 2022: Sun 25 -> Boxing Day Mon 26, substitute Christmas Tue 27; Fri 23 (0) -> Wed 28 (1).
            (D(2022, 12, 23), 1, D(2022, 12, 28)),
            # Easter 2027: Good Friday 26 Mar, Easter Monday 29 Mar. Thu 25 Mar (0): Tue 30 Mar is day 1.
            (D(2027, 3, 25), 1, D(2027, 3, 30)),
            (D(2027, 3, 25), 5, D(2027, 4, 5)),
            # Easter 2026: Good Friday 3 Apr, Easter Monday 6 Apr. Wed 1 Apr (0): Thu 2 (1), Tue 7 (2) ... Fri 10 (5).
            (D(2026, 4, 1), 5, D(2026, 4, 10)),
            # Early May bank holiday 2026: Mon 4 May. Fri 1 May (0): Tue 5 (1) ... Mon 11 May (5).
            (D(2026, 5, 1), 5, D(2026, 5, 11)),
            # Spring bank holiday 2026: Mon 25 May. Fri 22 May (0) -> Fri 29 May (4), Mon 1 Jun (5).
            (D(2026, 5, 22), 5, D(2026, 6, 1)),
            # Summer bank holiday 2026: Mon 31 Aug. Fri 28 Aug (0) -> Tue 1 Sep (1) ... Mon 7 Sep (5).
            (D(2026, 8, 28), 5, D(2026, 9, 7)),
            # One-off: the State Funeral of Queen Elizabeth II, Mon 19 Sep 2022. Fri 16 Sep (0) -> Tue 20 (1).
            (D(2022, 9, 16), 1, D(2022, 9, 20)),
            # Coronation of King Charles III, Mon 8 May 2023 (and early May Mon 1 May).
            (D(2023, 4, 28), 5, D(2023, 5, 9)),
        ],
    )
    def test_nth_working_day_after(self, aware: dt.date, n: int, expected: dt.date) -> None:
        assert CAL.add(aware, n) == expected

    def test_awareness_on_a_weekend_counts_from_the_next_working_day_as_day_one(self) -> None:
        # Sat 21 Nov 2026: Mon 23 is day 1, so day 5 is Fri 27.
        assert CAL.add(D(2026, 11, 21), 5) == D(2026, 11, 27)
        assert CAL.add(D(2026, 11, 22), 5) == D(2026, 11, 27)

    def test_awareness_on_a_bank_holiday_counts_from_the_next_working_day_as_day_one(self) -> None:
        # Christmas Day 2026 (Fri): Tue 29 Dec is day 1 (Sat, Sun, Mon 28 substitute are not).
        assert CAL.add(D(2026, 12, 25), 1) == D(2026, 12, 29)
        # Easter Monday 2026 (6 Apr): Tue 7 Apr is day 1.
        assert CAL.add(D(2026, 4, 6), 1) == D(2026, 4, 7)

    def test_counting_back_gives_the_latest_day_at_least_n_before(self) -> None:
        # Publication Thu 1 Apr 2027; back over Easter (29 and 26 Mar): 31, 30, 25, 24, 23, 22, 19 -> Fri 19 Mar.
        assert CAL.add(D(2027, 4, 1), -7) == D(2027, 3, 19)
        # Publication on a Saturday: still 7 working days before the Friday.
        assert CAL.add(D(2026, 11, 28), -7) == D(2026, 11, 18)

    def test_christmas_day_and_good_friday_are_never_working_days(self) -> None:
        for year in range(FIRST_KNOWN_YEAR, LAST_KNOWN_YEAR + 10):
            assert not CAL.is_working(D(year, 12, 25))
        assert not CAL.is_working(D(2026, 4, 3))
        assert not CAL.is_working(D(2028, 4, 14))

    def test_substitute_days_are_holidays(self) -> None:
        assert D(2026, 12, 28) in england_and_wales_holidays()
        assert D(2027, 12, 27) in england_and_wales_holidays()
        assert D(2027, 12, 28) in england_and_wales_holidays()

    def test_partnership_closure_days_are_not_working_days(self) -> None:
        closed = WorkingCalendar(closure_days=[D(2026, 12, 24), D(2026, 12, 31)])
        # Fri 18 Dec (0): 21, 22, 23 (1-3); 24 closed; 25, 28 holidays; 29 (4), 30 (5).
        assert closed.add(D(2026, 12, 18), 5) == D(2026, 12, 30)
        assert CAL.add(D(2026, 12, 18), 5) == D(2026, 12, 29)

    def test_working_days_between_inverts_adding(self) -> None:
        assert CAL.between(D(2026, 12, 18), D(2026, 12, 29)) == 5
        assert CAL.between(D(2026, 12, 29), D(2026, 12, 18)) == -5
        assert CAL.between(D(2026, 12, 18), D(2026, 12, 18)) == 0


class TestRefusals:
    def test_a_year_before_the_regime_is_refused(self) -> None:
        with pytest.raises(CalendarRangeError, match="before 2018"):
            CAL.add(D(FIRST_KNOWN_YEAR - 1, 6, 1), 5)

    def test_a_date_decades_past_the_list_is_refused_as_a_mistake(self) -> None:
        with pytest.raises(CalendarRangeError, match="check the date"):
            CAL.add(D(LAST_KNOWN_YEAR + YEARS_BEYOND + 1, 3, 2), 5)

    def test_a_closure_day_before_the_regime_is_refused(self) -> None:
        with pytest.raises(CalendarRangeError):
            WorkingCalendar(closure_days=[D(FIRST_KNOWN_YEAR - 2, 1, 5)])


class TestPastThePublishedList:
    """GOV.UK's list (as shipped) ends in 2028: later dates are counted with the regular holidays, provisionally."""

    def test_every_published_holiday_from_2018_is_a_non_working_day(self) -> None:
        published = [day for day in shipped_list().days if FIRST_KNOWN_YEAR <= day.year <= LAST_KNOWN_YEAR]
        assert len(published) >= 8 * (LAST_KNOWN_YEAR - FIRST_KNOWN_YEAR + 1)
        assert not any(CAL.is_working(day) for day in published)

    def test_the_regular_holidays_are_the_published_ones_but_for_the_announced_one_offs(self) -> None:
        one_offs = {  # each announced for its year: what the regular rule cannot know
            2020: ({D(2020, 5, 8)}, {D(2020, 5, 4)}),  # VE Day: the early May holiday moved to Friday
            2022: ({D(2022, 6, 2), D(2022, 6, 3), D(2022, 9, 19)}, {D(2022, 5, 30)}),  # Jubilee; the Queen's funeral
            2023: ({D(2023, 5, 8)}, set()),  # the Coronation
        }
        for year in range(FIRST_KNOWN_YEAR, LAST_KNOWN_YEAR + 1):
            published = {day for day in shipped_list().days if day.year == year}
            extra, moved = one_offs.get(year, (set(), set()))
            assert published == (set(regular_holidays(year)) - moved) | extra, year

    @pytest.mark.parametrize(
        ("aware", "n", "expected", "provisional"),
        [
            # Wed 20 Dec 2028 (0): 21, 22 (1, 2); Mon 25 and Tue 26 Dec 2028 are Christmas and Boxing Day (published);
            # 27, 28, 29 (3-5): inside 2028, exact.
            (D(2028, 12, 20), 5, D(2028, 12, 29), False),
            # ... Mon 1 Jan 2029 is New Year's Day (regular); 2-5 Jan (6-9), 8-12 Jan (10-14), Mon 15 Jan (15).
            (D(2028, 12, 20), 15, D(2029, 1, 15), True),
            # Christmas 2029: Tue 25 and Wed 26. Fri 21 Dec (0): Mon 24 (1), Thu 27 (2), Fri 28 (3), Mon 31 (4),
            # Tue 1 Jan 2030 is New Year's Day, Wed 2 Jan (5).
            (D(2029, 12, 21), 5, D(2030, 1, 2), True),
            # Christmas 2033 is a Sunday: Boxing Day Mon 26, Christmas's substitute Tue 27. Fri 23 Dec (0): Wed 28 (1).
            (D(2033, 12, 23), 1, D(2033, 12, 28), True),
            # Easter 2029: Good Friday 30 Mar, Easter Monday 2 Apr. Thu 29 Mar (0): Tue 3 Apr (1).
            (D(2029, 3, 29), 1, D(2029, 4, 3), True),
        ],
    )
    def test_counted_with_the_regular_holidays_and_marked_provisional(
        self, aware: dt.date, n: int, expected: dt.date, provisional: bool
    ) -> None:
        due = CAL.add(aware, n)
        assert due == expected
        assert CAL.is_provisional(aware, due) is provisional

    def test_substitute_days_follow_the_weekend(self) -> None:
        # 2034: New Year's Day is a Sunday (substitute Mon 2 Jan); 2039: Christmas Sun, Boxing Day Mon, Tue 27 Dec.
        assert D(2034, 1, 2) in regular_holidays(2034)
        assert {D(2039, 12, 26), D(2039, 12, 27)} <= set(regular_holidays(2039))
        # 2032: Christmas Sat 25, Boxing Sun 26: substitutes Mon 27 and Tue 28.
        assert {D(2032, 12, 27), D(2032, 12, 28)} <= set(regular_holidays(2032))


class TestCalendarMonths:
    @pytest.mark.parametrize(
        ("start", "months", "expected"),
        [
            (D(2026, 8, 31), 6, D(2027, 2, 28)),  # clamps to the end of February
            (D(2027, 8, 31), 6, D(2028, 2, 29)),  # leap year
            (D(2026, 3, 31), 6, D(2026, 9, 30)),
            (D(2026, 1, 15), 6, D(2026, 7, 15)),
            (D(2028, 2, 29), 12, D(2029, 2, 28)),  # a year on from 29 February
            (D(2026, 12, 18), 1, D(2027, 1, 18)),
        ],
    )
    def test_calendar_months_clamp_to_the_end_of_the_month(
        self, start: dt.date, months: int, expected: dt.date
    ) -> None:
        assert add_calendar_months(np.datetime64(start, "D"), months).item() == expected


class TestVectorised:
    def test_a_hundred_thousand_deadlines_in_one_call(self) -> None:
        starts = np.datetime64("2019-01-01") + np.arange(100_000) % 3000
        result = CAL.add_working_days(starts, 15)
        assert result.shape == (100_000,)
        assert np.all(np.is_busday(result, weekmask="1111100"))
        # the same answer as the scalar function, on a sample
        for i in (0, 17, 99_999):
            assert result[i].item() == CAL.add(starts[i].item(), 15)

    def test_not_a_time_stays_not_a_time(self) -> None:
        result = CAL.add_working_days(np.array(["2026-12-18", "NaT"], dtype="datetime64[D]"), 5)
        assert result[0].item() == D(2026, 12, 29)
        assert np.isnat(result[1])


known_days = st.dates(min_value=D(FIRST_KNOWN_YEAR, 1, 1), max_value=D(LAST_KNOWN_YEAR, 10, 31))
counts = st.integers(min_value=1, max_value=40)


@given(known_days, counts)
def test_every_deadline_is_a_working_day(aware: dt.date, n: int) -> None:
    assert CAL.is_working(CAL.add(aware, n))


@given(known_days, known_days, counts)
def test_later_awareness_never_gives_an_earlier_deadline(a: dt.date, b: dt.date, n: int) -> None:
    early, late = sorted((a, b))
    assert CAL.add(early, n) <= CAL.add(late, n)


@given(known_days, counts)
def test_one_more_day_is_always_later(aware: dt.date, n: int) -> None:
    assert CAL.add(aware, n + 1) > CAL.add(aware, n)


@given(known_days, counts)
def test_the_deadline_is_exactly_n_working_days_after_the_first_working_day_on_or_before(
    aware: dt.date, n: int
) -> None:
    due = CAL.add(aware, n)
    assert CAL.between(aware, due) == n
    assert due > aware
