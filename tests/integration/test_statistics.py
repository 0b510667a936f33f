"""The statistics in the compliance report: notifications by reporting year, the funnel, and the children's
characteristics (the project's own count of every child), encrypted at rest and shown only in aggregate with small
counts withheld as "c" (SQLite and PostgreSQL). The Department's own figures:
tests/integration/test_department_figures.py."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.db import transaction
from models.department import SUPPRESSED, reporting_year
from models.review import creation, timetable, transitions
from models.review.creation import ChildRecord
from models.rulebook import Event
from models.statistics import shown_total, statistics, suppress
from tests.utils.factories import incident, make_partnership

D = dt.date
COORDINATOR = transitions.Actor("Chris Lee", "coordinator")


@pytest.mark.parametrize(("day", "year"), [(D(2026, 3, 31), 2026), (D(2026, 4, 1), 2027), (D(2099, 12, 31), 2100)])
def test_the_reporting_year_runs_from_april_to_march_named_by_its_end(day: dt.date, year: int) -> None:
    assert reporting_year(day) == year


@pytest.mark.parametrize(
    ("counts", "shown"),
    [
        ([12, 7, 0], ["12", "7", "0"]),  # nothing from 1 to 4: all shown, zero too
        ([12, 7, 3], ["12", SUPPRESSED, SUPPRESSED]),  # 3 hidden, and 7 with it: or 3 = total - 19
        ([12, 7, 3, 0], ["12", SUPPRESSED, SUPPRESSED, SUPPRESSED]),  # and the zero: or the 3 and the 7 could be told
        ([1, 1, 13], [SUPPRESSED, SUPPRESSED, SUPPRESSED]),  # 1 + 1 = 15 - 13 would give both away
        ([1, 0, 0], [SUPPRESSED, SUPPRESSED, SUPPRESSED]),  # nothing to hide it among: nothing shown
    ],
)
def test_counts_under_5_are_suppressed(counts: list[int], shown: list[str]) -> None:
    assert list(suppress(pd.Series(counts, index=list("abcd")[: len(counts)]))) == shown


def test_fewer_than_5_children_are_not_counted_out_loud() -> None:
    assert [shown_total(n) for n in (0, 1, 4, 5, 18)] == ["0", SUPPRESSED, SUPPRESSED, "5", "18"]


def notified(engine: Engine, n: int, on: dt.date, **characteristics: str) -> None:
    with transaction(engine) as session:
        for i in range(n):
            child = ChildRecord(
                pseudonym="Child N",
                age_band="under 1",  # the earlier band and the current one read the same
                name="Ottoline Prewitt-Haverly",
                characteristics=characteristics,
            )
            review, _ = creation.create_review(
                session,
                dataclasses.replace(incident(aware_on=on - dt.timedelta(days=i + 1)), children=[child]),
                actor=COORDINATOR,
            )
            timetable.set_milestones(session, review, {Event.NOTIFIED_ON: on, Event.RAPID_REVIEW_SENT_ON: on})


def test_the_funnel_and_the_characteristics_of_a_year(engine: Engine) -> None:
    with transaction(engine) as session:
        make_partnership(session)
    notified(engine, 6, D(2026, 5, 4), sex="female", ethnicity="White")
    notified(engine, 2, D(2026, 6, 1), sex="male", ethnicity="Asian or Asian British")
    notified(engine, 7, D(2027, 3, 31))  # nothing recorded: not known
    notified(engine, 3, D(2025, 6, 2), sex="male")  # the year before
    with Session(engine) as session:
        found = statistics(session, D(2026, 11, 30), "northshire")
    assert found.year == 2027 and found.children == 15 and found.notifications == 15
    assert found.years.to_dict(orient="records") == [
        {
            "year": 2026,
            "notifications": 3,
            "serious_incidents": 3,
            "rapid_reviews": 3,
            "local_reviews": 0,
            "published": 0,
        },
        {
            "year": 2027,
            "notifications": 15,
            "serious_incidents": 15,
            "rapid_reviews": 15,
            "local_reviews": 0,
            "published": 0,
        },
    ]
    shown = {(r.dimension, r.value): r.count for r in found.characteristics.itertuples()}
    # 2 boys: suppressed, and the 6 girls with them, or the 2 could be worked out from the 15
    assert (shown[("sex", "male")], shown[("sex", "female")], shown[("sex", "not known")]) == (
        SUPPRESSED,
        SUPPRESSED,
        "7",
    )
    assert shown[("ethnicity", "Asian or Asian British")] == shown[("ethnicity", "White")] == SUPPRESSED
    assert shown[("ethnicity", "Black, Black British, Caribbean or African")] == SUPPRESSED  # a zero among them too
    assert shown[("ethnicity", "not known or refused")] == "7"
    assert shown[("age_band", "under 1")] == "15" and shown[("looked_after", "not looked after")] == "15"
    # the Department's age band for the same children, one per notification
    ages = found.department[found.department["breakdown_topic"] == "Age group"]
    assert ages[(ages["breakdown"] == "Under 1") & (ages["nature"] == "Total")]["number"].tolist() == ["15"]


def test_the_characteristics_are_encrypted_at_rest(engine: Engine) -> None:
    with transaction(engine) as session:
        make_partnership(session)
    notified(engine, 1, D(2026, 5, 4), sex="female", ethnicity="Mixed or multiple ethnic groups")
    with engine.connect() as raw:
        stored = raw.execute(sa.text("SELECT characteristics FROM case_person")).scalar_one()
    assert "Mixed" not in stored and "female" not in stored
