"""``cspr person``: the people recorded in a review (children and family members), and correcting their record."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, operator, parse_date, review_change

app = typer.Typer(help="The people recorded in a review (children and family members).", no_args_is_help=True)


@app.command("correct")
def person_correct(
    reference: Annotated[str, typer.Argument(help="The review's reference, e.g. CSPR-2026-0042.")],
    pseudonym: Annotated[str, typer.Argument(help="Who, as the review knows them: 'Child Q'.")],
) -> None:
    """Correct a recorded name or date of birth. Both are asked for here, not taken as options, so that neither is
    left in the shell's history or the list of processes."""
    from models.corrections import correct_person
    from models.review import lookup

    name = typer.prompt("Correct name (Enter to keep the one recorded)", default="", show_default=False)
    born = typer.prompt("Correct date of birth, YYYY-MM-DD (Enter to keep)", default="", show_default=False)
    with review_change() as session:
        review = lookup.review_by_reference(session, reference)
        person = correct_person(
            session,
            review,
            pseudonym,
            name=name or None,
            date_of_birth=parse_date(born or None, "date of birth"),
            by=operator(),
        )
    console.print(f"{reference}: {person.pseudonym}'s record corrected; the change is in the review's history.")
