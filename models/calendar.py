"""Working days in England and Wales, vectorised.

Neither the regulations nor Working Together define "working day". Here it is Monday to Friday, excluding
the bank holidays of England and Wales (substitute days included), Christmas Day and Good Friday, plus any closure
days a partnership adds.

Counting: the day the local authority becomes aware is day 0; "within N working days" ends on the N-th
working day after it. An awareness date on a weekend or holiday counts from the next working day as day 1.
Both rules are one numpy call: roll *back* to the last working day on or before the date, then step N
working days (``np.busday_offset(..., roll="backward")``).

The holidays are GOV.UK's published list (:mod:`models.bank_holidays`) up to its last year, and the regular ones
after it. A date counted over a day past the list's last year is **provisional**: a one-off holiday may still be
announced for that year. :meth:`WorkingCalendar.provisional` says which dates are, and a review is never refused
for it. Dates before 2018, when the regime began, are refused; so are dates more than ``YEARS_BEYOND`` years past
the list, which can only be mistakes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from models.bank_holidays import FIRST_YEAR, PublishedList, published_list, regular_holidays
from models.refusals import Refused

YEARS_BEYOND = 30  # regular holidays are counted this far past the published list's last year
SOURCE = (
    "the bank holidays of England and Wales from GOV.UK's published list, Christmas Day and Good Friday; "
    "past the list's last year, the regular holidays (provisional)"
)

# What a provisional date means, in one place: every form, artifact, document and summary says it the same way.
PROVISIONAL_NOTE = (
    "counted past the last year of GOV.UK's published bank holidays, with the regular holidays; it will be counted "
    "again when the operator imports a newer list (cspr calendar import)"
)

DateArray = npt.NDArray[np.datetime64]


def today_in_england() -> dt.date:
    """Today's date where the statute runs (a run at 00:30 BST is already tomorrow there)."""
    return dt.datetime.now(ZoneInfo("Europe/London")).date()


class StillToCome(Refused):
    """A run that changes records was asked to act as of a day still to come."""


def only_a_dry_run_looks_ahead(day: dt.date, *, dry_run: bool, refusal: str) -> None:
    """The one rule for every run given an "as of" day (the deadline sweep, retention): a day to come may be looked
    at, never acted on, since acting as of it would do today what is not yet due (escalate, erase). A dry run, today
    and a past day pass; anything else is refused with ``refusal``, which says so in the run's own words."""
    if not dry_run and day > today_in_england():
        raise StillToCome(refusal)


def london_day(at: dt.datetime) -> dt.date:
    """The day a moment fell on in England (a time stored without its zone is UTC, as SQLite gives it back)."""
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(ZoneInfo("Europe/London")).date()


class CalendarRangeError(Refused):
    """A date falls in a year the calendar cannot count in."""


def england_and_wales_holidays(published: PublishedList | None = None) -> dict[dt.date, str]:
    """Every holiday of England and Wales the calendar counts, by date: the published list from 2018 to its last
    year, then the regular holidays for ``YEARS_BEYOND`` years."""
    published = published or published_list()
    days = {day: name for day, name in published.days.items() if day.year >= FIRST_YEAR}
    for year in range(FIRST_YEAR, published.last_year + 1):
        # Christmas Day and Good Friday are common-law holidays, not bank holidays under the 1971 Act: asserted
        # here, so that a list that ever left them out could not make them working days
        days.setdefault(dt.date(year, 12, 25), "Christmas Day")
        days.setdefault(next(d for d, n in regular_holidays(year).items() if n == "Good Friday"), "Good Friday")
    for year in range(published.last_year + 1, published.last_year + YEARS_BEYOND + 1):
        days.update(regular_holidays(year))
    return dict(sorted(days.items()))


def holiday_name(day: dt.date) -> str | None:
    """The name of a holiday of England and Wales on ``day``, if it is one."""
    return england_and_wales_holidays().get(day)


