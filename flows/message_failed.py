"""`message-failed`: started by the trigger cspr-message-failed-tells-operators (prefect.yaml) when a message could
not be delivered after its last try, or was refused for good: the operators are told, by email where there is a
relay (or in the outbox folder), so that they can fix the mailbox or the relay and have it sent again."""

from __future__ import annotations

from prefect import flow

from tasks.notices import deliver_outbox, tell_operators


@flow(name="message-failed", flow_run_name="message-failed · {reference}")
def message_failed(reference: str, purpose: str, recipient: str) -> str:
    """Tell the operators that the review's ``purpose`` message to ``recipient`` was not delivered."""
    told = tell_operators(reference, purpose, recipient)
    deliver_outbox(reference)
    return f"operators told: {told}"
