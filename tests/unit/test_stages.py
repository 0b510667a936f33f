"""The review state machine, on its own: every path ends, every illegal move is refused clearly."""

from __future__ import annotations

import datetime as dt
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import stages
from models.roles import PARTNERS, Role
from models.stages import Facts, IllegalTransition, Stage

# Facts under which every guard holds: used to walk the graph.
PERMISSIVE = Facts(
    today=dt.date(2027, 6, 1),
    reason="recorded",
    signed_off_by=PARTNERS,
    reviewer_chosen=True,
    terms_of_reference=True,
    qa_checklist_complete=True,
    publish_not_before=dt.date(2027, 5, 1),
    secretary_of_state_confirmed=True,
)


def facts_for(move: stages.Move) -> Facts:
    national = move.name in {"decide_national_review"}
    follows = move.name != "close_after_notification"  # the one move for a notification nothing more follows
    return Facts(**{**PERMISSIVE.__dict__, "panel_national_review": national, "rapid_review_follows": follows})


class TestPaths:
    def test_every_stage_is_reachable_from_the_start(self) -> None:
        assert stages.reachable_from(stages.START) == set(Stage)

    def test_every_stage_can_reach_the_end(self) -> None:
        for stage in Stage:
            assert stages.reachable_from(stage) & stages.TERMINAL, stage

    def test_only_closed_is_terminal(self) -> None:
        ends = {s for s in Stage if not stages.allowed_from(s)}
        assert ends == {Stage.CLOSED}

    @pytest.mark.parametrize(
        ("name", "moves"),
        [
            ("nothing follows the notification", ["close_after_notification"]),
            (
                "no review",
                [
                    "submit_notification",
                    "record_rapid_review",
                    "send_rapid_review",
                    "record_panel_response",
                    "decide_no_review",
                    "close_no_review",
                ],
            ),
            (
                "local review",
                [
                    "submit_notification",
                    "record_rapid_review",
                    "send_rapid_review",
                    "record_panel_response",
                    "decide_local_review",
                    "commission_reviewer",
                    "submit_draft",
                    "approve_report",
                    "send_final_report",
                    "publish",
                    "record_actions",
                ],
            ),
            (
                "QA returned twice, deferred, improvements only",
                [
                    "submit_notification",
                    "record_rapid_review",
                    "return_rapid_review",
                    "record_rapid_review",
                    "send_rapid_review",
                    "record_panel_response",
                    "decide_local_review",
                    "commission_reviewer",
                    "submit_draft",
                    "return_to_reviewer",
                    "submit_draft",
                    "return_to_reviewer",
                    "submit_draft",
                    "approve_report",
                    "send_final_report",
                    "defer_publication",
                    "reconsider_publication",
                    "publish_improvements",
                    "record_improvement_actions",
                ],
            ),
            (
                "national review",
                [
                    "submit_notification",
                    "record_rapid_review",
                    "send_rapid_review",
                    "record_panel_response",
                    "decide_national_review",
                    "confirm_national_reviewer",
                    "national_report_published",
                ],
            ),
            (
                "national review, then its local actions followed through",
                [
                    "submit_notification",
                    "record_rapid_review",
                    "send_rapid_review",
                    "record_panel_response",
                    "decide_national_review",
                    "confirm_national_reviewer",
                    "follow_national_actions",
                    "close_after_actions",
                ],
            ),
        ],
    )
    def test_the_paths_in_the_guidance_end_closed(self, name: str, moves: list[str]) -> None:
        stage = stages.START
        for move_name in moves:
            move = stages.check(stage, move_name, facts_for(stages.transition(move_name)))
            stage = move.target
        assert stage is Stage.CLOSED, name

    @pytest.mark.parametrize(
        ("stage", "move"),
        [
            (Stage.NO_REVIEW, "close_no_review"),
            (Stage.PUBLISHED, "record_actions"),
            (Stage.IMPROVEMENTS_PUBLISHED, "record_improvement_actions"),
            (Stage.NATIONAL_REVIEW_UNDER_WAY, "national_report_published"),
            (Stage.ACTIONS_UNDER_WAY, "close_after_actions"),
        ],
    )
    def test_no_review_closes_with_an_action_open(self, stage: Stage, move: str) -> None:
        """Whatever review made them (the rapid review's are adopted at the partners' decision), open actions keep
        the review open: every move to CLOSED that could follow them is guarded."""
        with pytest.raises(stages.IllegalTransition) as refused:
            stages.check(stage, move, Facts(open_actions=1))
        assert refused.value.failed == ("all_actions_closed",)
        assert stages.check(stage, move, Facts(open_actions=0)).target is Stage.CLOSED

    def test_every_simple_path_from_the_start_ends_closed(self) -> None:
        """Breadth-first over all paths that visit no stage twice: each can be completed to CLOSED."""
        queue: deque[tuple[Stage, frozenset[Stage]]] = deque([(stages.START, frozenset({stages.START}))])
        paths = 0
        while queue:
            here, seen = queue.popleft()
            moves = stages.allowed_from(here)
            if not moves:
                assert here is Stage.CLOSED
                paths += 1
            for move in moves:
                if move.target not in seen:
                    queue.append((move.target, seen | {move.target}))
                elif not stages.reachable_from(move.target) & stages.TERMINAL:  # pragma: no cover
                    pytest.fail(f"{move.name} leads into a loop with no way out")
        # a death notified where nothing more follows; no review; a national review, and a local review published in
        # full or improvements only, each closed at once (no actions open) or once its actions are followed through
        assert paths == 8


