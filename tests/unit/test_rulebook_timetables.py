"""Golden timetables: every edition's deadlines for a spread of invented reviews, pinned in a data file.

A review keeps the edition it was notified under, and its timetable is counted again from that edition whenever a
milestone is recorded or a newer bank holiday list arrives. So a change to the rulebook's code or to an edition
must not move a single date, title, source or meaning of a review already running: this test compares what every
edition computes today with what it computed when the file was written (``data/timetables.json``).

The reviews are invented: each kind of notification, with a rapid review following or not, the rapid review
counted from awareness or from the notification, dates around Christmas, New Year and Easter, a partnership's own
closure days, a decision on 31 August (six months on is the end of February, 29th in a leap year), and dates past
the last year of GOV.UK's published list (provisional). Each review's milestones go as far as publication, so every
entry of every rule is computed somewhere, including the "at least" rules' dates counted back from a planned
publication.

The file is written from the code, never by hand. After a change that is *meant* to move dates (a corrected
edition, a newer bank holiday list shipped), write it again and read the diff:

    CSPR_HOME=$(mktemp -d) python -m tests.unit.test_rulebook_timetables --regenerate
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from models import rulebook
from models.bank_holidays import imported_path, published_list
from models.rulebook import Event, Limit, NotificationKind

GOLDEN = Path(__file__).resolve().parent / "data" / "timetables.json"
D = dt.date


@dataclass(frozen=True)
class Scenario:
    """A review's dates: what has happened (``events``), what is planned, and its partnership's settings."""

    name: str
    events: dict[Event, dt.date]
    planned: dict[Event, dt.date] = field(default_factory=dict)
    rapid_review_from: Event = Event.AWARE_ON
    closure_days: tuple[dt.date, ...] = ()


def _chain(
    aware: dt.date,
    notified: dt.date | None = None,
    partners_told: dt.date | None = None,
    rapid_review_sent: dt.date | None = None,
    panel_responded: dt.date | None = None,
    decided: dt.date | None = None,
    final_report_sent: dt.date | None = None,
    published: dt.date | None = None,
) -> dict[Event, dt.date]:
    dates = {
        Event.AWARE_ON: aware,
        Event.NOTIFIED_ON: notified,
        Event.PARTNERS_TOLD_ON: partners_told,
        Event.RAPID_REVIEW_SENT_ON: rapid_review_sent,
        Event.PANEL_RESPONDED_ON: panel_responded,
        Event.LCSPR_DECIDED_ON: decided,
        Event.FINAL_REPORT_SENT_ON: final_report_sent,
        Event.PUBLISHED_ON: published,
    }
    return {event: on for event, on in dates.items() if on is not None}


CHRISTMAS_2026 = _chain(
    D(2026, 12, 18),
    D(2026, 12, 23),
    D(2026, 12, 23),
    D(2027, 1, 13),
    D(2027, 1, 27),
    D(2027, 2, 10),
    D(2027, 3, 19),  # 7 working days on crosses Good Friday and Easter Monday 2027
    D(2027, 4, 1),
)

SCENARIOS = (
    Scenario(
        "christmas-2018-published",
        _chain(
            D(2018, 12, 19),
            D(2018, 12, 21),
            D(2018, 12, 24),
            D(2019, 1, 16),
            D(2019, 1, 31),
            D(2019, 2, 11),
            D(2019, 4, 12),  # Good Friday 19 April, Easter Monday 22 April 2019
            D(2019, 4, 29),
        ),
        planned={Event.PUBLISHED_ON: D(2019, 4, 29)},
    ),
    Scenario("easter-2019-aware-only", _chain(D(2019, 4, 15))),
    Scenario(
        "new-year-2024-notified-counted-from-notification-with-closures",
        _chain(D(2023, 12, 20), D(2023, 12, 28), D(2023, 12, 28)),
        rapid_review_from=Event.NOTIFIED_ON,
        closure_days=(D(2023, 12, 27), D(2024, 1, 2)),
    ),
    Scenario(
        "easter-2024-decided-publication-planned-over-easter-2025",
        _chain(D(2024, 3, 22), D(2024, 3, 27), D(2024, 3, 27), D(2024, 4, 16), D(2024, 4, 30), D(2024, 8, 31)),
        planned={Event.PUBLISHED_ON: D(2025, 4, 25)},  # 7 working days back over Good Friday and Easter Monday
    ),
    Scenario(
        "leap-day-2024-published",
        _chain(
            D(2023, 7, 10),
            D(2023, 7, 12),
            D(2023, 7, 13),
            D(2023, 7, 28),
            D(2023, 8, 14),
            D(2023, 8, 31),  # six months on: 29 February 2024
            D(2024, 2, 22),
            D(2024, 3, 5),
        ),
        planned={Event.PUBLISHED_ON: D(2024, 3, 5)},
    ),
    Scenario(
        "christmas-2026-published-with-a-closure-day",
        CHRISTMAS_2026,
        planned={Event.PUBLISHED_ON: D(2027, 4, 1)},
        closure_days=(D(2026, 12, 31),),
    ),
    Scenario(
        "christmas-2026-published-counted-from-notification",
        CHRISTMAS_2026,
        planned={Event.PUBLISHED_ON: D(2027, 4, 1)},
        rapid_review_from=Event.NOTIFIED_ON,
    ),
    Scenario(
        "provisional-2029-published",
        _chain(
            D(2028, 12, 19),
            D(2028, 12, 22),
            D(2028, 12, 22),
            D(2029, 1, 12),
            D(2029, 1, 26),
            D(2029, 2, 28),
            D(2029, 3, 22),  # Good Friday 30 March, Easter Monday 2 April 2029
            D(2029, 4, 5),
        ),
        planned={Event.PUBLISHED_ON: D(2029, 4, 5)},
    ),
    Scenario("aware-on-christmas-day-2025", _chain(D(2025, 12, 25))),
)

# every kind of notification, with a rapid review following and without
KINDS = tuple((kind, follows) for kind in NotificationKind for follows in (True, False))
EDITIONS = tuple(e.id for e in rulebook.editions())  # a new edition is pinned too, once the file is written again


def case_id(edition_id: str, kind: NotificationKind, follows: bool, scenario: Scenario) -> str:
    return f"{edition_id}/{kind.value}/{'rapid-review' if follows else 'no-rapid-review'}/{scenario.name}"


def _entry(entry: rulebook.TimetableEntry) -> dict[str, Any]:
    """Every field of an entry a review stores (models/tables.py Deadline)."""
    return {
        "name": entry.name,
        "rule": entry.rule.id,
        "title": entry.rule.title,
        "kind": entry.rule.kind.value,
        "source": entry.source,
        "meaning": entry.meaning,
        "due_on": entry.due_on.isoformat(),
        "provisional": entry.provisional,
        "basis": entry.basis.value,
        "basis_on": entry.basis_on.isoformat(),
        "alternative_basis": entry.alternative_basis.value if entry.alternative_basis else None,
        "alternative_on": entry.alternative_on.isoformat() if entry.alternative_on else None,
    }


def compute() -> dict[str, list[dict[str, Any]]]:
    """Every case's timetable, as the code computes it now."""
    found: dict[str, list[dict[str, Any]]] = {}
    for edition_id in EDITIONS:
        book = rulebook.edition(edition_id)
        for kind, follows in KINDS:
            for scenario in SCENARIOS:
                entries = book.timetable(
                    scenario.events,
                    planned=scenario.planned,
                    closure_days=scenario.closure_days,
                    rapid_review_from=scenario.rapid_review_from,
                    applies=book.applying(kind, follows),
                )
                found[case_id(edition_id, kind, follows, scenario)] = [_entry(e) for e in entries]
    return found


