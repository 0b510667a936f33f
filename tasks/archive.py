"""Keeping a review's documents: render what its history calls for, store each version once, and publish the
approved report only after the redaction gate has read it.

A restricted document is sealed under its review's key before it is stored (models/sealing.py); a published one is
stored as it is published. Object keys carry the review reference and the document kind, never a name:
``restricted/CSPR-2026-0042/final-report/v2.pdf`` until publication, ``published/CSPR-2026-0042/final-report.pdf``
after. Each stored object's SHA-256 is recorded in the project database and checked when it is read back.
"""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlmodel import Session, select

from models import documents, review_keys, sealing
from models.audit import store_head
from models.db import transaction
from models.documents import DocumentSpec
from models.process.steps.publication import AFTER_PUBLICATION, PublicationChoice, would_publish
from models.review.lookup import review_by_reference
from models.review.timetable import milestones_of
from models.review.transitions import latest_decision
from models.rulebook import Event
from models.tables import DecisionKind, Report, Review
from tasks.redaction import find_personal_data
from tasks.storage import SEALED_TYPE, ObjectStore, open_store

PUBLISHED_MARKING = "Published by the safeguarding partners"


def restricted_key(reference: str, kind: str, version: int) -> str:
    return f"restricted/{reference}/{kind}/v{version}.pdf"


def published_key(reference: str, kind: str) -> str:
    return f"published/{reference}/{kind}.pdf"


def _recorded(session: Session, review: Review, kind: str, version: int) -> Report | None:
    return session.exec(
        select(Report).where(Report.review_id == review.id, Report.kind == kind, Report.version == version)
    ).first()


def _pdf(spec: DocumentSpec) -> bytes:
    """The document drawn. WeasyPrint and matplotlib take most of a second to import, and most turns of a review's
    run draw nothing, so they are imported here, when a document is drawn, not by every run that starts."""
    from tasks.pdf import render_pdf

    return render_pdf(spec.template, _with_charts(spec).context).pdf


def _with_charts(spec: DocumentSpec) -> DocumentSpec:
    """The final report carries a chart of its timeline (drawn here: rendering is this layer's job)."""
    if spec.template == "final_report.html":
        from tasks.charts import events_per_month_svg  # see _pdf

        dates = [dt.date.fromisoformat(e["iso"]) for e in spec.context["draft"].get("timeline", []) if "iso" in e]
        svg = events_per_month_svg(dates)
        spec.context["charts"] = [{"svg": svg, "caption": "Key events in the timeline, by month."}] if svg else []
    return spec


def _store(
    session: Session,
    store: ObjectStore,
    review: Review,
    spec: DocumentSpec,
    key: str,
    *,
    kind: str,
    version: int,
    published: bool = False,
    retain_until: dt.date | None = None,
) -> Report:
    pdf = _pdf(spec)
    if not published:  # a restricted document leaves only sealed under the review's key; erasing it erases every copy
        pdf = sealing.seal_document(review_keys.data_key_for_writing(session, review.id), key, review.id, pdf)
    stored = store.put(
        key,
        pdf,
        content_type="application/pdf" if published else SEALED_TYPE,
        retain_until=retain_until,
        metadata={"reference": review.reference, "kind": kind},
    )
    row = Report(
        review_id=review.id,
        kind=kind,
        version=version,
        object_key=key,
        sha256=stored.sha256,
        size_bytes=stored.size,
        published=published,
        retain_until=retain_until,
    )
    session.add(row)
    store_head(session, review)  # the review's signed head covers its documents' checksums
    return row


def publishable_spec(session: Session, review: Review, decision: str, reasons: str = "") -> DocumentSpec:
    """The document publication would make public, exactly as it would be published."""
    if decision == PublicationChoice.improvements_only.value:
        spec = documents.improvements_statement(session, review, marking=PUBLISHED_MARKING)
        spec.context["reasons"] = reasons or spec.context["reasons"]
        return spec
    return documents.final_report(session, review, marking=PUBLISHED_MARKING)


