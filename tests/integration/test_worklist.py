"""The worklist (models/worklist.py): every step waiting for a person, who may answer it, since when, its deadline
and the working days left, soonest first; filtered by partnership and by role; a partner who has signed off is no
longer waited on. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session

from cli.demo import Case
from models.calendar import calendar_for
from models.roles import Role
from models.stages import Stage
from models.worklist import worklist
from tests.integration.test_answers import TODAY, _at, answer, quick_passwords

__all__ = ["quick_passwords"]


def listed(engine: Engine, **filters: object) -> list[tuple[str, str, tuple[Role, ...]]]:
    with Session(engine) as session:
        return [(w.reference, w.step, w.who) for w in worklist(session, TODAY, **filters)]  # type: ignore[arg-type]


def test_every_waiting_step_with_who_may_answer_it_soonest_deadline_first(engine: Engine) -> None:
    signing, c = _at(engine, Stage.RAPID_REVIEW_SIGN_OFF, Case(today=TODAY, pseudonym="Child A"))
    notifying, _ = _at(engine, Stage.INCIDENT_RECORDED, Case(today=TODAY, pseudonym="Child B"))
    with Session(engine) as session:
        rows = worklist(session, TODAY)
    assert [(w.reference, w.step) for w in rows] == [
        (notifying, "Record the notification"),  # 5 working days from awareness: the sooner deadline of the two
        (signing, "Sign off the rapid review"),  # 15 working days from the same day
    ]
    assert rows[0].deadline is not None and rows[1].deadline is not None and rows[0].deadline < rows[1].deadline
    sign_off = rows[1]
    assert sign_off.who == (Role.HEALTH, Role.LOCAL_AUTHORITY, Role.POLICE)
    assert sign_off.deadline is not None and sign_off.deadline < TODAY  # the case's dates are all past
    assert sign_off.working_days_left == calendar_for().between(TODAY, sign_off.deadline) < 0
    assert isinstance(sign_off.waiting_since, dt.date) and sign_off.waiting_since <= dt.date.today()

    assert answer(engine, signing, c.answer(Stage.RAPID_REVIEW_SIGN_OFF)).accepted  # the local authority signs
    assert listed(engine)[1][2] == (Role.HEALTH, Role.POLICE)
    assert [r for r, _, _ in listed(engine, role=Role.POLICE)] == [signing]
    assert [r for r, _, _ in listed(engine, role=Role.COORDINATOR)] == [notifying]
    assert listed(engine, role=Role.LOCAL_AUTHORITY) == []
    assert len(listed(engine, partnership="northshire")) == 2 and listed(engine, partnership="southmoor") == []


def test_a_row_as_the_artifact_and_the_command_show_it(engine: Engine) -> None:
    reference, _ = _at(engine, Stage.INCIDENT_RECORDED, Case(today=TODAY))
    with Session(engine) as session:
        (waiting,) = worklist(session, TODAY)
    row = waiting.row("http://127.0.0.1:4200/runs/flow-run/x")
    assert row == {
        "reference": reference,
        "partnership": "northshire",
        "step": "Record the notification",
        "who may answer": "coordinator",
        "waiting since": waiting.waiting_since.isoformat(),
        "deadline": waiting.deadline.isoformat() if waiting.deadline else None,
        "working days left": waiting.working_days_left,
        "link": "http://127.0.0.1:4200/runs/flow-run/x",
    }
