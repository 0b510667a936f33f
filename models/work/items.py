"""An item of the work around a review: one agency's information request, or one action on a recommendation. Each
has its own run (flows/review_work.py), which asks the item's people for its form and records their answers, in
parallel with the review's own steps: an agency answers its request while the coordinator writes the rapid review.

What each kind of item does is declared in its own module (``requests.py``, ``actions.py``) as a ``Work``; this
module holds what they share: naming an item and declaring its kind. What an item's run waits for and how an answer
to it is applied are in ``answering.py``.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlmodel import Session, select

from models.agencies import UnknownAgency, agency_named
from models.forms import FormModel
from models.process.step import Refusal
from models.review.transitions import Actor
from models.roles import Role
from models.tables import Action, Agency, InformationRequest, Review
from models.task_ref import TASKS

F = TypeVar("F", bound=FormModel)
Row = InformationRequest | Action


class ItemKind(StrEnum):
    REQUEST = "request"
    ACTION = "action"


@dataclass(frozen=True, order=True)
class ItemRef:
    """An item by its kind and its number in the review: "request-2", "action-5" (in run names, tags and keys)."""

    kind: ItemKind
    number: int

    def __str__(self) -> str:
        return f"{self.kind.value}-{self.number}"

    @classmethod
    def parse(cls, text: str) -> ItemRef:
        found = re.fullmatch(r"(request|action)-([1-9]\d{0,5})", text)
        if found is None:
            raise ValueError(f"{text!r} is not an item of a review (request-N or action-N)")
        return cls(ItemKind(found[1]), int(found[2]))

    @property
    def label(self) -> str:
        """How people read it: "request 2", "action 5"."""
        return f"{self.kind.value} {self.number}"


def agency_given(session: Session, partnership_id: uuid.UUID, name: str, on: dt.date) -> Agency:
    """The partnership's agency a form names; else the register's refusal, as the step's own (the answer is refused,
    and the form asked again with it)."""
    try:
        return agency_named(session, partnership_id, name, on)
    except UnknownAgency as exc:
        raise Refusal(str(exc)) from None


def item_key(ref: ItemRef, seq: int) -> str:
    """The key of the form an item's run waits on: the item and its answer counter ("request-2-0")."""
    return f"{ref}-{seq}"


def item_path(reference: str, ref: ItemRef) -> str:
    """The item's page under the gate's tasks pages: /tasks/CSPR-2026-0042/requests/2."""
    return f"{TASKS}/{urllib.parse.quote(reference, safe='')}/{ref.kind.value}s/{ref.number}"


Handler = Callable[[Session, Review, Any, F, Actor, dt.datetime, dt.date], str]


@dataclass(frozen=True)
class Work(Generic[F]):
    """What one kind of item is: its table, the form its run waits on and what an answer to it does."""

    kind: ItemKind
    table: type[InformationRequest] | type[Action]
    form: type[F]
    title: str  # "Information request", "Action on a recommendation"
    roles: Callable[[F], frozenset[Role]]  # who may give this very answer
    from_its_agency: Callable[[F], bool]  # the answer must come from a contact of the item's own agency
    handler: Handler[F]  # acts on an accepted answer, in the caller's transaction; raises Refusal to say no
    is_open: Callable[[Any], bool]  # whether the item still waits for anyone
    describe: Callable[[Session, Review, Any], list[str]]  # markdown above the form in its run: never free text
    show: Callable[[Session, Review, Any], list[str]]  # markdown for the person's page: the item whole


def row_of(session: Session, review: Review, work: Work[Any], number: int) -> Any:
    """The item's row, or LookupError."""
    table: Any = work.table
    row = session.exec(select(table).where(table.review_id == review.id, table.number == number)).first()
    if row is None:
        raise LookupError(f"{review.reference} has no {work.kind.value} {number}")
    return row
