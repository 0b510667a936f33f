"""Publication deferred (criminal proceedings or an inquest pending, say): the review waits until the date the
partners gave to look again, then asks for the publication decision again by itself."""

from __future__ import annotations

from models import progress
from models.process.step import AutomaticStage, Wait
from models.stages import Stage, Transition

STAGE = AutomaticStage(
    Stage.PUBLICATION_DEFERRED,
    Transition.RECONSIDER_PUBLICATION,
    wait=Wait(until=progress.deferred_until, why="publication deferred: look again then"),
)