class TestRefusals:
    @pytest.mark.parametrize("stage", list(Stage))
    def test_every_move_not_allowed_from_a_stage_is_refused(self, stage: Stage) -> None:
        allowed = {t.name for t in stages.allowed_from(stage)}
        for move in stages.TRANSITIONS:
            if move.name in allowed:
                continue
            with pytest.raises(IllegalTransition) as info:
                stages.check(stage, move.name, PERMISSIVE)
            assert stages.HUMAN_LABELS[stage] in str(info.value)

    def test_an_unknown_step_is_refused(self) -> None:
        with pytest.raises(IllegalTransition, match="no step called"):
            stages.check(Stage.RAPID_REVIEW, "skip_to_the_end")

    def test_the_rapid_review_goes_to_the_panel_only_when_all_three_partners_signed(self) -> None:
        for signed in [set(), {Role.POLICE}, {Role.POLICE, Role.HEALTH}]:
            with pytest.raises(IllegalTransition, match="all three safeguarding partners") as info:
                stages.check(Stage.RAPID_REVIEW_SIGN_OFF, "send_rapid_review", Facts(signed_off_by=frozenset(signed)))
            assert info.value.failed == ("all_partners_signed",)
        stages.check(Stage.RAPID_REVIEW_SIGN_OFF, "send_rapid_review", Facts(signed_off_by=PARTNERS))

    def test_sending_back_needs_a_reason(self) -> None:
        with pytest.raises(IllegalTransition, match="reason"):
            stages.check(Stage.RAPID_REVIEW_SIGN_OFF, "return_rapid_review", Facts(reason="   "))

    def test_a_conflicted_reviewer_cannot_be_commissioned(self) -> None:
        facts = Facts(reviewer_chosen=True, terms_of_reference=True, reviewer_conflicts=("Northshire Police",))
        with pytest.raises(IllegalTransition, match="conflict of interest"):
            stages.check(Stage.COMMISSIONING, "commission_reviewer", facts)

    def test_publication_waits_for_the_notice_period(self) -> None:
        facts = Facts(today=dt.date(2027, 3, 25), publish_not_before=dt.date(2027, 3, 30))
        with pytest.raises(IllegalTransition, match="7 working days"):
            stages.check(Stage.AWAITING_PUBLICATION, "publish", facts)
        stages.check(
            Stage.AWAITING_PUBLICATION,
            "publish",
            Facts(today=dt.date(2027, 3, 30), publish_not_before=dt.date(2027, 3, 30)),
        )

    def test_a_local_review_is_not_commissioned_when_the_panel_leads_a_national_one(self) -> None:
        with pytest.raises(IllegalTransition, match="national review"):
            stages.check(Stage.AWAITING_DECISION, "decide_local_review", Facts(panel_national_review=True))
        with pytest.raises(IllegalTransition, match="only the Panel"):
            stages.check(Stage.AWAITING_DECISION, "decide_national_review", Facts(panel_national_review=False))


@given(st.lists(st.sampled_from([t.name for t in stages.TRANSITIONS]), max_size=40))
def test_any_sequence_of_moves_either_follows_the_graph_or_is_refused(names: list[str]) -> None:
    stage = stages.START
    for name in names:
        move = stages.transition(name)
        try:
            taken = stages.check(stage, name, facts_for(move))
        except IllegalTransition:
            assert move.source is not stage
            continue
        assert taken.source is stage
        stage = taken.target
    assert stage in Stage
