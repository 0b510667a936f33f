"""`retention`: on the 2nd of each month, everything past its retention goes (models/retention.toml): reviews are
erased by destroying their data keys, restricted documents deleted with every version, old messages and old runs
deleted. A review under legal hold is kept. Run it by hand with ``dry_run`` to see what would go."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from models.calendar import today_in_england
from models.retention import check_day
from models.summaries import retention_summary
from tasks.erasure import apply_retention, runs_due, what_is_due
from tasks.runs import forget_ended_runs


@flow(name="retention", flow_run_name="retention · {as_of}")
def retention(
    as_of: Annotated[dt.date | None, Field(title="As of", description="Leave empty for today.")] = None,
    dry_run: Annotated[bool, Field(title="Dry run", description="List what would go, and change nothing.")] = False,
) -> dict[str, int]:
    """Erase and delete what the retention schedule says is past its time."""
    day = as_of or today_in_england()
    check_day(day, dry_run=dry_run)
    failed: list[str] = []
    if dry_run:
        due, runs, counts = what_is_due(day), runs_due(day), {}
    else:
        applied = apply_retention(day)
        due, runs, counts, failed = applied.due, applied.runs_deleted, applied.counts(), applied.failed
        counts["inputs_deleted"] = forget_ended_runs(None)  # the full pass: every ended run, however long ago
    summary = retention_summary(due, day, applied=not dry_run, runs=runs, failed=failed)
    create_markdown_artifact(key="retention", markdown=summary, description="Retention")
    if failed:  # the run fails, so that operators see it; what could be done was done, and the next run tries again
        raise RuntimeError(f"{len(failed)} item(s) could not be erased or deleted: see the retention artifact")
    return counts or {"due": len(due), "runs_due": runs}
