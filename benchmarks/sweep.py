"""Benchmark of the deadline sweep at national scale, against a baseline measured in the same process.

Generates N open reviews across 150 partnerships (a realistic mix: about a third notified, a fifth with the
rapid review sent), then times, on one database (a temporary SQLite file, or with ``database`` a temporary database
made on that PostgreSQL server and dropped afterwards):

- ``raw_read_seconds``: the floor, the sweep's one query fetched by the database driver and nothing else;
- ``sweep_seconds``: the sweep's classification (that read, plus the vectorised classification);
- ``naive_seconds``: a straightforward per-review sweep written as the project's code is (SQLModel objects, one
  query per review, a Python loop over days) on a sample of ``naive_sample`` reviews, scaled linearly to N;
- ``naive_core_seconds``: the same loop with the leanest per-review query (two columns, SQLAlchemy Core);
- ``peak_rss_mb``: the process's peak resident memory (on PostgreSQL the server's own memory is not in it).
"""

from __future__ import annotations

import datetime as dt
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from models import sweep
from models.calendar import calendar_for, england_and_wales_holidays
from models.db import make_engine, migrate
from models.settings import normalise_database_url
from models.tables import Deadline, Partnership, Review

AS_OF = dt.date(2027, 3, 1)
PARTNERSHIPS = 150


CHUNK = 10_000  # reviews written per transaction: the generator's memory stays small beside the sweep's


def populate(engine: sa.Engine, reviews: int, seed: int = 42) -> None:
    rng = random.Random(seed)
    calendar = calendar_for()
    now = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    partnerships = [
        {
            "id": uuid.uuid4(),
            "code": f"p{i:03d}",
            "name": f"Partnership {i}",
            "rapid_review_from": "aware_on",
            "closure_days": [],
            "created_at": now,
        }
        for i in range(PARTNERSHIPS)
    ]
    with engine.begin() as connection:
        connection.execute(sa.insert(Partnership), partnerships)
    for first in range(0, reviews, CHUNK):
        _populate_chunk(engine, rng, calendar, partnerships, range(first, min(reviews, first + CHUNK)), now)


def _populate_chunk(
    engine: sa.Engine,
    rng: random.Random,
    calendar: Any,
    partnerships: list[dict[str, Any]],
    numbers: range,
    now: dt.datetime,
) -> None:
    review_rows: list[dict[str, Any]] = []
    deadline_rows: list[dict[str, Any]] = []
    for i in numbers:
        aware = AS_OF - dt.timedelta(days=rng.randint(0, 120))
        review_id = uuid.uuid4()
        review_rows.append(
            {
                "id": review_id,
                "reference": f"CSPR-BENCH-{i:07d}",
                "partnership_id": partnerships[i % PARTNERSHIPS]["id"],
                "edition": "wt2023",
                "stage": rng.choice(["incident_recorded", "rapid_review", "rapid_review_sign_off", "awaiting_panel"]),
                "version": 0,
                "step_seq": 0,
                "incident_on": aware,
                "aware_on": aware,
                "harm": "seriously harmed",
                "abuse_or_neglect": "suspected",
                "looked_after": False,
                "incident_key": uuid.uuid4().hex,
                "created_at": now,
                "updated_at": now,
            }
        )
        notified = rng.random() < 0.35
        for name, count in (("notify_panel", 5), ("notify_partners", 5), ("rapid_review", 15)):
            met = notified and name != "rapid_review"
            deadline_rows.append(
                {
                    "id": uuid.uuid4(),
                    "review_id": review_id,
                    "name": name,
                    "rule_id": name,
                    "title": name,
                    "meaning": "due by",
                    "kind": "statutory",
                    "source": "bench",
                    "basis": "aware_on",
                    "basis_on": aware,
                    "due_on": calendar.add(aware, count),
                    "status": "met" if met else "open",
                    "escalation_level": 0,
                    "reminder_level": 0,
                    "updated_at": now,
                }
            )
    with engine.begin() as connection:
        connection.execute(sa.insert(Review), review_rows)
        connection.execute(sa.insert(Deadline), deadline_rows)


def raw_read(engine: sa.Engine) -> float:
    """The floor: the sweep's one query, its rows fetched by the database driver, nothing else."""
    start = time.perf_counter()
    with Session(engine) as session:
        sweep.fetch_open_deadlines(session)
    return time.perf_counter() - start


