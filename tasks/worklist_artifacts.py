"""The worklist kept where people see it: table artifacts of every step waiting for a person, and every open item of
the work around a review (an agency's information request, an action on a recommendation: with its agency and where
it stands), soonest deadline first, with a link to each task's page; and the same rows for ``cspr tasks`` (the tasks
pages read the same worklist, models/worklist.py).

Each partnership's is ``cspr-worklist-<code>``, kept up to date by its reviews' runs: every turn counts a change on
the partnership's row (one statement, whatever the number of open reviews), and refreshes the artifact, which reads
every open review of the partnership, only if nobody has for ``WINDOW``; ``publish_changed_worklists`` (called
every few minutes) refreshes what turns left behind. So a burst of N turns costs N rows' updates and a refresh a
minute, not N refreshes of N reviews each. A refresh belongs to a run of that partnership (the turn's, or the latest
turn's), so the gate shows it to that partnership's people alone; its description says when it was made. Every
partnership's together is ``cspr-worklist``, refreshed by the sweep, whose runs belong to no partnership: for
operators. The tasks pages and ``cspr tasks`` read the database, and are never behind."""

from __future__ import annotations

import datetime as dt
import json
import logging
from uuid import UUID
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.exceptions import MissingContextError
from prefect.utilities.context import get_task_and_flow_run_ids

from models import worklist
from models.calendar import today_in_england
from models.dates import long_date
from models.db import transaction
from models.roles import Role
from models.tables import utcnow
from models.task_ref import task_path
from models.work.items import item_path
from tasks.notices import ui_url

KEY = "cspr-worklist"
# a partnership's worklist is refreshed by a turn at most once in this long: in a burst, the work of a turn stays
# the same whatever the number of open reviews; a change within it waits for the next refresh (minutes at most)
WINDOW = dt.timedelta(seconds=60)
NOTHING: list[dict[str, str | int | None]] = [{"reference": "nothing is waiting for anyone"}]

Row = dict[str, str | int | None]


def rows(*, partnership: str | None = None, role: Role | None = None) -> list[Row]:
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


def description(partnership: str | None, at: dt.datetime) -> str:
    """What the artifact is, and when it was made: a reader knows how far behind it may be."""
    local = at.astimezone(ZoneInfo("Europe/London"))
    when = f"{local:%H:%M} on {long_date(local.date())} (UK time)"
    if partnership is None:
        return f"Every step waiting for a person in every partnership, as it stood at {when}: refreshed by each sweep"
    return (
        f"Every step waiting for a person in {partnership}, as it stood at {when}. Refreshed at most once a minute "
        "while steps move, and within minutes of the last; the tasks pages always show each step as it stands."
    )


@task(name="publish-worklist")
def publish_worklist(partnership: str | None = None) -> int:
    """Refresh the worklist artifact of one partnership (or, for None, of all) now; how many steps and items are
    waiting."""
    _, run_id = get_task_and_flow_run_ids()
    return refresh_now(partnership, run_id, utcnow()) or 0


@task(name="refresh-worklist")
def refresh_worklist(partnership: str) -> bool:
    """A turn of one of the partnership's reviews: count the change, and refresh the partnership's worklist if
    nobody has for ``WINDOW``; whether this turn did."""
    try:
        return note_turn(partnership)
    except Exception:  # the worklist is a view for people: a failure to count a change must not stop a review's run
        _logger().exception("the worklist change could not be counted; it will be refreshed at the next turn")
        return False


def note_turn(partnership: str, *, window: dt.timedelta | None = None, now: dt.datetime | None = None) -> bool:
    """The work of ``refresh_worklist``, in the flow run (or task run) of the turn: one row's update, and the
    refresh if this turn takes it (at most one turn of the partnership in each ``window``)."""
    _, run_id = get_task_and_flow_run_ids()
    now = now or utcnow()
    with transaction() as session:
        worklist.count_change(session, partnership, run_id)
        mine = worklist.claim_if_quiet(session, partnership, now, WINDOW if window is None else window)
    if mine:
        refresh_now(partnership, run_id, now)
    return mine


def publish_changed_worklists(now: dt.datetime | None = None) -> list[str]:
    """Refresh every partnership's worklist that turns changed since its last refresh (the turns within ``WINDOW``
    of one that refreshed it): to be called every few minutes, from a flow's body (each refresh belongs to the
    latest turn's run, not the caller's). The partnerships refreshed; one that fails is left for the next call."""
    now = now or utcnow()
    with transaction() as session:
        claims = worklist.claim_changed(session, now)
    return [c.partnership for c in claims if refresh_now(c.partnership, c.run_id, now) is not None]


def refresh_now(partnership: str | None, run_id: UUID | None, at: dt.datetime) -> int | None:
    """Write the worklist's artifact as it stands, belonging to the flow run ``run_id``; how many rows (None: it
    could not be, and it is counted as behind again)."""
    try:
        table = rows(partnership=partnership)
        _create(key_for(partnership), table or NOTHING, description(partnership, at), run_id)
    except Exception:  # the worklist is a view for people: a failure to refresh it must not stop a review's run
        _logger().exception("the worklist could not be refreshed; the next look for changes (or sweep) will")
        if partnership is not None:
            try:
                with transaction() as session:
                    worklist.refresh_failed(session, partnership)
            except Exception:
                _logger().exception("the worklist's failed refresh could not be recorded")
        return None
    return len(table)


def _create(key: str, table: list[Row], said: str, run_id: UUID | None) -> None:
    """A table artifact belonging to the flow run ``run_id`` (and to this task run when it is that run's)."""
    task_run_id, current = get_task_and_flow_run_ids()
    artifact = ArtifactCreate(
        key=key,
        type="table",
        description=said,
        data=json.dumps(table),
        flow_run_id=run_id,
        task_run_id=task_run_id if run_id is not None and run_id == current else None,
    )
    with get_client(sync_client=True) as client:
        client.create_artifact(artifact=artifact)


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:  # called outside a run: the trailing refresh, from a test or a command
        return logging.getLogger(__name__)
