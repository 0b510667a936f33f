"""What agencies, coordinators and partners answer about the work around a review: an agency's return, a change to a
request, an action's progress and the partnership's view of it. Pure pydantic, like every step's form.

Each item's run waits on one form (``RequestAnswer``, ``ActionAnswer``) whose ``what`` says which answer it is, so
that whoever may act on the item answers the same run: the agency's contact returns its information, the coordinator
extends or closes the request. The tasks page shows each person only the part that is theirs (``AgencyReturn``,
``RequestChange``, ``ActionProgress``, ``ActionReview``), and the gate puts ``what`` in.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, WithJsonSchema, model_validator

from models.forms import FREE, CleanText, FieldsNeeded, OptionalText, Text, inline, not_in_future

MAX_ENTRIES = 500
ONLY_WHEN_DONE = "Attach an evidence document only when the action is done"  # a document with any other status

Entry = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), FREE]
# an evidence document, by its row's id (models/work/evidence.py): never its name nor its bytes; empty: none
UUID_OR_EMPTY = r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$"
EvidenceId = Annotated[str, StringConstraints(pattern=UUID_OR_EMPTY)]
OptionalDate = Annotated[dt.date | None, WithJsonSchema({"type": "string", "format": "date"})]


class ChronologyEntry(CleanText):
    on: dt.date = Field(title="Date")
    contact: Entry = Field(title="The agency's contact with the child or family", description="What happened.")


class AgencyReturn(CleanText):
    """An agency's information for the review. Write about the child and family by the pseudonyms the request
    gives: what you write is sealed, and names are checked for before anything is published."""

    involvement: OptionalText = Field(
        default="", title="Your agency's involvement with the child and family", description="Who, when and why."
    )
    chronology: list[ChronologyEntry] = Field(
        default_factory=list, max_length=MAX_ENTRIES, title="Chronology of your agency's contacts"
    )
    analysis: OptionalText = Field(default="", title="Your analysis of your agency's practice")
    actions_taken: OptionalText = Field(default="", title="Immediate actions your agency has taken")
    learning: OptionalText = Field(default="", title="What your agency has learnt")

    @model_validator(mode="after")
    def _whole(self) -> AgencyReturn:
        _return_needs(self)
        return self


def _return_needs(given: AgencyReturn) -> None:
    missing = [
        (name, title)
        for name, title in (
            ("involvement", "your agency's involvement"),
            ("analysis", "your analysis of your agency's practice"),
            ("learning", "what your agency has learnt"),
        )
        if not getattr(given, name)
    ]
    if missing:
        said = ", ".join(title for _, title in missing)
        raise FieldsNeeded(
            f"a return needs {said}; if your agency had none, answer no involvement",
            tuple(n for n, _ in missing),
            otherwise="answer that your agency had no involvement",
        )
    for entry in given.chronology:
        not_in_future(entry.on, "a chronology entry's date")


class RequestChoice(StrEnum):
    RETURN = "return"  # the agency's return
    NO_INVOLVEMENT = "no involvement"  # the agency had none
    EXTEND = "extend"  # the coordinator gives more time, with a reason
    NOT_NEEDED = "not needed"  # the coordinator closes it, with a reason
    CHASE = "chase"  # the coordinator reminds the agency's contacts now


class ChangeChoice(StrEnum):
    CHASE = RequestChoice.CHASE.value
    EXTEND = RequestChoice.EXTEND.value
    NOT_NEEDED = RequestChoice.NOT_NEEDED.value


class RequestChange(CleanText):
    """What the coordinator may do with a request: remind the agency now, give it more time, or close it."""

    what: Annotated[ChangeChoice, inline(ChangeChoice)] = Field(title="What do you want to do?")
    due_on: OptionalDate = Field(default=None, title="New date it is due", description="Only to give more time.")
    reason: OptionalText = Field(
        default="", title="Reason", description="Needed to give more time or to close the request."
    )

    @model_validator(mode="after")
    def _needs(self) -> RequestChange:
        _change_needs(RequestChoice(self.what.value), self.due_on, self.reason)
        return self


def _change_needs(what: RequestChoice, due_on: dt.date | None, reason: str) -> None:
    if what is not RequestChoice.CHASE and not reason:
        raise ValueError("give the reason")
    if what is RequestChoice.EXTEND and due_on is None:
        raise ValueError("give the new date it is due")


class RequestAnswer(AgencyReturn):
    """Every answer a request takes, as its run asks for it: ``what`` says which."""

    what: Annotated[RequestChoice, inline(RequestChoice)] = Field(title="Answer")
    due_on: OptionalDate = Field(default=None, title="New date it is due")
    reason: OptionalText = Field(default="", title="Reason")

    @model_validator(mode="after")
    def _whole(self) -> RequestAnswer:
        if self.what is RequestChoice.RETURN:
            _return_needs(self)
        elif self.what is not RequestChoice.NO_INVOLVEMENT:
            _change_needs(RequestChoice(self.what), self.due_on, self.reason)
        return self


class Progress(StrEnum):
    IN_PROGRESS = "in progress"
    DONE = "done"
    CANNOT = "cannot be done"


class ActionProgress(CleanText):
    """Where the action stands. Evidence is what shows it is done: what changed, where it is written down."""

    status: Annotated[Progress, inline(Progress)] = Field(title="Where does the action stand?")
    evidence: OptionalText = Field(default="", title="Evidence", description="Needed when it is done.")
    reason: OptionalText = Field(default="", title="Why it cannot be done", description="Needed when it cannot.")

    @model_validator(mode="after")
    def _needs(self) -> ActionProgress:
        _progress_needs(self.status, self.evidence, self.reason, document=False)
        return self


class ActionProgressWithDocument(ActionProgress):
    """``ActionProgress`` as read when a document is attached beside it (the page's file input, which is no field of
    the form: models/work/evidence.py): the document is evidence enough, so the typed evidence may be left empty."""

    @model_validator(mode="after")
    def _needs(self) -> ActionProgressWithDocument:
        _progress_needs(self.status, self.evidence, self.reason, document=True)
        return self


def _progress_needs(status: Progress | None, evidence: str, reason: str, *, document: bool) -> None:
    if status is None:
        raise ValueError("say where the action stands")
    if status is Progress.DONE and not (evidence or document):
        raise ValueError("give the evidence that the action is done: type it, or attach a document, or both")
    if status is Progress.CANNOT and not reason:
        raise ValueError("give the reason the action cannot be done")
    if document and status is not Progress.DONE:
        raise ValueError(ONLY_WHEN_DONE[0].lower() + ONLY_WHEN_DONE[1:])


class Verdict(StrEnum):
    ACCEPT = "accept"
    SEND_BACK = "send back"
    CLOSE = "close"


class ActionReview(CleanText):
    """The partnership's view: accept the action as done (or as not possible), send it back with a reason, or close
    it with a reason whatever its owner says."""

    verdict: Annotated[Verdict, inline(Verdict)] = Field(title="What does the partnership decide?")
    reason: OptionalText = Field(default="", title="Reason", description="Needed to send it back or to close it.")

    @model_validator(mode="after")
    def _needs(self) -> ActionReview:
        _review_needs(self.verdict, self.reason)
        return self


class CloseRemaining(CleanText):
    """The partnership closing every action of a review still open, with one reason (the coordinator or a partner,
    on the review's page of its open actions): the same answer as closing each on its own page, given to each."""

    reason: Text = Field(
        title="Reason for closing them",
        description="Recorded with each action, in the review's history, and its owner agency is told.",
    )


def _review_needs(verdict: Verdict | None, reason: str) -> None:
    if verdict is None:
        raise ValueError("say what the partnership decides")
    if verdict is not Verdict.ACCEPT and not reason:
        raise ValueError("give the reason")


class ActionChoice(StrEnum):
    PROGRESS = "progress"
    REVIEW = "review"


class ActionAnswer(CleanText):
    """Every answer an action takes, as its run asks for it: ``what`` says which."""

    what: Annotated[ActionChoice, inline(ActionChoice)] = Field(title="Answer")
    status: Annotated[Progress | None, WithJsonSchema({"type": "string", "enum": [p.value for p in Progress]})] = Field(
        default=None, title="Where does the action stand?"
    )
    evidence: OptionalText = Field(default="", title="Evidence")
    evidence_document: EvidenceId = Field(
        default="", title="Evidence document", description="The id of the document uploaded with this answer, if any."
    )
    verdict: Annotated[Verdict | None, WithJsonSchema({"type": "string", "enum": [v.value for v in Verdict]})] = Field(
        default=None, title="What does the partnership decide?"
    )
    reason: OptionalText = Field(default="", title="Reason")

    @model_validator(mode="after")
    def _whole(self) -> ActionAnswer:
        if self.what is ActionChoice.PROGRESS:
            _progress_needs(self.status, self.evidence, self.reason, document=bool(self.evidence_document))
        elif self.evidence_document:
            raise ValueError("an evidence document is given with the action's progress, not the partnership's decision")
        else:
            _review_needs(self.verdict, self.reason)
        return self
