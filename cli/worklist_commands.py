"""``cspr tasks``: the worklist, every step waiting for a person and every agency's request and action still open,
soonest deadline first."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.listing import print_listing
from models.roles import Role


def tasks_command(
    partnership: Annotated[str | None, typer.Option(help="Only this partnership's (its code).")] = None,
    role: Annotated[Role | None, typer.Option(help="Only the steps and items this role may answer.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
    port: Annotated[int, typer.Option(help="Port of the local Prefect server, for the links to each form.")] = 4200,
) -> None:
    """Every step waiting for a person, and every agency's information request and action still open (its agency
    and where it stands): reference, step, who may answer, since when, deadline, working days left and the link to its
    page; soonest deadline first."""
    import os

    from cli.system import LocalSystem, prefect_env

    system = LocalSystem(port=port)
    os.environ.update({k: v for k, v in prefect_env(system.api_url).items() if v and k not in os.environ})
    from tasks import worklist_artifacts

    print_listing(
        worklist_artifacts.rows(partnership=partnership, role=role),
        as_json=as_json,
        columns=("reference", "step", "who may answer", "waiting since", "deadline", "days left", "link"),
        cells=_cells,
        empty="Nothing is waiting for anyone.",
        soft_wrap=True,
    )


def _cells(row: dict[str, str | int | None]) -> tuple[str, ...]:
    left = row["working days left"]
    return (
        str(row["reference"]),
        str(row["step"]),
        str(row["who may answer"]),
        str(row["waiting since"]),
        str(row["deadline"] or "none"),
        "" if left is None else str(left),
        str(row["link"]),
    )
