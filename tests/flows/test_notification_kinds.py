"""Every kind of notification the local authority makes, end to end through Prefect: each is recorded, the bodies the
rulebook names are told, and it closes where nothing more follows or goes on to a rapid review where it is also a
serious incident. None that must be notified is refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from cli.demo import Case, answerer, review_state
from cli.system import LocalSystem
from models import messages, process
from models.db import get_engine
from models.forms import AbuseOrNeglect, AgeBand, Harm, Kind
from models.review.lookup import review_by_reference
from models.review.transitions import history
from models.stages import Stage
from models.tables import CasePerson, Deadline, Outbox
from tests.flows.test_notification import failed_message
from tests.utils import inprocess
from tests.utils.answering import submit

DEATH_NOT_SUSPECTED = {"harm": Harm.died.value, "abuse_or_neglect": AbuseOrNeglect.not_suspected.value}


def told(reference: str) -> list[str]:
    """Who the history says the notification told (through the national route: no email of ours repeats it)."""
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        (event,) = [e for e in history(session, review.id) if e.transition.endswith("notification")]
        purposes = session.exec(select(Outbox.purpose).where(Outbox.review_id == review.id)).all()
        assert not [p for p in purposes if p.startswith("notification")]
        return list(event.details["told"])


def moves(reference: str) -> list[str]:
    with Session(get_engine()) as session:
        return [e.transition for e in history(session, review_by_reference(session, reference).id)]


def notified(pseudonym: str, change: dict[str, Any], *, partners_told: bool = True) -> str:
    """Notify, answer the notification step as the demo coordinator does (leaving the date the partners were told
    empty, unless ``partners_told``; giving a death's child death review reference), and return the reference."""
    case = Case(pseudonym=pseudonym)
    reference, _ = inprocess.notify(case, change)
    answer = case.answer(Stage.INCIDENT_RECORDED)
    if change.get("harm") == Harm.died.value:
        answer["child_death_review_reference"] = "CDOP/2026/0042"
    if not partners_told:
        del answer["partners_told_on"]
    inprocess.give(reference, answer)
    return reference


def test_a_looked_after_childs_death_without_suspected_abuse_is_told_to_the_sos_and_ofsted_then_closed(
    deployed: LocalSystem,
) -> None:
    reference = notified(
        "Child Lac", {"kind": Kind.looked_after_death.value, **DEATH_NOT_SUSPECTED}, partners_told=False
    )
    assert review_state(reference).stage is Stage.CLOSED
    assert moves(reference) == ["record_incident", "close_after_notification"]
    assert told(reference) == ["ofsted", "secretary_of_state"]
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        assert review.looked_after and not review.rapid_review_follows
        deadlines = session.exec(select(Deadline).where(Deadline.review_id == review.id)).all()
    assert {d.name: d.status for d in deadlines} == {"notify_looked_after_death": "met"}  # no rapid review is due
    assert not [r for r in inprocess.runs_for(reference) if r.state is not None and not r.state.is_final()]


def test_a_care_leavers_death_closes_unless_the_serious_incident_criteria_apply(deployed: LocalSystem) -> None:
    adult = [{"pseudonym": "Young Person Cl", "age_band": AgeBand.age_22_to_24.value}]
    reference = notified(
        "Young Person Cl", {"kind": Kind.care_leaver_death.value, "harm": Harm.died.value, "children": adult}
    )  # abuse suspected, but at 22 to 24 not a child: no rapid review
    assert review_state(reference).stage is Stage.CLOSED
    assert told(reference) == ["ofsted", "secretary_of_state"]


def test_a_looked_after_childs_death_with_abuse_suspected_is_also_a_serious_incident(deployed: LocalSystem) -> None:
    reference = notified("Child Lacs", {"kind": Kind.looked_after_death.value, "harm": Harm.died.value})
    assert review_state(reference).stage is Stage.RAPID_REVIEW
    assert told(reference) == ["local_partners", "ofsted", "panel", "secretary_of_state"]


def test_a_child_harmed_outside_england_goes_to_a_rapid_review(deployed: LocalSystem) -> None:
    refused = notified("Child Abroad Refused", {"kind": Kind.outside_england.value}, partners_told=False)
    state = review_state(refused)  # a serious incident: the partners must have been told
    assert state.stage is Stage.INCIDENT_RECORDED and "local safeguarding partners were told" in (state.refusal or "")
    reference = notified("Child Abroad", {"kind": Kind.outside_england.value})
    assert review_state(reference).stage is Stage.RAPID_REVIEW
    assert told(reference) == ["local_partners", "panel"]


def test_a_notification_before_the_childs_identity_is_known_keeps_no_name(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Unknown")
    reference, _ = inprocess.notify(case, {"identity_known": False})
    with Session(get_engine()) as session:
        child = session.exec(select(CasePerson).where(CasePerson.pseudonym == "Child Unknown")).one()
    assert child.name is None and child.date_of_birth is None
    assert review_state(reference).stage is Stage.INCIDENT_RECORDED


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"kind": Kind.looked_after_death.value, "harm": Harm.seriously_harmed.value},
            "notified when the person has died",
        ),
        (
            {"children": [{"pseudonym": "Child Old", "age_band": AgeBand.age_22_to_24.value}]},
            "only for the death of a care leaver",
        ),
        (DEATH_NOT_SUSPECTED, 'choose "death of a looked-after child, whatever the cause"'),
    ],
)
def test_a_notification_of_the_wrong_kind_says_which_kind_it_is(
    deployed: LocalSystem, change: dict[str, Any], message: str
) -> None:
    got = failed_message({**Case(pseudonym="Child Kind").notification(), **change})
    assert message in " ".join(got.split())


