"""No personal data in Prefect: a distinctive child's name, family member's name and date of birth are planted,
a review is run end to end, and everything Prefect keeps is searched for them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlmodel import Session

from cli.demo import Case
from cli.system import LocalSystem
from models.db import get_engine
from models.documents import known_people
from models.review.lookup import review_by_reference
from models.settings import get_settings
from tasks.archive import read_document, stored_documents
from tasks.redaction import find_personal_data
from tests.utils import inprocess
from tests.utils.search import needles, search_files, search_sqlite

CHILD = "Zephyrine Quillfeather-Okonkwo"
FAMILY = "Barnabus Thistlewaite-Orrin"
DOB = dt.date(2015, 2, 27)


def test_a_planted_name_and_date_of_birth_appear_nowhere_in_prefect(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Plant", child_name=CHILD, child_dob=DOB, family_name=FAMILY, deferrals=1)
    reference, _ = inprocess.notify(case)
    assert inprocess.drive(reference, case) == []

    # the project database does hold them, encrypted, for the redaction gate and the coordinator
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        people = known_people(session, review)
    assert {CHILD, FAMILY} <= {p.name for p in people}

    words = needles(CHILD, DOB) + needles(FAMILY, DOB)[:3]
    home = get_settings().resolved_home
    prefect_home = home / "prefect"
    database = prefect_home / "prefect.db"
    # a positive control: the review's reference is there (in run names, tags, artifacts, events)
    assert database.exists() and search_sqlite(database, [reference])
    hits = search_sqlite(database, words)
    # parameters, run names, inputs, logs, artifacts, events, results: all in prefect.db or PREFECT_HOME
    hits += search_files(prefect_home, words)
    hits += search_files(home / "outbox", words)
    hits += search_files(home / "logs", words)
    # and the project database holds them only encrypted
    hits += search_files(home, words, skip=(prefect_home, home / "outbox", home / "logs"))
    # object keys carry the reference and kind only, and the published report names nobody
    keys = [str(p.relative_to(home / "objects")) for p in (home / "objects").rglob("*.pdf")]
    assert any(reference in k for k in keys)
    hits += [f"object key {k} contains {w!r}" for k in keys for w in words if w.lower() in k.lower()]
    for report in stored_documents(reference, published=True):
        hits += [f"published report: {f}" for f in find_personal_data(read_document(report), people)]
    assert hits == [], "\n".join(hits)


def test_the_search_would_find_a_name_if_it_were_there(tmp_path: Path) -> None:
    """The search itself works: a name written where Prefect would keep it is found."""
    import sqlite3

    db = tmp_path / "probe.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE log (message TEXT)")
        connection.execute("INSERT INTO log VALUES (?)", (f"hello {CHILD}",))
    assert search_sqlite(db, needles(CHILD, DOB))
    (tmp_path / "result.pickle").write_bytes(b"x" + CHILD.encode() + b"y")
    assert search_files(tmp_path, [CHILD])
