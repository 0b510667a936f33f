"""``cspr document``: one of a review's stored documents, as a short-lived link or a checked copy in a file."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, fail


def document(
    reference: Annotated[str, typer.Argument(help="The review reference, e.g. CSPR-2026-0042.")],
    kind: Annotated[str, typer.Argument(help="e.g. final-report, rapid-review, decision-letter.")],
    out: Annotated[str | None, typer.Option(help="Save the document here (checked against its SHA-256).")] = None,
    minutes: Annotated[int, typer.Option(help="How long the link works.")] = 5,
) -> None:
    """Open one of a review's stored documents: a short-lived link, or a checked copy saved to a file."""
    from pathlib import Path

    from models.review.lookup import UnknownReview
    from models.review_keys import Erased
    from tasks.archive import read_document, stored_documents
    from tasks.storage import open_store

    try:
        matches = [r for r in stored_documents(reference) if r.kind == kind]
    except UnknownReview:
        raise fail(f"there is no review {reference!r}") from None
    if not matches:
        raise fail(f"{reference} has no stored {kind!r}")
    store = open_store()
    if out:
        try:
            Path(out).write_bytes(read_document(matches[0], store))
        except Erased:
            raise fail(f"{reference} was erased: its restricted documents can no longer be opened") from None
        console.print(f"Saved {matches[0].object_key} (version {matches[0].version}, checksum verified) to {out}")
    elif not matches[0].published:  # sealed in the store: a link would hand out what nobody can read
        raise fail(f"{reference}'s {kind} is restricted and sealed with the review's key: save a copy with --out FILE")
    else:
        console.print(store.link(matches[0].object_key, expires_in=minutes * 60), soft_wrap=True)
