"""`deliver-messages`: every five minutes (prefect.yaml), the messages due now are delivered: an email the mail relay
did not take, at its next try, and a message whose review's run stopped before delivering it. A relay that was down
is so tried again within minutes of each try falling due, not when the review next moves or at the next weekday
sweep. When nothing is due and no worklist changed, the run makes two queries and ends.

It also publishes the worklists whose changes are not shown yet: a turn of a review refreshes its partnership's
worklist artifact at most once a minute (tasks/worklist_artifacts.py), and this run shows the changes that came after.

Daily digests are not its business: the weekday sweep sends them, once a working day. It runs beside everything
else that delivers (a review's run, the sweep, message-failed, a late tick of itself): each email is claimed before
it is sent (tasks/notices.py), so each is sent once. Its name, logs and result hold references and counts only.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.notices import Delivered, deliver_outbox, references_due
from tasks.worklist_artifacts import publish_changed_worklists


@flow(name="deliver-messages", flow_run_name="deliver-messages")
def deliver_messages() -> dict[str, int]:
    """Deliver every review's messages that are due now; how many reviews, and what became of their messages."""
    due = references_due()
    counts = {"reviews": len(due), "sent": 0, "to_folder": 0, "retrying": 0, "failed": 0, "not_tried": 0}
    for reference in due:
        # one review's trouble (its task fails and logs why) leaves the others' messages to be delivered
        state = deliver_outbox(reference, return_state=True)
        if not state.is_completed():
            counts["not_tried"] += 1
            continue
        result: Delivered = state.result()
        counts["sent"] += result.sent
        counts["to_folder"] += result.to_folder
        counts["retrying"] += result.retrying
        counts["failed"] += len(result.failed)
    if due:
        get_run_logger().info(
            "%d review(s) with messages due: %d email(s) sent, %d message(s) to the outbox folder, %d to try again, "
            "%d failed; %d review(s) not delivered (see their deliver-outbox task)",
            *counts.values(),
        )
    # not a task of this run: each refresh is made for the partnership's latest review run, whose artifact it is
    publish_changed_worklists()
    if counts["not_tried"]:
        raise RuntimeError(f"the messages of {counts['not_tried']} review(s) could not be delivered: see their tasks")
    return counts
