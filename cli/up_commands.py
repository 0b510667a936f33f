"""``cspr up``: runs the system (the Prefect server and UI, the deployments, the workers, the project database)
until Ctrl-C, locally or as the team set-up."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, fail, stop_on_sigterm
from cli.database_commands import migrate_or_explain

if TYPE_CHECKING:
    from models.people import Enrolment


def up(
    port: Annotated[int, typer.Option(help="Port of the Prefect server and UI.")] = 4200,
    team: Annotated[
        bool, typer.Option("--team", help="Prefect and the project database on PostgreSQL, two workers, S3 storage.")
    ] = False,
    postgres: Annotated[
        str, typer.Option(help="--team: a PostgreSQL URL allowed to create the two databases if they are missing.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    project_database: Annotated[str, typer.Option(help="--team: the project database's name.")] = "cspr",
    prefect_database: Annotated[str, typer.Option(help="--team: Prefect's database's name.")] = "cspr_prefect",
) -> None:
    """Run the system: the Prefect server and UI, the deployments, the worker(s), and the project database.

    Stops everything it started on Ctrl-C.
    """
    from cli.system import LocalSystem, running
    from cli.team import Team
    from models.db import current_revision, get_engine, transaction
    from models.seed import seed_demo
    from models.settings import get_settings

    stop_on_sigterm()
    if team:
        from models.key_rotation import KeyProblem, require_real_key

        try:
            require_real_key()
        except KeyProblem as exc:
            raise fail(str(exc)) from None
    crew = Team(get_settings().resolved_home, postgres, project_database, prefect_database) if team else None
    try:
        if crew is not None:
            crew.home.mkdir(parents=True, exist_ok=True)
            crew.prepare()
            get_settings.cache_clear()  # the project database is now the team's
        settings = get_settings()
        engine = get_engine()
        migrate_or_explain(engine)
        with transaction(engine) as session:
            seeded = seed_demo(session)
        system = LocalSystem(port=port, workers=2 if team else 1)
        console.print(f"Local state:      {settings.resolved_home}")
        console.print(
            f"Project database: {engine.url.render_as_string(hide_password=True)} (revision {current_revision(engine)})"
        )
        if crew is not None:
            console.print(f"Prefect database: {_hide_password(crew.env['PREFECT_API_DATABASE_CONNECTION_URL'])}")
            console.print(
                f"Documents:        {crew.env['CSPR_STORAGE_URL']} at {crew.env.get('CSPR_S3_ENDPOINT_URL', 'AWS')}"
            )
            console.print(f"Settings for other cspr commands: set -a; . {settings.resolved_home / 'team.env'}; set +a")
        console.print("Demo partnership and reviewer pool: " + ("added" if seeded else "already present"))
        _show_demo_passwords(seeded)
        console.print(f"Starting the Prefect server, the deployments and {system.workers} worker(s) ...")
        with running(system):
            console.print(f"\n[bold]Prefect UI: {system.ui_url}[/]  (Deployments -> notify-incident -> Run)")
            console.print(f"Logs: {system.home / 'logs'}.  Stop with Ctrl-C.")
            while True:
                system.check_alive()
                time.sleep(2)
    except KeyboardInterrupt:
        console.print("\nStopped.")
    finally:
        if crew is not None:
            crew.stop()


def _show_demo_passwords(enrolments: list[Enrolment]) -> None:
    """The demo people's first passwords, once, as their accounts are made: nowhere else keeps them."""
    if not enrolments:
        return
    if enrolments[0].totp_uri is None:
        console.print("Demo people (demo accounts: a password alone; never in the team set-up), shown this once:")
    else:  # the team set-up allows no demo accounts: these set up the authenticator app when they first sign in
        console.print("The demo partnership's people (they set up their authenticator app at first sign-in), once:")
    for enrolment in enrolments:
        console.print(f"  {enrolment.email}  {enrolment.password}", highlight=False, markup=False)


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
