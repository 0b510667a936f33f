"""A step's form as the fields of a GOV.UK Design System page, and a submitted page read back into the step's answer.

People answer each step on a page the gate serves, as a plain HTML form that works without JavaScript. The form
itself is the step's pydantic model (``step.form``, built of the field types in ``models/forms.py``), the one
definition the lifecycle validates against too: nothing here restates a form. From the model come

- ``describe``: the fields to draw (``Field``, one per form field, in the model's order), each with its kind (a line,
  a text with a character count, a date in three parts, radios, checkboxes, a single checkbox, lines of a list, a
  repeating group of rows), its name, label (the field's ``title``), hint (its ``description``), choices, limits,
  what it holds now and its error;
- ``read_form``: the posted fields back into the JSON answer the model validates, or errors by field name in words a
  partner understands (GOV.UK's error message style), never repeating what was typed: it may be personal data;
- ``as_posted``: an answer (or a draft) as the fields a browser would post for it, which is what ``describe`` draws
  from, so a page re-drawn after an error shows exactly what was typed, and a draft is kept as what was posted.

Names are stable and flat, as a browser posts them: a field by its own name (``completed_on``), a date by three
(``completed_on-day``, ``-month``, ``-year``), a repeating group's rows by their index (``timeline-0-event``,
``timeline-0-on-day``) with a hidden count (``timeline-rows``) so that a row left empty is still drawn, and a button
``timeline-add`` that asks for one more row (no JavaScript: the page comes back with the row, nothing submitted).

The one field drawn from the person rather than the form is the partner a sign-off is given for (``PartnerChoice``,
a field of type ``Role``): a person who acts for one partner only is not asked, their answer says that partner (and a
tampered page cannot change it); one who acts for two or more chooses among those.

A page may also offer its own choices for a field (``offered``, by the field's name): a list of texts becomes boxes to
tick, one for each text offered (the partnership's agencies, on the notification's form); a choice keeps only the
choices offered, and a choice with one left is given, not asked (an action not yet done can only be closed). What is
posted is read back against what was offered: a value the page did not offer is refused.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import pydantic
from pydantic import BaseModel, StringConstraints, WithJsonSchema
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from models.forms import FieldsNeeded
from models.roles import Role

Posted = Mapping[str, Sequence[str]]  # application/x-www-form-urlencoded, read as name -> every value sent under it
Offered = Mapping[str, Sequence[str]]  # a page's own choices for a field of the form's top level, by its name

FORM_ERROR = ""  # the key of errors that are about the answer as a whole (one field against another), not one field
LONG_TEXT = 200  # a text allowed more than this is a box of several lines with a character count, not one line
MAX_ROWS = 100  # rows drawn for a repeating group whose form sets no limit
DATE_EXAMPLE = "For example, 27 3 2026"
_YES, _NO = "yes", "no"
_PARTS = ("day", "month", "year")
# Patterns the forms use, in words (a pattern itself means nothing to a partner)
_PATTERNS = {
    r"^[A-Za-z0-9 .'\-]+$": "must only include letters, numbers, spaces, full stops, apostrophes and hyphens",
}


class FieldKind(StrEnum):
    """How a field is drawn (gate/templates/tasks/fields.html has a macro for each)."""

    INPUT = "input"  # one line of text
    TEXTAREA = "textarea"  # free text, with a character count
    LINES = "lines"  # a list of texts: a box, one item per line
    DATE = "date"  # day, month and year
    RADIOS = "radios"  # one of a few choices (an enum, a Literal, yes or no)
    CHECKBOXES = "checkboxes"  # any of several choices (a list of an enum)
    CHECKBOX = "checkbox"  # a statement to tick (a bool)
    HIDDEN = "hidden"  # given, not asked: the partner of a person who acts for one only
    ROWS = "rows"  # a repeating group of fields (a list of small models): timeline entries, children
    GROUP = "group"  # a group of fields (one nested model)


@dataclass(frozen=True)
class Option:
    """One radio or checkbox: ``value`` is what is posted, ``label`` what the person reads."""

    id: str
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class Row:
    """One row of a repeating group (index from 0), its fields named ``<group>-<index>-<field>``."""

    index: int
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Field:
    """What the template needs to draw one field. ``id`` is what an error summary links to (a date's day, the first
    radio), ``name`` what is posted (a date's three parts are ``<name>-day``, ``<name>-month``, ``<name>-year``)."""

    kind: FieldKind
    name: str
    id: str
    label: str
    hint: str = ""
    required: bool = False
    max_length: int | None = None  # characters (a text), or items (a list)
    value: str = ""  # INPUT, TEXTAREA, LINES, HIDDEN: the text shown
    day: str = ""
    month: str = ""
    year: str = ""
    error_parts: tuple[str, ...] = ()  # DATE: which of day, month and year to mark as wrong
    options: tuple[Option, ...] = ()  # RADIOS, CHECKBOXES
    checked: bool = False  # CHECKBOX
    width: str = ""  # INPUT: a GOV.UK width class for a short text
    rows: tuple[Row, ...] = ()  # ROWS
    group: tuple[Field, ...] = ()  # GROUP
    rows_name: str = ""  # ROWS: the hidden field that says how many rows were drawn
    add_name: str = ""  # ROWS: the button that asks for one more row
    can_add: bool = False  # ROWS: below the form's limit
    error: str = ""

    @property
    def hint_id(self) -> str:
        return f"{self.name}-hint"

    @property
    def error_id(self) -> str:
        return f"{self.name}-error"

    @property
    def describedby(self) -> str:
        """The ids of the hint and the error, for aria-describedby (a character count's message is added by the
        template, which draws it)."""
        return " ".join([*([self.hint_id] if self.hint else []), *([self.error_id] if self.error else [])])


@dataclass(frozen=True)
class ErrorLink:
    """One line of the error summary: the message, and the field it links to (``href`` empty for an error about the
    answer as a whole)."""

    href: str
    text: str


# --- a form's fields, as read from its model ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    name: str  # the model's field name
    kind: FieldKind
    title: str
    hint: str
    required: bool  # no default: the person must answer it
    default: Any  # the default as JSON (None: none, or None itself)
    min_length: int | None = None
    max_length: int | None = None
    item_max_length: int | None = None  # LINES: each line
    pattern: str | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    yes_no: bool = False  # RADIOS for a bool that has no default
    partner: bool = False  # a Role: the partner signed for
    model: type[BaseModel] | None = None  # ROWS, GROUP: the model of each row
    offered: bool = False  # RADIOS, CHECKBOXES: the choices are the page's own (``Offered``), not the form's


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """A type without its ``Annotated`` metadata and ``| None`` (a blank optional field is left out, so its default,
    None, stands): the bare type and the metadata."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *more = get_args(annotation)
            metadata += more
        elif origin in (Union, types.UnionType) and type(None) in get_args(annotation):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation, metadata
            annotation = rest[0]
        else:
            return annotation, metadata


def _lengths(metadata: Iterable[Any]) -> tuple[int | None, int | None, str | None]:
    low: int | None = None
    high: int | None = None
    pattern: str | None = None
    for item in metadata:
        if isinstance(item, StringConstraints):
            low, high = item.min_length if item.min_length is not None else low, item.max_length or high
            pattern = item.pattern if isinstance(item.pattern, str) else pattern
        elif isinstance(item, annotated_types.MinLen):
            low = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            high = item.max_length
    return low, high, pattern


def _choices(kind: Any) -> tuple[tuple[str, str], ...] | None:
    if isinstance(kind, type) and issubclass(kind, Enum):
        return tuple((str(member.value), _sentence(str(member.value))) for member in kind)
    if get_origin(kind) is Literal:
        return tuple((str(value), _sentence(str(value))) for value in get_args(kind))
    return None


def _partner_choices(metadata: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    """The roles a Role field offers, by label, as its own schema lists them (PartnerChoice: the three partners)."""
    for item in metadata:
        if isinstance(item, WithJsonSchema) and item.json_schema and "enum" in item.json_schema:
            return tuple((str(label), _sentence(str(label))) for label in item.json_schema["enum"])
    return tuple((role.label, _sentence(role.label)) for role in Role)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Role):
        return value.label
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _spec(name: str, info: FieldInfo) -> _Spec:
    kind, metadata = _unwrap(info.annotation)
    metadata = [*metadata, *info.metadata]
    title = info.title or _sentence(name.replace("_", " "))
    hint = info.description or ""
    required = info.is_required()
    default = None if required else _jsonable(info.get_default(call_default_factory=True))
    low, high, pattern = _lengths(metadata)
    base = _Spec(name, FieldKind.INPUT, title, hint, required, default, low, high, pattern=pattern)
    if kind is str:
        return replace(base, kind=FieldKind.TEXTAREA if (high or 0) > LONG_TEXT else FieldKind.INPUT)
    if kind is dt.date:
        return replace(base, kind=FieldKind.DATE)
    if kind is bool:
        if required:  # no default to fall back on: the person says yes or no
            return replace(base, kind=FieldKind.RADIOS, yes_no=True, choices=((_YES, "Yes"), (_NO, "No")))
        return replace(base, kind=FieldKind.CHECKBOX)
    if kind is Role:
        return replace(base, kind=FieldKind.RADIOS, partner=True, choices=_partner_choices(metadata))
    if (choices := _choices(kind)) is not None:
        return replace(base, kind=FieldKind.RADIOS, choices=choices)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return replace(base, kind=FieldKind.GROUP, model=kind)
    if get_origin(kind) is list:
        (item,) = get_args(kind)
        item, item_metadata = _unwrap(item)
        if item is str:
            _, item_high, _ = _lengths(item_metadata)
            return replace(base, kind=FieldKind.LINES, item_max_length=item_high)
        if (choices := _choices(item)) is not None:
            return replace(base, kind=FieldKind.CHECKBOXES, choices=choices)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return replace(base, kind=FieldKind.ROWS, model=item)
    raise TypeError(f"{name}: no way to draw a field of type {info.annotation!r} on a page")


@cache
def _specs(model: type[BaseModel]) -> tuple[_Spec, ...]:
    """The model's fields as the page draws them, in its order. A type no page can draw is refused here, when the
    step's form is first drawn (and by the tests, which draw every step's form)."""
    return tuple(_spec(name, info) for name, info in model.model_fields.items())


def _offering(spec: _Spec, choices: Sequence[str] | None) -> _Spec | None:
    """The field as the page offers it, with its own ``choices`` (None: the form's, as they are). None: a list with
    nothing to offer (a partnership with no agency yet) is left out, and its default stands."""
    if choices is None:
        return spec
    if spec.kind is FieldKind.LINES:
        if not choices:
            return None
        return replace(spec, kind=FieldKind.CHECKBOXES, choices=tuple((c, c) for c in choices), offered=True)
    if spec.kind is FieldKind.RADIOS and not (spec.partner or spec.yes_no):
        return replace(spec, choices=tuple(c for c in spec.choices if c[0] in choices), offered=True)
    raise TypeError(f"{spec.name}: a page cannot offer its own choices for a field drawn as {spec.kind.value}")


def _ticked(posted: Posted, name: str) -> list[str]:
    """The boxes ticked, each once; a value of several lines (a list of texts posted as one box, as ``as_posted``
    writes it) is each of its lines."""
    return list(
        dict.fromkeys(line.strip() for value in _values(posted, name) for line in value.split("\n") if line.strip())
    )


def _optional_mark(spec: _Spec) -> str:
    optional = not spec.required and spec.kind in (FieldKind.INPUT, FieldKind.TEXTAREA, FieldKind.LINES, FieldKind.DATE)
    # a field required in some cases says so in its hint ("Required when sending it back", "Needed when it is done",
    # "Only to give more time"): not marked optional
    conditional = spec.hint.lower().startswith(("required", "needed", "only"))
    return " (optional)" if optional and "(" not in spec.title and not conditional else ""


# --- an answer as posted --------------------------------------------------------------------------------------------


def as_posted(form: type[BaseModel], answer: Mapping[str, Any]) -> dict[str, list[str]]:
    """``answer`` (an answer the model validates, or a draft of one: JSON or Python values) as a browser would post
    the page drawn for it, a field left out holding its default. What ``describe`` draws from and ``read_form``
    reads."""
    posted: dict[str, list[str]] = {}
    _post(form, answer, "", posted)
    return posted


def _post(model: type[BaseModel], given: Mapping[str, Any], prefix: str, out: dict[str, list[str]]) -> None:
    answer = {**defaults(model), **given}  # a field left out is drawn as it would be: with its default
    for spec in _specs(model):
        if spec.name not in answer or answer[spec.name] is None:
            if spec.kind is FieldKind.ROWS:
                out[f"{prefix}{spec.name}-rows"] = ["0"]
            continue
        value = _jsonable(answer[spec.name])
        name = prefix + spec.name
        if spec.kind in (FieldKind.INPUT, FieldKind.TEXTAREA, FieldKind.HIDDEN):
            out[name] = [str(value)]
        elif spec.kind is FieldKind.LINES:
            out[name] = ["\n".join(str(item) for item in value)] if isinstance(value, list) else [str(value)]
        elif spec.kind is FieldKind.DATE:
            day, month, year = _date_parts(value)
            out.update({f"{name}-day": [day], f"{name}-month": [month], f"{name}-year": [year]})
        elif spec.kind is FieldKind.CHECKBOX:
            if value:
                out[name] = [_YES]
        elif spec.kind is FieldKind.RADIOS:
            out[name] = [(_YES if value else _NO) if spec.yes_no else _choice_value(spec, value)]
        elif spec.kind is FieldKind.CHECKBOXES:
            out[name] = [str(item) for item in value]
        elif spec.kind is FieldKind.GROUP and spec.model is not None and isinstance(value, Mapping):
            _post(spec.model, value, f"{name}-", out)
        elif spec.kind is FieldKind.ROWS and spec.model is not None:
            rows = [row for row in value if isinstance(row, Mapping)] if isinstance(value, list) else []
            out[f"{name}-rows"] = [str(len(rows))]
            for index, row in enumerate(rows):
                _post(spec.model, row, f"{name}-{index}-", out)


def _choice_value(spec: _Spec, value: Any) -> str:
    if spec.partner:  # a role given by its stored value ("local_authority") is offered by its label
        try:
            return Role.from_label(str(value)).label
        except ValueError:
            return str(value)
    return str(value)


def _date_parts(value: Any) -> tuple[str, str, str]:
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        return "", "", ""
    return str(day.day), str(day.month), str(day.year)


# --- the fields to draw -------------------------------------------------------------------------------------------


def defaults(form: type[BaseModel]) -> dict[str, Any]:
    """What a new, empty form holds: every field's default (a radio chosen by default, a box ticked by default)."""
    return {spec.name: spec.default for spec in _specs(form) if not spec.required and spec.default is not None}


def describe(
    form: type[BaseModel],
    posted: Posted | None,
    roles: frozenset[Role],
    errors: Mapping[str, str] | None = None,
    offered: Offered | None = None,
    needed: Collection[str] = (),
) -> list[Field]:
    """The fields to draw for ``form``, holding what was ``posted`` (``as_posted`` of a saved answer or draft; None:
    a new form, holding the defaults), with ``errors`` (from ``read_form``) beside their fields. ``roles`` are the
    person's: the partner they sign for is asked only of a person who acts for more than one. ``offered``: the
    page's own choices for some fields (the module's docstring). ``needed``: fields of the form's top level that
    this page's answer needs though the form gives them a default (a rule of the form's own, one field against
    another, asks for them: an agency's return, which "no involvement" answers without): not marked optional."""
    values = as_posted(form, {}) if posted is None else posted
    return _describe(form, values, "", roles, errors or {}, offered or {}, needed)


def fields_for(
    form: type[BaseModel],
    roles: frozenset[Role],
    *,
    posted: Posted | None = None,
    errors: Mapping[str, str] | None = None,
    offered: Offered | None = None,
    needed: Collection[str] = (),
) -> list[Field]:
    """``describe``, its arguments named."""
    return describe(form, posted, roles, errors, offered, needed)


def _describe(
    model: type[BaseModel],
    posted: Posted,
    prefix: str,
    roles: frozenset[Role],
    errors: Mapping[str, str],
    offers: Offered | None = None,
    needed: Collection[str] = (),
) -> list[Field]:
    fields: list[Field] = []
    for spec_ in _specs(model):
        spec = _offering(spec_, (offers or {}).get(spec_.name)) if not prefix else spec_
        if spec is None:
            continue
        if not prefix and spec.name in needed:
            spec = replace(spec, required=True)  # drawn as asked for: no "(optional)"
        name = prefix + spec.name
        error = errors.get(name, "")
        base = Field(
            FieldKind.INPUT,
            name,
            name,
            spec.title + _optional_mark(spec),
            spec.hint,
            spec.required,
            spec.max_length,
            error=error,
        )
        if spec.kind in (FieldKind.INPUT, FieldKind.TEXTAREA):
            width = "govuk-input--width-20" if spec.kind is FieldKind.INPUT and (spec.max_length or 999) <= 40 else ""
            fields.append(replace(base, kind=spec.kind, value=_first(posted, name), width=width))
        elif spec.kind is FieldKind.LINES:
            hint = " ".join(filter(None, [spec.hint, "Put each one on a line of its own."]))
            fields.append(
                replace(base, kind=spec.kind, value=_first(posted, name), hint=hint, max_length=spec.item_max_length)
            )
        elif spec.kind is FieldKind.DATE:
            day, month, year = (_first(posted, f"{name}-{part}").strip() for part in _PARTS)
            blank = tuple(part for part, text in zip(_PARTS, (day, month, year), strict=True) if not text)
            marked = blank if error and 0 < len(blank) < 3 else _PARTS if error else ()
            hint = " ".join(filter(None, [spec.hint, DATE_EXAMPLE]))
            fields.append(
                replace(
                    base,
                    kind=spec.kind,
                    id=f"{name}-{marked[0] if marked else 'day'}",
                    hint=hint,
                    day=day,
                    month=month,
                    year=year,
                    error_parts=marked,
                )
            )
        elif spec.kind is FieldKind.CHECKBOX:
            fields.append(replace(base, kind=spec.kind, checked=bool(_values(posted, name))))
        elif spec.kind is FieldKind.RADIOS and spec.partner:
            fields.append(_partner_field(spec, base, posted, roles))
        elif spec.kind is FieldKind.RADIOS and spec.offered and len(spec.choices) == 1:  # given, not asked
            fields.append(replace(base, kind=FieldKind.HIDDEN, value=spec.choices[0][0]))
        elif spec.kind in (FieldKind.RADIOS, FieldKind.CHECKBOXES):
            chosen = set(_ticked(posted, name) if spec.offered else _values(posted, name))
            fields.append(replace(base, kind=spec.kind, options=_options(name, spec.choices, chosen)))
        elif spec.kind is FieldKind.GROUP and spec.model is not None:
            group = tuple(_describe(spec.model, posted, f"{name}-", roles, errors))
            fields.append(replace(base, kind=spec.kind, group=group, id=group[0].id if group else name))
        elif spec.kind is FieldKind.ROWS and spec.model is not None:
            fields.append(_rows_field(spec, base, posted, roles, errors))
    return fields


def _partner_field(spec: _Spec, base: Field, posted: Posted, roles: frozenset[Role]) -> Field:
    offered = _partners_offered(spec, roles)
    if len(offered) == 1:
        return replace(base, kind=FieldKind.HIDDEN, value=offered[0][0])
    chosen = set(_values(posted, base.name))
    return replace(base, kind=FieldKind.RADIOS, options=_options(base.name, offered, chosen))


def _partners_offered(spec: _Spec, roles: frozenset[Role]) -> tuple[tuple[str, str], ...]:
    """The partners the person may sign for: those of the form's choices they act as, or (a person who acts as none
    of them, who will be refused anyway) every one."""
    labels = {role.label for role in roles}
    return tuple(choice for choice in spec.choices if choice[0] in labels) or spec.choices


def _options(name: str, choices: Iterable[tuple[str, str]], chosen: set[str]) -> tuple[Option, ...]:
    # GOV.UK's ids: the first choice has the field's own (what an error links to), the others -2, -3, ...
    return tuple(
        Option(name if n == 1 else f"{name}-{n}", value, label, value in chosen)
        for n, (value, label) in enumerate(choices, start=1)
    )


def _rows_field(spec: _Spec, base: Field, posted: Posted, roles: frozenset[Role], errors: Mapping[str, str]) -> Field:
    assert spec.model is not None
    name = base.name
    limit = spec.max_length or MAX_ROWS
    count = _row_count(name, posted, limit)
    if _values(posted, f"{name}-add"):
        count += 1
    count = min(max(count, spec.min_length or 0, 1), limit)
    fresh = as_posted(spec.model, defaults(spec.model))
    rows: list[Row] = []
    for index in range(count):
        row_prefix = f"{name}-{index}-"
        held = any(key.startswith(row_prefix) for key in posted)
        values = posted if held else {row_prefix + key: value for key, value in fresh.items()}
        rows.append(Row(index, tuple(_describe(spec.model, values, row_prefix, roles, errors))))
    first = rows[0].fields[0].id if rows and rows[0].fields else name
    return replace(
        base,
        kind=FieldKind.ROWS,
        id=first,
        hint=" ".join(filter(None, [spec.hint, "Leave a row empty to leave it out."])),
        rows=tuple(rows),
        rows_name=f"{name}-rows",
        add_name=f"{name}-add",
        can_add=count < limit,
    )


def _row_count(name: str, posted: Posted, limit: int) -> int:
    """How many rows the page drew: its hidden count, or past it any row posted (never more than the limit)."""
    said = _first(posted, f"{name}-rows").strip()
    count = int(said) if said.isdigit() and len(said) < 6 else 0
    for index in _row_indexes(name, posted):
        count = max(count, index + 1)
    return min(count, limit)


def _row_indexes(name: str, posted: Posted) -> set[int]:
    pattern = re.compile(rf"{re.escape(name)}-(\d{{1,5}})-")
    return {int(m.group(1)) for key in posted if (m := pattern.match(key))}


def adds_row(form: type[BaseModel], posted: Posted) -> bool:
    """Whether the page was sent by an "Add another row" button: then it is drawn again with the row (``describe``
    adds it), and nothing is read or submitted."""
    return any(key.endswith("-add") and key.removesuffix("-add") in _rows_names(form, posted) for key in posted)


def _rows_names(model: type[BaseModel], posted: Posted, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for spec in _specs(model):
        if spec.model is None:
            continue
        name = prefix + spec.name
        if spec.kind is FieldKind.GROUP:
            names |= _rows_names(spec.model, posted, f"{name}-")
        else:
            names.add(name)
            for index in _row_indexes(name, posted):
                names |= _rows_names(spec.model, posted, f"{name}-{index}-")
    return names


def error_summary(fields: Iterable[Field], errors: Mapping[str, str] | str = "") -> list[ErrorLink]:
    """The error summary above the form: what is wrong with the answer as a whole first (``errors[FORM_ERROR]``, or
    ``errors`` itself when it is a sentence: a refusal the lifecycle or the checker gave), then each field's error in
    the order of the page, each linking to its field."""
    given = {FORM_ERROR: errors} if isinstance(errors, str) else dict(errors)
    links = [ErrorLink("", given[FORM_ERROR])] if given.get(FORM_ERROR) else []
    seen: set[str] = set()

    def walk(items: Iterable[Field]) -> None:
        for item in items:
            if item.error and item.name not in seen:
                seen.add(item.name)
                links.append(ErrorLink(f"#{item.id}", item.error))
            walk(item.group)
            for row in item.rows:
                walk(row.fields)

    walk(fields)
    links += [ErrorLink("", text) for name, text in given.items() if name and name not in seen and text]
    return links


# --- reading a page back ------------------------------------------------------------------------------------------


@dataclass
class _Reading:
    """What reading a page found: errors by field name, and where each part of the answer came from on the page (so
    that pydantic's error locations, which count only the rows kept, point at the rows as drawn)."""

    errors: dict[str, str] = field(default_factory=dict)
    places: dict[tuple[str | int, ...], tuple[str, _Spec | None, str]] = field(default_factory=dict)


def read_form(
    form: type[BaseModel], posted: Posted, roles: frozenset[Role], offered: Offered | None = None
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The posted page as the step's answer: the JSON answer the model validates (every field as the model gives
    it, but those that are None) and no errors, or None and the errors by field name (``FORM_ERROR`` for the answer
    as a whole). Fields the form does not have are ignored; a date's three parts make one date; an empty optional
    field takes its default; an empty row of a repeating group is left out. ``offered``: the page's own choices for
    some fields, as ``describe`` drew them; a value not offered is refused."""
    reading = _Reading()
    answer = _read(form, posted, "", (), "", roles, reading, offered or {})
    try:
        validated = form.model_validate(answer)
    except pydantic.ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False, include_context=True):
            for name, message in _at_fields(error, reading) or [_explain(error, reading)]:
                if name not in reading.errors:  # a date already found wrong is not also "missing"
                    reading.errors[name] = message
        return None, reading.errors
    if reading.errors:
        return None, reading.errors
    # None left out: the field's default, and what Prefect's schema for a date that may be left empty
    # (steps/notification.py) would refuse
    return validated.model_dump(mode="json", exclude_none=True), {}


def _read(
    model: type[BaseModel],
    posted: Posted,
    prefix: str,
    path: tuple[str | int, ...],
    where: str,
    roles: frozenset[Role],
    reading: _Reading,
    offers: Offered | None = None,
) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for spec_ in _specs(model):
        spec = _offering(spec_, (offers or {}).get(spec_.name)) if not prefix else spec_
        if spec is None:
            continue
        name, here = prefix + spec.name, (*path, spec.name)
        reading.places[here] = (name, spec, where)
        if spec.kind in (FieldKind.INPUT, FieldKind.TEXTAREA):
            text = _text(posted, name)
            if text.strip() or spec.required:
                answer[spec.name] = text
        elif spec.kind is FieldKind.LINES:
            lines = [line.strip() for line in _text(posted, name).split("\n")]
            if any(lines) or spec.required:
                answer[spec.name] = [line for line in lines if line]
        elif spec.kind is FieldKind.DATE:
            _read_date(spec, posted, name, where, answer, reading)
        elif spec.kind is FieldKind.CHECKBOX:
            ticked = _values(posted, name)
            if any(value != _YES for value in ticked):  # the page sends its box's own value, or nothing
                reading.errors[name] = f"{_sentence(spec.title)}: tick the box, or leave it empty{where}"
            answer[spec.name] = bool(ticked)
        elif spec.kind is FieldKind.RADIOS and spec.partner:
            offered = _partners_offered(spec, roles)
            chosen = offered[0][0] if len(offered) == 1 else _first(posted, name)
            if chosen in {value for value, _ in offered}:
                answer[spec.name] = chosen
            elif chosen or spec.required:
                reading.errors[name] = _message_select(spec, where)
        elif spec.kind is FieldKind.RADIOS and spec.offered:
            only = [value for value, _ in spec.choices]
            chosen = only[0] if len(only) == 1 else _first(posted, name)
            if chosen in only:
                answer[spec.name] = chosen
            elif chosen or spec.required:
                reading.errors[name] = _message_select(spec, where)
        elif spec.kind is FieldKind.RADIOS:
            chosen = _first(posted, name)
            if chosen:
                answer[spec.name] = (chosen == _YES) if spec.yes_no and chosen in (_YES, _NO) else chosen
        elif spec.kind is FieldKind.CHECKBOXES and spec.offered:
            ticked = _ticked(posted, name)
            if any(value not in {v for v, _ in spec.choices} for value in ticked):
                reading.errors[name] = f"Select {_phrase(spec.title)} from those listed{where}"
            answer[spec.name] = ticked
        elif spec.kind is FieldKind.CHECKBOXES:
            answer[spec.name] = list(dict.fromkeys(_values(posted, name)))
        elif spec.kind is FieldKind.GROUP and spec.model is not None:
            answer[spec.name] = _read(spec.model, posted, f"{name}-", here, where, roles, reading)
        elif spec.kind is FieldKind.ROWS and spec.model is not None:
            rows: list[dict[str, Any]] = []
            fresh = as_posted(spec.model, defaults(spec.model))
            limit = spec.max_length or MAX_ROWS
            for index in sorted(i for i in _row_indexes(name, posted) if i < limit):
                row_prefix = f"{name}-{index}-"
                if _blank_row(posted, row_prefix, fresh):
                    continue
                row_where = f" in row {index + 1} of {_phrase(spec.title)}"
                row_path = (*here, len(rows))
                reading.places[row_path] = (name, None, row_where)
                rows.append(_read(spec.model, posted, row_prefix, row_path, row_where, roles, reading))
            if rows or spec.required or spec.min_length:
                answer[spec.name] = rows
    return answer


def _read_date(spec: _Spec, posted: Posted, name: str, where: str, answer: dict[str, Any], reading: _Reading) -> None:
    day, problem = read_date(posted, name, required=spec.required, title=spec.title, where=where)
    if problem:
        reading.errors[name] = problem
    elif day is not None:
        answer[spec.name] = day.isoformat()


def read_date(
    posted: Posted, name: str, *, required: bool = True, title: str = "Date", where: str = ""
) -> tuple[dt.date | None, str]:
    """A date posted in three parts (``<name>-day``, ``-month``, ``-year``), as GOV.UK asks for one: the date (None
    when left blank) and no problem, or None and what is wrong, in GOV.UK's words: a missing part or a date that
    does not exist is named, the value never repeated. ``title`` names the field in the message."""
    parts = {part: _first(posted, f"{name}-{part}").strip() for part in _PARTS}
    missing = [part for part in _PARTS if not parts[part]]
    if len(missing) == 3:
        return None, f"Enter {_phrase(title)}{where}" if required else ""
    if missing:
        return None, f"{_sentence(title)} must include a {' and '.join(missing)}{where}"
    if not all(text.isdigit() and len(text) <= 4 for text in parts.values()):
        return None, f"{_sentence(title)} must be a real date{where}"
    if len(parts["year"]) != 4:
        return None, f"The year of {_phrase(title)} must include 4 numbers{where}"
    try:
        return dt.date(int(parts["year"]), int(parts["month"]), int(parts["day"])), ""
    except ValueError:
        return None, f"{_sentence(title)} must be a real date{where}"


def _blank_row(posted: Posted, prefix: str, fresh: Mapping[str, list[str]]) -> bool:
    """A row with nothing typed or chosen in it but what a new row holds (its defaults)."""
    keys = {key for key in posted if key.startswith(prefix)} | {prefix + key for key in fresh}
    for key in keys:
        if key.endswith("-rows") or key.endswith("-add"):
            continue
        sent = [value for value in _values(posted, key) if value.strip()]
        if sent and sent != fresh.get(key.removeprefix(prefix), []):
            return False
    return True


def _values(posted: Posted, name: str) -> list[str]:
    return [str(value) for value in posted.get(name, ())]


def _first(posted: Posted, name: str) -> str:
    values = posted.get(name, ())
    return str(values[0]) if values else ""


def _text(posted: Posted, name: str) -> str:
    """A text as typed, with a browser's line ends (CR LF) made plain ones, so it is counted and kept as shown."""
    return _first(posted, name).replace("\r\n", "\n")


# --- errors in a partner's words ----------------------------------------------------------------------------------


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


_NO_ARTICLE = frozenset({"the", "a", "an", "what", "which", "who", "when", "where", "whether", "how", "your"})


def _phrase(title: str) -> str:
    """A title as it reads inside a sentence: "Date of the decision" -> "the date of the decision", "What happened"
    -> "what happened", "The Panel's comments" -> "the Panel's comments"."""
    first, _, rest = title.partition(" ")
    keep = (len(first) > 1 and first[1].isupper()) or first.startswith("(")  # an abbreviation, "(a)"
    word = first if keep else first[:1].lower() + first[1:]
    lead = "" if word in _NO_ARTICLE else "the "
    return f"{lead}{word}{' ' + rest if rest else ''}"


def _message_select(spec: _Spec, where: str) -> str:
    if spec.partner:
        return f"Select which partner you sign for{where}"
    if spec.yes_no:
        return f"Select yes or no for {_phrase(spec.title)}{where}"
    return f"Select {_phrase(spec.title)}{where}"


def _at_fields(error: ErrorDetails, reading: _Reading) -> list[tuple[str, str]]:
    """A rule of the answer as a whole that names the fields it needs (``FieldsNeeded``) as an error at each of them
    that is on the page, as GOV.UK asks ("Enter what your agency has learnt"), rather than one for the whole form;
    none: not such a rule (or none of its fields drawn), for ``_explain``."""
    needed = (error.get("ctx") or {}).get("error")
    if not isinstance(needed, FieldsNeeded):
        return []
    found = [reading.places[(name,)] for name in needed.fields if (name,) in reading.places]
    errors = [(name, f"Enter {_phrase(spec.title)}{where}") for name, spec, where in found if spec is not None]
    if errors and needed.otherwise:  # the way out, once: at the first field, where the error summary starts
        errors[0] = (errors[0][0], f"{errors[0][1]}, or {needed.otherwise}")
    return errors


def _explain(error: ErrorDetails, reading: _Reading) -> tuple[str, str]:
    """One pydantic error as (field name, message): the field is found by the error's location, the message by its
    type. Only a validator's own words are passed on (they are written for people and repeat no value)."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    kind = error["type"]
    context: dict[str, Any] = dict(error.get("ctx") or {})
    found = next((loc[:n] for n in range(len(loc), 0, -1) if loc[:n] in reading.places), None)
    own = str(error["msg"]).removeprefix("Value error, ")
    if found is None:  # a rule about the answer as a whole (one field against another)
        return FORM_ERROR, _sentence(own)
    name, spec, where = reading.places[found]
    if spec is None:  # a rule about one row as a whole
        return name, _sentence(own) + where
    phrase, title = _phrase(spec.title), _sentence(spec.title)
    item = len(loc) > len(found)  # about one item of a list (a line, a choice), not the list
    if kind == "missing" or (kind == "string_too_short" and not item):
        return name, (_message_select(spec, where) if spec.kind is FieldKind.RADIOS else f"Enter {phrase}{where}")
    if kind in ("enum", "literal_error") or (spec.kind is FieldKind.RADIOS and kind.startswith("bool")):
        return name, _message_select(spec, where)
    if kind == "string_too_long":
        limit = context.get("max_length", spec.item_max_length if item else spec.max_length)
        each = " on each line" if item else ""
        return name, f"Enter at most {limit:,} characters{each} for {phrase}{where}"
    if kind == "string_pattern_mismatch":
        said = _PATTERNS.get(str(context.get("pattern", "")), "must not include characters that are not allowed")
        return name, f"{title} {said}{where}"
    if kind == "too_long":
        unit = "rows" if spec.kind is FieldKind.ROWS else "lines" if spec.kind is FieldKind.LINES else "choices"
        return name, f"Enter at most {context.get('max_length', spec.max_length):,} {unit} for {phrase}{where}"
    if kind == "too_short":
        count = int(context.get("min_length", spec.min_length or 1))
        unit = "row" if spec.kind is FieldKind.ROWS else "line" if spec.kind is FieldKind.LINES else "choice"
        return name, f"Enter at least {count} {unit}{'' if count == 1 else 's'} for {phrase}{where}"
    if kind.startswith("date") or kind.startswith("datetime"):
        return name, f"{title} must be a real date{where}"
    if kind == "value_error":
        if own.startswith("contains control characters"):
            return name, f"Remove the invisible control characters from {phrase}{where}"
        return name, _sentence(own) + where
    return name, f"Enter {phrase} in the form asked for{where}"
