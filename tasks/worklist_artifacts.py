"""The worklist kept where people see it: table artifacts of every step waiting for a person, soonest deadline first,
with a link to each run's form; and the same rows for ``cspr tasks``.

Each partnership's is ``cspr-worklist-<code>``, refreshed by every turn of its reviews' runs, so it belongs to a run
of that partnership and the gate shows it to that partnership's people alone; every partnership's together is
``cspr-worklist``, refreshed by the sweep, whose runs belong to no partnership: for operators."""

from __future__ import annotations

from prefect import get_client, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType

from models import worklist
from models.calendar import today_in_england
from models.db import transaction
from models.roles import Role
from tasks.notices import ui_url

KEY = "cspr-worklist"
PAGE = 200  # Prefect's largest page of runs


def form_links() -> dict[str, str]:
    """Each review whose run waits on a form, and the address of that run's page (where its form is)."""
    waiting = FlowRunFilter(
        tags=FlowRunFilterTags(all_=["lifecycle"]),
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
    )
    links: dict[str, str] = {}
    base = ui_url().rstrip("/")
    read = 0
    with get_client(sync_client=True) as client:
        while batch := client.read_flow_runs(flow_run_filter=waiting, limit=PAGE, offset=read):
            read += len(batch)
            for run in batch:
                reference = next((t.removeprefix("review:") for t in run.tags if t.startswith("review:")), None)
                if reference:
                    links[reference] = f"{base}/runs/flow-run/{run.id}"
            if len(batch) < PAGE:
                break
    return links


def rows(
    *,
    partnership: str | None = None,
    role: Role | None = None,
    with_runs: bool = True,
    about_to_wait: dict[str, str] | None = None,
) -> list[dict[str, str | int | None]]:
    """The worklist as table rows, each with its link: the run's form, or the review's page while no run waits (or
    with ``with_runs`` false, when there is no Prefect server to ask). ``about_to_wait``: the links of runs that
    will be waiting on a form in a moment (the run publishing this), by reference."""
    with transaction() as session:
        waiting = worklist.worklist(session, today_in_england(), partnership=partnership, role=role)
    links = form_links() if waiting and with_runs else {}
    links |= about_to_wait or {}
    base = ui_url().rstrip("/")
    return [w.row(links.get(w.reference, f"{base}/artifacts/key/{w.reference.lower()}")) for w in waiting]


def key_for(partnership: str | None) -> str:
    return KEY if partnership is None else f"{KEY}-{partnership}"


@task(name="publish-worklist")
def publish_worklist(waiting_here: str | None = None, partnership: str | None = None) -> int:
    """Refresh the worklist artifact of one partnership (or, for None, of all); how many steps are waiting.
    ``waiting_here``: the review whose run publishes this and is about to wait on its form (not yet shown as
    waiting by Prefect)."""
    here = {}
    if waiting_here:
        from prefect.runtime import flow_run

        here[waiting_here] = f"{ui_url().rstrip('/')}/runs/flow-run/{flow_run.id}"
    try:
        table = rows(partnership=partnership, about_to_wait=here)
    except Exception:  # the worklist is a view for people: a failure to refresh it must not stop a review's run
        get_run_logger().exception("the worklist could not be refreshed; it will be at the next turn or sweep")
        return 0
    nothing: list[dict[str, str | int | None]] = [{"reference": "nothing is waiting for anyone"}]
    whose = f"in {partnership}" if partnership else "in every partnership"
    create_table_artifact(
        key=key_for(partnership), table=table or nothing, description=f"Every step waiting for a person {whose}"
    )
    return len(table)
