"""The project database: SQLModel tables.

Personal data (the names and dates of birth of children and family members) lives only in
``CasePerson.name`` and ``CasePerson.date_of_birth``, sealed under the review's own data key (models/sealing.py), as
is the free text people write. Everywhere else a case is known by
its reference (``CSPR-2026-0042``) and a child by a pseudonym ("Child Q").

Enumerated columns are typed as their enums and stored as short strings, their values (``EnumString``; not database
enum types), so that adding a value is not a schema migration on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum, StrEnum
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel, col

from models import master_key
from models.chain import ChainEntry
from models.forms import AbuseOrNeglect, Harm
from models.roles import Role
from models.rulebook import Event, NotificationKind
from models.stages import Stage


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SealedText(TypeDecorator[str]):
    """Text sealed with the gate's key (models/master_key.py: the accounts' TOTP secrets)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else master_key.seal(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else master_key.unseal(value)


E = TypeVar("E", bound=Enum)


class EnumString(TypeDecorator[E]):
    """An enumerated column: typed as its enum, stored as the member's value in a VARCHAR, as it always was. A stored
    value no member has (written outside cspr) is read as the string it is, so that ``cspr audit verify`` reports the
    row rather than fails to read it."""

    impl = sa.String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: sa.Dialect) -> str | None:
        return value.value if isinstance(value, Enum) else value

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> E | None:
        if value is None:
            return None
        try:
            return self.enum(value)
        except ValueError:
            return cast(E, value)


def _str(length: int = 40, **kw: Any) -> Any:
    return Field(sa_type=sa.String(length), **kw)


def _enum(enum: type[Enum], length: int = 40, **kw: Any) -> Any:
    return Field(sa_type=EnumString(enum, length), **kw)


def _when(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), **kw)


def _json(**kw: Any) -> Any:
    return Field(default_factory=dict, sa_type=sa.JSON, **kw)


class PersonKind(StrEnum):
    CHILD = "child"
    FAMILY_MEMBER = "family_member"


class DeadlineStatus(StrEnum):
    OPEN = "open"
    MET = "met"
    MISSED = "missed"  # the event happened, but after the deadline


class RegisterAction(StrEnum):
    """What a change to the register (``RegisterEvent``) did."""

    ADDED = "added"  # a registration (and, for a new address, the account)
    DISABLED = "disabled"  # the account and every registration of it
    RESET = "reset"  # a new first password and authenticator enrolment (a lost phone, a forgotten password)
    LINKED = "linked"  # the account tied to its identity provider's subject, at its first OpenID Connect sign-in
    DIGEST = "digest"  # the person's email changed to one daily digest, or back to one message at a time
    BODY_ADDED = "body_added"  # a partner body took its place in a partnership (models/partners.py)
    BODIES_MERGED = "bodies_merged"  # partner bodies became one on a date; their representatives moved to it
    REPRESENTATION = "representation"  # the partner body, or the dates, a person represents
    AGENCY_ADDED = "agency_added"  # an agency took its place in a partnership's register (models/agencies.py)
    AGENCY_ENDED = "agency_ended"  # an agency's last day as one of the partnership's agencies
    RAPID_REVIEW_COUNT = "rapid_review_count"  # where the partnership's rapid review days count from, chosen
    CHILD_DEATH_REVIEW = "child_death_review"  # the child death review partners' mailbox, set or changed
    INFORMATION_DAYS = "information_days"  # the partnership's working days for an agency's information, changed


class DecisionKind(StrEnum):
    """What a decision in a review's audit trail decided."""

    RAPID_REVIEW = "rapid_review"  # the rapid review and its recommendation, one round per send-back
    SIGN_OFF = "sign_off"  # one partner's sign-off (or send-back) of a rapid review round
    PANEL_RESPONSE = "panel_response"
    LCSPR_DECISION = "lcspr_decision"  # the partners' decision on a local review
    MONITORING_REQUEST = "monitoring_request"  # a written request to the reviewer
    DRAFT = "draft"  # a draft report received
    QUALITY_ASSURANCE = "quality_assurance"
    PUBLICATION = "publication"
    ACTIONS = "actions"  # actions on the recommendations
    NATIONAL_REPORT = "national_report"  # the Panel published its national review


