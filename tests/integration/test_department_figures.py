"""The Department's figures, counted by hand from a table of invented notifications, and the same counts in the
compliance report's data and in `cspr report department`'s CSV (SQLite and PostgreSQL).

Reporting year 2026 is 1 April 2025 to 31 March 2026. Every notification is in northshire. "First" is the child the
Department counts (position 1; for C5, recorded as before positions were kept, the first by pseudonym).

    group kind              harm        abuse      LA  notified     first child                          children
    A x6  serious incident  seriously   suspected  no  2025-06-10   born 2022-06-01, incident 2025-06-01: 3  2 (the
                            harmed                                  -> "1 to 5"; female, White, not disabled;   second:
                                                                    CIN yes, CP no, known yes                  2012,
                                                                                                               CP yes)
    B x5  serious incident  died        known      no  2025-10-15   band "6 to 10"; male, Asian; CIN no,      1
                                                                    CP yes, known yes
    C1    looked-after      died        not known  yes 2026-03-31   born 2010-03-31, incident 2026-03-31: a   1
          death                         or susp.                    birthday on the day, 16 -> "16 and over";
                                                                    male; foster placement; CIN yes AND CP
                                                                    yes; known no
    C2    serious incident  died        suspected  yes 2026-04-01   (reporting year 2027: not counted)        1
    C3    outside England   seriously   suspected  no  2025-04-01   old band "5-9" -> Unknown (unmappable);   1
                            harmed                                  old plan "child protection plan" ->
                                                                    CP yes, CIN not known
    C4    serious incident  seriously   suspected  no  2026-01-05   unborn -> Unknown; nothing recorded       1
                            harmed
    C5    serious incident  other       suspected  no  2025-07-01   "Child Z" (16-17) listed first, "Child    2
                                                                    B" (1-4) second, positions lost: Child B
                                                                    counts -> "1 to 5"; female; old plan
                                                                    "neither" -> CIN no, CP no
    Y     serious incident  seriously   suspected  no  2025-03-31   (reporting year 2025: not counted)        1
    L x12 care leaver death died        not known  no  in the year  6 "16 to 21" (born 2004-06-15, incident    1
                                                                    2025-06-14: 20; born 2009-05-01, incident
                                                                    2025-05-01: 16 on the day; four "18 to 21"),
                                                                    5 "22 to 24" (four given; born 2001-01-10,
                                                                    incident 2025-12-01: 24), 1 "unknown"
    L2    care leaver death died        not known  no  2026-04-01   (reporting year 2027)                     1

The Department's count for 2026: A 6 + B 5 + C1 + C3 + C4 + C5 = 15 notifications (care leavers apart: 12).
    nature: child death B 5 + C1 = 6, serious harm A 6 + C3 + C4 = 8, other C5 = 1
        -> 1 is withheld, and the smallest of 5 or more (6) with it: Total 15, Child death c, Serious harm 8, Other c
    CP plan   Total      Child death   Serious harm and other
      Yes     7 (B,C1,C3) 6 (B,C1)     1 (C3)
      No      7 (A,C5)   0             7 (A,C5)
      NK      1 (C4)     0             1 (C4)
        -> columns: Total [7,7,1]: 1 and the first 7 withheld; Death [6,0,0] all shown; Harm and other [1,7,1] all
           withheld. Rows: No has its Total shown and one part withheld, so Death 0 is withheld; then the Death
           column has one withheld, so its smallest shown (NK's 0) is too. Yes: c, 6, c. No: 7, c, c. NK: c, c, c.
    CIN plan  Yes 7 (A,C1), No 6 (B,C5), Not known 2 (C3,C4) -> Total: 7, c, c
    Sex       Female 7 (A,C5), Male 6 (B,C1), Not known 2 -> Total: 7, c, c
    Age       Under 1 0, 1 to 5 7 (A,C5), 6 to 10 5 (B), 11 to 15 0, 16 and over 1 (C1), Unknown 2 (C3,C4)
        -> Total: c, 7, c, c, c, c
    CLA       Yes 1 (C1, a death with no abuse or neglect), No 14 -> Total c, c; No's serious harm and other 9, its
              deaths with abuse or neglect 5, Yes's 0 and 0: shown
    Placement foster placement 1 (a death), every other 0 -> the Total and Child death columns all c; no child in
              care was harmed, so the serious harm and other column's zeros are shown
    Quarter   Q1 7 (A, C3), Q2 1 (C5), Q3 5 (B), Q4 2 (C1, C4) -> 7, c, c, c
    Unmappable earlier bands: C3 -> 1 (the earlier "18-24 (a care leaver)" is longer than the column holds on
    PostgreSQL, so no review can hold it there: it is checked on its own below)
Care leavers' deaths: Total 12; 16 to 21: 6, 22 to 24: 5, Unknown: 1 -> 12, 6, c, c
The project's own count of every child in 2026: A 12 + B 5 + C1 + C3 + C4 + C5 2 + L 12 = 34
    what was notified: serious incident 20 (A 12, B 5, C4, C5 2), outside England 1, looked-after death 1, care
        leaver 12 -> 20, c, c, c
    age: 1 to 5 7 (A, C5's Child B), 6 to 10 5, 11 to 15 6 (A's second children), 16 to 17 3 (C1, Child Z, the
        16-year-old care leaver), 18 to 21 5, 22 to 24 5, unborn 1, unknown 2 (C3, the care leaver of unknown age)
        -> under 1 c, 7, c, 6, c, 5, 5, c, c (the first 5 of 6 to 10 withheld as the smallest of 5 or more)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app
from models.compliance import Period, compliance
from models.db import transaction
from models.forms import AbuseOrNeglect, Harm
from models.review import creation, timetable, transitions
from models.review.creation import ChildRecord, IncidentRecord
from models.rulebook import Event, NotificationKind
from models.settings import get_settings
from models.statistics import department_csv, statistics
from models.tables import CasePerson
from tasks.compliance_report import context
from tests.utils.factories import make_partnership

D = dt.date
COORDINATOR = transitions.Actor("Chris Lee", "coordinator")
K = NotificationKind
_count = 0


def notify(
    session: Session,
    children: Sequence[ChildRecord],
    *,
    notified: dt.date,
    incident_on: dt.date | None = None,
    kind: K = K.SERIOUS_INCIDENT,
    harm: Harm = Harm.seriously_harmed,
    abuse: AbuseOrNeglect = AbuseOrNeglect.suspected,
    looked_after: bool = False,
    unborn: bool = False,
) -> None:
    global _count
    _count += 1
    incident_on = incident_on or notified - dt.timedelta(days=3)
    record = IncidentRecord(
        partnership_code="northshire",
        incident_on=incident_on,
        aware_on=incident_on,
        harm=harm,
        abuse_or_neglect=abuse,
        looked_after=looked_after,
        children=[  # the pseudonyms make each notification its own incident
            ChildRecord(**{**c.__dict__, "pseudonym": f"{c.pseudonym} {_count}"}) for c in children
        ],
        kind=kind,
        rapid_review_follows=kind in (K.SERIOUS_INCIDENT, K.OUTSIDE_ENGLAND),
        unborn=unborn,
    )
    review, _ = creation.create_review(session, record, actor=COORDINATOR)
    timetable.set_milestones(session, review, {Event.NOTIFIED_ON: notified})
    if kind is K.SERIOUS_INCIDENT and harm is Harm.other:  # C5: recorded before positions were kept
        for person in session.exec(select(CasePerson).where(CasePerson.review_id == review.id)):
            person.position = None
        session.flush()


def child(name: str = "Child", **kw: object) -> ChildRecord:
    characteristics: Mapping[str, str] | None = kw.pop("characteristics", None)  # type: ignore[assignment]
    return ChildRecord(pseudonym=name, name="Invented Person", characteristics=characteristics, **kw)  # type: ignore[arg-type]


def invented_notifications(engine: Engine | None) -> None:
    with transaction(engine) as session:
        make_partnership(session)
        for _ in range(6):  # A
            first = child(
                "Child A",
                date_of_birth=D(2022, 6, 1),
                characteristics={
                    "sex": "female",
                    "ethnicity": "White",
                    "disability": "not disabled",
                    "child_in_need_plan": "yes",
                    "child_protection_plan": "no",
                    "known_to_agency": "yes",
                },
            )
            second = child(
                "Child A2",
                date_of_birth=D(2012, 9, 1),
                characteristics={"sex": "male", "child_in_need_plan": "no", "child_protection_plan": "yes"},
            )
            notify(session, [first, second], notified=D(2025, 6, 10), incident_on=D(2025, 6, 1))
        for _ in range(5):  # B
            b = child(
                "Child B",
                age_band="6 to 10",
                characteristics={
                    "sex": "male",
                    "ethnicity": "Asian or Asian British",
                    "child_in_need_plan": "no",
                    "child_protection_plan": "yes",
                    "known_to_agency": "yes",
                },
            )
            notify(session, [b], notified=D(2025, 10, 15), harm=Harm.died, abuse=AbuseOrNeglect.known)
        c1 = child(
            "Child C",
            date_of_birth=D(2010, 3, 31),
            characteristics={
                "sex": "male",
                "placement": "foster placement",
                "child_in_need_plan": "yes",
                "child_protection_plan": "yes",
                "known_to_agency": "no",
            },
        )
        died_in_care = dict(kind=K.LOOKED_AFTER_DEATH, harm=Harm.died, looked_after=True)
        notify(
            session,
            [c1],
            notified=D(2026, 3, 31),
            incident_on=D(2026, 3, 31),
            abuse=AbuseOrNeglect.not_suspected,
            **died_in_care,  # type: ignore[arg-type]
        )
        c2 = child("Child D", date_of_birth=D(2015, 4, 1), characteristics={"placement": "foster placement"})
        notify(session, [c2], notified=D(2026, 4, 1), harm=Harm.died, looked_after=True)
        c3 = child("Child E", age_band="5-9", characteristics={"plan": "child protection plan"})
        notify(session, [c3], notified=D(2025, 4, 1), kind=K.OUTSIDE_ENGLAND)
        notify(session, [child("Child F")], notified=D(2026, 1, 5), unborn=True)
        c5 = [
            child("Child Z", age_band="16-17", characteristics={"sex": "male", "plan": "child protection plan"}),
            child("Child B", age_band="1-4", characteristics={"sex": "female", "plan": "neither"}),
        ]
        notify(session, c5, notified=D(2025, 7, 1), harm=Harm.other)
        notify(session, [child("Child Y", age_band="11 to 15")], notified=D(2025, 3, 31))
        leaver = dict(kind=K.CARE_LEAVER_DEATH, harm=Harm.died, abuse=AbuseOrNeglect.not_suspected)
        leavers = [
            (child("Young person", date_of_birth=D(2004, 6, 15)), D(2025, 6, 14)),  # 20, a day short of 21
            (child("Young person", date_of_birth=D(2009, 5, 1)), D(2025, 5, 1)),  # 16 on the day
            *[(child("Young person", age_band="18 to 21"), D(2025, 8, 1 + n)) for n in range(4)],
            *[(child("Young person", age_band="22 to 24"), D(2025, 11, 1 + n)) for n in range(4)],
            (child("Young person", date_of_birth=D(2001, 1, 10)), D(2025, 12, 1)),  # 24
            (child("Young person", age_band="unknown"), D(2025, 9, 1)),
        ]
        for person, on in leavers:
            notify(session, [person], notified=on + dt.timedelta(days=2), incident_on=on, **leaver)  # type: ignore[arg-type]
        notify(session, [child("Young person", age_band="18 to 21")], notified=D(2026, 4, 1), **leaver)  # type: ignore[arg-type]


def table(frame: object, topic: str) -> dict[tuple[str, str], str]:
    rows = frame.to_dict(orient="records")  # type: ignore[attr-defined]
    return {(r["breakdown"], r["nature"]): r["number"] for r in rows if r["breakdown_topic"] == topic}


def test_the_department_figures_counted_by_hand(engine: Engine) -> None:
    invented_notifications(engine)
    with Session(engine) as session:
        found = statistics(session, D(2026, 12, 31), "northshire", year=2026)
    assert found.label == "reporting year 2026 (April 2025 to March 2026)"
    assert (found.notifications, found.care_leaver_deaths, found.children) == (15, 12, 34)
    assert (found.unmapped, found.unmapped_children) == (1, 1)
    assert table(found.department, "Total") == {
        ("Total", "Total"): "15",
        ("Total", "Child death"): "c",
        ("Total", "Serious harm"): "8",
        ("Total", "Other"): "c",
    }
    assert table(found.department, "CP plan") == {
        ("Yes", "Total"): "c",
        ("Yes", "Child death"): "6",
        ("Yes", "Serious harm and other"): "c",
        ("No", "Total"): "7",
        ("No", "Child death"): "c",
        ("No", "Serious harm and other"): "c",
        ("Not known", "Total"): "c",
        ("Not known", "Child death"): "c",
        ("Not known", "Serious harm and other"): "c",
    }
    cin, sex, age = (table(found.department, t) for t in ("CIN plan", "Sex", "Age group"))
    assert [cin[(v, "Total")] for v in ("Yes", "No", "Not known")] == ["7", "c", "c"]
    assert [sex[(v, "Total")] for v in ("Female", "Male", "Not known")] == ["7", "c", "c"]
    bands = ["Under 1", "1 to 5", "6 to 10", "11 to 15", "16 and over", "Unknown"]
    assert [age[(b, "Total")] for b in bands] == ["c", "7", "c", "c", "c", "c"]
    cla = table(found.department, "CLA")
    assert (cla[("Yes", "Total")], cla[("No", "Total")]) == ("c", "c")
    assert (cla[("No", "Serious harm and other")], cla[("No", "Child death: abuse/neglect")]) == ("9", "5")
    assert (cla[("Yes", "Serious harm and other")], cla[("Yes", "Child death: abuse/neglect")]) == ("0", "0")
    placement = table(found.department, "Placement type")
    assert {n for (_, nature), n in placement.items() if nature != "Serious harm and other"} == {"c"}
    assert {n for (_, nature), n in placement.items() if nature == "Serious harm and other"} == {"0"}
    assert list(found.quarters["number"]) == ["7", "c", "c", "c"]
    assert table(found.care_leavers.assign(nature="-"), "Total") == {("Total", "-"): "12"}
    assert list(found.care_leavers[found.care_leavers["breakdown_topic"] == "Age group"]["number"]) == ["6", "c", "c"]
    own = {(r.dimension, r.value): r.count for r in found.characteristics.itertuples()}
    kinds = ["Serious incident", "Died or seriously harmed outside England", "Death of a looked-after child"]
    assert [own[("kind", k)] for k in [*kinds, "Death of a care leaver"]] == ["20", "c", "c", "c"]
    own_bands = ["under 1", "1 to 5", "6 to 10", "11 to 15", "16 to 17", "18 to 21", "22 to 24", "unborn", "unknown"]
    assert [own[("age_band", b)] for b in own_bands] == ["c", "7", "c", "6", "c", "5", "5", "c", "c"]
    years = {r["year"]: r["notifications"] for r in found.years.to_dict(orient="records")}
    assert years == {2025: 1, 2026: 27, 2027: 2}


def test_the_report_and_the_csv_give_the_same_counts(engine: Engine) -> None:
    invented_notifications(engine)
    with Session(engine) as session:
        figures = compliance(session, Period(D(2025, 4, 1), D(2026, 3, 31)), "northshire", today=D(2026, 12, 31))
    assert figures.statistics is not None and figures.statistics.year == 2026
    shown = context(figures, {}, dt.datetime(2026, 12, 31, 9, 0, tzinfo=dt.UTC))["statistics"]
    assert shown["label"] == "reporting year 2026 (April 2025 to March 2026)"
    assert shown["notifications"] == "15" and shown["care_leaver_deaths"] == "12"
    assert shown["unmapped"] == 1
    cp = next(t for t in shown["department"] if t["topic"] == "CP plan")
    assert cp["heading"] == "Child protection plan"
    assert [r["numbers"] for r in cp["rows"]] == [["c", "6", "c"], ["7", "c", "c"], ["c", "c", "c"]]

    text = department_csv(figures.statistics, "northshire", "Northshire Safeguarding Children Partnership")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "time_period",
        "time_identifier",
        "quarter",
        "geographic_level",
        "partnership_code",
        "partnership_name",
        "breakdown_topic",
        "breakdown",
        "nature_of_notification",
        "number_notifications",
    ]
    assert {(r["time_period"], r["time_identifier"], r["geographic_level"]) for r in rows} == {
        ("2026", "Reporting year", "Safeguarding partnership")
    }
    number = {
        (r["quarter"], r["breakdown_topic"], r["breakdown"], r["nature_of_notification"]): r["number_notifications"]
        for r in rows
    }
    assert number[("Total", "Total", "Total", "Total")] == "15"
    assert number[("Total", "Total", "Total", "Serious harm")] == "8"
    assert number[("Total", "CP plan", "Yes", "Child death")] == "6"
    assert number[("Total", "CP plan", "No", "Total")] == "7"
    assert number[("Total", "CLA", "No", "Child death: abuse/neglect")] == "5"
    assert [number[(q, "Total", "Total", "Total")] for q in ("Q1", "Q2", "Q3", "Q4")] == ["7", "c", "c", "c"]
    assert number[("Total", "Total", "Total", "Care leaver death")] == "12"
    assert number[("Total", "Age group", "16 to 21", "Care leaver death")] == "6"
    assert number[("Total", "Age group", "22 to 24", "Care leaver death")] == "c"
    assert "Invented Person" not in text and "2022-06-01" not in text


@pytest.mark.parametrize(
    ("born", "on", "band"),
    [
        (D(2025, 4, 1), D(2026, 3, 31), "Under 1"),  # a day short of 1
        (D(2025, 3, 31), D(2026, 3, 31), "1 to 5"),  # 1 on the day
        (D(2020, 4, 1), D(2026, 3, 31), "1 to 5"),  # a day short of 6
        (D(2010, 3, 31), D(2026, 3, 31), "16 and over"),
        (D(2012, 2, 29), D(2023, 2, 28), "6 to 10"),  # a 29 February birthday: 11 only on 1 March
        (D(2012, 2, 29), D(2023, 3, 1), "11 to 15"),
    ],
)
def test_the_age_at_the_incident(born: dt.date, on: dt.date, band: str) -> None:
    from models.department import age_band

    assert age_band(born=born, on=on, given="unknown") == (band, False)


def test_the_earlier_bands_and_plans() -> None:
    from models.department import age_band, plans, quarter, reporting_year

    on = D(2026, 1, 1)
    assert age_band(born=None, on=on, given="1-4") == ("1 to 5", False)
    assert age_band(born=None, on=on, given="16-17") == ("16 and over", False)
    assert age_band(born=None, on=on, given="under 1") == ("Under 1", False)
    assert age_band(born=None, on=on, given="5-9") == ("Unknown", True)
    assert age_band(born=None, on=on, given="10-15") == ("Unknown", True)
    assert age_band(born=None, on=on, given="16 to 17", care_leaver=True) == ("16 to 21", False)
    assert age_band(born=None, on=on, given="18-24 (a care leaver)", care_leaver=True) == ("Unknown", True)
    assert age_band(born=D(2001, 1, 2), on=on, given=None, care_leaver=True) == ("22 to 24", False)
    assert age_band(born=D(2020, 1, 1), on=on, given=None, unborn=True) == ("Unknown", False)
    assert plans({"plan": "child protection plan"}) == ("Not known", "Yes")
    assert plans({"plan": "child in need plan"}) == ("Yes", "Not known")
    assert plans({"plan": "neither"}) == ("No", "No")
    assert plans({"plan": "not known"}) == plans({}) == ("Not known", "Not known")
    assert plans({"child_in_need_plan": "yes", "child_protection_plan": "yes"}) == ("Yes", "Yes")
    assert [reporting_year(d) for d in (D(2025, 3, 31), D(2025, 4, 1), D(2026, 3, 31), D(2026, 4, 1))] == [
        2025,
        2026,
        2026,
        2027,
    ]
    assert [quarter(D(2025, m, 15)) for m in (4, 6, 7, 12)] + [quarter(D(2026, 1, 1)), quarter(D(2026, 3, 31))] == [
        "Q1",
        "Q1",
        "Q2",
        "Q3",
        "Q4",
        "Q4",
    ]


def test_the_department_command_writes_the_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        invented_notifications(None)  # the database CSPR_HOME names, as the command's
        out = tmp_path / "department.csv"
        done = runner.invoke(
            app, ["report", "department", "--partnership", "northshire", "--year", "2026", "--output", str(out)]
        )
        assert done.exit_code == 0, done.output
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        assert {r["time_period"] for r in rows} == {"2026"}
        totals = [r for r in rows if r["breakdown_topic"] == "Total" and r["quarter"] == "Total"]
        assert [(r["nature_of_notification"], r["number_notifications"]) for r in totals] == [
            ("Total", "15"),
            ("Child death", "c"),
            ("Serious harm", "8"),
            ("Other", "c"),
            ("Care leaver death", "12"),
        ]
        nowhere = runner.invoke(app, ["report", "department", "--partnership", "westmarch"])
        assert nowhere.exit_code != 0 and "no partnership 'westmarch'" in nowhere.output
    finally:
        get_settings.cache_clear()
