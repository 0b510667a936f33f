"""The bank holidays of England and Wales: GOV.UK's published list, and the regular ones beyond its last year.

The authority is GOV.UK's ``bank-holidays.json`` (https://www.gov.uk/bank-holidays.json). The
``govuk-bank-holidays`` package ships a copy; an operator who downloads a newer one loads it with
``cspr calendar import FILE``, which keeps it under ``CSPR_HOME/calendar``. The list covers a few years ahead; a
deadline that runs past its last year is counted with the regular holidays (:func:`regular_holidays`) and marked
provisional, because a one-off holiday (a coronation, a state funeral) may still be announced for that year.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dateutil.easter import easter
from dateutil.relativedelta import MO, relativedelta

DIVISION = "england-and-wales"
# The first year of the child safeguarding practice review regime: a list must cover every year from here.
FIRST_YEAR = 2018
IMPORTED_NAME = "bank-holidays.json"


class BankHolidayListError(ValueError):
    """A bank holiday list that cannot be used; ``str()`` says why, for the operator."""


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a cache key of the calendars
class PublishedList:
    """England and Wales's holidays as GOV.UK published them."""

    days: Mapping[dt.date, str]  # every holiday, by date, with its title
    first_year: int
    last_year: int
    source: str  # where it was read from, for the operator

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.last_year, 12, 31)


def regular_holidays(year: int) -> dict[dt.date, str]:
    """The holidays England and Wales have every year, by the Banking and Financial Dealings Act 1971 and custom,
    with substitute days: a holiday on a weekend moves to the next weekday that is not already a holiday."""
    good_friday = easter(year) - dt.timedelta(days=2)
    fixed = {
        dt.date(year, 1, 1): "New Year’s Day",
        dt.date(year, 12, 25): "Christmas Day",
        dt.date(year, 12, 26): "Boxing Day",
    }
    days = {
        good_friday: "Good Friday",
        good_friday + dt.timedelta(days=3): "Easter Monday",
        dt.date(year, 5, 1) + relativedelta(weekday=MO(+1)): "Early May bank holiday",
        dt.date(year, 5, 31) + relativedelta(weekday=MO(-1)): "Spring bank holiday",
        dt.date(year, 8, 31) + relativedelta(weekday=MO(-1)): "Summer bank holiday",
    }
    days.update({day: name for day, name in fixed.items() if day.weekday() < 5})
    for day, name in sorted(fixed.items()):
        if day.weekday() >= 5:
            substitute = day + dt.timedelta(days=1)
            while substitute.weekday() >= 5 or substitute in days:
                substitute += dt.timedelta(days=1)
            days[substitute] = f"{name} (substitute day)"
    return days


