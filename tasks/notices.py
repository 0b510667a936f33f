"""The outbox: messages to the Panel, Ofsted, DfE, the Secretary of State and coordinators.

Messages are written in the same transaction as the decision that causes them; delivering them is a separate,
idempotent step. Delivery here drops each message as a text file in ``CSPR_HOME/outbox`` (one file per
message, named by reference, purpose and recipient), where an operator or a mail gateway picks it up; a
message already delivered is never delivered again.
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from sqlmodel import col, select

from models.db import transaction
from models.settings import get_settings
from models.tables import Outbox, Review, utcnow

RECIPIENTS = {
    "panel": "the Child Safeguarding Practice Review Panel",
    "ofsted": "Ofsted",
    "dfe": "the Department for Education",
    "secretary_of_state": "the Secretary of State for Education",
    "local_partners": "the local safeguarding partners",
    "coordinator": "the review coordinator",
}


def outbox_folder() -> Path:
    return get_settings().resolved_home / "outbox"


@task(name="deliver-outbox")
def deliver_outbox(reference: str) -> int:
    """Deliver this review's pending messages. Returns how many were delivered now."""
    folder = outbox_folder()
    folder.mkdir(parents=True, exist_ok=True)
    delivered = 0
    with transaction() as session:
        rows = session.exec(
            select(Outbox)
            .join(Review, col(Review.id) == col(Outbox.review_id))
            .where(Review.reference == reference, col(Outbox.sent_at).is_(None))
            .with_for_update()
        ).all()
        for message in rows:
            target = folder / f"{reference}--{message.purpose}--{message.recipient}.txt"
            if not target.exists():
                tmp = target.with_suffix(".tmp")
                tmp.write_text(
                    f"To: {RECIPIENTS.get(message.recipient, message.recipient)}\n"
                    f"Subject: {message.subject}\n\n{message.body}\n",
                    encoding="utf-8",
                )
                tmp.replace(target)
            message.sent_at = utcnow()
            message.attempts += 1
            session.add(message)
            delivered += 1
    if delivered:
        get_run_logger().info("%s: %d message(s) delivered to %s", reference, delivered, folder)
    return delivered
