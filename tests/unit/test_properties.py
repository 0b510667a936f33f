"""Property-based tests (hypothesis) of the forms and the state machine: whatever is typed, a form either accepts
it or refuses it with a message in the coordinator's words that never repeats what was typed; whatever moves are
tried, the review only ever moves along the graph, and never out of "closed"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import forms
from models.answers import explain
from models.process.steps import (
    actions,
    commissioning,
    local_review_decision,
    notification,
    panel_response,
    publication,
    quality_assurance,
    rapid_review,
    review_under_way,
    sign_off,
)
from models.roles import PARTNERS
from models.stages import TERMINAL, TRANSITIONS, Facts, IllegalTransition, Stage, allowed_from, check

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
ANYTHING: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    TEXT,
    st.dates().map(dt.date.isoformat),
    st.lists(TEXT, max_size=3),
    st.dictionaries(TEXT, TEXT, max_size=2),
)
FORMS = [
    notification.NotificationSubmitted,
    rapid_review.RapidReview,
    sign_off.SignOff,
    panel_response.PanelResponse,
    local_review_decision.FinalDecision,
    commissioning.Commissioning,
    review_under_way.ReviewProgress,
    quality_assurance.QualityAssurance,
    publication.Publication,
    actions.ActionsRecorded,
    forms.Identity,
    forms.UnbornIdentity,
    forms.IncidentNotification,
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(form=st.sampled_from(FORMS), data=st.data())
def test_any_answer_is_accepted_or_refused_in_words_without_echoing_it(
    form: type[pydantic.BaseModel], data: Any
) -> None:
    fields = list(form.model_fields)
    answer = data.draw(st.dictionaries(st.sampled_from(fields), ANYTHING, max_size=len(fields)))
    try:
        form.model_validate(answer)
    except pydantic.ValidationError as exc:
        message = explain(exc, form)
        assert message
        for value in answer.values():
            if isinstance(value, str) and len(value) >= 8 and value.strip() not in {"", *fields}:
                assert value not in message, "a refusal repeated what was typed"


@settings(max_examples=200)
@given(st.lists(st.sampled_from([t.name for t in TRANSITIONS]), max_size=40), st.booleans(), st.booleans())
def test_only_moves_along_the_graph_and_never_out_of_closed(names: list[str], signed: bool, national: bool) -> None:
    facts = Facts(
        today=dt.date(2030, 1, 1),
        reason="a reason",
        signed_off_by=PARTNERS if signed else frozenset(),
        panel_national_review=national,
        reviewer_chosen=True,
        terms_of_reference=True,
        qa_checklist_complete=True,
        publish_not_before=dt.date(2029, 1, 1),
        secretary_of_state_confirmed=True,
    )
    stage = Stage.INCIDENT_RECORDED
    for name in names:
        try:
            move = check(stage, name, facts)
        except IllegalTransition as refused:
            assert str(refused)  # refused with a message
            continue
        assert move.source is stage and move in allowed_from(stage)
        assert stage not in TERMINAL
        stage = move.target