# --- partnerships and people ------------------------------------------------------------------------


class Partnership(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = _str(64, unique=True, index=True)  # a short slug, used in tags: "northshire"
    name: str = _str(200)
    # retired: the count a partnership chooses is now ``rapid_review_count`` (None: its edition's). Kept, rather than
    # dropped by a migration that would copy the table every review refers to, and never read.
    rapid_review_from: Event = _enum(Event, default=Event.AWARE_ON)
    # where the rapid review's 15 working days count from, if the partnership chose (models/rapid_review_count.py):
    # AWARE_ON or NOTIFIED_ON; None follows the edition's own count. Changes are in the register's history.
    rapid_review_count: Event | None = _enum(Event, default=None, nullable=True)
    # the child death review partners' mailbox (their child death overview panel's), told of a death's rapid review
    # and of its local review's publication, or the decision not to publish
    child_death_review_email: str | None = _str(254, default=None)
    closure_days: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # ISO dates, local closures
    # working days an agency is given to return its information: the partnership's own expectation, not statute
    information_days: int = Field(default=5, sa_column_kwargs={"server_default": "5"})
    created_at: dt.datetime = _when()


class PartnerBody(SQLModel, table=True):
    """One of a partnership's safeguarding partners as an organisation (the council, the police force, the integrated
    care board), with the dates it held that place: bodies merge (ICBs in April 2026 and 2027), and a review that runs
    across the change keeps a readable history of who signed for whom."""

    __tablename__ = "partner_body"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    partnership_id: uuid.UUID = Field(foreign_key="partnership.id", index=True)
    role: Role = _enum(Role)  # the partner's: local_authority, police or health
    name: str = _str(200)
    from_on: dt.date
    to_on: dt.date | None = None  # the last day; None while it holds the place
    created_at: dt.datetime = _when()


class Representative(SQLModel, table=True):
    """The register: a named person who may act in a role for a partnership (an operator for none). A person's
    account (by email) may hold several registrations; each gives one role in one partnership."""

    __table_args__ = (sa.UniqueConstraint("partnership_id", "email"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    partnership_id: uuid.UUID | None = Field(default=None, foreign_key="partnership.id", index=True)
    name: str = _str(200)
    email: str = _str(254)
    role: Role = _enum(Role)
    organisation: str = _str(200)
    active: bool = True
    body_id: uuid.UUID | None = Field(default=None, foreign_key="partner_body.id")  # the partner body they act for
    agency_id: uuid.UUID | None = Field(default=None, foreign_key="agency.id")  # an agency's contact: the agency
    from_on: dt.date | None = None  # the first day they represent it; None: since they were registered
    to_on: dt.date | None = None  # the last day; None: until further notice
    created_at: dt.datetime = _when()


class Account(SQLModel, table=True):
    """A person who signs in, one per email address; their roles are their active registrations (Representative
    rows with the same address). Local sign-in's credentials live here (models/signin.py)."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = _str(254, unique=True, index=True)  # lower case
    name: str = _str(200)
    password_hash: str | None = _str(200, default=None)  # Argon2id; None for a person who signs in through OIDC
    totp_secret: str | None = Field(default=None, sa_type=SealedText)  # None: a demo account (password alone)
    totp_last_step: int = -1  # the last TOTP time step accepted: its code, and older, are spent
    # the lock's columns before the gate slowed failed sign-ins down instead (gate/throttle.py): never set now, kept
    # rather than dropped by a migration
    failures: int = 0
    locked_until: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    oidc_subject: str | None = _str(255, default=None, unique=True)  # the identity provider's "sub", once matched
    demo: bool = False  # a demo person: marked as such everywhere, refused in the team set-up
    digest: bool = False  # their email comes once a day, together, instead of one message at a time
    active: bool = True
    created_at: dt.datetime = _when()
    updated_at: dt.datetime = _when()


class RegisterEvent(ChainEntry, table=True):
    """Append-only history of the register and its accounts: who added or disabled whom, when. Hash-chained like a
    review's history (models/chain.py), one chain for the whole register."""

    __tablename__ = "register_event"
    __table_args__ = (sa.UniqueConstraint("seq"),)  # 1, 2, 3 ... over the whole register

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    action: RegisterAction = _enum(RegisterAction)
    account_id: uuid.UUID | None = Field(default=None, foreign_key="account.id", index=True)  # None: a partner body
    details: dict[str, Any] = _json()  # role, partnership, demo, bodies and dates: never a password or a secret
    actor_name: str = _str(200)
    actor_role: str = _str(40)
    at: dt.datetime = _when()


# --- reviews ------------------------------------------------------------------------------------------


class Review(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("partnership_id", "incident_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    reference: str = _str(20, unique=True, index=True)  # CSPR-2026-0042
    partnership_id: uuid.UUID = Field(foreign_key="partnership.id", index=True)
    edition: str = _str(20)  # guidance edition pinned at notification: wt2018 / wt2023 / wt2026
    stage: Stage = _enum(Stage, index=True)
    version: int = 0  # bumped by every transition: the compare-and-set token
    step_seq: int = 0  # bumped by every answer to a form, accepted or refused: names the next form uniquely
    step_refusal: str | None = _str(2000, default=None)  # why the last answer was refused, shown with the form
    incident_on: dt.date
    aware_on: dt.date
    harm: Harm = _enum(Harm)
    abuse_or_neglect: AbuseOrNeglect = _enum(AbuseOrNeglect)
    looked_after: bool = False
    notification_kind: NotificationKind = _enum(NotificationKind, default=NotificationKind.SERIOUS_INCIDENT)
    rapid_review_follows: bool = True  # False: the review closes once the right bodies are told
    incident_key: str = _str(64)  # what makes a resubmission of the same incident the same review
    national_reference: str | None = _str(64, default=None)  # the incident's reference in the national system
    # where this review's rapid review days count from, pinned when it is recorded (its partnership's choice, or its
    # edition's count), so that a later choice moves no running review's dates until an operator recounts it
    rapid_review_from: Event | None = _enum(Event, default=None, nullable=True)
    unborn: bool = False  # the notification is about an unborn child (or children): no age band, no date of birth
    # a death's reference with the child death review partners (an identifier, never a name)
    child_death_review_reference: str | None = _str(64, default=None)
    audit_head: str = _str(64, default="")  # the signed head: both chains, stage, milestones, people, documents
    legal_hold: bool = False  # kept whatever its retention date says, until the hold is lifted (models/retention.py)
    erased_on: dt.date | None = None  # its data key destroyed: every encrypted value of it is unreadable for good
    created_at: dt.datetime = _when()
    updated_at: dt.datetime = _when()


class ReviewKey(SQLModel, table=True):
    """A review's own data key, wrapped by the master key (or a KMS): erasing the review destroys it, and with it
    every value encrypted under it (models/review_keys.py)."""

    __tablename__ = "review_key"

    review_id: uuid.UUID = Field(foreign_key="review.id", primary_key=True)
    wrapped: str | None = Field(default=None, sa_type=sa.Text)  # None once destroyed
    wrapped_by: str = _str(200)  # "local" or "kms:<key id>": what unwraps it
    created_at: dt.datetime = _when()
    destroyed_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class CasePerson(SQLModel, table=True):
    """A child (or family member) in a case. Only the pseudonym leaves the database."""

    __tablename__ = "case_person"
    __table_args__ = (sa.UniqueConstraint("review_id", "pseudonym"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    kind: PersonKind = _enum(PersonKind, 20)
    pseudonym: str = _str(60)  # "Child Q"
    age_band: str | None = _str(20, default=None)  # as notified (models.forms.AgeBand; older reviews, older bands)
    position: int | None = None  # the order the notification listed the children in, from 1 (None: before it was kept)
    relationship: str | None = _str(60, default=None)  # for family members: "mother", "stepfather"
    # sealed under the review's data key (models/sealing.py), like the free text of its decisions and stage events
    name: str | None = Field(default=None, sa_type=sa.Text)
    date_of_birth: str | None = Field(default=None, sa_type=sa.Text)
    characteristics: str | None = Field(default=None, sa_type=sa.Text)  # JSON: sex, ethnicity, disability, plan
    former_names: str | None = Field(default=None, sa_type=sa.Text)  # JSON list: names corrected away, still checked
    expected_on: str | None = Field(default=None, sa_type=sa.Text)  # an unborn child's expected date of delivery
    created_at: dt.datetime = _when()


class Milestone(SQLModel, table=True):
    """The date an event of a review happened: what deadlines are counted from."""

    __table_args__ = (sa.UniqueConstraint("review_id", "event"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    event: Event = _enum(Event)
    on: dt.date


class StageEvent(ChainEntry, table=True):
    """Append-only history of a review's stages: who moved it (their name and account, and how they signed in), in
    what role, when and why. Hash-chained per review (models/chain.py)."""

    __tablename__ = "stage_event"
    __table_args__ = (sa.UniqueConstraint("review_id", "seq"),)  # 1, 2, 3 ... per review

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    transition: str = _str(60)
    from_stage: str | None = _str(40, default=None)  # None for the first event (the review's creation)
    to_stage: str = _str(40)
    actor_name: str = _str(200)
    actor_role: str = _str(40)
    # the person who proved who they are at the gate (None: the system, or an operator at the command line)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    actor_signed_in_with: str | None = _str(40, default=None)  # models.signin.Factor, or "oidc"
    reason: str | None = Field(default=None, sa_type=sa.Text)
    details: dict[str, Any] = _json()
    at: dt.datetime = _when()


class Deadline(SQLModel, table=True):
    """A computed date of a review's statutory timetable (one per rulebook entry name)."""

    __table_args__ = (sa.UniqueConstraint("review_id", "name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    name: str = _str(60)  # notify_panel, rapid_review, send_final_report_by ...
    rule_id: str = _str(60)
    title: str = _str(200)
    meaning: str = _str(20)  # "due by", "not before", "until at least"
    kind: str = _str(20)  # statutory / expectation
    source: str = _str(300)
    basis: str = _str(40)  # the event counted from
    basis_on: dt.date
    due_on: dt.date = Field(index=True)
    provisional: bool = False  # counted over bank holidays GOV.UK has not published yet; recounted on import
    # the same rule counted from its other starting event (the rapid review's from awareness, when it counts from the
    # notification): shown beside the due date, never chased
    alternative_basis: str | None = _str(40, default=None)
    alternative_on: dt.date | None = None
    status: DeadlineStatus = _enum(DeadlineStatus, 20, default=DeadlineStatus.OPEN)
    met_on: dt.date | None = None
    sweep_status: str | None = _str(30, default=None)  # the last sweep's classification
    escalation_level: int = 0
    reminder_level: int = 0  # the reminders sent: 1 when due within 2 working days, 2 when due today
    updated_at: dt.datetime = _when()


class Decision(ChainEntry, table=True):
    """A decision or approval by a signed-in person: sign-offs, the Panel's response, the LCSPR decision...
    Append-only and hash-chained per review, like the stage events (models/chain.py; a decision's number is 0 until
    it is appended, and stayed 0 on the decisions recorded before they were chained)."""

    __table_args__ = (sa.UniqueConstraint("review_id", "kind", "round", "actor_role"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    kind: DecisionKind = _enum(DecisionKind)
    round: int = 1  # which attempt: a returned rapid review is signed off again in round 2
    outcome: str = _str(40)
    actor_name: str = _str(200)
    actor_role: str = _str(40)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="account.id")  # as for a stage event
    actor_signed_in_with: str | None = _str(40, default=None)
    reasons: str | None = Field(default=None, sa_type=sa.Text)
    details: dict[str, Any] = _json()
    at: dt.datetime = _when()


# --- reviewers and commissions ------------------------------------------------------------------------


class Reviewer(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = _str(200)
    organisation: str = _str(200)
    expertise: str = Field(default="", sa_type=sa.Text)
    national_pool: bool = False  # in the Panel's published pool
    conflicts: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # organisations and areas declared
    active: bool = True
    created_at: dt.datetime = _when()


class Commission(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("review_id", "reviewer_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    reviewer_id: uuid.UUID = Field(foreign_key="reviewer.id")
    terms_of_reference: str = Field(sa_type=sa.Text)
    commissioned_on: dt.date
    confirmed_by_secretary_of_state: bool = False  # national reviews only
    created_at: dt.datetime = _when()


# --- documents and messages ---------------------------------------------------------------------------


class Report(SQLModel, table=True):
    """A document stored in the object store; the key carries the reference and kind, never a name."""

    __table_args__ = (sa.UniqueConstraint("review_id", "kind", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID | None = Field(default=None, foreign_key="review.id", index=True)
    kind: str = _str(60)
    version: int = 1
    object_key: str = _str(500)
    sha256: str = _str(64)
    size_bytes: int = 0
    published: bool = False
    retain_until: dt.date | None = None
    created_at: dt.datetime = _when()


class Outbox(SQLModel, table=True):
    """A message to send (to the Panel, Ofsted, DfE, the Secretary of State, a coordinator), written in the
    same transaction as the decision that caused it, keyed so a replay never sends twice."""

    __table_args__ = (sa.UniqueConstraint("review_id", "purpose", "recipient"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID | None = Field(default=None, foreign_key="review.id", index=True)
    purpose: str = _str(80)
    recipient: str = _str(80)
    subject: str = _str(300)
    body: str = Field(default="", sa_type=sa.Text)
    link: str = _str(500, default="")  # where the email sends its reader (a run's form); else the review's page
    created_at: dt.datetime = _when()
    sent_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    attempts: int = 0


class DeliveryState(StrEnum):
    PENDING = "pending"  # not yet accepted by the mail relay: tried again with backoff
    HELD = "digest"  # for a person who chose the daily digest: sent with the others of the day
    SENT = "sent"  # the relay accepted it
    FAILED = "failed"  # refused for good (the relay's answer kept), or given up on after the last try


class Delivery(SQLModel, table=True):
    """One outbox message to one mailbox, by email: its state and the relay's last answer. Made when the message is
    first delivered, from the register (people) and the settings (the national bodies' mailboxes)."""

    __table_args__ = (sa.UniqueConstraint("outbox_id", "address"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    outbox_id: uuid.UUID = Field(foreign_key="outbox.id", index=True)
    address: str = _str(254)
    state: DeliveryState = _enum(DeliveryState, 20, default=DeliveryState.PENDING)
    attempts: int = 0
    next_try_at: dt.datetime = _when()
    claimed_until: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # a sender has it
    answer: str = _str(500, default="")  # the relay's last answer: why it failed, or what it said on success
    sent_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: dt.datetime = _when()


# --- a person's work on their tasks page --------------------------------------------------------------------------
# A task is one visit of a review to a step: (review, stage, visit), the visit being the ``seq`` of the stage event
# that moved the review into the stage (models/task_ref.py). Keyed so, a draft, a claim or a follow-up date of a step
# answered before is never shown when the review comes back to it.


class AnswerDraft(SQLModel, table=True):
    """A person's unfinished answer to a task, sealed with a key derived from the gate's for their account alone
    (models/drafts.py): the gate, which holds no review's key, keeps it, and nobody else's sign-in opens it."""

    __tablename__ = "draft"
    __table_args__ = (sa.UniqueConstraint("account_id", "review_id", "stage", "visit"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id")
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    stage: Stage = _enum(Stage)
    visit: int
    sealed: str = Field(sa_type=sa.Text)
    saved_at: dt.datetime = _when()


class TaskClaim(SQLModel, table=True):
    """Who has taken a task ("I'm on it"), shown to the others who may answer it (models/claims.py). One holder at
    a time; it is shown, not enforced."""

    __tablename__ = "task_claim"
    __table_args__ = (sa.UniqueConstraint("review_id", "stage", "visit"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    stage: Stage = _enum(Stage)
    visit: int
    account_id: uuid.UUID = Field(foreign_key="account.id")
    taken_at: dt.datetime = _when()


class FollowUp(SQLModel, table=True):
    """The day a person means to come back to a task: their own note, seen by nobody else (models/claims.py)."""

    __tablename__ = "follow_up"
    __table_args__ = (sa.UniqueConstraint("account_id", "review_id", "stage", "visit"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id")
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    stage: Stage = _enum(Stage)
    visit: int
    on: dt.date


# --- the work around a review: agencies' information, and the actions on its recommendations -------------------


class AgencyKind(StrEnum):
    RELEVANT = "relevant agency"  # of a kind in the Schedule to the Regulations (SI 2018/789)
    NAMED = "named by the partnership"  # one the partnership's arrangements name besides


class Agency(SQLModel, table=True):
    """An agency a partnership asks for information and gives actions to (a school, a GP practice, a hospital trust,
    probation...), with the dates it held that place, as partner bodies have. Its contacts are registered people
    (``Representative`` rows in the agency contact's role, naming it)."""

    __table_args__ = (sa.UniqueConstraint("partnership_id", "name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    partnership_id: uuid.UUID = Field(foreign_key="partnership.id", index=True)
    name: str = _str(200)
    kind: AgencyKind = _enum(AgencyKind)
    # the safeguarding partner it answers to (a GP practice: health), told when its action is overdue; None: none
    partner: Role | None = _enum(Role, default=None, nullable=True)
    from_on: dt.date
    to_on: dt.date | None = None  # the last day; None while it is one of the partnership's agencies
    created_at: dt.datetime = _when()


class RequestStatus(StrEnum):
    REQUESTED = "requested"
    RETURNED = "returned"  # the agency's return is in
    NO_INVOLVEMENT = "no involvement"  # the agency answered that it had none
    NOT_NEEDED = "not needed"  # the coordinator closed it, with a reason
    MISSING = "missing"  # still unanswered when the rapid review was recorded: closed, recorded as missing


class InformationRequest(SQLModel, table=True):
    """A request to one agency for its information on a review: for the rapid review, or the reviewer's for the local
    review. Its return's free text is sealed under the review's key (models/sealing.py)."""

    __tablename__ = "information_request"
    __table_args__ = (sa.UniqueConstraint("review_id", "number"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    number: int  # 1, 2, ... within the review: "request 2"
    agency_id: uuid.UUID = Field(foreign_key="agency.id")
    asked_at_stage: Stage = _enum(Stage)  # rapid_review, or review_under_way for the local review
    asked_on: dt.date
    due_on: dt.date
    status: RequestStatus = _enum(RequestStatus, default=RequestStatus.REQUESTED)
    answer_seq: int = 0  # answers taken so far: each form asked has its own key
    refusal: str | None = Field(default=None, sa_type=sa.Text)  # why the last answer was not accepted
    answered_on: dt.date | None = None
    answer: dict[str, Any] = _json()  # the return, as the form gave it
    reason: str | None = Field(default=None, sa_type=sa.Text)  # the last extension's or closing's reason
    reminder_level: int = 0  # 1 when due within 2 working days, 2 on the day
    escalation_level: int = 0  # 1 once overdue
    created_at: dt.datetime = _when()


class RecommendationSource(StrEnum):
    RAPID_REVIEW = "rapid review"
    LOCAL_REVIEW = "local review"
    NATIONAL_REVIEW = "national review"


class Recommendation(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("review_id", "number"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    number: int
    source: RecommendationSource = _enum(RecommendationSource)
    text: str = Field(sa_type=sa.Text)
    created_at: dt.datetime = _when()


class ActionStatus(StrEnum):
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    DONE = "done"  # its owner says so, with evidence: for the partnership to accept
    CANNOT = "cannot be done"  # its owner says so, with the reason: for the partnership to accept
    ACCEPTED = "accepted"  # closed: accepted as done
    CLOSED = "closed"  # closed by the partners with a reason, or accepted as not possible


OPEN_ACTION = frozenset({ActionStatus.NOT_STARTED, ActionStatus.IN_PROGRESS, ActionStatus.DONE, ActionStatus.CANNOT})


class Action(SQLModel, table=True):
    """An action on a recommendation, owned by an agency and a named person there, followed to its close."""

    __table_args__ = (sa.UniqueConstraint("review_id", "number"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    recommendation_id: uuid.UUID = Field(foreign_key="recommendation.id")
    number: int  # 1, 2, ... within the review: "action 3"
    agency_id: uuid.UUID = Field(foreign_key="agency.id")
    owner: str = _str(200)  # the named owner at the agency (a professional, not a person in the case)
    text: str = Field(sa_type=sa.Text)
    done_when: str = Field(sa_type=sa.Text)  # what will show it is done
    due_on: dt.date
    status: ActionStatus = _enum(ActionStatus, default=ActionStatus.NOT_STARTED)
    answer_seq: int = 0
    refusal: str | None = Field(default=None, sa_type=sa.Text)
    evidence: str | None = Field(default=None, sa_type=sa.Text)  # the owner's latest, sealed
    evidence_key: str | None = _str(300, default=None)  # a document kept as evidence, in the object store
    reason: str | None = Field(default=None, sa_type=sa.Text)  # cannot be done / sent back / closed: the latest
    closed_on: dt.date | None = None
    reminder_level: int = 0
    escalation_level: int = 0
    created_at: dt.datetime = _when()


def in_force(first: Any, last: Any, day: dt.date) -> sa.ColumnElement[bool]:
    """Where ``day`` falls between two optional dates, columns of a row that holds a place from one day to another (a
    registration, a partner body, an agency): an open end is no limit. For a query's WHERE."""
    return sa.and_(sa.or_(first.is_(None), first <= day), sa.or_(last.is_(None), last >= day))


def request_is_open() -> sa.ColumnElement[bool]:
    """Where a request still waits for its agency (for a query's WHERE)."""
    return col(InformationRequest.status) == RequestStatus.REQUESTED


def action_is_open() -> sa.ColumnElement[bool]:
    """Where an action is not yet closed (for a query's WHERE)."""
    return col(Action.status).in_([s.value for s in OPEN_ACTION])


class EvidenceDocument(SQLModel, table=True):
    """A document an action's owner gave as evidence that it is done (models/work/evidence.py): stored sealed under
    the review's key in the object store, under a key that carries the review's reference, the action's number and a
    random id, never a name. Its original file name is sealed in ``name`` like other free text. It is uploaded before
    the answer that names it is recorded: until then it is attached to nothing (``action_id`` empty), and one left so
    is deleted by the deadline sweep."""

    __tablename__ = "evidence_document"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    review_id: uuid.UUID = Field(foreign_key="review.id", index=True)
    action_number: int  # the action it was given for ("action 3"), as uploaded
    action_id: uuid.UUID | None = Field(default=None, foreign_key="action.id", index=True)  # once attached
    object_key: str = _str(300, unique=True)
    sha256: str = _str(64)  # of the document itself, before sealing
    size_bytes: int
    media_type: str = _str(100)
    name: str = Field(sa_type=sa.Text)  # the file's name as given, sealed under the review's key
    uploaded_by: uuid.UUID  # the account of the person who gave it
    uploaded_at: dt.datetime = _when()
    attached_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


# --- the worklist artifacts' refreshes (tasks/worklist_artifacts.py) ----------------------------------------------


class WorklistRefresh(SQLModel, table=True):
    """Whether a partnership's worklist artifact may be behind what the database says, and when it was last
    refreshed (models/worklist.py). A review's turn counts a change here, one row, instead of re-reading every
    open review of the partnership; the artifact is refreshed at most once a short while, and a change left over
    is refreshed by the next call that looks for them."""

    __tablename__ = "worklist_refresh"

    partnership: str = Field(sa_type=sa.String(64), primary_key=True)  # its code
    changes: int = 0  # the turns that may have changed what it shows, counted
    shown: int = 0  # ``changes`` as it was when the artifact was last refreshed (-1: that refresh failed)
    # the latest of those turns' flow run: a refresh made outside it belongs to it, so that the gate shows it to
    # that partnership's people alone (an artifact is shown with the run it belongs to)
    run_id: uuid.UUID | None = None
    refreshed_at: dt.datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