def classified(engine: sa.Engine) -> tuple[float, int]:
    start = time.perf_counter()
    with Session(engine) as session:
        frame = sweep.classify(sweep.open_deadlines(session), AS_OF)
    return time.perf_counter() - start, len(frame)


def _classify_by_looping(due_on: dt.date, holidays: set[dt.date]) -> str:
    day, left, step = AS_OF, 0, 1 if due_on >= AS_OF else -1
    while day != due_on:
        day += dt.timedelta(days=step)
        if day.weekday() < 5 and day not in holidays:
            left += step
    return "on_track" if left > 2 else "due_soon" if left > 0 else "due_today" if left == 0 else "overdue"


def naive(engine: sa.Engine, sample: int) -> float:
    """The straightforward way, written as the rest of this project's code is: the open reviews as SQLModel
    objects, one query per review for its open deadlines, and a Python loop over the days to count working days."""
    holidays = set(england_and_wales_holidays())
    start = time.perf_counter()
    with Session(engine) as session:
        for review in session.exec(select(Review).where(Review.stage != "closed").limit(sample)):
            deadlines = session.exec(
                select(Deadline).where(
                    Deadline.review_id == review.id, Deadline.status == "open", Deadline.meaning == "due by"
                )
            ).all()
            for deadline in deadlines:
                _classify_by_looping(deadline.due_on, holidays)
    return time.perf_counter() - start


def naive_core(engine: sa.Engine, sample: int) -> float:
    """The same per-review loop with the leanest query there is (two columns, SQLAlchemy Core): how much of the
    naive way's cost is the ORM, and how much the one query per review."""
    holidays = set(england_and_wales_holidays())
    with engine.connect() as connection:
        ids = [r[0] for r in connection.execute(sa.select(Review.id).limit(sample))]  # type: ignore[call-overload]
    start = time.perf_counter()
    with engine.connect() as connection:
        for review_id in ids:
            rows = connection.execute(
                sa.select(Deadline.due_on, Deadline.kind).where(  # type: ignore[call-overload]
                    Deadline.review_id == review_id, Deadline.status == "open", Deadline.meaning == "due by"
                )
            ).all()
            for due_on, _kind in rows:
                _classify_by_looping(due_on, holidays)
    return time.perf_counter() - start


ROUNDS = 3


@contextmanager
def bench_database(server: str | None) -> Iterator[sa.Engine]:
    """An empty, migrated database for one run: a SQLite file in a temporary folder, or (``server``: a PostgreSQL
    URL allowed to create databases) a database of its own on that server, dropped at the end."""
    if server is None:
        with tempfile.TemporaryDirectory(prefix="cspr-bench-") as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            try:
                yield engine
            finally:
                engine.dispose()
        return
    admin_url = sa.engine.make_url(normalise_database_url(server))
    name = f"cspr_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(admin_url.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def run(reviews: int, naive_sample: int = 500, database: str | None = None) -> dict[str, Any]:
    """Each measurement is the fastest of ``ROUNDS`` rounds, the four measured in turn within a round, so that a
    slow moment on a shared machine cannot fall on one of them alone and bend the ratios."""
    with bench_database(database) as engine:
        migrate(engine)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")  # fresh statistics, as autovacuum would give a real database
        populate(engine, reviews)
        raw_read(engine)  # warm the page cache for every measurement alike
        sample = min(naive_sample, reviews)
        raw = sweep_seconds = naive_seconds = naive_core_seconds = float("inf")
        deadlines = 0
        for _ in range(ROUNDS):
            raw = min(raw, raw_read(engine))
            seconds, deadlines = classified(engine)
            sweep_seconds = min(sweep_seconds, seconds)
            naive_seconds = min(naive_seconds, naive(engine, sample) * reviews / sample)
            naive_core_seconds = min(naive_core_seconds, naive_core(engine, sample) * reviews / sample)
        dialect = engine.dialect.name
    return {
        "database": dialect,
        "reviews": reviews,
        "open_deadlines": deadlines,
        "sweep_seconds": round(sweep_seconds, 4),
        "raw_read_seconds": round(raw, 4),
        "naive_seconds": round(naive_seconds, 3),
        "naive_sample": sample,
        "naive_core_seconds": round(naive_core_seconds, 3),
        "sweep_over_raw": round(sweep_seconds / raw, 2),
        "naive_over_sweep": round(naive_seconds / sweep_seconds, 1),
        "naive_core_over_sweep": round(naive_core_seconds / sweep_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
