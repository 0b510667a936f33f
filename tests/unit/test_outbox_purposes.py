"""Typed purposes and recipients (models/review/outbox.py, models/recipients.py) are stored exactly as the strings
cspr has always written: the outbox's unique key, its rows, the rulebook's editions and prefect.yaml name them so."""

from __future__ import annotations

from models.recipients import (
    OPERATORS,
    PANEL_AND_SOS,
    PANEL_OFSTED_DFE,
    RECIPIENTS,
    Group,
    LocalBody,
    NationalBody,
    for_role,
    recipient_label,
)
from models.review.outbox import Occasion, Purpose
from models.roles import Role
from models.stages import Stage


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
