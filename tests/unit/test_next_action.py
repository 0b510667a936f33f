"""What the lifecycle does next crosses a Prefect task boundary (``tasks.lifecycle_tasks.next_step``): each kind of next
action comes back whole and of its own type, however Prefect keeps task results."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from prefect.filesystems import LocalFileSystem
from prefect.results import ResultStore
from prefect.serializers import Serializer

from models.stages import Stage, Transition
from tasks.lifecycle_tasks import AskPerson, MoveAutomatically, NextAction, ReviewClosed, WaitForDate

HERE = ("CSPR-2026-0042", "NORTHSHIRE", Stage.PUBLICATION_DEFERRED)
ACTIONS: list[NextAction] = [
    AskPerson(*HERE, slug="publication-decision", key="publication-deferred-7", description="**Decide**"),
    WaitForDate(*HERE, on=dt.date(2027, 3, 1), why="publication deferred: look again then", counter=7),
    MoveAutomatically(*HERE, transition=Transition.RECONSIDER_PUBLICATION),
    ReviewClosed(*HERE),
]


@pytest.mark.parametrize("serializer", ["pickle", "json"])
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: type(a).__name__)
def test_a_next_action_survives_persisted_task_results(tmp_path: Path, serializer: str, action: NextAction) -> None:
    """Results stay in memory here (PREFECT_RESULTS_PERSIST_BY_DEFAULT=false), but a setting can have Prefect
    persist them with either serializer: the action read back is the one written."""
    storage = LocalFileSystem(basepath=str(tmp_path))
    store = ResultStore(result_storage=storage, serializer=Serializer(type=serializer), cache_result_in_memory=False)
    store.write(action, key="next-step")
    back = store.read("next-step").result
    assert type(back) is type(action)
    assert back == action
    assert isinstance(back.stage, Stage)


def test_each_next_action_names_the_run() -> None:
    assert [a.slug for a in ACTIONS] == ["publication-decision", "waiting", "reconsider-publication", "closed"]
