"""One rule for a child's age band at the incident, which the Department's figures (models/department.py) and the
project's own count (models/statistics.py) both follow: a child's age in whole years on a day, the project's band of
an age (the notification's bands, models/forms.py ``AgeBand``), and a band given in a notification read as the
project's current bands (its earlier bands mapped where they fit, and said where they cannot be). The Department's
bands are regroupings of the project's, labelled in models/department.py.
"""

from __future__ import annotations

import datetime as dt

from models.forms import AgeBand

# the project's earlier bands that fit one of its current ones
EARLIER: dict[str, AgeBand] = {"1-4": AgeBand.age_1_to_5, "16-17": AgeBand.age_16_to_17}
# the project's earlier bands that straddle the Department's: counted as unknown, and said
UNMAPPABLE = frozenset({"5-9", "10-15", "18-24 (a care leaver)"})
# each of the project's bands by the oldest age in it, youngest first
_OLDEST: tuple[tuple[int, AgeBand], ...] = (
    (0, AgeBand.under_1),
    (5, AgeBand.age_1_to_5),
    (10, AgeBand.age_6_to_10),
    (15, AgeBand.age_11_to_15),
    (17, AgeBand.age_16_to_17),
    (21, AgeBand.age_18_to_21),
    (24, AgeBand.age_22_to_24),
)


def age_on(born: dt.date, day: dt.date) -> int:
    """Whole years of age on ``day``: a birthday on the day itself counts (29 February's on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def band_of_age(age: int) -> AgeBand | None:
    """The project's band of an age in whole years (under 1 for any age under 1); None for an age past its oldest
    band, which each count places its own way (the Department's "16 and over" takes it, a care leaver's bands do
    not)."""
    return next((band for oldest, band in _OLDEST if age <= oldest), None)


def band_given(given: str | None) -> tuple[str, bool]:
    """A band given in a notification as the project's current bands name it (an earlier band that fits one, as that
    one; none given, "unknown"), and whether it was an earlier band that cannot be mapped (then "unknown"). Anything
    else is returned as given, for each count to place in its own categories."""
    if given in UNMAPPABLE:
        return AgeBand.unknown.value, True
    return EARLIER.get(given or "", given or AgeBand.unknown.value), False
