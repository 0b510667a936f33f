"""The worklist kept where people see it: table artifacts of every step waiting for a person, and every open item of
the work around a review (an agency's information request, an action on a recommendation: with its agency and where
it stands), soonest deadline first, with a link to each task's page; and the same rows for ``cspr tasks`` (the tasks
pages read the same worklist, models/worklist.py).

Each partnership's is ``cspr-worklist-<code>``, refreshed by every turn of its reviews' runs, so it belongs to a run
of that partnership and the gate shows it to that partnership's people alone; every partnership's together is
``cspr-worklist``, refreshed by the sweep, whose runs belong to no partnership: for operators."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact

from models import worklist
from models.calendar import today_in_england
from models.db import transaction
from models.roles import Role
from models.task_ref import task_path
from models.work.items import item_path
from tasks.notices import ui_url

KEY = "cspr-worklist"
PAGE = 200  # Prefect's largest page of runs


def rows(*, partnership: str | None = None, role: Role | None = None) -> list[dict[str, str | int | None]]:
    """The worklist as table rows, each with its link: the step's task page, where its form is, or the item's
    (gate/tasks_app.py); soonest deadline first, then by reference."""
    today = today_in_england()
    with transaction() as session:
        waiting = worklist.worklist(session, today, partnership=partnership, role=role)
        items = worklist.work_items(session, today, partnership=partnership, open_only=True)
    base = ui_url().rstrip("/")
    found = [w.row(f"{base}{task_path(w.reference, w.stage)}") for w in waiting]
    found += [i.row(f"{base}{item_path(i.reference, i.item)}") for i in items if role is None or role in i.who]
    return sorted(found, key=lambda r: (r["deadline"] is None, str(r["deadline"] or ""), str(r["reference"])))


def key_for(partnership: str | None) -> str:
    return KEY if partnership is None else f"{KEY}-{partnership}"


@task(name="publish-worklist")
def publish_worklist(partnership: str | None = None) -> int:
    """Refresh the worklist artifact of one partnership (or, for None, of all); how many steps and items are
    waiting."""
    try:
        table = rows(partnership=partnership)
    except Exception:  # the worklist is a view for people: a failure to refresh it must not stop a review's run
        get_run_logger().exception("the worklist could not be refreshed; it will be at the next turn or sweep")
        return 0
    nothing: list[dict[str, str | int | None]] = [{"reference": "nothing is waiting for anyone"}]
    whose = f"in {partnership}" if partnership else "in every partnership"
    create_table_artifact(
        key=key_for(partnership), table=table or nothing, description=f"Every step waiting for a person {whose}"
    )
    return len(table)
