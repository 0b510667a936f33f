"""``cspr people``: the register of people who may act, and their accounts (sign-in, email digest)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, operator, register_change
from cli.listing import print_listing
from models.roles import Role

if TYPE_CHECKING:
    from models.people import Enrolment, PersonRow

app = typer.Typer(help="The register of people who may act, and their accounts.", no_args_is_help=True)


@app.command("add")
def people_add(
    name: Annotated[str, typer.Option(help="The person's name, as colleagues know them.")],
    email: Annotated[str, typer.Option(help="Their work email address: they sign in with it.")],
    role: Annotated[Role, typer.Option(help="What they act as.")],
    partnership: Annotated[
        str | None, typer.Option(help="The partnership's code (every role but operator), e.g. northshire.")
    ] = None,
    organisation: Annotated[str, typer.Option(help="Their organisation, e.g. Northshire Police.")] = "",
    agency: Annotated[
        str | None,
        typer.Option(
            help="For an agency contact (and only them): the agency they answer for, one of the partnership's."
        ),
    ] = None,
    demo: Annotated[bool, typer.Option(help="A demo person: signs in with a password alone; never in a team.")] = False,
) -> None:
    """Register a person in a role and make their account; a new account's first password and its authenticator
    enrolment are shown once, here, for the person alone."""
    from models.people import add_person

    with register_change() as session:
        enrolment = add_person(
            session,
            name=name,
            email=email,
            role=role,
            partnership_code=partnership,
            organisation=organisation,
            by=operator(),
            demo=demo,
            agency=agency,
        )
    where = f" for {agency} in {partnership}" if agency else f" for {partnership}" if partnership else ""
    console.print(f"Registered {enrolment.email} as {role.label}{where}.")
    if enrolment.password is None:
        console.print("The address had an account already: its password and second factor stand.")
        return
    _show_enrolment(enrolment)


def _show_enrolment(enrolment: Enrolment) -> None:
    """A first password and authenticator enrolment, shown once, here, for the person alone."""
    from models.signin import enrolment_qr_text

    console.print("Give the person these, in person or by a channel only they read; they are not shown again:")
    console.print(f"  first password: {enrolment.password}", highlight=False, markup=False)
    if enrolment.totp_uri:
        console.print("  authenticator app: scan the code below, or enter this address in the app:")
        console.print(f"  {enrolment.totp_uri}", markup=False, highlight=False, soft_wrap=True)
        print(enrolment_qr_text(enrolment.totp_uri))
        console.print("  (or sign in with the password alone the first time: the sign-in page shows the same code)")


@app.command("reset")
def people_reset(email: Annotated[str, typer.Argument(help="The person's email address.")]) -> None:
    """A new first password and authenticator enrolment for a person who lost either; the old ones stop working."""
    from models.people import reset_credentials

    with register_change() as session:
        enrolment = reset_credentials(session, email, by=operator())
    console.print(f"Reset the sign-in of {enrolment.email}.")
    _show_enrolment(enrolment)


@app.command("disable")
def people_disable(email: Annotated[str, typer.Argument(help="The person's email address.")]) -> None:
    """Disable a person's account and every registration of it: they can no longer sign in or answer any step."""
    from models.people import disable_person

    with register_change() as session:
        account = disable_person(session, email, by=operator())
    console.print(f"Disabled {account.email}: every registration of it is inactive.")


@app.command("digest")
def people_digest(
    email: Annotated[str, typer.Argument(help="The person's email address.")],
    daily: Annotated[
        bool, typer.Option("--daily/--each", help="One email a day with everything, or each message as it comes.")
    ] = True,
) -> None:
    """Choose how a person gets cspr's email: one daily digest (sent by the morning's deadline sweep), or each
    message as it comes. A national body's mailbox always gets each message."""
    from models.people import set_digest

    with register_change() as session:
        account = set_digest(session, email, daily=daily, by=operator())
    how = "one daily digest" if daily else "each message as it comes"
    console.print(f"{account.email} now gets cspr's email as {how}.")


@app.command("list")
def people_list(
    partnership: Annotated[str | None, typer.Option(help="Only this partnership's people.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Everyone registered, with their role, partnership and how they sign in."""
    from models.db import transaction
    from models.people import people

    with transaction() as session:
        rows = people(session, partnership)
    print_listing(
        rows,
        as_json=as_json,
        indent=2,
        title="People registered",
        columns=("name", "email", "role", "partnership", "organisation", "active", "sign-in"),
        cells=_person_cells,
    )


def _person_cells(r: PersonRow) -> tuple[str, ...]:
    sign_in = f"{r.sign_in} (demo)" if r.demo else r.sign_in
    return (
        r.name,
        r.email,
        Role(r.role).label,
        r.partnership or "-",
        r.organisation,
        "yes" if r.active else "no",
        sign_in,
    )
