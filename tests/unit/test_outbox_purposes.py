"""Typed purposes and recipients (models/review/outbox.py, models/recipients.py) are stored exactly as the strings
cspr has always written: the outbox's unique key, its rows, the rulebook's editions and prefect.yaml name them so."""

from __future__ import annotations

import uuid

import pytest

from models.recipients import (
    OPERATORS,
    PANEL_AND_SOS,
    PANEL_OFSTED_DFE,
    RECIPIENTS,
    AgencyContacts,
    Group,
    LocalBody,
    NationalBody,
    for_role,
    recipient_label,
)
from models.review.outbox import Occasion, Purpose
from models.roles import Role
from models.stages import Stage
from tasks.notices import folder_name


def test_each_purpose_is_stored_as_it_always_was() -> None:
    stored = {
        Occasion(Purpose.RAPID_REVIEW): "rapid_review",
        Occasion(Purpose.LCSPR_DECISION): "lcspr_decision",
        Occasion(Purpose.REVIEWER_NAMED): "reviewer_named",
        Occasion(Purpose.PUBLISHED): "published",
        Occasion.final_report(send=1): "final_report",
        Occasion.final_report(send=2): "final_report_2",
        Occasion.publication_deferred(1): "publication_deferred_1",
        Occasion.waiting(Stage.RAPID_REVIEW_SIGN_OFF, 4): "waiting:rapid_review_sign_off:4",
        Occasion.chased("notify_panel", 2, overdue=True): "escalation:notify_panel:2",
        Occasion.chased("rapid_review", 1, overdue=False): "reminder:rapid_review:1",
        Occasion.not_delivered("rapid_review", "role:police"): "not_delivered:rapid_review:role:police",
    }
    assert {occasion.stored(): text for occasion, text in stored.items()} == {text: text for text in stored.values()}
    long = Occasion.not_delivered("waiting:" + "x" * 70, "secretary_of_state").stored()
    assert long == f"not_delivered:waiting:{'x' * 70}:secretary_of_state"[:80]


def test_each_recipient_is_stored_and_named_as_it_always_was() -> None:
    assert [str(r) for r in PANEL_OFSTED_DFE] == ["panel", "ofsted", "dfe"]
    assert [str(r) for r in PANEL_AND_SOS] == ["panel", "secretary_of_state"]
    assert str(for_role(Role.POLICE)) == "role:police" and str(OPERATORS) == "operators"
    assert str(Group.COORDINATOR) == "coordinator" and str(Group.LOCAL_PARTNERS) == "local_partners"
    assert str(LocalBody.CHILD_DEATH_REVIEW) == "child_death_review"
    assert set(RECIPIENTS) == {*NationalBody, *LocalBody, *Group}
    assert recipient_label("child_death_review") == "the child death review partners"
    assert recipient_label(for_role(Role.HEALTH)) == recipient_label("role:health") == "the health representatives"
    assert recipient_label(NationalBody.DFE) == recipient_label("dfe") == "the Department for Education"


def test_an_agencys_contacts_are_named_by_their_agency_when_the_caller_knows_it() -> None:
    practice, other = uuid.uuid4(), uuid.uuid4()
    names = {practice: "Riverside Medical Practice"}
    assert recipient_label(AgencyContacts(practice), names) == "the contacts of Riverside Medical Practice"
    assert recipient_label(f"agency:{practice}", names) == "the contacts of Riverside Medical Practice"
    assert recipient_label(AgencyContacts(other), names) == "the agency's contacts"  # not looked up: as before
    assert recipient_label(AgencyContacts(practice)) == "the agency's contacts"
    assert recipient_label("agency:not-an-id", names) == "the agency's contacts"
    assert recipient_label("role:police", names) == "the police representatives"  # the others as they were


@pytest.mark.parametrize(
    ("purpose", "recipient", "name"),
    [
        ("rapid_review", "panel", "CSPR-2026-0001--rapid_review--panel.txt"),  # as it always was
        (
            "waiting:rapid_review_sign_off:4",
            "role:police",
            "CSPR-2026-0001--waiting.rapid_review_sign_off.4--role.police.txt",
        ),
        (
            "item:request-2:no involvement:1",
            "coordinator",
            "CSPR-2026-0001--item.request-2.no-involvement.1--coordinator.txt",
        ),
        (
            "item:request-2:asked:0",
            "agency:7d1f5a52-2b7e-4c1e-9a43-0c6a4d8e9b10",
            "CSPR-2026-0001--item.request-2.asked.0--agency.7d1f5a52-2b7e-4c1e-9a43-0c6a4d8e9b10.txt",
        ),
        ("not_delivered:x/../y", "operators", "CSPR-2026-0001--not_delivered.x_.._y--operators.txt"),
    ],
)
def test_an_outbox_folders_file_names_hold_letters_digits_dots_underscores_and_hyphens_alone(
    purpose: str, recipient: str, name: str
) -> None:
    assert folder_name("CSPR-2026-0001", purpose, recipient) == name