def test_a_review_notified_without_names_is_not_published_unchecked(deployed: LocalSystem) -> None:
    """The redaction gate checks what would be published against the children's names: with none recorded it has
    nothing to check against, so it refuses, saying why."""
    case = Case(pseudonym="Child Unnamed")
    reference, _ = inprocess.notify(case, {"identity_known": False})
    for _ in range(40):
        inprocess.advance(reference)
        if (stage := review_state(reference).stage) is Stage.AWAITING_PUBLICATION:
            break
        inprocess.give(reference, case.answer(stage))
    else:
        raise AssertionError(f"{reference} did not reach publication")
    inprocess.give(reference, case.answer(Stage.AWAITING_PUBLICATION))
    state = review_state(reference)
    assert state.stage is Stage.AWAITING_PUBLICATION
    assert "identity of Child Unnamed has not been recorded" in (state.refusal or "")


def test_the_same_incident_notified_again_as_another_kind_is_refused_not_dropped(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Twice Kind")
    first = {"kind": Kind.looked_after_death.value, **DEATH_NOT_SUSPECTED}
    reference, _ = inprocess.notify(case, first)
    again = {**case.notification(), **first, "kind": Kind.serious_incident.value, "abuse_or_neglect": "suspected"}
    run_id = inprocess.run_deployment_now("notify-incident", {"notification": again})
    submit(inprocess.read(run_id), case.identity(), answerer(None, {}))
    state = inprocess.execute(run_id)
    assert state.is_failed()
    assert f"recorded already as {reference}" in (state.message or "") and "Nothing new was recorded" in (
        state.message or ""
    )


def test_a_deaths_notification_step_works_towards_its_own_deadline(deployed: LocalSystem) -> None:
    """No "notify the Panel" deadline for a death where nothing follows: the worklist, the "waiting for you" email and
    the reminders use the kind's own."""
    reference, _ = inprocess.notify(
        Case(pseudonym="Child Lac Due"), {"kind": Kind.looked_after_death.value, **DEATH_NOT_SUSPECTED}
    )
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        step = process.STEPS[Stage.INCIDENT_RECORDED]
        assert process.deadline_for(review, step) == "notify_looked_after_death"
        assert messages.due_for(session, review, step) is not None
        assert messages.chased_for(session, review, "notify_looked_after_death", overdue=False) == ("role:coordinator",)
