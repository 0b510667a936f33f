"""The partnership's worklist artifact through a burst of turns (tasks/worklist_artifacts.py): turns within the window
of the last refresh count their change and write no artifact; the next look for changes writes one, listing every
step waiting in the partnership, belonging to the latest turn's run (so the gate shows it to that partnership's
people), and saying when it was made."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from cli.demo import Case
from cli.system import LocalSystem
from models.db import transaction
from models.tables import WorklistRefresh
from tasks import worklist_artifacts
from tasks.worklist_artifacts import key_for, note_turn, publish_changed_worklists, rows
from tests.utils import inprocess
from tests.utils.api import service_api

PARTNERSHIP = "northshire"


def versions(system: LocalSystem) -> int:
    """How many times the partnership's worklist artifact has been written."""
    only = {"artifacts": {"key": {"any_": [key_for(PARTNERSHIP)]}}}
    return int(service_api(system).post("/artifacts/count", json=only).json())


def newest(system: LocalSystem) -> dict[str, Any]:
    latest = service_api(system).post(
        "/artifacts/latest/filter", json={"artifacts": {"key": {"any_": [key_for(PARTNERSHIP)]}}}
    )
    (found,) = latest.json()
    return dict(found)


def test_a_burst_of_turns_is_refreshed_once_by_the_next_look(
    deployed: LocalSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worklist_artifacts, "WINDOW", dt.timedelta(hours=1))  # the burst is well within it
    assert note_turn(PARTNERSHIP, window=dt.timedelta(0))  # refreshed just now
    before = versions(deployed)
    cases = [Case(pseudonym=f"Child Burst {n}") for n in range(3)]
    references, runs = [], []
    for case in cases:
        reference, _ = inprocess.notify(case)
        runs.append(inprocess.suspended_run(reference))  # the review's run, through its turns up to its first form
        references.append(reference)
    assert versions(deployed) == before  # every turn counted, none refreshed
    with transaction() as session:
        counted = session.get_one(WorklistRefresh, PARTNERSHIP)
        assert counted.changes > counted.shown and counted.run_id == runs[-1].id

    assert PARTNERSHIP in publish_changed_worklists()
    assert versions(deployed) == before + 1
    artifact = newest(deployed)
    table = json.loads(artifact["data"])
    assert {r["reference"] for r in table} >= set(references)
    assert table == rows(partnership=PARTNERSHIP)  # every step and item waiting in the partnership, as they stand
    assert artifact["flow_run_id"] == str(runs[-1].id)  # the latest turn's run: one of the partnership's
    assert "as it stood at" in artifact["description"] and "(UK time)" in artifact["description"]
    assert not any(case.child_name in artifact["data"] for case in cases)

    assert PARTNERSHIP not in publish_changed_worklists()  # nothing changed since
    assert versions(deployed) == before + 1
