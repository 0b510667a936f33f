"""The figures of the compliance report's statistics, for one partnership or all, in three parts:

- **The Department's figures**, in the Department for Education's categories, labels and counting unit
  (models/department.py): one child per notification, the first listed, for the notifications it counts (serious
  incidents and looked-after children's deaths) made in a reporting year, by nature and by each breakdown it
  publishes; and, as their own voluntary table, care leavers' deaths by age group. ``department_csv`` writes them in
  the shape of the Department's data sets.
- **The project's own count of every child** notified in the year, of every kind, with the characteristics the
  identity step records: labelled as the project's own, never as the Department's.
- **The funnel** by reporting year: of the notifications made, how many were serious incidents, how many rapid
  reviews went to the Panel, how many local reviews were decided on and how many were published.

The children's characteristics and dates of birth are stored encrypted, like names: they are opened here, inside the
worker, turned into categories and counted, and never listed, stored or sent. Where a column of counts has one from 1
to 4, every count under 5 in it is **suppressed** (zeros too: a shown zero beside one hidden count gives it away)
together with its smallest count of 5 or more, and with no such count the whole column is; fewer than 5 in a total
suppresses it as well. Where a table's columns add up (a total and its parts, deaths split by abuse or neglect),
more cells are withheld until no withheld count can be worked out from a row or a column. Withheld counts read "c",
the Department's symbol. A partnership can look at disproportionality, as Working Together 2026 asks, without a
small count pointing at a child.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col

from models import age_bands, department, forms, review_keys, sealing
from models.department import SUPPRESSED, reporting_year
from models.rulebook import Event, NotificationKind
from models.tables import CasePerson, Milestone, Partnership, PersonKind, Review

SUPPRESS_BELOW = 5
FUNNEL = {
    "notifications": "Notifications",
    "serious_incidents": "of which serious incidents",
    "rapid_reviews": "Rapid reviews sent to the Panel",
    "local_reviews": "Local reviews decided on",
    "published": "Local reviews published",
}
KIND_LABELS = {
    NotificationKind.SERIOUS_INCIDENT.value: "Serious incident",
    NotificationKind.OUTSIDE_ENGLAND.value: "Died or seriously harmed outside England",
    NotificationKind.LOOKED_AFTER_DEATH.value: "Death of a looked-after child",
    NotificationKind.CARE_LEAVER_DEATH.value: "Death of a care leaver",
}
PLACEMENTS = [p.value for p in forms.Placement if p is not forms.Placement.not_looked_after]
BREAKDOWNS = department.breakdowns(
    [s.value for s in forms.Sex], [e.value for e in forms.Ethnicity], [d.value for d in forms.Disability], PLACEMENTS
)
# the columns of each breakdown: the total and its parts; the looked-after breakdown splits deaths by abuse or neglect
NATURES = [department.TOTAL, department.DEATH, department.HARM_AND_OTHER]
CLA_NATURES = [*NATURES, department.DEATH_ABUSE, department.DEATH_NO_ABUSE]
TOTAL_NATURES = [department.TOTAL, department.DEATH, department.HARM, department.OTHER]
OWN_AGE_BANDS = [a.value for a in forms.AgeBand if a is not forms.AgeBand.unknown] + ["unborn", "unknown"]
OWN_DIMENSIONS = {  # the project's own count of every child: what is counted, in order, with the values it can take
    "kind": ("What was notified", list(KIND_LABELS.values())),
    "nature": ("What happened to the child", [h.value for h in forms.Harm]),
    "sex": ("Sex", [s.value for s in forms.Sex]),
    "age_band": ("Age at the incident", OWN_AGE_BANDS),
    "ethnicity": ("Ethnicity", [e.value for e in forms.Ethnicity]),
    "disability": ("Disability", [d.value for d in forms.Disability]),
    "looked_after": ("Looked after", ["looked after", "not looked after"]),
    "placement": ("Placement (looked-after children)", PLACEMENTS),
    "cin_plan": ("On a child in need plan", [k.value for k in forms.Known]),
    "cp_plan": ("On a child protection plan", [k.value for k in forms.Known]),
    "known_to_agency": ("Known to any agency", [k.value for k in forms.Known]),
}


@dataclass
class Statistics:
    years: pd.DataFrame  # year (the Department's, e.g. 2026) and each FUNNEL count, oldest year first
    year: int  # the reporting year the rest is for, by the year it ends
    label: str  # "reporting year 2026 (April 2025 to March 2026)"
    notifications: int  # the Department's count: notifications of the kinds it counts, one child each
    department: pd.DataFrame  # breakdown_topic, heading, breakdown, nature, number (a count as text, or "c")
    quarters: pd.DataFrame  # quarter, label, number
    care_leaver_deaths: int
    care_leavers: pd.DataFrame  # breakdown_topic, breakdown, number
    unmapped: int  # first children (and care leavers) counted above whose earlier age band could not be mapped
    children: int  # the project's own: every child notified in the year
    characteristics: pd.DataFrame  # the project's own: dimension, label, value, count
    unmapped_children: int  # of every child, those whose earlier band could not be mapped

    @property
    def notifications_shown(self) -> str:
        return shown_total(self.notifications)

    @property
    def care_leaver_deaths_shown(self) -> str:
        return shown_total(self.care_leaver_deaths)

    @property
    def children_shown(self) -> str:
        return shown_total(self.children)


def statistics(
    session: Session, as_of: dt.date, partnership: str | None = None, *, year: int | None = None
) -> Statistics:
    """The figures for reporting year ``year`` (by default the one ``as_of`` falls in), and the funnel of every year."""
    reviews = _reviews(session, partnership)
    year = year if year is not None else reporting_year(as_of)
    notified = reviews.dropna(subset=["notified_on"])
    in_year = notified[notified["year"] == year]
    children = _children(session, in_year)
    first = _first_children(in_year, children)
    counted = first[first["kind"].isin([k.value for k in department.COUNTED_KINDS])]
    leavers = first[first["kind"] == department.CARE_LEAVER_KIND.value]
    return Statistics(
        years=_funnel(notified),
        year=year,
        label=department.year_label(year),
        notifications=len(counted),
        department=_department(counted),
        quarters=_quarters(counted),
        care_leaver_deaths=len(leavers),
        care_leavers=_care_leavers(leavers),
        unmapped=int(counted["unmapped"].sum() + leavers["leaver_unmapped"].sum()),
        children=len(children),
        characteristics=_own(children),
        unmapped_children=int(children["own_unmapped"].sum()),
    )


# --- reading ----------------------------------------------------------------------------------------------------


def _day(value: Any) -> dt.date | None:
    """SQLite gives ISO text, PostgreSQL dates, and pandas a missing value as None or NaN."""
    return None if value is None or pd.isna(value) else dt.date.fromisoformat(str(value)[:10])


def _reviews(session: Session, partnership: str | None) -> pd.DataFrame:
    """One row per review: what it notified, its milestones, and the reporting year of its notification."""
    events = [Event.NOTIFIED_ON, Event.RAPID_REVIEW_SENT_ON, Event.LCSPR_DECIDED_ON, Event.PUBLISHED_ON]
    columns = [
        sa.select(col(Milestone.on))
        .where(col(Milestone.review_id) == col(Review.id), col(Milestone.event) == event)
        .scalar_subquery()
        .label(event.value)
        for event in events
    ]
    query: Any = sa.select(
        col(Review.id).label("review_id"),
        col(Review.rapid_review_follows),
        col(Review.looked_after),
        col(Review.notification_kind).label("kind"),
        col(Review.harm),
        col(Review.abuse_or_neglect),
        col(Review.unborn),
        col(Review.incident_on),
        *columns,
    ).join(Partnership, col(Partnership.id) == col(Review.partnership_id))
    if partnership is not None:
        query = query.where(col(Partnership.code) == partnership)
    result = session.execute(query)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    frame["notified_on"] = [_day(v) for v in frame[Event.NOTIFIED_ON.value]]
    frame["incident_on"] = [_day(v) for v in frame["incident_on"]]
    for name in ("kind", "harm", "abuse_or_neglect"):  # enums as their stored values
        frame[name] = [getattr(v, "value", v) for v in frame[name]]
    frame["year"] = [None if day is None else reporting_year(day) for day in frame["notified_on"]]
    return frame


def _children(session: Session, reviews: pd.DataFrame) -> pd.DataFrame:
    """Every child of these reviews, in categories: characteristics and dates of birth decrypted here and counted,
    never listed. One row per child, with the review's own facts beside it."""
    by_id = {str(r["review_id"]): r for r in reviews.to_dict(orient="records")}
    rows = []
    for i in range(0, len(reviews), 500):  # a bounded IN list
        ids = list(reviews["review_id"].iloc[i : i + 500])
        people = session.execute(
            sa.select(
                col(CasePerson.id),
                col(CasePerson.review_id),
                col(CasePerson.pseudonym),
                col(CasePerson.position),
                col(CasePerson.age_band),
                col(CasePerson.date_of_birth),
                col(CasePerson.characteristics),
            ).where(col(CasePerson.review_id).in_(ids), col(CasePerson.kind) == PersonKind.CHILD)
        ).all()
        review_keys.preload(session, ids)
        for person_id, review_id, pseudonym, position, band, sealed_born, sealed in people:
            opened = sealing.open_value(session, review_id, CasePerson, "characteristics", person_id, sealed)
            born = sealing.open_value(session, review_id, CasePerson, "date_of_birth", person_id, sealed_born)
            rows.append(_child(by_id[str(review_id)], pseudonym, position, band, born, opened))
    return pd.DataFrame(rows, columns=_CHILD_COLUMNS)


