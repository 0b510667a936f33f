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
from models.summaries import compliance_summary
from tasks.compliance_report import compliance_report

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
    summary = compliance_summary(figures, key=produced.key, version=produced.version, size=produced.size)
    create_markdown_artifact(
        key=f"compliance-{partnership or 'all'}", markdown=summary, description=f"Compliance report, {period.label}"
    )
    get_run_logger().info("compliance report for %s, %s: %s", partnership or "all", period.label, produced.key)
    return {
        "key": produced.key,
        "version": produced.version,
        "reviews": figures.reviews,
        "overdue_reviews": figures.overdue_reviews,
    }
