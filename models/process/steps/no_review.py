"""No local review: once the partners' decision is recorded (and the Panel, Ofsted and DfE told of it), the review
closes by itself."""

from __future__ import annotations

from models.process.step import AutomaticStage
from models.stages import Stage, Transition

STAGE = AutomaticStage(Stage.NO_REVIEW, Transition.CLOSE_NO_REVIEW)