def _bank_holidays() -> dict[str, Any]:
    used = published_list()
    return {"source": used.source, "first_year": used.first_year, "last_year": used.last_year}


def _dump(cases: dict[str, list[dict[str, Any]]]) -> str:
    """One entry a line, so a diff shows each date that moved."""
    lines = ["{", f'  "bank_holidays": {json.dumps(_bank_holidays())},', '  "cases": {']
    for n, (case, entries) in enumerate(cases.items()):
        lines.append(f"    {json.dumps(case)}: [")
        lines += [f"      {json.dumps(e)}" + ("," if i < len(entries) - 1 else "") for i, e in enumerate(entries)]
        lines.append("    ]" + ("," if n < len(cases) - 1 else ""))
    lines += ["  }", "}", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    pinned: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return pinned


@pytest.fixture(scope="module")
def computed() -> dict[str, list[dict[str, Any]]]:
    return compute()


def test_the_bank_holiday_list_is_the_one_the_file_was_written_with(golden: dict[str, Any]) -> None:
    """A newer list may move dates on purpose (a one-off holiday): then the file is written again, and read."""
    assert _bank_holidays() == golden["bank_holidays"]


def test_every_case_is_pinned(golden: dict[str, Any], computed: dict[str, list[dict[str, Any]]]) -> None:
    assert list(computed) == list(golden["cases"])


def test_every_entry_of_every_rule_is_computed_somewhere(golden: dict[str, Any]) -> None:
    """The scenarios reach every name an edition's timetable can hold, so no date goes unpinned."""
    for edition_id in EDITIONS:
        book = rulebook.edition(edition_id)
        names = {r.id for r in book.rules if r.limit is Limit.WITHIN}
        names |= {
            n for r in book.rules if r.limit is Limit.AT_LEAST for n in (r.earliest_name, r.latest_from_name) if n
        }
        cases = {case: entries for case, entries in golden["cases"].items() if case.startswith(f"{edition_id}/")}
        assert {e["name"] for entries in cases.values() for e in entries} == names, edition_id
    provisional = [e for entries in golden["cases"].values() for e in entries if e["provisional"]]
    assert provisional, "some dates fall past the published bank holiday list"


@pytest.mark.parametrize(
    "case",
    [case_id(e, k, f, s) for e in EDITIONS for k, f in KINDS for s in SCENARIOS],
)
def test_every_edition_computes_the_timetable_it_did(
    case: str, golden: dict[str, Any], computed: dict[str, list[dict[str, Any]]]
) -> None:
    assert computed[case] == golden["cases"][case]


def main(argv: list[str]) -> int:
    if argv != ["--regenerate"]:
        print(__doc__)
        return 2
    if imported_path().exists():
        print(f"an imported bank holiday list is in use ({imported_path()}): run with CSPR_HOME set to an empty folder")
        return 1
    cases = compute()
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(_dump(cases), encoding="utf-8")
    print(f"wrote {sum(map(len, cases.values()))} entries of {len(cases)} cases to {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