_CHILD_COLUMNS = [
    "review_id", "pseudonym", "position", "kind", "nature", "death_nature", "cla", "sex", "age", "ethnicity",
    "disability", "placement", "cin", "cp", "known", "quarter", "unmapped", "leaver_age", "leaver_unmapped",
    "kind_label", "own_nature", "own_sex", "own_age", "own_ethnicity", "own_disability", "own_looked_after",
    "own_placement", "own_cin", "own_cp", "own_known", "own_unmapped",
]  # fmt: skip


def _child(
    review: dict[str, Any], pseudonym: str, position: int | None, band: str | None, born: str | None, opened: str | None
) -> dict[str, Any]:
    """One child in the Department's categories and in the project's own; the date of birth goes no further."""
    known: dict[str, str] = json.loads(opened) if opened else {}
    day: dt.date = review["incident_on"]
    birth = dt.date.fromisoformat(born) if born else None
    unborn = bool(review["unborn"])
    age, unmapped = department.age_band(born=birth, on=day, given=band, unborn=unborn)
    leaver_age, leaver_unmapped = department.age_band(born=birth, on=day, given=band, care_leaver=True)
    own_age, own_unmapped = _own_band(birth, day, band, unborn)
    cin, cp = department.plans(known)
    looked_after = bool(review["looked_after"])
    placement = known.get("placement", forms.Placement.not_known.value)
    if placement == forms.Placement.not_looked_after.value:  # said of a looked-after child: not known
        placement = forms.Placement.not_known.value
    return {
        "review_id": str(review["review_id"]),
        "pseudonym": pseudonym,
        "position": position,
        "kind": review["kind"],
        "nature": department.nature(review["harm"]),
        "death_nature": department.death_nature(review["abuse_or_neglect"]),
        "cla": department.YES if looked_after else department.NO,
        "sex": department.label(known.get("sex", forms.Sex.not_known.value)),
        "age": age,
        "ethnicity": department.label(known.get("ethnicity", forms.Ethnicity.not_known.value)),
        "disability": department.label(known.get("disability", forms.Disability.not_known.value)),
        "placement": department.label(placement) if looked_after else None,
        "cin": cin,
        "cp": cp,
        "known": department.yes_no(known.get("known_to_agency")),
        "quarter": department.quarter(review["notified_on"]),
        "unmapped": unmapped,
        "leaver_age": leaver_age,
        "leaver_unmapped": leaver_unmapped,
        # the project's own, in its own words
        "kind_label": KIND_LABELS[review["kind"]],
        "own_nature": review["harm"],
        "own_sex": known.get("sex", forms.Sex.not_known.value),
        "own_age": own_age,
        "own_ethnicity": known.get("ethnicity", forms.Ethnicity.not_known.value),
        "own_disability": known.get("disability", forms.Disability.not_known.value),
        "own_looked_after": "looked after" if looked_after else "not looked after",
        "own_placement": placement if looked_after else None,
        "own_cin": cin.lower(),
        "own_cp": cp.lower(),
        "own_known": department.yes_no(known.get("known_to_agency")).lower(),
        "own_unmapped": own_unmapped,
    }


