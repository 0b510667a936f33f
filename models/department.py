"""The Department for Education's serious incident notification statistics, as data and small pure functions: its
reporting year, its categories and labels, and its counting rules. models/statistics.py counts with them.

What the Department publishes (explore-education-statistics, "Serious incident notifications", reporting year 2026,
its methodology and data guidance):

- **Reporting year** 2026 is 1 April 2025 to 31 March 2026, labelled "2026"; a notification counts in the year it
  was notified. Quarters are of the reporting year: Q1 is April to June.
- **The count** is of notifications: serious incidents (abuse or neglect known or suspected, a child died or was
  seriously harmed, in England or, normally resident here, outside it) and the deaths of looked-after children,
  whatever the cause. A notification may cover more than one child; its characteristics are the first child's
  (``CasePerson.position`` 1: the notification form asks for the child the harm relates to first). A review recorded
  before positions were kept counts its first child by pseudonym.
- **Care leavers' deaths** are a separate, voluntary collection, not in the notifications' count, by age group
  16 to 21 and 22 to 24 (a care leaver may be 16 or 17).
- **Nature**: child death, serious harm, other (most often a child who harmed another). In the breakdowns serious
  harm and other are one column ("Serious harm and other"), and only the looked-after breakdown splits deaths by
  whether abuse or neglect was known or suspected.
- **Age** at the incident in the Department's bands: derived from the date of birth where it is known (inside the
  worker, never stored or sent), otherwise from the band the coordinator gave. The project's earlier bands 5-9 and
  10-15 (and 18-24 for a care leaver) straddle the Department's and cannot be mapped: they count as unknown, and
  the report says how many did.
- **Unborn children**: nothing found in the Department's guidance says how it counts them; they are counted under
  "Unknown" age (an open question, docs/rulebook.md).
- **Suppression**: the Department shows a count withheld to protect confidentiality as "c", with secondary
  suppression. cspr suppresses as models/statistics.py ``suppress`` does, and shows "c".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from models import age_bands
from models.forms import AgeBand
from models.rulebook import NotificationKind

SUPPRESSED = "c"  # the Department's symbol: withheld to protect confidentiality
SUPPRESSED_MEANS = "c: withheld to protect confidentiality, with others withheld so that it cannot be worked out"

# --- the reporting year -----------------------------------------------------------------------------------------


def reporting_year(day: dt.date) -> int:
    """The Department's reporting year a day falls in, by the year it ends: 1 April 2025 to 31 March 2026 is 2026."""
    return day.year + 1 if day.month >= 4 else day.year


def year_label(year: int) -> str:
    return f"reporting year {year} (April {year - 1} to March {year})"


def year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year - 1, 4, 1), dt.date(year, 3, 31)


QUARTERS = {
    "Q1": "Q1 (April to June)",
    "Q2": "Q2 (July to September)",
    "Q3": "Q3 (October to December)",
    "Q4": "Q4 (January to March)",
}


def quarter(day: dt.date) -> str:
    """The quarter of the reporting year: April to June is Q1, January to March Q4."""
    return f"Q{(day.month - 4) % 12 // 3 + 1}"


# --- what is counted --------------------------------------------------------------------------------------------

COUNTED_KINDS = frozenset(
    {NotificationKind.SERIOUS_INCIDENT, NotificationKind.OUTSIDE_ENGLAND, NotificationKind.LOOKED_AFTER_DEATH}
)
CARE_LEAVER_KIND = NotificationKind.CARE_LEAVER_DEATH

TOTAL = "Total"
DEATH = "Child death"
HARM = "Serious harm"
OTHER = "Other"
HARM_AND_OTHER = "Serious harm and other"
DEATH_ABUSE = "Child death: abuse/neglect"
DEATH_NO_ABUSE = "Child death: no abuse/neglect"
NATURE_OF_HARM = {"died": DEATH, "seriously harmed": HARM, "other": OTHER}  # models.forms.Harm's values


def nature(harm: str) -> str:
    return NATURE_OF_HARM[harm]


def death_nature(abuse_or_neglect: str) -> str:
    """A death in the looked-after breakdown, by whether abuse or neglect was known or suspected."""
    return DEATH_NO_ABUSE if abuse_or_neglect == "not known or suspected" else DEATH_ABUSE


# --- ages -------------------------------------------------------------------------------------------------------

UNKNOWN = "Unknown"
AGE_BANDS = ("Under 1", "1 to 5", "6 to 10", "11 to 15", "16 and over", UNKNOWN)
CARE_LEAVER_BANDS = ("16 to 21", "22 to 24", UNKNOWN)

