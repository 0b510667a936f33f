"""No local review: once the partners' decision is recorded (and the Panel, Ofsted and DfE told of it), the review
closes by itself; or, if the partners adopted actions on the rapid review's recommendations with their decision, once
the last of them is closed (each is followed through by its own run, and the last to close starts the lifecycle
again)."""

from __future__ import annotations

from models.process.step import AutomaticStage
from models.process.steps.actions import actions_open
from models.stages import Stage, Transition

STAGE = AutomaticStage(Stage.NO_REVIEW, Transition.CLOSE_NO_REVIEW, facts=actions_open)
