"""`notify-incident`: validation a coordinator understands, nothing written on refusal, one review per incident."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from prefect.deployments import run_deployment
from prefect.input.actions import read_flow_run_input
from sqlmodel import Session, select

from cli.demo import NOTIFY_DEPLOYMENT, Case
from cli.system import LocalSystem
from models.db import get_engine
from models.roles import Role
from models.tables import CasePerson, Review
from tests.utils import inprocess
from tests.utils.answering import submit


def reviews() -> int:
    with Session(get_engine()) as session:
        return session.exec(select(sa.func.count()).select_from(Review)).one()


def failed_message(notification: dict[str, Any]) -> str:
    before = reviews()
    run = run_deployment(NOTIFY_DEPLOYMENT, parameters={"notification": notification}, timeout=0)
    state = inprocess.execute(run.id)
    assert state.is_failed(), state
    assert reviews() == before, "a refused notification writes nothing"
    return state.message or ""


TOMORROW = (dt.date.today() + dt.timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"aware_date": "2026-01-01", "incident_date": "2026-02-01"}, "cannot have become aware before the incident"),
        ({"incident_date": TOMORROW, "aware_date": TOMORROW}, "cannot be in the future"),
        (
            {"partnership": "atlantis"},
            "there is no safeguarding partnership 'atlantis'; known partnerships: northshire",
        ),
        ({"children": [{"pseudonym": f"Child {c}", "age_band": "6 to 10"} for c in "VWXYZ"]}, "at most 4 children"),
        ({"abuse_or_neglect": "not known or suspected"}, "notified when abuse or neglect is known or suspected"),
        ({"children": [{"pseudonym": "Child V", "age_band": "6 to 10"}] * 2}, "the same pseudonym"),
    ],
)
def test_a_bad_notification_fails_with_a_clear_message_and_writes_nothing(
    deployed: LocalSystem, change: dict[str, Any], message: str
) -> None:
    notification = {**Case(pseudonym="Child V").notification(), **change}
    got = failed_message(notification)
    assert "The notification was not recorded" in got
    assert message in got


def test_a_value_outside_the_form_is_refused_before_the_run_starts(deployed: LocalSystem) -> None:
    notification = {**Case().notification(), "harm": "bruised"}
    with pytest.raises(Exception, match=r"Validation failed for field .*harm"):
        run_deployment(NOTIFY_DEPLOYMENT, parameters={"notification": notification}, timeout=0)


def test_the_same_incident_twice_gives_one_review(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Twice")
    first, _ = inprocess.notify(case)
    before = reviews()
    second, _ = inprocess.notify(case)
    assert first == second
    assert reviews() == before
    assert len(inprocess.runs_for(first)) == 1, "one lifecycle run, not two"


def test_a_wrong_identity_answer_is_asked_again_with_the_reason(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Ident")
    run = run_deployment(NOTIFY_DEPLOYMENT, parameters={"notification": case.notification()}, timeout=0)
    assert inprocess.execute(run.id).is_paused()
    wrong = case.identity()
    wrong["children"][0]["pseudonym"] = "Child Other"
    submit(inprocess.read(run.id), wrong, Role.COORDINATOR)
    assert inprocess.execute(run.id).is_paused()  # asked again
    description = str(read_flow_run_input("suspended-identity-2-description", flow_run_id=run.id))
    assert "give one entry for each child notified" in description and "Child Ident" in description
    assert read_flow_run_input("suspended-identity-1-response", flow_run_id=run.id) is None  # forgotten
    with Session(get_engine()) as session:
        assert not session.exec(select(CasePerson).where(CasePerson.pseudonym == "Child Ident")).all()
    submit(inprocess.read(run.id), case.identity(), Role.COORDINATOR)
    assert inprocess.execute(run.id).is_completed()
    with Session(get_engine()) as session:
        person = session.exec(select(CasePerson).where(CasePerson.pseudonym == "Child Ident")).one()
    assert person.name == case.child_name
