"""Dates as documents, reports and summaries write them: "2 December 2026", "Wednesday 2 December 2026".

One place for it because ``strftime`` has no portable day of the month without a leading zero (``%-d`` is
glibc's, not Windows'), and documents read "2 December 2026", never "02 December 2026". Dates a person might
write in other ways (the redaction gate's search) are not this module's business.
"""

from __future__ import annotations

import datetime as dt


def long_date(day: dt.date | None) -> str:
    """The day as documents write it, "2 December 2026"; empty for no date (a document's blank)."""
    return f"{day.day} {day:%B %Y}" if day else ""


def weekday_date(day: dt.date, *, short: bool = False) -> str:
    """The day with its weekday, "Wednesday 2 December 2026" (or "Wed 2 December 2026" with ``short``)."""
    return f"{day:%a} {long_date(day)}" if short else f"{day:%A} {long_date(day)}"