_OWN_SOURCE = {  # each of the project's own dimensions, from the child's row
    "kind": "kind_label",
    "nature": "own_nature",
    "sex": "own_sex",
    "age_band": "own_age",
    "ethnicity": "own_ethnicity",
    "disability": "own_disability",
    "looked_after": "own_looked_after",
    "placement": "own_placement",
    "cin_plan": "own_cin",
    "cp_plan": "own_cp",
    "known_to_agency": "own_known",
}


def _own_band(born: dt.date | None, day: dt.date, given: str | None, unborn: bool) -> tuple[str, bool]:
    """The project's own band (its form's, which regroup into the Department's: models/age_bands.py), and whether it
    was unmappable."""
    if unborn:
        return "unborn", False
    if born is not None:
        of_age = age_bands.band_of_age(max(age_bands.age_on(born, day), 0))
        return (of_age or forms.AgeBand.unknown).value, False
    band, unmapped = age_bands.band_given(given)
    return (band if band in OWN_AGE_BANDS else "unknown"), unmapped


def _first_children(reviews: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """One child per notification, as the Department counts: the first listed (position 1), or for a review from
    before positions were kept, the first by pseudonym."""
    if children.empty:
        return children.copy()
    order = children.assign(
        _unplaced=children["position"].isna(),
        _position=children["position"].fillna(0),
        _name=children["pseudonym"].str.casefold(),
    ).sort_values(["review_id", "_unplaced", "_position", "_name"])
    return order.drop_duplicates("review_id").drop(columns=["_unplaced", "_position", "_name"])


# --- the Department's figures -----------------------------------------------------------------------------------


def _department(counted: pd.DataFrame) -> pd.DataFrame:
    """The notifications by nature (the total row) and each breakdown by nature, suppressed, in the order shown."""
    rows: list[dict[str, str]] = []
    total = _count_natures(counted, [department.TOTAL], TOTAL_NATURES, None)
    for (breakdown, nature), number in _protect(total, [(department.TOTAL, TOTAL_NATURES[1:])], None).items():
        rows.append({"breakdown_topic": "Total", "heading": "Total", "breakdown": breakdown, "nature": nature} | number)
    for topic, (heading, values) in BREAKDOWNS.items():
        column = _TOPIC_COLUMN[topic]
        frame = counted[counted["cla"] == department.YES] if topic == "Placement type" else counted
        natures = CLA_NATURES if topic == "CLA" else NATURES
        groups = [(department.TOTAL, [department.DEATH, department.HARM_AND_OTHER])]
        if topic == "CLA":
            groups.append((department.DEATH, [department.DEATH_ABUSE, department.DEATH_NO_ABUSE]))
        grid = _count_natures(frame, values, natures, column)
        for (breakdown, nature), number in _protect(grid, groups, len(frame)).items():
            rows.append(
                {"breakdown_topic": topic, "heading": heading, "breakdown": breakdown, "nature": nature} | number
            )
    return pd.DataFrame(rows, columns=["breakdown_topic", "heading", "breakdown", "nature", "number"])


_TOPIC_COLUMN = {
    "CLA": "cla",
    "Sex": "sex",
    "Age group": "age",
    "Ethnicity": "ethnicity",
    "Disability": "disability",
    "Placement type": "placement",
    "CIN plan": "cin",
    "CP plan": "cp",
    "Known to any agency": "known",
}


def _count_natures(frame: pd.DataFrame, values: list[str], natures: list[str], column: str | None) -> pd.DataFrame:
    """A grid of counts: one row per value of the breakdown (or one Total row), one column per nature."""
    grid = pd.DataFrame(0, index=values, columns=natures, dtype=int)
    for row in frame.to_dict(orient="records"):
        value = department.TOTAL if column is None else row[column]
        if value not in grid.index:
            continue
        death = row["nature"] == department.DEATH
        for nature in natures:
            if (
                nature == department.TOTAL
                or nature == row["nature"]
                or (nature == department.HARM_AND_OTHER and not death)
                or (death and nature == row["death_nature"])
            ):
                grid.loc[value, nature] += 1
    return grid


def _protect(
    grid: pd.DataFrame, groups: list[tuple[str, list[str]]], total: int | None
) -> dict[tuple[str, str], dict[str, str]]:
    """The grid's counts as text, suppressed. Each column first as ``suppress`` does (the total row of the
    notifications: its parts, and its total as ``shown_total``); then, while a row's total and its parts (``groups``)
    or a column (whose sum, the breakdown's total, is shown) has exactly one withheld count, which the others would
    give away, the smallest shown count beside it is withheld too."""
    hidden = pd.DataFrame(False, index=grid.index, columns=grid.columns)
    if total is None:  # the total row: the parts are one characteristic, the total one count
        parts = [c for c in grid.columns if c != department.TOTAL]
        row = grid.index[0]
        hidden.loc[row, parts] = (suppress(grid.loc[row, parts]) == SUPPRESSED).to_numpy()
        hidden.loc[row, department.TOTAL] = shown_total(int(grid.loc[row, department.TOTAL])) == SUPPRESSED
    else:
        for column in grid.columns:
            hidden[column] = suppress(grid[column]) == SUPPRESSED
    lines = [[(r, c) for c in [t, *ps]] for r in grid.index for t, ps in groups]
    if total is not None:
        lines += [[(r, c) for r in grid.index] for c in grid.columns]
    changed = True
    while changed:
        changed = False
        for cells in lines:
            withheld = [cell for cell in cells if hidden.loc[cell]]
            shown = [cell for cell in cells if not hidden.loc[cell]]
            if len(withheld) == 1 and shown:
                hidden.loc[min(shown, key=lambda cell: int(grid.loc[cell]))] = True
                changed = True
    return {
        (str(r), str(c)): {"number": SUPPRESSED if hidden.loc[r, c] else str(int(grid.loc[r, c]))}
        for r in grid.index
        for c in grid.columns
    }


def _quarters(counted: pd.DataFrame) -> pd.DataFrame:
    counts = counted["quarter"].value_counts().reindex(list(department.QUARTERS), fill_value=0).astype(int)
    shown = suppress(counts)
    return pd.DataFrame(
        [{"quarter": q, "label": department.QUARTERS[q], "number": shown[q]} for q in department.QUARTERS],
        columns=["quarter", "label", "number"],
    )


def _care_leavers(leavers: pd.DataFrame) -> pd.DataFrame:
    counts = leavers["leaver_age"].value_counts().reindex(list(department.CARE_LEAVER_BANDS), fill_value=0)
    rows = [{"breakdown_topic": "Total", "breakdown": "Total", "number": shown_total(len(leavers))}]
    for band, shown in suppress(counts.astype(int)).items():
        rows.append({"breakdown_topic": "Age group", "breakdown": str(band), "number": shown})
    return pd.DataFrame(rows, columns=["breakdown_topic", "breakdown", "number"])


# --- the project's own count, and the funnel --------------------------------------------------------------------


def _own(children: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for dimension, (label, values) in OWN_DIMENSIONS.items():
        column = children[_OWN_SOURCE[dimension]].dropna()
        counts = column.value_counts().reindex(values, fill_value=0).astype(int)
        for value, shown in suppress(counts).items():
            rows.append({"dimension": dimension, "label": label, "value": value, "count": shown})
    return pd.DataFrame(rows, columns=["dimension", "label", "value", "count"])


def _funnel(notified: pd.DataFrame) -> pd.DataFrame:
    if notified.empty:
        return pd.DataFrame(columns=["year", *FUNNEL])
    grouped = notified.groupby("year")
    return (
        pd.DataFrame(
            {
                "notifications": grouped.size(),
                "serious_incidents": grouped["rapid_review_follows"].sum(),
                "rapid_reviews": grouped[Event.RAPID_REVIEW_SENT_ON.value].count(),
                "local_reviews": grouped[Event.LCSPR_DECIDED_ON.value].count(),
                "published": grouped[Event.PUBLISHED_ON.value].count(),
            }
        )
        .astype(int)
        .reset_index()
        .sort_values("year")
    )


def suppress(counts: pd.Series) -> pd.Series:
    """One characteristic's counts as text. With no count from 1 to 4, all are shown. Otherwise every count under 5
    is suppressed, zeros included (a zero shown beside one hidden count would give it away, as the total is shown),
    and so is the smallest count of 5 or more, so that the hidden ones add up to at least 5 and no hidden count can be
    worked out from the total; with no such count, all are."""
    if not ((counts > 0) & (counts < SUPPRESS_BELOW)).any():
        return counts.astype(str)
    hidden = counts < SUPPRESS_BELOW
    larger = counts[~hidden]
    if larger.empty:
        hidden[:] = True
    else:
        hidden[larger.idxmin()] = True
    return counts.astype(str).where(~hidden, SUPPRESSED)


def shown_total(total: int) -> str:
    """A total, suppressed under 5 like any count."""
    return str(total) if total == 0 or total >= SUPPRESS_BELOW else SUPPRESSED


# --- the CSV ----------------------------------------------------------------------------------------------------

CSV_COLUMNS = [
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


def department_csv(found: Statistics, code: str | None, name: str) -> str:
    """The Department's figures as tidy rows in the shape of its explore-education-statistics data sets ("Nature and
    characteristics of notifications" and "Care leaver death notifications", reporting year 2026): time_period,
    time_identifier ("Reporting year"), quarter, geographic_level, breakdown_topic, breakdown,
    nature_of_notification, number_notifications, with "c" for a withheld count. The Department's files are
    national (geographic_level "National", country_code, country_name); a partnership is no level of theirs, so
    geographic_level reads "Safeguarding partnership" (or "All partnerships") and partnership_code and
    partnership_name take the place of the country's columns. Its quarter column's values for a quarter were not
    found; they are written Q1 (April to June) to Q4 (January to March). Care leavers' deaths, a separate data set
    there, are the rows whose nature_of_notification is "Care leaver death"."""
    place = {
        "time_period": str(found.year),
        "time_identifier": "Reporting year",
        "geographic_level": "Safeguarding partnership" if code else "All partnerships",
        "partnership_code": code or "all",
        "partnership_name": name,
    }
    rows = []
    for r in found.department.to_dict(orient="records"):
        rows.append(
            place
            | {"quarter": "Total", "breakdown_topic": r["breakdown_topic"], "breakdown": r["breakdown"]}
            | {"nature_of_notification": r["nature"], "number_notifications": r["number"]}
        )
    for r in found.quarters.to_dict(orient="records"):
        rows.append(
            place
            | {"quarter": r["quarter"], "breakdown_topic": "Total", "breakdown": "Total"}
            | {"nature_of_notification": department.TOTAL, "number_notifications": r["number"]}
        )
    for r in found.care_leavers.to_dict(orient="records"):
        rows.append(
            place
            | {"quarter": "Total", "breakdown_topic": r["breakdown_topic"], "breakdown": r["breakdown"]}
            | {"nature_of_notification": "Care leaver death", "number_notifications": r["number"]}
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
