"""``cspr partnerships``: each partnership's partner bodies (which merge, on a date) and who represents them."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, fail, operator, parse_date, register_change
from cli.listing import print_json, print_listing
from models.roles import Role

if TYPE_CHECKING:
    from models.partners import BodyRow

app = typer.Typer(
    help="Each partnership's partner bodies and who represents them, with dates (bodies merge).", no_args_is_help=True
)


@app.command("list")
def partnerships_list(
    partnership: Annotated[str | None, typer.Option(help="Only this partnership (its code).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """Every partner body, the dates it holds its place, and who represents it, from and to when."""
    from models.partners import bodies

    with register_change() as session:
        rows = bodies(session, partnership)
    print_listing(
        rows,
        as_json=as_json,
        empty="No partner bodies recorded yet: add them with cspr partnerships add-body.",
        columns=("partnership", "partner", "body", "from", "to", "representatives"),
        cells=_body_cells,
    )


def _body_cells(r: BodyRow) -> tuple[str, ...]:
    return (
        r.partnership,
        Role(r.role).label,
        r.name,
        str(r.from_on),
        str(r.to_on or "now"),
        "\n".join(r.representatives),
    )


@app.command("add-body")
def partnerships_add_body(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    role: Annotated[Role, typer.Option(help="Which partner it is: local_authority, police or health.")],
    name: Annotated[str, typer.Option(help='The body\'s name, e.g. "NHS Northshire Integrated Care Board".')],
    from_on: Annotated[str, typer.Option("--from", help="The first day it holds its place, YYYY-MM-DD.")],
) -> None:
    """Record a partner body of a partnership, from a date."""
    from models.partners import add_body

    first = parse_date(from_on, "--from")
    with register_change() as session:
        add_body(session, partnership, role, name, first, by=operator())
    console.print(f"{name} is the {role.label} partner of {partnership} from {first:%d %B %Y}.")


@app.command("merge")
def partnerships_merge(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    body: Annotated[list[str], typer.Option(help="A body that merges (repeat for each).")],
    into: Annotated[str, typer.Option(help="The name of the body they become.")],
    on: Annotated[str, typer.Option(help="The first day of the merged body, YYYY-MM-DD.")],
) -> None:
    """Partner bodies become one on a date: reviews running across it stay valid, and each sign-off keeps the body it
    was given for."""
    from models.partners import merge_bodies

    day = parse_date(on, "--on")
    with register_change() as session:
        merge_bodies(session, partnership, body, into, day, by=operator())
    merged = " and ".join(body)
    console.print(f"{merged} became {into} on {day:%d %B %Y}; their representatives act for it.")


@app.command("represent")
def partnerships_represent(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    email: Annotated[str, typer.Option(help="The registered person's email address.")],
    body: Annotated[str | None, typer.Option(help="The partner body they act for.")] = None,
    from_on: Annotated[str | None, typer.Option("--from", help="Their first day, YYYY-MM-DD.")] = None,
    to_on: Annotated[str | None, typer.Option("--to", help="Their last day, YYYY-MM-DD (included).")] = None,
) -> None:
    """Which body a person represents, and from and to when: a sign-off is accepted only on those days."""
    from models.partners import represent

    with register_change() as session:
        row = represent(
            session,
            partnership,
            email,
            body=body,
            from_on=parse_date(from_on, "--from"),
            to_on=parse_date(to_on, "--to"),
            by=operator(),
        )
        said = f"{row.email} represents {row.organisation or Role(row.role).label}"
        said += f" from {row.from_on or 'registration'} to {row.to_on or 'further notice'}."
    console.print(said)


@app.command("child-death-review")
def partnerships_child_death_review(
    partnership: Annotated[str, typer.Argument(help="The partnership's code.")],
    email: Annotated[
        str | None, typer.Option(help="The child death review team's mailbox, told of each death's review.")
    ] = None,
    none: Annotated[
        bool, typer.Option("--none", help="Clear it: their messages then wait in the outbox folder.")
    ] = False,
) -> None:
    """The mailbox of the child death review partners (their child death overview panel), told when a death's rapid
    review goes to the Panel and when its local review is published or not. Recorded in the register's history.
    With neither --email nor --none, shows it."""
    from models.child_death_review import mailbox_of, set_mailbox

    if email is not None and none:
        raise fail("give --email or --none, not both")
    with register_change() as session:
        if email is None and not none:
            found = mailbox_of(session, partnership)
        else:
            found = set_mailbox(session, partnership, None if none else email, by=operator())
    where = found.mailbox or "not set: their messages wait in the outbox folder"
    if found.recorded:
        console.print(f"The child death review mailbox of {found.name} is now {where} (was {found.was or 'not set'}).")
    else:
        console.print(f"The child death review mailbox of {found.name} is {where}.")


class RapidReviewCount(StrEnum):
    """As models/rapid_review_count.py ``Count`` names them (not imported here: the CLI starts without the models)."""

    aware = "aware"
    notification = "notification"
    edition = "edition"


@app.command("rapid-review-count")
def partnerships_rapid_review_count(
    partnership: Annotated[str, typer.Argument(help="The partnership's code.")],
    count: Annotated[
        RapidReviewCount | None,
        typer.Argument(
            help="Count the rapid review's 15 working days from awareness, from the notification to the Panel, or as "
            "the edition each review follows does. Leave it out to see the current count."
        ),
    ] = None,
    recount: Annotated[
        bool,
        typer.Option(
            "--recount",
            help="Also recount the running reviews (open, rapid review not yet sent) the new way, and report what "
            "moved. Without it they keep their dates.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Where a partnership's rapid reviews count their 15 working days from, recorded in the register's history. A
    review keeps the count it was recorded with unless --recount."""
    from models.rapid_review_count import Count, choose, running
    from models.review.lookup import UnknownPartnership, partnership_by_code

    with register_change() as session:
        if count is None:
            try:
                found = partnership_by_code(session, partnership)
            except UnknownPartnership as exc:
                raise fail(str(exc)) from None
            now = Count.of(found.rapid_review_count)
            references = tuple(r.reference for r in running(session, found))
            if as_json:
                print_json({"partnership": partnership, "count": now.value, "running": list(references)})
            else:
                console.print(f"{partnership} counts its rapid reviews {now.words}.")
                console.print(f"{len(references)} review(s) running; each keeps the count it was recorded with.")
            return
        chosen = choose(session, partnership, Count(count.value), recount_running=recount, by=operator())
    if as_json:
        print_json(
            {
                "partnership": chosen.partnership,
                "count": chosen.now.value,
                "was": chosen.was.value,
                "recorded": chosen.recorded,
                "running": list(chosen.running),
                "recounted": len(chosen.recounted) if recount else None,
                "moved": [
                    {"reference": r.reference, "deadline": r.title, "was": r.was.isoformat(), "now": r.now.isoformat()}
                    for r in chosen.moved
                ],
                "waiting": list(chosen.waiting),
            }
        )
        return
    if chosen.was is chosen.now:
        console.print(f"{partnership} already counts its rapid reviews {chosen.now.words}.")
    else:
        console.print(f"{partnership} now counts its rapid reviews {chosen.now.words} (was {chosen.was.words}).")
    if not recount:
        console.print(
            f"{len(chosen.running)} review(s) running keep the dates they were recorded with; the new count applies to "
            "reviews recorded from now on. To count the running ones the new way, run this again with --recount."
        )
        return
    console.print(f"{len(chosen.recounted)} open deadline(s) counted again; {len(chosen.moved)} moved.")
    for r in chosen.moved:
        console.print(
            f"  {r.reference}: {r.title}: {r.was:%a %d %b %Y} -> {r.now:%a %d %b %Y}"
            + (" (provisional)" if r.provisional else "")
        )
    for waiting in chosen.waiting:
        console.print(f"  {waiting}: no date until the notification to the Panel is recorded")