@task(name="redaction-gate", cache_policy=NO_CACHE, persist_result=False)
def check_publication(reference: str, stage: str, answer: dict[str, object]) -> str | None:
    """For an answer that would publish: render what would be published and read it back for the case's names
    and dates of birth. Returns why it cannot be published (by pseudonym and page), or None when it may be."""
    decision = would_publish(stage, answer)
    if decision is None:
        return None
    reasons = str(answer.get("reasons") or "")
    with transaction() as session:
        review = review_by_reference(session, reference)
        spec = publishable_spec(session, review, decision, reasons)
        people = documents.known_people(session, review)
    unnamed = [p.label for p in people if not p.name]
    if unnamed:  # notified before the identity was known: there is nothing to check the report against
        return (
            f"the report cannot be checked for names, because the identity of {', '.join(unnamed)} has not been "
            "recorded. Nothing was published. Record it first, then publish"
        )
    findings = find_personal_data(_pdf(spec), people)
    if not findings:
        return None
    where = "; ".join(str(f) for f in findings[:10])
    return (
        f"the {spec.kind.replace('-', ' ')} cannot be published: {where}. Nothing was published. Return the report "
        "to the reviewer for correction, or publish information about the improvements instead"
    )


@task(name="store-documents", retries=3, retry_delay_seconds=[2, 10, 30], cache_policy=NO_CACHE, persist_result=False)
def store_documents(reference: str) -> list[str]:
    """Store every document the review's history calls for and, once it is published, the public copy.
    Idempotent: what is stored already is left alone. Returns the keys stored now."""
    store = open_store()
    stored: list[str] = []
    with transaction() as session:
        review = review_by_reference(session, reference)
        for spec in documents.plan(session, review):
            if _recorded(session, review, spec.kind, spec.version) is None:
                key = restricted_key(reference, spec.kind, spec.version)
                stored.append(
                    _store(session, store, review, spec, key, kind=spec.kind, version=spec.version).object_key
                )
        published_on = milestones_of(session, review.id).get(Event.PUBLISHED_ON)
        if review.stage in AFTER_PUBLICATION and published_on:
            stored += _publish(session, store, review, published_on)
    if stored:
        get_run_logger().info("%s: stored %s in %s", reference, ", ".join(stored), store.describe())
    return stored


def _publish(session: Session, store: ObjectStore, review: Review, published_on: dt.date) -> list[str]:
    _, decision = latest_decision(session, review, DecisionKind.PUBLICATION)
    if decision is None:  # a national review is published by the Panel, not here
        return []
    spec = publishable_spec(session, review, str(decision.details.get("decision", "")), decision.reasons or "")
    kind = f"published-{spec.kind}"
    if _recorded(session, review, kind, 1) is not None:
        return []
    retain = documents.retention_until(session, review)  # None where the review's edition sets no such period
    row = _store(
        session,
        store,
        review,
        spec,
        published_key(review.reference, spec.kind),
        kind=kind,
        version=1,
        published=True,
        retain_until=retain,
    )
    if retain is not None and not store.supports_retention:
        get_run_logger().warning(
            "%s: %s cannot lock objects; %s is not protected against deletion before %s",
            review.reference,
            store.describe(),
            row.object_key,
            retain.isoformat(),
        )
    return [row.object_key]


def stored_documents(reference: str, *, published: bool | None = None) -> list[Report]:
    """The review's stored documents, newest version of each kind first."""
    with transaction() as session:
        review = review_by_reference(session, reference)
        query = select(Report).where(Report.review_id == review.id)
        if published is not None:
            query = query.where(Report.published == published)
        rows = session.exec(query).all()
    return sorted(rows, key=lambda r: (r.kind, -r.version))


def read_document(report: Report, store: ObjectStore | None = None) -> bytes:
    """The document's bytes, checked against the SHA-256 recorded when it was stored, and opened with its review's
    key if it is sealed (a restricted document)."""
    data = (store or open_store()).get(report.object_key, sha256=report.sha256)
    if not sealing.is_sealed_document(data) or report.review_id is None:
        return data
    with transaction() as session:
        key = review_keys.data_key(session, report.review_id)
    return sealing.open_document(key, report.object_key, report.review_id, data)
