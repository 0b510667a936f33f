"""``cspr db``: the project database's schema, and bringing it up to date (``cspr up`` does it too)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cli.common import console, fail

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

app = typer.Typer(help="The project database.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the project database to the latest schema."""
    from models.db import current_revision, get_engine

    engine = get_engine()
    migrate_or_explain(engine)
    console.print(
        f"Database {engine.url.render_as_string(hide_password=True)} is at revision {current_revision(engine)}."
    )


def migrate_or_explain(engine: Engine) -> None:
    """The schema brought up to date, or a message saying whose role can do it."""
    import sqlalchemy as sa

    from models.db import migrate

    try:
        migrate(engine)
    except sa.exc.ProgrammingError as exc:
        if "permission denied" not in str(exc.orig) and "must be owner" not in str(exc.orig):
            raise
        who = engine.url.username or "this role"
        raise fail(
            f"the database role {who!r} may read and write rows but not change the schema (the team set-up's "
            "least privilege). Upgrade as the administrator: CSPR_DATABASE_URL=<the administrator's URL> cspr db "
            "upgrade, or start `cspr up --team` without team.env's CSPR_DATABASE_URL so that it migrates first"
        ) from None
