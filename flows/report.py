"""`partnership-report`: the compliance report for a period, for one partnership or all of them, as a PDF in the
object store and a summary in Prefect. Scheduled on the first of each month for the month before; run it by hand
for any period (a year, for the partnership's yearly report)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from models.calendar import today_in_england
from models.compliance import Period
from tasks.compliance import compliance_report

PartnershipCode = Annotated[
    str | None,
    Field(
        title="Partnership",
        description="The partnership's short code (for example northshire). Leave empty for every partnership.",
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        max_length=64,
    ),
]
Day = Annotated[dt.date | None, Field(description="Leave empty for the whole of last month.")]


@flow(name="partnership-report", flow_run_name="partnership-report · {partnership} · {date_from} to {date_to}")
def partnership_report(
    date_from: Annotated[Day, Field(title="From")] = None,
    date_to: Annotated[Day, Field(title="To")] = None,
    partnership: PartnershipCode = None,
) -> dict[str, object]:
    """Compliance with the statutory timescales over a period, as a PDF for the partnership's yearly report."""
    month = Period.month_before(today_in_england())
    period = Period(date_from or month.start, date_to or month.end)
    produced = compliance_report(period, partnership)
    figures = produced.figures
    lines = [f"# Compliance report: {figures.scope_name}", "", f"{period.label}, as at {figures.as_of:%d %B %Y}.", "",
             f"Stored as `{produced.key}` ({produced.size:,} bytes).", "",
             "| timescale | fell due | on time | late | outstanding | on time (%) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for r in figures.timeliness.itertuples():
        rate = "none due" if r.fell_due == 0 else f"{r.percent_on_time:g}"
        lines.append(f"| {r.title} | {r.fell_due} | {r.on_time} | {r.late} | {r.outstanding} | {rate} |")
    lines += ["", f"Reviews with a statutory deadline overdue on {figures.as_of:%d %B %Y}: {figures.overdue_reviews}."]
    create_markdown_artifact(key=f"compliance-{partnership or 'all'}", markdown="\n".join(lines),
                             description=f"Compliance report, {period.label}")  # fmt: skip
    get_run_logger().info("compliance report for %s, %s: %s", partnership or "all", period.label, produced.key)
    return {"key": produced.key, "version": produced.version, "reviews": figures.reviews,
            "overdue_reviews": figures.overdue_reviews}  # fmt: skip