# the project's bands (models/age_bands.py) as the Department's; any other band given is unknown to it
_CHILD_BAND: dict[str, str] = {
    AgeBand.under_1: "Under 1",
    AgeBand.age_1_to_5: "1 to 5",
    AgeBand.age_6_to_10: "6 to 10",
    AgeBand.age_11_to_15: "11 to 15",
    AgeBand.age_16_to_17: "16 and over",
    AgeBand.age_18_to_21: "16 and over",
    AgeBand.age_22_to_24: "16 and over",
}
_CARE_LEAVER_BAND: dict[str, str] = {
    AgeBand.age_16_to_17: "16 to 21",
    AgeBand.age_18_to_21: "16 to 21",
    AgeBand.age_22_to_24: "22 to 24",
}


def child_band(age: int) -> str:
    band = age_bands.band_of_age(age)
    return "16 and over" if band is None else _CHILD_BAND[band]  # older than the project's bands: 16 and over still


def care_leaver_band(age: int) -> str:
    band = age_bands.band_of_age(age)
    return UNKNOWN if band is None else _CARE_LEAVER_BAND.get(band, UNKNOWN)


def age_band(
    *, born: dt.date | None, on: dt.date, given: str | None, unborn: bool = False, care_leaver: bool = False
) -> tuple[str, bool]:
    """The Department's age band of a child (or a care leaver) at the incident, and whether a band given in the
    project's earlier bands could not be mapped. The date of birth wins over the band given; an unborn child's age
    is unknown."""
    if unborn:
        return UNKNOWN, False
    if born is not None:
        age = age_bands.age_on(born, on)
        return (care_leaver_band(age) if care_leaver else child_band(max(age, 0))), False
    band, unmapped = age_bands.band_given(given)
    return (_CARE_LEAVER_BAND if care_leaver else _CHILD_BAND).get(band, UNKNOWN), unmapped


# --- the two plans, and the other breakdowns ---------------------------------------------------------------------

YES, NO, NOT_KNOWN = "Yes", "No", "Not known"
_KNOWN = {"yes": YES, "no": NO, "not known": NOT_KNOWN}
# the one "plan" choice of reviews recorded before the two plans were asked: (child in need plan, protection plan)
_OLD_PLAN = {
    "child protection plan": ("not known", "yes"),
    "child in need plan": ("yes", "not known"),
    "neither": ("no", "no"),
    "not known": ("not known", "not known"),
}


def plans(known: Mapping[str, str]) -> tuple[str, str]:
    """The child in need plan and the child protection plan, each Yes, No or Not known: from the two answers, or
    from an earlier review's one "plan" choice (a child protection plan says nothing of a child in need plan)."""
    if "child_in_need_plan" in known or "child_protection_plan" in known:
        cin, cp = known.get("child_in_need_plan", "not known"), known.get("child_protection_plan", "not known")
    else:
        cin, cp = _OLD_PLAN.get(known.get("plan", "not known"), ("not known", "not known"))
    return _KNOWN.get(cin, NOT_KNOWN), _KNOWN.get(cp, NOT_KNOWN)


def yes_no(value: str | None) -> str:
    return _KNOWN.get(value or "not known", NOT_KNOWN)


def label(value: str) -> str:
    """A value as the Department writes it: a capital first letter ("not known" reads "Not known")."""
    return value[:1].upper() + value[1:]


# Each breakdown the Department publishes, as its topic in the data set, the heading the report gives it, and the
# values it takes in order. Ethnicity, disability and placement keep the project's values (models/forms.py), which are
# the groups of the Department's statistics.
def breakdowns(
    sexes: list[str], ethnicities: list[str], disabilities: list[str], placements: list[str]
) -> dict[str, tuple[str, list[str]]]:
    known = [YES, NO, NOT_KNOWN]
    return {
        "CLA": ("Looked after", [YES, NO]),
        "Sex": ("Sex", [label(v) for v in sexes]),
        "Age group": ("Age at the incident", list(AGE_BANDS)),
        "Ethnicity": ("Ethnicity", [label(v) for v in ethnicities]),
        "Disability": ("Disability", [label(v) for v in disabilities]),
        "Placement type": ("Placement type (looked-after children)", [label(v) for v in placements]),
        "CIN plan": ("Child in need plan", known),
        "CP plan": ("Child protection plan", known),
        "Known to any agency": ("Known to any agency", known),
    }
