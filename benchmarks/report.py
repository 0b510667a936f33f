"""Benchmark of the compliance report: where its time goes, step by step, for every partnership over a year.

Generates N reviews across 150 partnerships (the sweep benchmark's reviews and deadlines, plus a stage history
and rapid review decisions with themes) in a process of its own, so that this process's peak memory is the
report's alone, then times on that SQLite database:

- ``raw_read_seconds``: the floor, the report's four queries fetched as it fetches them and nothing else;
- ``read_seconds``: those queries into pandas frames (dates converted once per column);
- ``figures_seconds``: every figure from the frames (pandas and numpy);
- ``charts_seconds``, ``pdf_seconds`` (Jinja2 and WeasyPrint), ``store_seconds`` (a local object folder).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from benchmarks.sweep import AS_OF, CHUNK, populate
from models import compliance
from models.db import driver_chunks, make_engine, migrate
from models.process.steps.rapid_review import Theme
from models.tables import Decision, DecisionKind, Review, StageEvent, utcnow
from tasks.compliance_report import charts, context
from tasks.pdf import render_pdf
from tasks.storage import LocalStore

PATH = ["incident_recorded", "rapid_review", "rapid_review_sign_off", "awaiting_panel"]
THEMES = [t.value for t in Theme]


def add_history(engine: sa.Engine, seed: int = 7) -> None:
    """Each review's stage history up to its stage, and a rapid review (with themes) for those past it."""
    rng = random.Random(seed)
    with engine.connect() as connection:
        reviews = connection.execute(sa.select(Review.id, Review.stage, Review.aware_on)).all()  # type: ignore[call-overload]
    for first in range(0, len(reviews), CHUNK):  # in chunks, so the generator's memory stays small
        _add_history_chunk(engine, rng, reviews[first : first + CHUNK])


def _add_history_chunk(
    engine: sa.Engine, rng: random.Random, reviews: Sequence[sa.Row[uuid.UUID, str, dt.date]]
) -> None:
    events: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    for review_id, stage, aware in reviews:
        day = dt.datetime.combine(aware, dt.time(10), tzinfo=dt.UTC)
        for seq, to_stage in enumerate(PATH[: PATH.index(stage) + 1], start=1):
            events.append(
                {
                    "id": uuid.uuid4(),
                    "review_id": review_id,
                    "seq": seq,
                    "transition": "bench",
                    "from_stage": PATH[seq - 2] if seq > 1 else None,
                    "to_stage": to_stage,
                    "actor_name": "Bench",
                    "actor_role": "coordinator",
                    "details": {},
                    "at": day,
                    "prev_hash": "0" * 64,
                    "hash": "0" * 64,
                }
            )
            day += dt.timedelta(days=rng.randint(1, 12))
        if PATH.index(stage) >= 2:
            decisions.append(
                {
                    "id": uuid.uuid4(),
                    "review_id": review_id,
                    "kind": DecisionKind.RAPID_REVIEW,
                    "round": 1,
                    "outcome": rng.choice(["local_review", "no_review"]),
                    "actor_name": "Bench",
                    "actor_role": "coordinator",
                    "at": day,
                    "details": {
                        "completed_on": day.date().isoformat(),
                        "themes": rng.sample(THEMES, rng.randint(0, 4)),
                    },
                }
            )
    with engine.begin() as connection:
        connection.execute(sa.insert(StageEvent), events)
        if decisions:
            connection.execute(sa.insert(Decision), decisions)


def _timed(seconds: dict[str, float], step: str, work: Any) -> Any:
    started = time.perf_counter()
    result = work()
    seconds[f"{step}_seconds"] = round(time.perf_counter() - started, 4)
    return result


def build(path: str, reviews: int) -> None:
    """The benchmark's database (run in a child process: see the module's docstring)."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    populate(engine, reviews)
    add_history(engine)
    engine.dispose()


def _raw_read(session: Session) -> None:
    """What ``compliance.read`` fetches, as it fetches it (the reviews through SQLAlchemy, the rest through the
    driver), with nothing made of it."""
    for name, query in compliance.queries(None).items():
        if name == "reviews":
            session.execute(query).all()
        else:
            for _ in driver_chunks(session, query, compliance.READ_CHUNK):
                pass


def run(reviews: int) -> dict[str, Any]:
    period = compliance.Period(AS_OF - dt.timedelta(days=365), AS_OF)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cspr-bench-") as folder:
        path = str(Path(folder) / "bench.db")
        child = multiprocessing.get_context("spawn").Process(target=build, args=(path, reviews))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"building the benchmark's database failed (exit {child.exitcode})")
        engine = make_engine(f"sqlite:///{path}")
        with Session(engine) as session:
            _raw_read(session)  # warm the page cache for every step alike
            records = _timed(seconds, "read", lambda: compliance.read(session))
            _timed(seconds, "raw_read", lambda: _raw_read(session))
        figures = _timed(seconds, "figures", lambda: compliance.figures(records, period, AS_OF))
        drawn = _timed(seconds, "charts", lambda: charts(figures))
        pdf = _timed(seconds, "pdf", lambda: render_pdf("compliance_report.html", context(figures, drawn, utcnow())))
        store = LocalStore(Path(folder) / "objects")
        _timed(seconds, "store", lambda: store.put("compliance/all/bench.pdf", pdf.pdf, content_type="application/pdf"))
        engine.dispose()
    total = sum(v for k, v in seconds.items() if k != "raw_read_seconds")
    return {
        "reviews": reviews,
        "stage_events": len(records.events),
        "deadlines": len(records.deadlines),
        **seconds,
        "total_seconds": round(total, 3),
        "pdf_bytes": len(pdf.pdf),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
