"""When a partnership's worklist artifact is refreshed (models/worklist.py, the refresh's bookkeeping): a turn counts
its change on one row; the first turn after a quiet ``window`` takes the refresh, the others within it do not; what
they changed is taken by the next look for changes, with the run of the latest turn; a refresh that failed is
behind again. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.db import transaction
from models.tables import WorklistRefresh
from models.worklist import Claim, claim_changed, claim_if_quiet, count_change, refresh_failed

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(seconds=60)


def turn(engine: Engine, partnership: str, at: dt.datetime, run_id: uuid.UUID | None = None) -> bool:
    """A turn as tasks/worklist_artifacts.py makes it: count the change, then take the refresh if quiet."""
    with transaction(engine) as session:
        count_change(session, partnership, run_id)
        return claim_if_quiet(session, partnership, at, WINDOW)


def row(engine: Engine, partnership: str) -> WorklistRefresh:
    with Session(engine) as session:
        return session.get_one(WorklistRefresh, partnership)


def test_a_turn_within_the_window_leaves_the_refresh_to_the_next_look(engine: Engine) -> None:
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert turn(engine, "northshire", T0, first)  # never refreshed: this turn refreshes it
    assert not turn(engine, "northshire", T0 + dt.timedelta(seconds=10), second)
    assert not turn(engine, "northshire", T0 + dt.timedelta(seconds=59), third)
    assert turn(engine, "southmoor", T0 + dt.timedelta(seconds=20))  # each partnership on its own
    stored = row(engine, "northshire")
    assert (stored.changes, stored.shown, stored.run_id) == (3, 1, third)
    with transaction(engine) as session:  # the look for changes: only the partnership left behind, as of its last turn
        assert claim_changed(session, T0 + dt.timedelta(seconds=70)) == [Claim("northshire", third)]
    with transaction(engine) as session:  # taken: nothing left for a second look
        assert claim_changed(session, T0 + dt.timedelta(seconds=71)) == []
    stored = row(engine, "northshire")
    assert stored.shown == stored.changes == 3
    # refreshed 70 s in by the look: a turn 60 s later than that refreshes again, one sooner does not
    assert not turn(engine, "northshire", T0 + dt.timedelta(seconds=129))
    assert turn(engine, "northshire", T0 + dt.timedelta(seconds=130))


def test_a_change_counted_after_a_refresh_was_taken_is_not_lost(engine: Engine) -> None:
    assert turn(engine, "northshire", T0)
    assert not turn(engine, "northshire", T0 + dt.timedelta(seconds=1))
    with transaction(engine) as session:
        assert [c.partnership for c in claim_changed(session, T0 + dt.timedelta(seconds=2))] == ["northshire"]
    assert not turn(engine, "northshire", T0 + dt.timedelta(seconds=3))  # after the look took its refresh
    with transaction(engine) as session:
        assert [c.partnership for c in claim_changed(session, T0 + dt.timedelta(seconds=4))] == ["northshire"]


def test_a_refresh_that_failed_is_behind_again(engine: Engine) -> None:
    assert turn(engine, "northshire", T0)
    with transaction(engine) as session:
        assert claim_changed(session, T0) == []
        refresh_failed(session, "northshire")
    with transaction(engine) as session:
        assert [c.partnership for c in claim_changed(session, T0 + dt.timedelta(seconds=1))] == ["northshire"]
