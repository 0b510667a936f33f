"""The one rule for a child's age band (models/age_bands.py), which the Department's figures and the project's own
count both follow: the project's band of an age at its edges, and a band given in the project's earlier bands."""

from __future__ import annotations

import datetime as dt

import pytest

from models.age_bands import age_on, band_given, band_of_age
from models.department import care_leaver_band, child_band
from models.forms import AgeBand


@pytest.mark.parametrize(
    ("age", "band", "department", "care_leaver"),
    [
        (-1, AgeBand.under_1, "Under 1", "Unknown"),
        (0, AgeBand.under_1, "Under 1", "Unknown"),
        (1, AgeBand.age_1_to_5, "1 to 5", "Unknown"),
        (5, AgeBand.age_1_to_5, "1 to 5", "Unknown"),
        (6, AgeBand.age_6_to_10, "6 to 10", "Unknown"),
        (15, AgeBand.age_11_to_15, "11 to 15", "Unknown"),
        (16, AgeBand.age_16_to_17, "16 and over", "16 to 21"),
        (21, AgeBand.age_18_to_21, "16 and over", "16 to 21"),
        (24, AgeBand.age_22_to_24, "16 and over", "22 to 24"),
        (25, None, "16 and over", "Unknown"),  # past the project's bands: the Department's 16 and over still
    ],
)
def test_an_age_has_one_band_and_the_departments_are_regroupings_of_it(
    age: int, band: AgeBand | None, department: str, care_leaver: str
) -> None:
    assert band_of_age(age) == band
    assert (child_band(age), care_leaver_band(age)) == (department, care_leaver)


def test_a_band_given_is_read_as_the_current_bands_name_it() -> None:
    assert band_given("6 to 10") == ("6 to 10", False)
    assert band_given("1-4") == ("1 to 5", False) and band_given("16-17") == ("16 to 17", False)  # earlier, fitting
    assert band_given("5-9") == ("unknown", True) and band_given("18-24 (a care leaver)") == ("unknown", True)
    assert band_given(None) == band_given("") == ("unknown", False)


def test_an_age_counts_a_birthday_on_the_day() -> None:
    assert age_on(dt.date(2016, 3, 1), dt.date(2026, 3, 1)) == 10
    assert age_on(dt.date(2016, 3, 2), dt.date(2026, 3, 1)) == 9
    assert age_on(dt.date(2016, 2, 29), dt.date(2026, 2, 28)) == 9  # 29 February's birthday falls on 1 March