class WorkingCalendar:
    """Working days for one partnership: England and Wales holidays plus its own closure days."""

    def __init__(self, closure_days: Iterable[dt.date] = (), published: PublishedList | None = None) -> None:
        published = published or published_list()
        self.published_until = published.last_day
        self._first = np.datetime64(dt.date(FIRST_YEAR, 1, 1), "D")
        self._last = np.datetime64(dt.date(published.last_year + YEARS_BEYOND, 12, 31), "D")
        extra = sorted(set(closure_days))
        self._check_range(np.array(extra, dtype="datetime64[D]"))
        self.closure_days: tuple[dt.date, ...] = tuple(extra)
        all_days = np.array(sorted(set(england_and_wales_holidays(published)) | set(extra)), dtype="datetime64[D]")
        self._busdaycal = np.busdaycalendar(weekmask="1111100", holidays=all_days)
        self._published_until = np.datetime64(self.published_until, "D")

    # -- checks ----------------------------------------------------------------------------------

    def _check_range(self, days: DateArray) -> None:
        if days.size == 0:
            return
        valid = days[~np.isnat(days)]
        if valid.size == 0:
            return
        lo, hi = valid.min(), valid.max()
        if lo < self._first:
            raise CalendarRangeError(
                f"{as_date(lo):%d %B %Y} is before {FIRST_YEAR}, when child safeguarding practice reviews began: "
                "check the date"
            )
        if hi > self._last:
            raise CalendarRangeError(
                f"{as_date(hi):%d %B %Y} is more than {YEARS_BEYOND} years past the published bank holidays "
                f"(to {self.published_until.year}): check the date"
            )

    def provisional(self, starts: npt.ArrayLike, ends: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether a count between each start and end (either way round) crossed a day past the published list:
        its result is then provisional until the list covers it."""
        later = np.maximum(np.asarray(starts, dtype="datetime64[D]"), np.asarray(ends, dtype="datetime64[D]"))
        result: npt.NDArray[np.bool_] = later > self._published_until
        return result

    # -- vectorised API --------------------------------------------------------------------------

    def add_working_days(self, starts: npt.ArrayLike, n: npt.ArrayLike) -> DateArray:
        """The N-th working day after each start (day 0); negative N counts back to "at least N before".

        ``starts`` and ``n`` broadcast against each other. NaT stays NaT.
        """
        days = np.asarray(starts, dtype="datetime64[D]")
        counts = np.asarray(n, dtype=np.int64)
        self._check_range(days)
        out = np.busday_offset(days, counts, roll="backward", busdaycal=self._busdaycal)
        self._check_range(out)
        return out

    def working_days_between(self, starts: npt.ArrayLike, ends: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Working days from each start (day 0) to each end: 0 on the same day, negative if end is earlier.

        The inverse of ``add_working_days`` for working-day ends: ``between(s, add(s, n)) == n``.
        """
        s = np.asarray(starts, dtype="datetime64[D]")
        e = np.asarray(ends, dtype="datetime64[D]")
        self._check_range(s)
        self._check_range(e)
        # busday_count counts working days in [a, b); shifting both by one gives (a, b]. Count the
        # forward interval and give it the sign of the direction, so that between(e, s) == -between(s, e).
        one = np.timedelta64(1, "D")
        lo, hi = np.minimum(s, e), np.maximum(s, e)
        count = np.busday_count(lo + one, hi + one, busdaycal=self._busdaycal).astype(np.int64)
        signed: npt.NDArray[np.int64] = np.where(e < s, -count, count)
        return signed

    def is_working_day(self, days: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        arr = np.asarray(days, dtype="datetime64[D]")
        self._check_range(arr)
        result: npt.NDArray[np.bool_] = np.is_busday(arr, busdaycal=self._busdaycal)
        return result

    # -- scalar conveniences ---------------------------------------------------------------------

    def add(self, start: dt.date, n: int) -> dt.date:
        return as_date(self.add_working_days(np.datetime64(start, "D"), n))

    def between(self, start: dt.date, end: dt.date) -> int:
        return int(self.working_days_between(np.datetime64(start, "D"), np.datetime64(end, "D")))

    def is_working(self, day: dt.date) -> bool:
        return bool(self.is_working_day(np.datetime64(day, "D")))

    def is_provisional(self, start: dt.date, end: dt.date) -> bool:
        return bool(self.provisional(np.datetime64(start, "D"), np.datetime64(end, "D")))


def add_calendar_months(starts: npt.ArrayLike, months: npt.ArrayLike) -> DateArray:
    """Calendar months after each date; a day past the end of the target month clamps to its last day
    (31 August + 6 months is 28 or 29 February). Vectorised; NaT stays NaT."""
    days = np.asarray(starts, dtype="datetime64[D]")
    count = np.asarray(months, dtype=np.int64)
    month_start = days.astype("datetime64[M]")
    day_of_month = (days - month_start.astype("datetime64[D]")).astype(np.int64)
    target = month_start + count.astype("timedelta64[M]")
    last_day = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")) - target.astype(
        "datetime64[D]"
    )
    offset = np.minimum(day_of_month, last_day.astype(np.int64))
    result: DateArray = target.astype("datetime64[D]") + offset.astype("timedelta64[D]")
    return result


def as_date(value: npt.NDArray[np.datetime64] | np.datetime64) -> dt.date:
    """One numpy day as a ``datetime.date`` (refusing NaT, which has no date)."""
    day = np.asarray(value, dtype="datetime64[D]").item()
    if not isinstance(day, dt.date):
        raise ValueError(f"not a date: {value!r}")
    return day


def calendar_for(closure_days: tuple[dt.date, ...] = ()) -> WorkingCalendar:
    """A calendar for a set of closure days, with the bank holiday list in use (cached: building one costs about a
    millisecond; a newly imported list is a new cache key)."""
    return _calendar(closure_days, published_list())


@lru_cache(maxsize=64)
def _calendar(closure_days: tuple[dt.date, ...], published: PublishedList) -> WorkingCalendar:
    return WorkingCalendar(closure_days, published)


def working_days_by_partnership(
    rows: Mapping[str, npt.NDArray[np.intp]],
    starts: npt.ArrayLike,
    ends: npt.ArrayLike,
    closure_days: Mapping[str, Iterable[str] | None],
) -> npt.NDArray[np.int64]:
    """Working days from each start to each end (as ``working_days_between``), each row counted with its own
    partnership's calendar: one numpy call per partnership, never one per row.

    ``rows`` maps each partnership's code to the positions of its rows (what pandas' ``groupby(...).indices``
    gives); ``closure_days`` maps codes to their closure days as ISO text, as the database keeps them. A
    scalar start or end applies to every row; a row no partnership claims counts 0.
    """
    first, last = np.broadcast_arrays(np.asarray(starts, "datetime64[D]"), np.asarray(ends, "datetime64[D]"))
    out = np.zeros(first.shape, dtype=np.int64)
    for code, index in rows.items():
        days = tuple(sorted(dt.date.fromisoformat(d) for d in closure_days.get(str(code)) or ()))
        out[index] = calendar_for(days).working_days_between(first[index], last[index])
    return out
