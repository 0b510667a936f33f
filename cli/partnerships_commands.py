"""``cspr partnerships``: each partnership's partner bodies (which merge, on a date) and who represents them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, operator, parse_date, register_change
from cli.listing import print_listing
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
