"""`review-work`: one run per item of the work around a review (an agency's information request, an action on a
recommendation), beside the review's own run. It asks the item's people for its form (the agency's contact, the
coordinator, the partners: whoever the answer is for), records each answer with the person the gate signed onto it,
and ends when the item is closed. Like the lifecycle, it asks the database what the item waits for each time, so a
crashed, retried or replayed run repeats nothing.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import Field

from flows.inputs import ITEM_FORMS, ask, forget, forget_all_but
from flows.review_lifecycle import Reference
from models.work.items import ItemRef
from tasks.notices import deliver_outbox
from tasks.runs import name_run, review_slot
from tasks.work_tasks import AskItem, ItemDone, item_tags, next_item, other_item_runs, record_item_answer

Item = Annotated[str, Field(pattern=r"^(request|action)-[1-9]\d{0,5}$", title="Item", examples=["request-2"])]


@flow(name="review-work", log_prints=False)
def review_work(reference: Reference, item: Item) -> str:
    """Ask for one item's answers until it is closed, recording each."""
    ref = ItemRef.parse(item)
    while True:
        with review_slot(reference):
            step = next_item(reference, item)
            name_run(f"{reference} · {ref}", item_tags(reference, step.partnership, step.stage, ref))
            # a second run for the item (the sweep's and the crash trigger's at once): the one that found the other
            # named and live stops, under the review's slot, so that only one waits for the item's form
            if other_item_runs(reference, ref):
                return "already being handled"
            deliver_outbox(reference)
            forget_all_but(step.key if isinstance(step, AskItem) else None)
        match step:
            case ItemDone():
                return "closed"
            case AskItem(key=key, description=description):
                answer = ask(ITEM_FORMS[ref.kind], key, description)  # suspends: no slot held
                if answer is not None:
                    with review_slot(reference):
                        record_item_answer(reference, item, key, answer.data, answer.signer)
                forget(key)
