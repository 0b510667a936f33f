"""Answers that must be refused, one or more for every form: (stage, what to change in a good answer, what
the refusal must say)."""

from __future__ import annotations

from typing import Any

from models.stages import Stage

SCHOOL = "Northshire Primary School"  # one of the demo partnership's agencies
UNKNOWN_AGENCY = "an agency given is not one of"


def _row(agency: str, due_on: str) -> dict[str, str]:
    """One row of actions on a recommendation, good but for what a case changes."""
    return {"recommendation": "R", "action": "A", "agency": agency, "owner": "O", "due_on": due_on, "done_when": "D"}


BAD_ANSWERS: list[tuple[Stage, dict[str, Any], str]] = [
    (
        Stage.INCIDENT_RECORDED,
        {"notified_on": "2026-01-01"},
        "cannot be before the date the local authority became aware",
    ),
    (Stage.INCIDENT_RECORDED, {"notified_on": "2099-01-01"}, "cannot be in the future"),
    (Stage.INCIDENT_RECORDED, {"panel_reference": ""}, "Reference from the national notification system"),
    # the child death review's reference: an identifier, and only where someone died (the demo's child did not)
    (Stage.INCIDENT_RECORDED, {"child_death_review_reference": "CDOP#42"}, "letters, numbers, spaces, hyphens"),
    (Stage.INCIDENT_RECORDED, {"child_death_review_reference": "CDOP/2026/0042"}, "has died in this notification"),
    (Stage.RAPID_REVIEW, {"facts": "x" * 20_001}, "The facts"),
    (Stage.RAPID_REVIEW, {"recommendation": "whatever"}, "Recommendation"),
    (Stage.RAPID_REVIEW, {"facts": "bell\x07"}, "control characters"),
    # hostile and malformed: a 10 MB paste, markup and SQL where a name goes, a look-alike name, wrong types
    (Stage.RAPID_REVIEW, {"facts": "x" * 10_000_000}, "The facts"),
    (Stage.RAPID_REVIEW, {"agencies_involved": "Police\x00Health"}, "control characters"),
    (Stage.RAPID_REVIEW, {"themes": ["witchcraft"]}, "Practice themes"),
    (Stage.RAPID_REVIEW, {"completed_on": "last Tuesday"}, "Date the rapid review was completed"),
    (Stage.RAPID_REVIEW_SIGN_OFF, {"signed_on": ["2026-01-01"]}, "Date of your decision"),
    (Stage.RAPID_REVIEW_SIGN_OFF, {"decision": "send back", "reason": ""}, "give a reason"),
    (Stage.RAPID_REVIEW_SIGN_OFF, {"partner": "mayor"}, "You sign for"),
    (Stage.RAPID_REVIEW_SIGN_OFF, {"signed_on": "2020-01-01"}, "cannot be before the rapid review's completion"),
    (Stage.AWAITING_PANEL, {"national_review": "perhaps"}, "national review"),
    (Stage.AWAITING_DECISION, {"decision": "national review led by the Panel"}, "only the Panel can start"),
    (Stage.AWAITING_DECISION, {"decision": "no local review", "immediate_learning": ""}, "immediate learning"),
    (Stage.COMMISSIONING, {"reviewer": "Nobody Known"}, "no active reviewer of that name"),
    (Stage.COMMISSIONING, {"reviewer": "<script>alert('x')</script>"}, "no active reviewer of that name"),
    (Stage.COMMISSIONING, {"reviewer": "Robert'); DROP TABLE review;--"}, "no active reviewer of that name"),
    (Stage.COMMISSIONING, {"reviewer": "Dr Morgan Eller\u0443"}, "no active reviewer of that name"),  # Cyrillic u
    (Stage.COMMISSIONING, {"reviewer": "Tomasz Whitfield"}, "conflict of interest with Northshire Police"),
    (Stage.REVIEW_UNDER_WAY, {"update": "written request to the reviewer", "request": ""}, "write down the request"),
    (Stage.QUALITY_ASSURANCE, {"anonymised": False}, "not yet met: Anonymised"),
    (Stage.QUALITY_ASSURANCE, {"outcome": "return to the reviewer", "reasons": ""}, "give the reasons"),
    (Stage.REPORT_APPROVED, {"sent_on": "2021-01-01"}, "cannot be before the decision to start the review"),
    (
        Stage.AWAITING_PUBLICATION,
        {"decision": "defer publication", "reasons": "trial", "look_again_on": None},
        "date to look again",
    ),
    (Stage.AWAITING_PUBLICATION, {"decision": "defer publication", "reasons": ""}, "give the reasons"),
    (Stage.PUBLISHED, {"actions": ""}, "Actions on the recommendations"),
    (Stage.PUBLISHED, {"actions": [], "no_actions_reason": ""}, "record at least one action, or say why"),
    (Stage.PUBLISHED, {"actions": [_row("Rowan's Agency", "2099-01-01")], "no_actions_reason": ""}, UNKNOWN_AGENCY),
    (Stage.PUBLISHED, {"actions": [_row(SCHOOL, "2020-01-01")], "no_actions_reason": ""}, "due date has passed"),
    # the rapid review's recommendations, adopted with the partners' decision, take the same rows
    (Stage.AWAITING_DECISION, {"actions": [_row("Rowan's Agency", "2099-01-01")]}, UNKNOWN_AGENCY),
    (Stage.AWAITING_DECISION, {"actions": [_row(SCHOOL, "2020-01-01")]}, "due date has passed"),
    (Stage.AWAITING_DECISION, {"actions": [{**_row(SCHOOL, "2099-01-01"), "owner": ""}]}, "row 1, Named owner"),
    (Stage.INCIDENT_RECORDED, {"agencies": ["Nowhere In Particular"]}, UNKNOWN_AGENCY),
    (Stage.PUBLISHED, {"unexpected_field": 1}, "Extra inputs are not permitted"),
]