def parse(text: str, source: str) -> PublishedList:
    """A GOV.UK ``bank-holidays.json``, checked: England and Wales present, every date valid, every year from its
    first (or 2018) to its last with its holidays (a truncated or partial file is refused, never half used)."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BankHolidayListError(
            f"{source} is not a complete JSON file ({exc.msg} at line {exc.lineno}): download it again from "
            "https://www.gov.uk/bank-holidays.json"
        ) from None
    division = raw.get(DIVISION) if isinstance(raw, dict) else None
    if not isinstance(division, dict) or not isinstance(division.get("events"), list):
        raise BankHolidayListError(
            f"{source} has no list for England and Wales (the '{DIVISION}' division of GOV.UK's bank-holidays.json)"
        )
    days: dict[dt.date, str] = {}
    for number, event in enumerate(division["events"], start=1):
        try:
            day = dt.date.fromisoformat(event["date"])
            title = str(event["title"]).strip()
        except (KeyError, TypeError, ValueError):
            raise BankHolidayListError(
                f"{source}: holiday {number} of England and Wales has no valid date and title ({event!r:.80})"
            ) from None
        if not title:
            raise BankHolidayListError(f"{source}: the holiday on {day.isoformat()} has no title")
        days[day] = title
    if not days:
        raise BankHolidayListError(f"{source} lists no bank holidays for England and Wales")
    last_year = max(days).year
    first_year = min(day.year for day in days)
    for year in range(max(FIRST_YEAR, first_year), last_year + 1):
        # every year has at least Christmas Day or its substitute and Good Friday: a year without them is a gap
        # in the file (a truncated download), not a year without holidays
        have = {day for day in days if day.year == year}
        good_friday = easter(year) - dt.timedelta(days=2)
        if good_friday not in have or not any(day.month == 12 and day.day >= 25 for day in have):
            raise BankHolidayListError(
                f"{source} is missing bank holidays of {year} (Good Friday or Christmas): it looks truncated"
            )
    return PublishedList(days=days, first_year=first_year, last_year=last_year, source=source)


def with_earlier_years(newer: PublishedList, older: PublishedList) -> PublishedList:
    """GOV.UK drops its oldest years from the list now and then: the years before a newer list's first come from the
    older one (the shipped copy, which goes back to 2012), so reviews from 2018 are still counted with their
    holidays. Refused if the two leave a gap between them."""
    if newer.first_year <= FIRST_YEAR:
        return newer
    if older.last_year + 1 < newer.first_year:
        raise BankHolidayListError(
            f"{newer.source} starts in {newer.first_year}, and the years before it are known only to "
            f"{older.last_year}: the years between would have no bank holidays"
        )
    days = {day: name for day, name in older.days.items() if day.year < newer.first_year} | dict(newer.days)
    return PublishedList(days, min(older.first_year, newer.first_year), newer.last_year, newer.source)


def shipped_list() -> PublishedList:
    """The copy of GOV.UK's list that the ``govuk-bank-holidays`` package ships."""
    # found, not imported: the package's own module imports requests to download the list, which we never do
    spec = importlib.util.find_spec("govuk_bank_holidays")
    if spec is None or spec.origin is None:
        raise BankHolidayListError("the govuk-bank-holidays package is not installed: run make up or make test")
    path = Path(spec.origin).parent / "bank-holidays.json"
    return _parse_file(path, f"GOV.UK's list as shipped by govuk-bank-holidays ({path.name})")


def imported_path() -> Path:
    from models.settings import get_settings

    return get_settings().home / "calendar" / IMPORTED_NAME


def published_list() -> PublishedList:
    """The list in use: the one an operator imported, if any, else the shipped copy."""
    path = imported_path()
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return _shipped()
    return _imported(str(path), stamp)


@lru_cache(maxsize=1)
def _shipped() -> PublishedList:
    return shipped_list()


@lru_cache(maxsize=4)
def _imported(path: str, stamp: int) -> PublishedList:  # stamp: a newer import is read again
    return with_earlier_years(_parse_file(Path(path), f"GOV.UK's list imported on {_when(stamp)}"), _shipped())


def _when(stamp_ns: int) -> str:
    return dt.datetime.fromtimestamp(stamp_ns / 1e9, dt.UTC).strftime("%d %b %Y %H:%M UTC")


def _parse_file(path: Path, source: str) -> PublishedList:
    return parse(path.read_text(encoding="utf-8"), source)


def import_list(file: Path) -> tuple[PublishedList, PublishedList]:
    """Check ``file`` and make it the list in use; returns (the list before, the list now). Nothing changes when
    the file is refused."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BankHolidayListError(f"cannot read {file}: {exc}") from None
    new = with_earlier_years(parse(text, file.name), _shipped())
    before = published_list()
    if new.last_year < before.last_year:
        raise BankHolidayListError(
            f"{file.name} ends in {new.last_year}, before the list in use ({before.last_year}): it is older"
        )
    target = imported_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")  # two imports at once do not share it
    with partial.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())  # on disk before it replaces the list in use: a crash leaves the old one or the new
    os.replace(partial, target)  # in one step: a process reading the list sees the old one or the new one
    return before, published_list()
